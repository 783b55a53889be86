// Threads of a block as cooperative fibers (ucontext). A fiber runs until it reaches a barrier
// (__syncthreads, a warp intrinsic) or ends; between barriers the order in which threads run
// is shuffled from a seed the caller sets, so a missing barrier shows up as a wrong result.
#pragma once
#include <sys/mman.h>
#include <ucontext.h>

namespace kw {

struct KernelError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

enum class St : unsigned char { Ready, AtBlock, AtWarp, Done };

struct Fiber {
  ucontext_t ctx;
  void* stack = nullptr;
  uint3 tid{0, 0, 0};
  int linear = 0;
  St st = St::Ready;
  bool started = false;
};

inline constexpr size_t kStack = 256 * 1024;

struct Launch {  // the launch in progress; blocks run one after another
  const char* kernel = "?";
  dim3 grid, block;
  uint3 bidx{0, 0, 0};
  size_t dyn_smem = 0;
  std::function<void()> body;  // one thread's kernel call
  std::vector<void*> shared;   // per-block static __shared__ storage, by declaration site
  std::vector<char> dyn;       // per-block dynamic shared memory
  std::string error;
};

inline Launch* g_launch = nullptr;
inline Fiber* g_cur = nullptr;
inline ucontext_t g_sched_ctx;
inline std::vector<Fiber> g_fibers;
inline std::mt19937_64 g_rng{0x6b7721ULL};
inline bool g_fibers_needed = true;  // false when the sources hold no barrier or warp intrinsic

inline void set_seed(uint64_t seed) { g_rng.seed(seed); }

inline std::string fmt3(uint3 v) {
  return "(" + std::to_string(v.x) + "," + std::to_string(v.y) + "," + std::to_string(v.z) + ")";
}

inline void note_error(const std::exception& e) {
  if (!g_launch->error.empty()) return;
  g_launch->error = std::string("kernel ") + g_launch->kernel + ", block " + fmt3(g_launch->bidx) +
                    ", thread " + fmt3(g_cur->tid) + ": " + e.what();
}

inline void fiber_main() {
  try {
    g_launch->body();
  } catch (const std::exception& e) {
    note_error(e);
  }
  g_cur->st = St::Done;
  swapcontext(&g_cur->ctx, &g_sched_ctx);
}

inline void fiber_reset(Fiber& f) {
  if (!f.stack) {
    f.stack = mmap(nullptr, kStack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (f.stack == MAP_FAILED) { f.stack = nullptr; throw std::runtime_error("emulator: cannot map a fiber stack"); }
  }
  getcontext(&f.ctx);
  f.ctx.uc_stack.ss_sp = f.stack;
  f.ctx.uc_stack.ss_size = kStack;
  f.ctx.uc_link = nullptr;
  makecontext(&f.ctx, fiber_main, 0);
}

inline void yield_to_scheduler(St why) {
  g_cur->st = why;
  swapcontext(&g_cur->ctx, &g_sched_ctx);
}

inline void free_block_shared(Launch& L) {
  for (void*& p : L.shared) { std::free(p); p = nullptr; }
}


// Release the threads that may go on: a warp whose live threads all wait at a warp intrinsic,
// else the whole block when every live thread waits at __syncthreads.
inline bool release(std::vector<Fiber>& fs, int n) {
  bool any = false;
  for (int w = 0; w < n; w += 32) {
    int hi = std::min(n, w + 32), waiting = 0, live = 0;
    for (int i = w; i < hi; ++i) {
      if (fs[i].st != St::Done) ++live;
      if (fs[i].st == St::AtWarp) ++waiting;
    }
    if (live && waiting == live) {
      for (int i = w; i < hi; ++i) if (fs[i].st == St::AtWarp) fs[i].st = St::Ready;
      any = true;
    }
  }
  if (any) return true;
  int live = 0, at_block = 0;
  for (int i = 0; i < n; ++i) {
    if (fs[i].st != St::Done) ++live;
    if (fs[i].st == St::AtBlock) ++at_block;
  }
  if (live && at_block == live) {
    for (int i = 0; i < n; ++i) if (fs[i].st == St::AtBlock) fs[i].st = St::Ready;
    return true;
  }
  return false;
}

inline void run_block_fibers(Launch& L, int n) {
  if ((int)g_fibers.size() < n) g_fibers.resize(n);
  std::vector<Fiber>& fs = g_fibers;
  for (int i = 0; i < n; ++i) {
    fs[i].linear = i;
    fs[i].tid = {unsigned(i % L.block.x), unsigned((i / L.block.x) % L.block.y), unsigned(i / (L.block.x * L.block.y))};
    fs[i].st = St::Ready;
    fiber_reset(fs[i]);
  }
  std::vector<int> order(n);
  for (;;) {
    order.clear();
    for (int i = 0; i < n; ++i) if (fs[i].st == St::Ready) order.push_back(i);
    std::shuffle(order.begin(), order.end(), g_rng);
    for (int i : order) {
      g_cur = &fs[i];
      swapcontext(&g_sched_ctx, &fs[i].ctx);
      if (!L.error.empty()) return;
    }
    bool done = std::all_of(fs.begin(), fs.begin() + n, [](const Fiber& f) { return f.st == St::Done; });
    if (done) return;
    if (!release(fs, n)) {
      L.error = std::string("kernel ") + L.kernel + ": threads of block " + fmt3(L.bidx) +
                " wait at different barriers (a __syncthreads or warp intrinsic reached by only part of the block or warp)";
      return;
    }
  }
}

inline void run_block_direct(Launch& L, int n) {  // no barrier anywhere: plain calls, shuffled
  static Fiber one;
  std::vector<int> order(n);
  for (int i = 0; i < n; ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), g_rng);
  for (int i : order) {
    one.linear = i;
    one.tid = {unsigned(i % L.block.x), unsigned((i / L.block.x) % L.block.y), unsigned(i / (L.block.x * L.block.y))};
    g_cur = &one;
    try {
      L.body();
    } catch (const std::exception& e) {
      note_error(e);
      return;
    }
  }
}

inline void run_launch(Launch& L) {
  uint64_t nthreads = uint64_t(L.block.x) * L.block.y * L.block.z;
  if (nthreads == 0 || nthreads > 1024)
    throw KernelError(std::string("kernel ") + L.kernel + ": invalid block size " + std::to_string(nthreads) + " threads (1..1024)");
  if (L.grid.x == 0 || L.grid.y == 0 || L.grid.z == 0 || L.grid.y > 65535 || L.grid.z > 65535)
    throw KernelError(std::string("kernel ") + L.kernel + ": invalid grid");
  if (L.dyn_smem > 228 * 1024)
    throw KernelError(std::string("kernel ") + L.kernel + ": dynamic shared memory over 228 KiB");
  Launch* saved = g_launch;
  g_launch = &L;
  int n = int(nthreads);
  for (unsigned bz = 0; bz < L.grid.z && L.error.empty(); ++bz)
    for (unsigned by = 0; by < L.grid.y && L.error.empty(); ++by)
      for (unsigned bx = 0; bx < L.grid.x && L.error.empty(); ++bx) {
        L.bidx = {bx, by, bz};
        L.dyn.assign(L.dyn_smem, char(0xFF));  // poisoned: reads of unwritten shared memory give NaN / -1
        try {
          if (g_fibers_needed) run_block_fibers(L, n); else run_block_direct(L, n);
        } catch (const std::exception& e) {
          if (L.error.empty()) L.error = e.what();
        }
        free_block_shared(L);
      }
  g_launch = saved;
  if (!L.error.empty()) throw KernelError(L.error);
}

}  // namespace kw

#define threadIdx (::kw::g_cur->tid)
#define blockIdx (::kw::g_launch->bidx)
#define blockDim (::kw::g_launch->block)
#define gridDim (::kw::g_launch->grid)
inline constexpr int warpSize = 32;  // not a macro: cudaDeviceProp has a warpSize member

inline void __syncthreads() { ::kw::yield_to_scheduler(::kw::St::AtBlock); }
inline void __threadfence() {}
inline void __threadfence_block() {}
