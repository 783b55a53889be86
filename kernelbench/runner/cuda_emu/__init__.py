"""An emulated CUDA device: CUDA C `load_inline` candidates run on the CPU, with threads of
a block as fibers (shuffled between barriers), bounds-checked global memory and poisoned
shared memory. See docs/cuda-on-cpu.md."""
