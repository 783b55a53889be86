// Bounds-checked global memory. Every CPU allocation is recorded (a wrapping c10 allocator,
// plus the tensors handed to each call); pointer parameters of kernels and device functions
// become kw::gptr, which checks each access against the allocation it points into.
#pragma once

namespace kw {

struct Region {
  const char* lo;
  const char* hi;
};

inline std::map<uintptr_t, size_t>& regions() {
  static std::map<uintptr_t, size_t> m;
  return m;
}
inline std::mutex& regions_mu() {
  static std::mutex m;
  return m;
}
inline void add_region(const void* p, size_t n) {
  if (!p || !n) return;
  std::lock_guard<std::mutex> g(regions_mu());
  auto& m = regions();
  auto it = m.find(uintptr_t(p));
  if (it == m.end() || it->second < n) m[uintptr_t(p)] = n;
}
inline void drop_region(const void* p) {
  std::lock_guard<std::mutex> g(regions_mu());
  regions().erase(uintptr_t(p));
}
inline bool find_region(const void* p, Region& out) {
  std::lock_guard<std::mutex> g(regions_mu());
  auto& m = regions();
  auto it = m.upper_bound(uintptr_t(p));
  if (it == m.begin()) return false;
  --it;
  if (uintptr_t(p) >= it->first + it->second) return false;
  out = {reinterpret_cast<const char*>(it->first), reinterpret_cast<const char*>(it->first + it->second)};
  return true;
}

// Wraps the CPU allocator; its data pointers are "simple" (context == data, as ATen's
// raw_allocate expects): the inner allocation is kept in a map until the deleter runs.
struct RecordingAllocator final : c10::Allocator {
  c10::Allocator* inner = nullptr;
  static std::map<void*, c10::DataPtr>& held() {
    static std::map<void*, c10::DataPtr> m;
    return m;
  }
  static void del(void* p) {
    drop_region(p);
    c10::DataPtr inner_ptr;
    {
      std::lock_guard<std::mutex> g(regions_mu());
      auto it = held().find(p);
      if (it == held().end()) return;
      inner_ptr = std::move(it->second);
      held().erase(it);
    }
  }
  c10::DataPtr allocate(size_t n) override {
    c10::DataPtr d = inner->allocate(n);
    void* p = d.get();
    if (!p) return d;
    add_region(p, n);
    {
      std::lock_guard<std::mutex> g(regions_mu());
      held()[p] = std::move(d);
    }
    return {p, p, &RecordingAllocator::del, c10::Device(c10::DeviceType::CPU)};
  }
  c10::DeleterFnPtr raw_deleter() const override { return &RecordingAllocator::del; }
  void copy_data(void* dest, const void* src, std::size_t count) const override { std::memcpy(dest, src, count); }
};

inline void install_allocator() {
  static RecordingAllocator a;
  if (a.inner) return;
  a.inner = c10::GetCPUAllocator();
  c10::SetCPUAllocator(&a, 255);
}

inline void register_tensor(const at::Tensor& t) {
  if (t.defined() && t.has_storage() && t.storage().data())
    add_region(t.storage().data(), t.storage().nbytes());
}

inline thread_local const char* g_where = "";  // the kernel parameter being converted

[[noreturn]] void oob(const void* base, const void* p, size_t elem, const char* name, const Region& r);

template <class T>
struct gptr {
  T* p = nullptr;
  Region r{nullptr, nullptr};  // lo == nullptr: not known to be an allocation; unchecked
  const char* name = "pointer";

  gptr() = default;
  gptr(std::nullptr_t) {}
  gptr(T* q) : p(q) {
    if (q && !find_region(q, r)) r = {nullptr, nullptr};
  }
  gptr(T* q, Region rr, const char* nm) : p(q), r(rr), name(nm) {}
  template <class U, class = std::enable_if_t<std::is_convertible_v<U*, T*>>>
  gptr(const gptr<U>& o) : p(o.p), r(o.r), name(o.name) {}

