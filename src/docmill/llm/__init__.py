"""The OpenAI-compatible LLM gateway."""
