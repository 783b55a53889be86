// Vector types, dim3, half/bfloat16 and the CUDA runtime API surface host code calls.
#pragma once

struct uint3 { unsigned int x, y, z; };
struct dim3 {
  unsigned int x, y, z;
  constexpr dim3(unsigned int vx = 1, unsigned int vy = 1, unsigned int vz = 1) : x(vx), y(vy), z(vz) {}
  constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
};

#define KW_VEC2(T, N) struct alignas(2 * sizeof(T)) N { T x, y; };
#define KW_VEC4(T, N) struct alignas(4 * sizeof(T) > 16 ? 16 : 4 * sizeof(T)) N { T x, y, z, w; };
KW_VEC2(float, float2) KW_VEC4(float, float4) KW_VEC2(int, int2) KW_VEC4(int, int4)
KW_VEC2(double, double2) KW_VEC2(unsigned int, uint2) KW_VEC4(unsigned int, uint4)
struct float3 { float x, y, z; };
struct int3 { int x, y, z; };
inline float2 make_float2(float x, float y) { return {x, y}; }
inline float3 make_float3(float x, float y, float z) { return {x, y, z}; }
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
inline int2 make_int2(int x, int y) { return {x, y}; }
inline int4 make_int4(int x, int y, int z, int w) { return {x, y, z, w}; }
inline uint3 make_uint3(unsigned x, unsigned y, unsigned z) { return {x, y, z}; }

using __half = c10::Half;
using half = c10::Half;
using __nv_bfloat16 = c10::BFloat16;
using nv_bfloat16 = c10::BFloat16;
struct alignas(4) __half2 { __half x, y; };
using half2 = __half2;
struct alignas(4) __nv_bfloat162 { __nv_bfloat16 x, y; };
inline __half __float2half(float f) { return __half(f); }
inline __half __float2half_rn(float f) { return __half(f); }
inline float __half2float(__half h) { return static_cast<float>(h); }
inline __half2 __floats2half2_rn(float a, float b) { return {__half(a), __half(b)}; }
inline __half2 __float2half2_rn(float a) { return {__half(a), __half(a)}; }
inline __half2 __halves2half2(__half a, __half b) { return {a, b}; }
inline float2 __half22float2(__half2 h) { return {float(h.x), float(h.y)}; }
inline __half __low2half(__half2 h) { return h.x; }
inline __half __high2half(__half2 h) { return h.y; }
inline float __low2float(__half2 h) { return float(h.x); }
inline float __high2float(__half2 h) { return float(h.y); }
inline __half2 __hadd2(__half2 a, __half2 b) { return {__half(float(a.x) + float(b.x)), __half(float(a.y) + float(b.y))}; }
inline __half2 __hmul2(__half2 a, __half2 b) { return {__half(float(a.x) * float(b.x)), __half(float(a.y) * float(b.y))}; }
inline __half __hadd(__half a, __half b) { return __half(float(a) + float(b)); }
inline __half __hmul(__half a, __half b) { return __half(float(a) * float(b)); }
inline __half __hsub(__half a, __half b) { return __half(float(a) - float(b)); }
inline __half __hdiv(__half a, __half b) { return __half(float(a) / float(b)); }
inline __half __hmax(__half a, __half b) { return float(a) > float(b) ? a : b; }
inline __half __hmin(__half a, __half b) { return float(a) < float(b) ? a : b; }
inline __nv_bfloat16 __float2bfloat16(float f) { return __nv_bfloat16(f); }
inline __nv_bfloat16 __float2bfloat16_rn(float f) { return __nv_bfloat16(f); }
inline float __bfloat162float(__nv_bfloat16 h) { return static_cast<float>(h); }

// ---------------------------------------------------------------- runtime API (host side)
enum cudaError_t { cudaSuccess = 0, cudaErrorInvalidValue = 1, cudaErrorMemoryAllocation = 2,
                   cudaErrorInvalidDevice = 101,
                   cudaErrorLaunchFailure = 719 };
using cudaError = cudaError_t;
using cudaStream_t = struct KwStream*;
using cudaEvent_t = struct KwEvent*;
enum cudaMemcpyKind { cudaMemcpyHostToHost, cudaMemcpyHostToDevice, cudaMemcpyDeviceToHost,
                      cudaMemcpyDeviceToDevice, cudaMemcpyDefault };
