"""Model catalogue, residency and inference."""
