// The blind pass (issue 28): with a recorder set (`kw_set_recorder`, the candidate step's
// Python side), kernel launches and the host code's device-memory operations are written
// down as JSON lines for the replay instead of run. The candidate's host code then runs on
// stand-ins only; the replay process runs the recorded launches on the real data with
// kernels from its own build of the same source (`kw_replay`, kw_export.h).
#pragma once
#include <dlfcn.h>

namespace kw {

using RecordFn = void (*)(const char*);
inline RecordFn g_record = nullptr;
inline constexpr size_t kMaxInlineBytes = size_t(1) << 20;

inline std::string hex_bytes(const void* p, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  s.reserve(2 * n);
  auto* b = static_cast<const unsigned char*>(p);
  for (size_t i = 0; i < n; ++i) {
    s.push_back(digits[b[i] >> 4]);
    s.push_back(digits[b[i] & 15]);
  }
  return s;
}

inline void record(const std::string& line) { g_record(line.c_str()); }

// Where a function of this module lies, as an offset from the module's base: the replay's
// build of the same source puts the same code at the same offsets, and checks by its own
// symbol table what each offset is before calling it.
inline int64_t module_offset(const void* f) {
  Dl_info info{};
  if (!dladdr(f, &info) || !info.dli_fbase) throw std::runtime_error("emulator: cannot locate a function in its module");
  return int64_t(static_cast<const char*>(f) - static_cast<const char*>(info.dli_fbase));
}

inline std::string addr(const void* p) { return std::to_string(uintptr_t(p)); }

// cudaMemcpy / cudaMemset / cudaMalloc while recording: the Python side maps each address to
// memory the program made (or, for a copy from the host's own memory, takes the bytes).
inline void record_copy(void* d, const void* s, size_t n) {
  std::string line = "{\"mem\":\"copy\",\"dst\":" + addr(d) + ",\"src\":" + addr(s) + ",\"n\":" + std::to_string(n);
  if (n <= kMaxInlineBytes) line += ",\"bytes\":\"" + hex_bytes(s, n) + "\"";
  record(line + "}");
}
inline void record_set(void* d, int v, size_t n) {
  record("{\"mem\":\"set\",\"dst\":" + addr(d) + ",\"value\":" + std::to_string(v & 0xFF) + ",\"n\":" + std::to_string(n) + "}");
}
inline void record_alloc(void* p, size_t n) {
  record("{\"mem\":\"alloc\",\"ptr\":" + addr(p) + ",\"n\":" + std::to_string(n) + "}");
}

inline void refuse_while_recording(const char* what) {
  if (g_record) throw std::runtime_error(std::string(what) + " is outside the blind pass (host code writing constant memory cannot be replayed)");
}

}  // namespace kw
