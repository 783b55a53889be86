"""Hardware feedback for candidate kernels: static (no GPU) and Nsight Compute (GPU)."""

from profiler.report import KernelProfile, ProfileReport, Roofline, SassMix

__all__ = ["KernelProfile", "ProfileReport", "Roofline", "SassMix"]
