"""LLM endpoints: the OpenAI-compatible client and chat plumbing."""
