"""SQLite storage: the source of truth for requests, outcomes, feedback and model statistics."""
