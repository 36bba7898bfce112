"""Training: one loop for every registry model (see ``loop.py``)."""
