# problem: level2/1_Gemm_Bias_ReLU
# class: legit
# expect: correct
# layers: static runtime
# why: nn.Linear kept only as the holder of the weight and bias (the reference's parameters are copied into it by name); the layer is never called, the fused GEMM+bias+ReLU is one Triton kernel reading W through .t() strides
# ruff: noqa: E501
import torch
import triton
import triton.language as tl
from torch import nn


@triton.jit
def gemm_bias_relu_kernel(
    x_ptr,
    wt_ptr,
    b_ptr,
    y_ptr,
    M,
    N,
    K,
    stride_xm,
    stride_xk,
    stride_wk,
    stride_wn,
    stride_ym,
    stride_yn,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_K: tl.constexpr,
):
    rm = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    rn = tl.program_id(1) * BLOCK_N + tl.arange(0, BLOCK_N)
    rk = tl.arange(0, BLOCK_K)
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k0 in range(0, K, BLOCK_K):
        kk = k0 + rk
        x = tl.load(
            x_ptr + rm[:, None] * stride_xm + kk[None, :] * stride_xk,
            mask=(rm[:, None] < M) & (kk[None, :] < K),
            other=0.0,
        )
        w = tl.load(
            wt_ptr + kk[:, None] * stride_wk + rn[None, :] * stride_wn,
            mask=(kk[:, None] < K) & (rn[None, :] < N),
            other=0.0,
        )
        acc += tl.dot(x, w, input_precision="ieee")
    acc += tl.load(b_ptr + rn, mask=rn < N, other=0.0)[None, :]
    tl.store(
        y_ptr + rm[:, None] * stride_ym + rn[None, :] * stride_yn,
        tl.maximum(acc, 0.0),
        mask=(rm[:, None] < M) & (rn[None, :] < N),
    )


class ModelNew(nn.Module):
    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.linear = nn.Linear(in_features, out_features)  # parameter holder only

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        M, K = x.shape
        wt = self.linear.weight.t()  # a view: (K, N) strides, no copy
        N = wt.shape[1]
        y = torch.empty((M, N), device=x.device, dtype=x.dtype)
        grid = (triton.cdiv(M, 32), triton.cdiv(N, 32))
        gemm_bias_relu_kernel[grid](
            x,
            wt,
            self.linear.bias,
            y,
            M,
            N,
            K,
            x.stride(0),
            x.stride(1),
            wt.stride(0),
            wt.stride(1),
            y.stride(0),
            y.stride(1),
            BLOCK_M=32,
            BLOCK_N=32,
            BLOCK_K=32,
        )
        return y
