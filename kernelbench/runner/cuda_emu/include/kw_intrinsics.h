// Warp intrinsics (lockstep at each call), atomics and the float/half math library.
#pragma once

namespace kw {

struct WarpSlots {
  uint64_t v[32];
};
inline WarpSlots g_slots[32];  // one per warp of the block

inline int lane() { return g_cur->linear & 31; }
inline int warp() { return g_cur->linear >> 5; }
inline void warp_wait() {
  if (g_fibers_needed) yield_to_scheduler(St::AtWarp);
}
inline bool lane_live(int w, int l) {
  int i = w * 32 + l;
  int n = int(g_launch->block.x * g_launch->block.y * g_launch->block.z);
  return i < n && g_fibers[i].st != St::Done;
}

template <class T>
T exchange(T var, int src) {  // every live lane publishes var, then reads lane src's value
  static_assert(sizeof(T) <= 8, "warp shuffle of a type wider than 8 bytes");
  int w = warp(), l = lane();
  uint64_t bits = 0;
  std::memcpy(&bits, &var, sizeof(T));
  g_slots[w].v[l] = bits;
  warp_wait();
  T out = var;
  if (src >= 0 && src < 32 && lane_live(w, src)) std::memcpy(&out, &g_slots[w].v[src], sizeof(T));
  warp_wait();
  return out;
}

inline unsigned vote(bool pred) {
  int w = warp();
  g_slots[w].v[lane()] = pred ? 1 : 0;
  warp_wait();
  unsigned m = 0;
  for (int l = 0; l < 32; ++l)
    if (lane_live(w, l) && g_slots[w].v[l]) m |= 1u << l;
  warp_wait();
  return m;
}

}  // namespace kw

template <class T>
T __shfl_sync(unsigned, T var, int src, int width = 32) {
  int l = ::kw::lane();
  return ::kw::exchange(var, (l & ~(width - 1)) + (src & (width - 1)));
}
template <class T>
T __shfl_down_sync(unsigned, T var, unsigned delta, int width = 32) {
  int l = ::kw::lane(), seg = l & ~(width - 1);
  int src = l + int(delta);
  return ::kw::exchange(var, src < seg + width ? src : l);
}
template <class T>
T __shfl_up_sync(unsigned, T var, unsigned delta, int width = 32) {
  int l = ::kw::lane(), seg = l & ~(width - 1);
  int src = l - int(delta);
  return ::kw::exchange(var, src >= seg ? src : l);
}
template <class T>
T __shfl_xor_sync(unsigned, T var, int mask, int width = 32) {
  int l = ::kw::lane();
  int src = l ^ mask;
  return ::kw::exchange(var, (src & ~(width - 1)) == (l & ~(width - 1)) ? src : l);
}
inline unsigned __ballot_sync(unsigned, int pred) { return ::kw::vote(pred != 0); }
inline int __any_sync(unsigned, int pred) { return ::kw::vote(pred != 0) != 0; }
inline int __all_sync(unsigned m, int pred) {
  int w = ::kw::warp();
  unsigned live = 0;
  for (int l = 0; l < 32; ++l) if (::kw::lane_live(w, l)) live |= 1u << l;
  (void)m;
  return ::kw::vote(pred != 0) == live;
}
inline unsigned __activemask() {
  unsigned live = 0;
  for (int l = 0; l < 32; ++l) if (::kw::lane_live(::kw::warp(), l)) live |= 1u << l;
  return live;
}
inline void __syncwarp(unsigned = 0xffffffffu) { ::kw::warp_wait(); }

// Atomics: threads are fibers on one OS thread, so a plain read-modify-write is atomic.
template <class T, class U>
T atomicAdd(T* a, U v) { T o = *a; *a = T(o + v); return o; }
template <class T, class U>
T atomicAdd(const ::kw::gptr<T>& a, U v) { return atomicAdd(a.check(a.p), v); }
template <class T, class U>
T atomicSub(T* a, U v) { T o = *a; *a = T(o - v); return o; }
template <class T, class U>
T atomicMax(T* a, U v) { T o = *a; *a = o > T(v) ? o : T(v); return o; }
template <class T, class U>
T atomicMin(T* a, U v) { T o = *a; *a = o < T(v) ? o : T(v); return o; }
template <class T, class U>
T atomicExch(T* a, U v) { T o = *a; *a = T(v); return o; }
template <class T, class U, class V>
T atomicCAS(T* a, U cmp, V v) { T o = *a; if (o == T(cmp)) *a = T(v); return o; }
#define KW_ATOMIC_G(fn)                                                         \
  template <class T, class U>                                                   \
  T fn(const ::kw::gptr<T>& a, U v) { return fn(a.check(a.p), v); }
KW_ATOMIC_G(atomicSub) KW_ATOMIC_G(atomicMax) KW_ATOMIC_G(atomicMin) KW_ATOMIC_G(atomicExch)
template <class T, class U, class V>
T atomicCAS(const ::kw::gptr<T>& a, U cmp, V v) { return atomicCAS(a.check(a.p), cmp, v); }

template <class T>
T __ldg(const T* p) { return *p; }
template <class T>
T __ldg(const ::kw::gptr<T>& p) { return *p; }
template <class T>
T __ldg(const ::kw::gptr<const T>& p) { return *p; }

// Fast-math intrinsics: the CPU computes them at full precision (a GPU's are approximate).
inline float __expf(float x) { return std::exp(x); }
inline float __logf(float x) { return std::log(x); }
inline float __sinf(float x) { return std::sin(x); }
inline float __cosf(float x) { return std::cos(x); }
inline float __tanf(float x) { return std::tan(x); }
inline float __powf(float x, float y) { return std::pow(x, y); }
inline float __fdividef(float x, float y) { return x / y; }
inline float __frcp_rn(float x) { return 1.0f / x; }
inline float __fsqrt_rn(float x) { return std::sqrt(x); }
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline double rsqrt(double x) { return 1.0 / std::sqrt(x); }
inline float __frsqrt_rn(float x) { return 1.0f / std::sqrt(x); }
inline float __saturatef(float x) { return x < 0.f ? 0.f : (x > 1.f ? 1.f : x); }
inline float __fmaf_rn(float a, float b, float c) { return std::fma(a, b, c); }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline int __float2int_rn(float x) { return int(std::nearbyint(x)); }
inline int __float_as_int(float x) { int i; std::memcpy(&i, &x, 4); return i; }
inline float __int_as_float(int i) { float x; std::memcpy(&x, &i, 4); return x; }
inline unsigned __float_as_uint(float x) { unsigned i; std::memcpy(&i, &x, 4); return i; }
inline float __uint_as_float(unsigned i) { float x; std::memcpy(&x, &i, 4); return x; }
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz(unsigned(x)); }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline float fdividef(float x, float y) { return x / y; }
inline float exp10f(float x) { return std::pow(10.0f, x); }
inline float __exp10f(float x) { return std::pow(10.0f, x); }
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned umin(unsigned a, unsigned b) { return a < b ? a : b; }
inline unsigned umax(unsigned a, unsigned b) { return a > b ? a : b; }
inline float min(float a, float b) { return std::fmin(a, b); }
inline float max(float a, float b) { return std::fmax(a, b); }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }
inline __half hexp(__half x) { return __half(std::exp(float(x))); }
inline __half hsqrt(__half x) { return __half(std::sqrt(float(x))); }
inline __half hrsqrt(__half x) { return __half(1.0f / std::sqrt(float(x))); }
#include <math.h>
