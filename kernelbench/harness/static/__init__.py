"""The static check of a candidate file (before anything of it runs)."""
