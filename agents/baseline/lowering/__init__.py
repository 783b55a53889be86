"""The baseline's fx-to-Triton compiler: trace, analyze, lower, generate."""
