"""The LLM layer: an OpenAI-compatible client with a persistent request cache, versioned prompts
with their parsers, and the stages that score and rewrite documents with a model."""
