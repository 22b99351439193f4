"""The built-in mini-evaluation: tasks, the runner that scores a model, and the code sandbox."""