  T* check(T* q) const {
    if (r.lo && (reinterpret_cast<const char*>(q) < r.lo ||
                 reinterpret_cast<const char*>(q) + sizeof(T) > r.hi))
      oob(p, q, sizeof(T), name, r);
    return q;
  }
  template <class I, class = std::enable_if_t<std::is_integral_v<I>>>
  T& operator[](I i) const { return *check(p + i); }
  T& operator*() const { return *check(p); }
  T* operator->() const { return check(p); }
  template <class I, class = std::enable_if_t<std::is_integral_v<I>>>
  gptr operator+(I i) const { return {p + i, r, name}; }
  template <class I, class = std::enable_if_t<std::is_integral_v<I>>>
  gptr operator-(I i) const { return {p - i, r, name}; }
  template <class I, class = std::enable_if_t<std::is_integral_v<I>>>
  gptr& operator+=(I i) { p += i; return *this; }
  template <class I, class = std::enable_if_t<std::is_integral_v<I>>>
  gptr& operator-=(I i) { p -= i; return *this; }
  gptr& operator++() { ++p; return *this; }
  gptr& operator--() { --p; return *this; }
  gptr operator++(int) { gptr o = *this; ++p; return o; }
  gptr operator--(int) { gptr o = *this; --p; return o; }
  template <class U>
  ptrdiff_t operator-(const gptr<U>& o) const { return p - o.p; }
  operator T*() const { return p; }
  template <class U>
  explicit operator U*() const { return (U*)p; }
  explicit operator bool() const { return p != nullptr; }
};
template <class I, class T, class = std::enable_if_t<std::is_integral_v<I>>>
gptr<T> operator+(I i, const gptr<T>& g) { return g + i; }

[[noreturn]] inline void oob(const void* base, const void* q, size_t elem, const char* name, const Region& r) {
  (void)base;
  long long idx = (long long)((const char*)q - r.lo);
  long long cap = (long long)(r.hi - r.lo);
  std::ostringstream s;
  s << "out-of-bounds access to " << name << ": element " << (idx >= 0 ? idx / (long long)elem : idx / (long long)elem - 1)
    << " of " << (cap / (long long)elem) << " (" << elem << "-byte elements)";
  throw KernelError(s.str());
}

// reinterpret_cast that keeps the bounds of a checked pointer (the rewrite turns every
// reinterpret_cast<...> in device code into kw::rcast<...>).
template <class T> struct is_gptr : std::false_type {};
template <class T> struct is_gptr<gptr<T>> : std::true_type {};

template <class To, class From>
auto rcast(const gptr<From>& g) {
  using E = std::remove_pointer_t<To>;
  static_assert(std::is_pointer_v<To>, "reinterpret_cast of a device pointer to a non-pointer");
  return gptr<E>(reinterpret_cast<E*>(g.p), g.r, g.name);
}
template <class To, class From, class = std::enable_if_t<!is_gptr<std::decay_t<From>>::value>>
To rcast(From&& f) { return reinterpret_cast<To>(std::forward<From>(f)); }

template <class T>
void name_param(gptr<T>& g, const char* nm) { g.name = nm; }
template <class T>
void name_param(T&, const char*) {}

// ---------------------------------------------------------------- shared memory
inline int new_site() {
  static int n = 0;
  return n++;
}
inline void* block_shared(int site, size_t size, size_t align) {
  auto& v = g_launch->shared;
  if ((int)v.size() <= site) v.resize(site + 1, nullptr);
  if (!v[site]) {
    size_t a = std::max<size_t>(align, 16);
    v[site] = std::aligned_alloc(a, (size + a - 1) / a * a);
    std::memset(v[site], 0xFF, size);  // poisoned: NaN for floats, -1 for integers
  }
  return v[site];
}
template <class T>
gptr<T> dyn_shared() {
  auto& d = g_launch->dyn;
  static char none[1];
  char* lo = d.empty() ? none : d.data();
  return gptr<T>(reinterpret_cast<T*>(lo), Region{lo, lo + d.size()}, "dynamic shared memory");
}

}  // namespace kw

#define KW_SHARED(T, name, dims)                                                                  \
  using kw_sh_t_##name = T dims;                                                                  \
  static const int kw_site_##name = ::kw::new_site();                                             \
  kw_sh_t_##name& name = *reinterpret_cast<kw_sh_t_##name*>(                                      \
      ::kw::block_shared(kw_site_##name, sizeof(kw_sh_t_##name), alignof(kw_sh_t_##name)))

// cudaMalloc / cudaFree: zeroed host memory, recorded as a region so kernels' accesses to it
// are bounds-checked like a tensor's.
template <class T>
inline cudaError_t cudaMalloc(T** p, size_t n) {
  if (!p) return cudaErrorInvalidValue;
  void* q = std::calloc(n ? n : 1, 1);
  if (!q) return cudaErrorMemoryAllocation;
  ::kw::add_region(q, n);
  if (::kw::g_record) ::kw::record_alloc(q, n);
  *p = static_cast<T*>(q);
  return cudaSuccess;
}
inline cudaError_t cudaFree(void* p) {
  if (p && ::kw::g_record) ::kw::record("{\"mem\":\"free\",\"ptr\":" + ::kw::addr(p) + "}");
  if (p) {
    ::kw::drop_region(p);
    std::free(p);
  }
  return cudaSuccess;
}
