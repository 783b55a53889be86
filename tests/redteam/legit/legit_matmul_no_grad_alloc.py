# problem: level1/1_Square_matmul
# class: legit
# expect: correct
# layers: static runtime
# why: @torch.no_grad() on forward, output from A.new_empty, a torch.zeros scratch accumulator, split-K with two launches
# ruff: noqa: E501
import torch
import triton
import triton.language as tl
from torch import nn


@triton.jit
def matmul_partial_kernel(
    a_ptr,
    b_ptr,
    p_ptr,
    M,
    N,
    K,
    k_start,
    k_stop,
    stride_am,
    stride_ak,
    stride_bk,
    stride_bn,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_K: tl.constexpr,
):
    rm = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    rn = tl.program_id(1) * BLOCK_N + tl.arange(0, BLOCK_N)
    rk = tl.arange(0, BLOCK_K)
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k0 in range(k_start, k_stop, BLOCK_K):
        kk = k0 + rk
        kmask = kk < k_stop
        a = tl.load(
            a_ptr + rm[:, None] * stride_am + kk[None, :] * stride_ak,
            mask=(rm[:, None] < M) & kmask[None, :],
            other=0.0,
        )
        b = tl.load(
            b_ptr + kk[:, None] * stride_bk + rn[None, :] * stride_bn,
            mask=kmask[:, None] & (rn[None, :] < N),
            other=0.0,
        )
        acc += tl.dot(a, b, input_precision="ieee")
    ptrs = p_ptr + rm[:, None] * N + rn[None, :]
    mask = (rm[:, None] < M) & (rn[None, :] < N)
    tl.store(ptrs, tl.load(ptrs, mask=mask, other=0.0) + acc, mask=mask)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    @torch.no_grad()
    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        M, K = A.shape
        N = B.shape[1]
        acc = torch.zeros((M, N), device=A.device, dtype=torch.float32)
        grid = (triton.cdiv(M, 32), triton.cdiv(N, 32))
        half = (K // 2 + 31) // 32 * 32
        for k_start, k_stop in ((0, half), (half, K)):
            matmul_partial_kernel[grid](
                A,
                B,
                acc,
                M,
                N,
                K,
                k_start,
                k_stop,
                A.stride(0),
                A.stride(1),
                B.stride(0),
                B.stride(1),
                BLOCK_M=32,
                BLOCK_N=32,
                BLOCK_K=32,
            )
        C = A.new_empty((M, N))
        C.copy_(acc)
        return C
