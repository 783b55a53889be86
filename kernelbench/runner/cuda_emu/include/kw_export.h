// Kernel launches (the rewrite turns `k<<<g, b, smem, s>>>(args)` into kw::launch) and the
// C entry points the Python loader calls the host functions through (no pybind11 here).
#pragma once

namespace kw {

inline int64_t g_launches = 0;  // kernel launches in the current kw_call (the harness's evidence)

// ---------------------------------------------------------------- blind pass
template <class T> struct raw_of { using type = T; static constexpr bool ptr = std::is_pointer_v<T>; };
template <class T> struct raw_of<gptr<T>> { using type = T*; static constexpr bool ptr = true; };

template <class D>
std::string record_arg(const D& v) {
  using R = typename raw_of<D>::type;
  if constexpr (raw_of<D>::ptr) {
    R r;
    if constexpr (std::is_pointer_v<D>) r = v; else r = v.p;
    return "{\"p\":" + addr(reinterpret_cast<const void*>(r)) + "}";
  } else if constexpr (std::is_trivially_copyable_v<D>) {
    return "{\"b\":\"" + hex_bytes(&v, sizeof(D)) + "\"}";
  } else {
    throw std::runtime_error("a kernel argument of a type the blind pass cannot write down");
  }
}

template <class D>
D replay_arg(const void* v, int64_t size, bool is_ptr) {
  using R = typename raw_of<D>::type;
  if (size != int64_t(sizeof(R)) || is_ptr != raw_of<D>::ptr)
    throw std::invalid_argument("the program's argument does not fit the kernel's parameter");
  if constexpr (std::is_trivially_copyable_v<R>) {
    alignas(R) unsigned char buf[sizeof(R)];
    std::memcpy(buf, v, sizeof(R));
    if constexpr (raw_of<D>::ptr && !std::is_pointer_v<D>) return D(*reinterpret_cast<R*>(buf));
    else return *reinterpret_cast<R*>(buf);
  } else {
    throw std::invalid_argument("a kernel parameter the replay cannot rebuild");
  }
}

inline void run_kernel(const char* name, dim3 grid, dim3 block, size_t smem, std::function<void()> body) {
  Launch L;
  L.kernel = name;
  L.grid = grid;
  L.block = block;
  L.dyn_smem = smem;
  L.body = std::move(body);
  run_launch(L);
}

// The replay's entry for one kernel signature: the kernel (at an offset its symbol table
// says is a __global__ function of the source) called with arguments rebuilt from bytes.
template <class... P, size_t... I>
void replay_apply(void (*k)(P...), const char* name, dim3 grid, dim3 block, size_t smem,
                  const void* const* vals, const int64_t* sizes, const int64_t* ptrs, std::index_sequence<I...>) {
  std::tuple<std::decay_t<P>...> args(replay_arg<std::decay_t<P>>(vals[I], sizes[I], ptrs[I] != 0)...);
  run_kernel(name, grid, block, smem, [&] { std::apply(k, args); });
}
template <class... P>
void replay_launch(void* k, const char* name, dim3 grid, dim3 block, size_t smem, int n,
                   const void* const* vals, const int64_t* sizes, const int64_t* ptrs) {
  if (n != int(sizeof...(P))) throw std::invalid_argument("the program launches a kernel with the wrong number of arguments");
  replay_apply(reinterpret_cast<void (*)(P...)>(k), name, grid, block, smem, vals, sizes, ptrs, std::index_sequence_for<P...>{});
}
using ReplayFn = void (*)(void*, const char*, dim3, dim3, size_t, int, const void* const*, const int64_t*, const int64_t*);

inline std::string dims(dim3 d) {
  return "[" + std::to_string(d.x) + "," + std::to_string(d.y) + "," + std::to_string(d.z) + "]";
}

template <class... P, class... A>
void launch(void (*k)(P...), const char* name, dim3 grid, dim3 block, size_t smem, cudaStream_t, A&&... a) {
  static_assert(sizeof...(P) == sizeof...(A), "kernel launched with the wrong number of arguments");
  ++g_launches;
  std::tuple<std::decay_t<P>...> args(std::forward<A>(a)...);
  if (g_record) {  // the blind pass: written down, not run
    ReplayFn tramp = &replay_launch<P...>;
    std::string line = "{\"kernel\":\"" + hex_bytes(name, std::strlen(name)) + "\",\"k\":" +
                       std::to_string(module_offset(reinterpret_cast<const void*>(k))) + ",\"t\":" +
                       std::to_string(module_offset(reinterpret_cast<const void*>(tramp))) +
                       ",\"grid\":" + dims(grid) + ",\"block\":" + dims(block) + ",\"smem\":" + std::to_string(smem) + ",\"args\":[";
    std::string sep;
    std::apply([&](const auto&... v) { ((line += sep + record_arg(v), sep = ","), ...); }, args);
    record(line + "]}");
    return;
  }
  run_kernel(name, grid, block, smem, [&] { std::apply(k, args); });
}
template <class S>
cudaStream_t as_stream(const S&) { return nullptr; }

// ---------------------------------------------------------------- exports
struct Arg {  // filled by the Python loader (ctypes)
  int64_t kind;  // 0 none, 1 tensor (TensorImpl*), 2 int, 3 float, 4 bool, 5 int list,
                 // 6 tensor list (TensorImpl* array), 7 float list (double array)
  int64_t i;
  double d;
  void* p;
  int64_t n;
};
struct Out {
  int64_t kind;  // 0 none, 1 one tensor, 2 int, 3 float, 4 bool, 5 list of tensors, 6 tuple of tensors
  int64_t n;
  int64_t i;
  double d;
  void* t[64];  // DLManagedTensor*
};

inline at::Tensor tensor_of(const Arg& a) {
  if (a.kind == 0) return at::Tensor();
  if (a.kind != 1) throw std::invalid_argument("expected a tensor argument");
  auto* impl = static_cast<c10::TensorImpl*>(a.p);
  at::Tensor t(c10::intrusive_ptr<c10::TensorImpl, c10::UndefinedTensorImpl>::reclaim_copy(impl));
  register_tensor(t);
  return t;
}

template <class T, class = void> struct is_optional : std::false_type {};  // std:: or c10::optional
template <class T>
struct is_optional<T, std::void_t<typename T::value_type, decltype(std::declval<const T&>().has_value())>>
    : std::true_type {};

template <class T>
T from_arg(const Arg& a) {
  using D = std::decay_t<T>;
  if constexpr (std::is_same_v<D, at::Tensor>) {
    return tensor_of(a);
  } else if constexpr (is_optional<D>::value) {
    if (a.kind == 0) return D();
    return D(from_arg<typename D::value_type>(a));
  } else if constexpr (std::is_same_v<D, std::vector<at::Tensor>>) {  // a list of tensors
    D out;
    if (a.kind == 5 && a.n == 0) return out;
    if (a.kind != 6) throw std::invalid_argument("expected a list of tensors");
    auto* impls = static_cast<void* const*>(a.p);
    for (int64_t k = 0; k < a.n; ++k) out.push_back(tensor_of(Arg{1, 0, 0.0, impls[k], 0}));
    return out;
  } else if constexpr (std::is_same_v<D, c10::ArrayRef<int64_t>>) {  // IntArrayRef: the loader's array
    if (a.kind != 5) throw std::invalid_argument("expected a list of integers");
    return D(static_cast<const int64_t*>(a.p), size_t(a.n));
  } else if constexpr (std::is_same_v<D, std::vector<double>> || std::is_same_v<D, std::vector<float>>) {
    D out;
    if (a.kind == 7) {
      auto* v = static_cast<const double*>(a.p);
      for (int64_t k = 0; k < a.n; ++k) out.push_back(typename D::value_type(v[k]));
    } else if (a.kind == 5) {
      auto* v = static_cast<const int64_t*>(a.p);
      for (int64_t k = 0; k < a.n; ++k) out.push_back(typename D::value_type(v[k]));
    } else {
      throw std::invalid_argument("expected a list of numbers");
    }
    return out;
  } else if constexpr (std::is_same_v<D, bool>) {
    return a.kind == 4 || a.kind == 2 ? a.i != 0 : a.d != 0;
  } else if constexpr (std::is_integral_v<D>) {
    if (a.kind != 2 && a.kind != 4) throw std::invalid_argument("expected an integer argument");
    return D(a.i);
  } else if constexpr (std::is_floating_point_v<D>) {
    return a.kind == 3 ? D(a.d) : D(a.i);
  } else if constexpr (std::is_same_v<D, std::vector<int64_t>>) {
    if (a.kind != 5) throw std::invalid_argument("expected a list of integers");
    auto* v = static_cast<const int64_t*>(a.p);
    return D(v, v + a.n);
  } else {
    static_assert(sizeof(D) == 0, "host function argument type outside the emulated surface");
  }
}

inline void put_tensor(Out& o, const at::Tensor& t) {
  if (o.n >= 64) throw std::invalid_argument("more than 64 tensors returned");
  o.t[o.n++] = at::toDLPack(t);
}

template <class R>
void to_out(Out& o, R&& r) {
  using D = std::decay_t<R>;
  if constexpr (std::is_same_v<D, at::Tensor>) {
    o.kind = 1; put_tensor(o, r);
  } else if constexpr (std::is_same_v<D, std::vector<at::Tensor>>) {
    o.kind = 5; for (auto& t : r) put_tensor(o, t);  // pybind11: a list, even of one
  } else if constexpr (std::is_same_v<D, bool>) {
    o.kind = 4; o.i = r;
  } else if constexpr (std::is_integral_v<D>) {
    o.kind = 2; o.i = r;
  } else if constexpr (std::is_floating_point_v<D>) {
    o.kind = 3; o.d = r;
  } else {
    o.kind = 6;  // std::tuple / std::pair: pybind11 gives a tuple
    std::apply([&](auto&... t) { (put_tensor(o, t), ...); }, r);
  }
}

using Caller = std::function<void(const Arg*, int, Out&)>;
struct Fn { std::string name; Caller call; int arity; };
inline std::vector<Fn>& functions() {
  static std::vector<Fn> v;
  return v;
}

template <class R, class... A, size_t... I>
void invoke(R (*f)(A...), const Arg* a, Out& o, std::index_sequence<I...>) {
  if constexpr (std::is_void_v<R>) {
    f(from_arg<A>(a[I])...);
    o.kind = 0;
  } else {
    to_out(o, f(from_arg<A>(a[I])...));
  }
}

struct Module {  // what PYBIND11_MODULE's `m` and load_inline's `functions=` register into
  template <class R, class... A, class... Extra>
  Module& def(const char* name, R (*f)(A...), Extra&&...) {
    functions().push_back({name, [f](const Arg* a, int n, Out& o) {
      if (n != int(sizeof...(A)))
        throw std::invalid_argument("takes " + std::to_string(sizeof...(A)) + " arguments, got " + std::to_string(n));
      invoke(f, a, o, std::index_sequence_for<A...>{});
    }, int(sizeof...(A))});
    return *this;
  }
  template <class... X>
  Module& attr(X&&...) { return *this; }
};
struct ArgName {
  template <class V> ArgName operator=(V&&) const { return *this; }
};

}  // namespace kw

