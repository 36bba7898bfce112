"""Training: one loop for every registry model (``loop.py``), the device settings it shares with
evaluation (``device.py``) and the NLL and perplexity that evaluation reports too (``nll.py``)."""