inline cudaError_t cudaGetLastError() { return cudaSuccess; }
inline cudaError_t cudaPeekAtLastError() { return cudaSuccess; }
inline cudaError_t cudaDeviceSynchronize() { return cudaSuccess; }
inline cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
inline const char* cudaGetErrorString(cudaError_t e) { return e == cudaSuccess ? "no error" : "error"; }
inline cudaError_t cudaMemcpy(void* d, const void* s, size_t n, cudaMemcpyKind) {
  if (::kw::g_record) { ::kw::record_copy(d, s, n); return cudaSuccess; }
  std::memmove(d, s, n);
  return cudaSuccess;
}
inline cudaError_t cudaMemcpyAsync(void* d, const void* s, size_t n, cudaMemcpyKind k, cudaStream_t = nullptr) { return cudaMemcpy(d, s, n, k); }
inline cudaError_t cudaMemset(void* d, int v, size_t n) {
  if (::kw::g_record) { ::kw::record_set(d, v, n); return cudaSuccess; }
  std::memset(d, v, n);
  return cudaSuccess;
}
inline cudaError_t cudaMemsetAsync(void* d, int v, size_t n, cudaStream_t = nullptr) { return cudaMemset(d, v, n); }
#define cudaMemcpyToSymbol(sym, src, n, ...) (::kw::refuse_while_recording("cudaMemcpyToSymbol"), std::memcpy(&(sym), (src), (n)), cudaSuccess)

