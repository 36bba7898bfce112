"""Evaluation: perplexity (``train/nll.py``, shared with training), decoding (``translate.py``), BLEU and BLEU by length
(``bleu.py``)."""
