"""Evaluation: perplexity (``perplexity.py``), decoding (``translate.py``), BLEU and BLEU by length
(``bleu.py``)."""
