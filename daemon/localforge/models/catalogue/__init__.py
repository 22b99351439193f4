"""The model catalogue: registered models, their specs, benchmark scores and the watched dirs."""
