"""Reading GGUF files: the header, and the facts the catalogue derives from it."""
