"""The paper stage: Table 1 and every other table (``tables.py``), Figure 6, the extrapolation
figure and the learning curves (``figures.py``), the claims check (``claims.py``) with paired
bootstrap intervals (``bootstrap.py``), the provenance table and warnings (``provenance.py``) and
the report (``report.py``). Published numbers, claims and templates live in the top-level
``paper/`` folder."""