namespace py {
inline ::kw::ArgName arg(const char*) { return {}; }
}
namespace pybind11 { using py::arg; }
#define PYBIND11_MODULE(name, m)                                  \
  static void kw_module_init(::kw::Module& m);                    \
  static const int kw_module_reg = (kw_module_init(*new ::kw::Module()), 0); \
  static void kw_module_init(::kw::Module& m)
#define TORCH_LIBRARY(ns, m) static_assert(false, "kernelwright-emulator: TORCH_LIBRARY is outside the emulated surface")

extern "C" {
__attribute__((visibility("default"))) int kw_nfunctions() { return int(::kw::functions().size()); }
__attribute__((visibility("default"))) const char* kw_function_name(int i) { return ::kw::functions()[i].name.c_str(); }
__attribute__((visibility("default"))) int64_t kw_launch_count() { return ::kw::g_launches; }
__attribute__((visibility("default"))) void kw_set_recorder(::kw::RecordFn f) { ::kw::g_record = f; }
__attribute__((visibility("default"))) void kw_add_region(const void* p, int64_t n) { ::kw::add_region(p, size_t(n)); }
// The replay (kernelbench.runner.replay): one recorded launch. The caller has checked, by this
// module's own symbol table, that `tramp` is a kw::replay_launch and `kernel` a __global__
// function of the source; the module was loaded with its initializers disabled.
__attribute__((visibility("default"))) int kw_replay(int64_t tramp, int64_t kernel, const char* name,
    const uint32_t* cfg, int64_t smem, int n, const void* const* vals, const int64_t* sizes,
    const int64_t* ptrs, char* err, int errlen, uint64_t seed, int fibers) {
  try {
    Dl_info info{};
    if (!dladdr(reinterpret_cast<const void*>(&kw_replay), &info) || !info.dli_fbase)
      throw std::runtime_error("emulator: cannot locate its own module");
    auto* base = static_cast<char*>(info.dli_fbase);
    ::kw::set_seed(seed);
    ::kw::g_fibers_needed = fibers != 0;
    auto fn = reinterpret_cast<::kw::ReplayFn>(base + tramp);
    fn(base + kernel, name, dim3(cfg[0], cfg[1], cfg[2]), dim3(cfg[3], cfg[4], cfg[5]), size_t(smem), n, vals, sizes, ptrs);
    return 0;
  } catch (const std::exception& e) {
    std::snprintf(err, errlen, "%s", e.what());
    return 1;
  }
}
__attribute__((visibility("default"))) int kw_call(int i, const ::kw::Arg* a, int n, ::kw::Out* o, char* err, int errlen, uint64_t seed, int fibers) {
  try {
    ::kw::install_allocator();
    ::kw::set_seed(seed);
    ::kw::g_fibers_needed = fibers != 0;
    o->n = 0;
    ::kw::g_launches = 0;
    ::kw::functions()[i].call(a, n, *o);
    return 0;
  } catch (const std::exception& e) {
    std::snprintf(err, errlen, "%s", e.what());
    return 1;
  }
}
}
