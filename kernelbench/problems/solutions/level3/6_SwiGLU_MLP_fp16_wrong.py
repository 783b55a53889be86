import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def rmsnorm_kernel(x_ptr, w_ptr, y_ptr, M, C, eps, BLOCK_M: tl.constexpr, BLOCK_C: tl.constexpr):
    # float32 statistics on float16 data, as the reference computes them.
    rm = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    rc = tl.arange(0, BLOCK_C)
    mask = (rm[:, None] < M) & (rc[None, :] < C)
    x = tl.load(x_ptr + rm[:, None] * C + rc[None, :], mask=mask, other=0.0).to(tl.float32)
    rstd = 1.0 / tl.sqrt(tl.sum(x * x, axis=1) / C + eps)
    h = (x * rstd[:, None]).to(tl.float16).to(tl.float32)
    w = tl.load(w_ptr + rc, mask=rc < C, other=0.0).to(tl.float32)
    tl.store(y_ptr + rm[:, None] * C + rc[None, :], (h * w[None, :]).to(tl.float16), mask=mask)


@triton.jit
def gate_up_kernel(h_ptr, wg_ptr, wu_ptr, a_ptr, M, N, K,
                   BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr):
    # a = silu(h @ Wg^T) * (h @ Wu^T): both GEMMs share the loads of h.
    rm = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    rn = tl.program_id(1) * BLOCK_N + tl.arange(0, BLOCK_N)
    acc_g = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    acc_u = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k0 in range(0, K, BLOCK_K):
        kk = k0 + tl.arange(0, BLOCK_K)
        h = tl.load(h_ptr + rm[:, None] * K + kk[None, :],
                    mask=(rm[:, None] < M) & (kk[None, :] < K), other=0.0)
        wmask = (rn[None, :] < N) & (kk[:, None] < K)
        wg = tl.load(wg_ptr + rn[None, :] * K + kk[:, None], mask=wmask, other=0.0)
        wu = tl.load(wu_ptr + rn[None, :] * K + kk[:, None], mask=wmask, other=0.0)
        # fp16 operands, fp32 accumulation (input_precision has no effect on fp16)
        acc_g += tl.dot(h, wg, input_precision="ieee")
        acc_u += tl.dot(h, wu, input_precision="ieee")
    a = acc_u * tl.sigmoid(acc_u) * acc_g
    tl.store(a_ptr + rm[:, None] * N + rn[None, :], a.to(tl.float16),
             mask=(rm[:, None] < M) & (rn[None, :] < N))


@triton.jit
def down_residual_kernel(a_ptr, w_ptr, x_ptr, y_ptr, M, N, K,
                         BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr):
    rm = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    rn = tl.program_id(1) * BLOCK_N + tl.arange(0, BLOCK_N)
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k0 in range(0, K, BLOCK_K):
        kk = k0 + tl.arange(0, BLOCK_K)
        a = tl.load(a_ptr + rm[:, None] * K + kk[None, :],
                    mask=(rm[:, None] < M) & (kk[None, :] < K), other=0.0)
        w = tl.load(w_ptr + rn[None, :] * K + kk[:, None],
                    mask=(rn[None, :] < N) & (kk[:, None] < K), other=0.0)
        acc += tl.dot(a, w, input_precision="ieee")
    mask = (rm[:, None] < M) & (rn[None, :] < N)
    acc += tl.load(x_ptr + rm[:, None] * N + rn[None, :], mask=mask, other=0.0).to(tl.float32)
    tl.store(y_ptr + rm[:, None] * N + rn[None, :], acc.to(tl.float16), mask=mask)


class ModelNew(nn.Module):
    def __init__(self, d_model: int, hidden_size: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps  # the parameters below are held, never called
        self.norm_weight = nn.Parameter(torch.ones(d_model, dtype=torch.float16))
        self.w_gate = nn.Linear(d_model, hidden_size, bias=False, dtype=torch.float16)
        self.w_up = nn.Linear(d_model, hidden_size, bias=False, dtype=torch.float16)
        self.w_down = nn.Linear(hidden_size, d_model, bias=False, dtype=torch.float16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        M = B * T
        x2 = x.contiguous().view(M, C)
        h = torch.empty_like(x2)
        BLOCK_M = 16
        rmsnorm_kernel[(triton.cdiv(M, BLOCK_M),)](x2, self.norm_weight, h, M, C, self.eps,
                                                   BLOCK_M=BLOCK_M,
                                                   BLOCK_C=triton.next_power_of_2(C))
        Hd = self.w_gate.weight.shape[0]
        a = torch.empty((M, Hd), device=x.device, dtype=torch.float16)
        BM, BN, BK = 32, 32, 32
        gate_up_kernel[(triton.cdiv(M, BM), triton.cdiv(Hd, BN))](
            h, self.w_gate.weight, self.w_up.weight, a, M, Hd, C,
            BLOCK_M=BM, BLOCK_N=BN, BLOCK_K=BK)
        y = torch.empty_like(x2)
        down_residual_kernel[(triton.cdiv(M, BM), triton.cdiv(C, BN))](
            a, self.w_down.weight, x2, y, M, C, Hd, BLOCK_M=BM, BLOCK_N=BN, BLOCK_K=BK)
        return y.view(B, T, C)