// One device, reported as an H100 SXM (sm_90): what host code reads to size its launches.
struct cudaUUID_t { char bytes[16]; };
struct cudaDeviceProp {
  char name[256];
  cudaUUID_t uuid;
  char luid[8];
  unsigned int luidDeviceNodeMask;
  size_t totalGlobalMem;
  size_t sharedMemPerBlock;
  int regsPerBlock;
  int warpSize;
  size_t memPitch;
  int maxThreadsPerBlock;
  int maxThreadsDim[3];
  int maxGridSize[3];
  int clockRate;
  size_t totalConstMem;
  int major;
  int minor;
  size_t textureAlignment;
  size_t texturePitchAlignment;
  int deviceOverlap;
  int multiProcessorCount;
  int kernelExecTimeoutEnabled;
  int integrated;
  int canMapHostMemory;
  int computeMode;
  int concurrentKernels;
  int ECCEnabled;
  int pciBusID;
  int pciDeviceID;
  int pciDomainID;
  int tccDriver;
  int asyncEngineCount;
  int unifiedAddressing;
  int memoryClockRate;
  int memoryBusWidth;
  int l2CacheSize;
  int persistingL2CacheMaxSize;
  int maxThreadsPerMultiProcessor;
  int streamPrioritiesSupported;
  int globalL1CacheSupported;
  int localL1CacheSupported;
  size_t sharedMemPerMultiprocessor;
  int regsPerMultiprocessor;
  int managedMemory;
  int isMultiGpuBoard;
  int multiGpuBoardGroupID;
  int hostNativeAtomicSupported;
  int singleToDoublePrecisionPerfRatio;
  int pageableMemoryAccess;
  int concurrentManagedAccess;
  int computePreemptionSupported;
  int canUseHostPointerForRegisteredMem;
  int cooperativeLaunch;
  int cooperativeMultiDeviceLaunch;
  size_t sharedMemPerBlockOptin;
  int pageableMemoryAccessUsesHostPageTables;
  int directManagedMemAccessFromHost;
  int maxBlocksPerMultiProcessor;
  int accessPolicyMaxWindowSize;
  size_t reservedSharedMemPerBlock;
  int hostRegisterSupported;
  int sparseCudaArraySupported;
  int hostRegisterReadOnlySupported;
  int timelineSemaphoreInteropSupported;
  int memoryPoolsSupported;
  int gpuDirectRDMASupported;
  unsigned int gpuDirectRDMAFlushWritesOptions;
  int gpuDirectRDMAWritesOrdering;
  unsigned int memoryPoolSupportedHandleTypes;
  int deferredMappingCudaArraySupported;
  int ipcEventSupported;
  int clusterLaunch;
  int unifiedFunctionPointers;
};
namespace kw {
inline const cudaDeviceProp& device_prop() {
  static const cudaDeviceProp p = [] {
    cudaDeviceProp d{};
    std::snprintf(d.name, sizeof d.name, "%s", "NVIDIA H100 80GB HBM3 (kernelwright emulated)");
    d.totalGlobalMem = size_t(79) * 1024 * 1024 * 1024 + size_t(647) * 1024 * 1024;
    d.sharedMemPerBlock = 48 * 1024;
    d.regsPerBlock = 65536;
    d.warpSize = 32;
    d.memPitch = 2147483647;
    d.maxThreadsPerBlock = 1024;
    d.maxThreadsDim[0] = 1024; d.maxThreadsDim[1] = 1024; d.maxThreadsDim[2] = 64;
    d.maxGridSize[0] = 2147483647; d.maxGridSize[1] = 65535; d.maxGridSize[2] = 65535;
    d.clockRate = 1980000;
    d.totalConstMem = 65536;
    d.major = 9;
    d.minor = 0;
    d.textureAlignment = 512;
    d.texturePitchAlignment = 32;
    d.deviceOverlap = 1;
    d.multiProcessorCount = 132;
    d.canMapHostMemory = 1;
    d.concurrentKernels = 1;
    d.ECCEnabled = 1;
    d.asyncEngineCount = 3;
    d.unifiedAddressing = 1;
    d.memoryClockRate = 2619000;
    d.memoryBusWidth = 5120;
    d.l2CacheSize = 50 * 1024 * 1024;
    d.persistingL2CacheMaxSize = 31457280;
    d.maxThreadsPerMultiProcessor = 2048;
    d.streamPrioritiesSupported = 1;
    d.globalL1CacheSupported = 1;
    d.localL1CacheSupported = 1;
    d.sharedMemPerMultiprocessor = 228 * 1024;
    d.regsPerMultiprocessor = 65536;
    d.managedMemory = 1;
    d.hostNativeAtomicSupported = 0;
    d.singleToDoublePrecisionPerfRatio = 2;
    d.concurrentManagedAccess = 1;
    d.computePreemptionSupported = 1;
    d.canUseHostPointerForRegisteredMem = 1;
    d.cooperativeLaunch = 1;
    d.cooperativeMultiDeviceLaunch = 1;
    d.sharedMemPerBlockOptin = 227 * 1024;
    d.maxBlocksPerMultiProcessor = 32;
    d.accessPolicyMaxWindowSize = 134213632;
    d.reservedSharedMemPerBlock = 1024;
    d.hostRegisterSupported = 1;
    d.memoryPoolsSupported = 1;
    d.clusterLaunch = 1;
    return d;
  }();
  return p;
}
inline int& current_device() {
  static int d = 0;
  return d;
}
// device 0; -1 is what a tensor on the emulated device (a CPU tensor) gives as its index
inline bool is_device(int d) { return d == 0 || d == -1; }
}  // namespace kw
enum cudaDeviceAttr {
  cudaDevAttrMaxThreadsPerBlock = 1, cudaDevAttrMaxBlockDimX = 2, cudaDevAttrMaxBlockDimY = 3,
  cudaDevAttrMaxBlockDimZ = 4, cudaDevAttrMaxGridDimX = 5, cudaDevAttrMaxGridDimY = 6,
  cudaDevAttrMaxGridDimZ = 7, cudaDevAttrMaxSharedMemoryPerBlock = 8, cudaDevAttrTotalConstantMemory = 9,
  cudaDevAttrWarpSize = 10, cudaDevAttrMaxRegistersPerBlock = 12, cudaDevAttrClockRate = 13,
  cudaDevAttrMultiProcessorCount = 16, cudaDevAttrL2CacheSize = 38,
  cudaDevAttrMaxThreadsPerMultiProcessor = 39, cudaDevAttrComputeCapabilityMajor = 75,
  cudaDevAttrComputeCapabilityMinor = 76, cudaDevAttrMaxSharedMemoryPerMultiprocessor = 81,
  cudaDevAttrMaxRegistersPerMultiprocessor = 82, cudaDevAttrMaxSharedMemoryPerBlockOptin = 97,
  cudaDevAttrMaxBlocksPerMultiprocessor = 106,
};
inline cudaError_t cudaGetDeviceCount(int* n) { if (!n) return cudaErrorInvalidValue; *n = 1; return cudaSuccess; }
inline cudaError_t cudaGetDevice(int* d) { if (!d) return cudaErrorInvalidValue; *d = ::kw::current_device(); return cudaSuccess; }
inline cudaError_t cudaSetDevice(int d) { if (!::kw::is_device(d)) return cudaErrorInvalidDevice; ::kw::current_device() = 0; return cudaSuccess; }
inline cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int d) {
  if (!p) return cudaErrorInvalidValue;
  if (!::kw::is_device(d)) return cudaErrorInvalidDevice;
  *p = ::kw::device_prop();
  return cudaSuccess;
}
enum cudaFuncAttribute {
  cudaFuncAttributeMaxDynamicSharedMemorySize = 8, cudaFuncAttributePreferredSharedMemoryCarveout = 9,
};
enum cudaFuncCache { cudaFuncCachePreferNone, cudaFuncCachePreferShared, cudaFuncCachePreferL1, cudaFuncCachePreferEqual };
template <class F>
cudaError_t cudaFuncSetAttribute(F*, cudaFuncAttribute, int) { return cudaSuccess; }
template <class F>
cudaError_t cudaFuncSetCacheConfig(F*, cudaFuncCache) { return cudaSuccess; }
inline cudaError_t cudaDeviceGetAttribute(int* v, cudaDeviceAttr a, int d) {
  if (!v) return cudaErrorInvalidValue;
  if (!::kw::is_device(d)) return cudaErrorInvalidDevice;
  const cudaDeviceProp& p = ::kw::device_prop();
  switch (a) {
    case cudaDevAttrMaxThreadsPerBlock: *v = p.maxThreadsPerBlock; break;
    case cudaDevAttrMaxBlockDimX: *v = p.maxThreadsDim[0]; break;
    case cudaDevAttrMaxBlockDimY: *v = p.maxThreadsDim[1]; break;
    case cudaDevAttrMaxBlockDimZ: *v = p.maxThreadsDim[2]; break;
    case cudaDevAttrMaxGridDimX: *v = p.maxGridSize[0]; break;
    case cudaDevAttrMaxGridDimY: *v = p.maxGridSize[1]; break;
    case cudaDevAttrMaxGridDimZ: *v = p.maxGridSize[2]; break;
    case cudaDevAttrMaxSharedMemoryPerBlock: *v = int(p.sharedMemPerBlock); break;
    case cudaDevAttrTotalConstantMemory: *v = int(p.totalConstMem); break;
    case cudaDevAttrWarpSize: *v = p.warpSize; break;
    case cudaDevAttrMaxRegistersPerBlock: *v = p.regsPerBlock; break;
    case cudaDevAttrClockRate: *v = p.clockRate; break;
    case cudaDevAttrMultiProcessorCount: *v = p.multiProcessorCount; break;
    case cudaDevAttrL2CacheSize: *v = p.l2CacheSize; break;
    case cudaDevAttrMaxThreadsPerMultiProcessor: *v = p.maxThreadsPerMultiProcessor; break;
    case cudaDevAttrComputeCapabilityMajor: *v = p.major; break;
    case cudaDevAttrComputeCapabilityMinor: *v = p.minor; break;
    case cudaDevAttrMaxSharedMemoryPerMultiprocessor: *v = int(p.sharedMemPerMultiprocessor); break;
    case cudaDevAttrMaxRegistersPerMultiprocessor: *v = p.regsPerMultiprocessor; break;
    case cudaDevAttrMaxSharedMemoryPerBlockOptin: *v = int(p.sharedMemPerBlockOptin); break;
    case cudaDevAttrMaxBlocksPerMultiprocessor: *v = p.maxBlocksPerMultiProcessor; break;
    default: return cudaErrorInvalidValue;
  }
  return cudaSuccess;
}
#define C10_CUDA_KERNEL_LAUNCH_CHECK() ((void)0)
#define C10_CUDA_CHECK(e) ((void)(e))
#define AT_CUDA_CHECK(e) ((void)(e))
#define CUDA_KERNEL_ASSERT(c) TORCH_CHECK((c), "CUDA_KERNEL_ASSERT failed: " #c)

