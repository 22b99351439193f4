"""Running models: the manager, worker pool, residency planner, workers and prompt formats."""
