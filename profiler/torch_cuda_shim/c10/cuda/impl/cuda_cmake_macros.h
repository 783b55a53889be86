#pragma once
// Generated into CUDA builds of torch and missing from the CPU wheel's headers, which
// <ATen/cuda/CUDAContext.h> needs (through c10/cuda/CUDAMacros.h). Searched after torch's
// own include folders, so a CUDA build's real file wins.
#define C10_CUDA_BUILD_SHARED_LIBS
