# problem: level1/2_ReLU
# class: timing
# expect: flagged
# layers: static runtime
# why: on a GPU the first call per shape captures a CUDA graph on static buffers and later calls replay it without copying the new input in (stale results at full graph speed); CPU: a plain launch
# ruff: noqa: E501
import torch
import triton
import triton.language as tl
from torch import nn


@triton.jit
def relu_kernel(x_ptr, y_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask, other=0.0)
    tl.store(y_ptr + offs, tl.maximum(x, 0.0), mask=mask)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()
        self.graphs = {}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        grid = (triton.cdiv(x.numel(), 1024),)
        if not x.is_cuda:
            y = torch.empty_like(x)
            relu_kernel[grid](x, y, x.numel(), BLOCK=1024)
            return y
        key = tuple(x.shape)
        if key not in self.graphs:
            static_x, static_y = x.clone(), torch.empty_like(x)
            relu_kernel[grid](static_x, static_y, x.numel(), BLOCK=1024)  # compile first
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                relu_kernel[grid](static_x, static_y, x.numel(), BLOCK=1024)
            self.graphs[key] = (graph, static_y)
        graph, static_y = self.graphs[key]
        graph.replay()
        return static_y
