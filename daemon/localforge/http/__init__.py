"""Door: the OpenAI, Ollama and llama-server HTTP APIs and /metrics, on uvicorn (opt-in)."""