namespace at { namespace cuda {
struct CUDAStream {
  cudaStream_t stream() const { return nullptr; }
  operator cudaStream_t() const { return nullptr; }
};
inline CUDAStream getCurrentCUDAStream(int = -1) { return {}; }
inline CUDAStream getDefaultCUDAStream(int = -1) { return {}; }
inline cudaDeviceProp* getCurrentDeviceProperties() { return const_cast<cudaDeviceProp*>(&::kw::device_prop()); }
inline cudaDeviceProp* getDeviceProperties(int64_t) { return getCurrentDeviceProperties(); }
inline int64_t device_count() { return 1; }
inline int current_device() { return ::kw::current_device(); }
}}  // namespace at::cuda
namespace c10 { namespace cuda {
using at::cuda::CUDAStream;
using at::cuda::getCurrentCUDAStream;
using at::cuda::getDefaultCUDAStream;
using at::cuda::device_count;
using at::cuda::current_device;
// One device: a guard is a no-op, whatever names the device (Device, int, device_of(x)'s
// optional<Device>).
struct CUDAGuard { template <class... A> explicit CUDAGuard(A&&...) {} };
using OptionalCUDAGuard = CUDAGuard;
}}  // namespace c10::cuda
namespace at { namespace cuda { using c10::cuda::CUDAGuard; using c10::cuda::OptionalCUDAGuard; } }

// RestrictPtrTraits is declared by ATen only under nvcc (__CUDACC__); the packed accessors
// of the extension tutorial name it.
namespace at { template <typename T> struct RestrictPtrTraits { typedef T* __restrict__ PtrType; }; }
