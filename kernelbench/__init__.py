"""KernelBench-format problems, the built-in suite, and the evaluation harness."""
