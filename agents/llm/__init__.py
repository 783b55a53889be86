"""The LLM Coder and Judge: prompts in, candidates and advice out."""
