"""Problems: the KernelBench format, loading, the built-in suite and its sizes."""
