"""The paper stage: Table 1 (``tables.py``), the BLEU-by-length figure and learning curves
(``figures.py``), the claims check with a paired bootstrap (``claims.py``) and the report
(``report.py``). Published numbers, claims and templates live in the top-level ``paper/`` folder."""
