"""The paper stage's parts. Published numbers, claims and templates live in the top-level ``paper/``
folder.

- ``published.py``     ``paper/published.yaml``: the published Table 1, each cell with its provenance
- ``tables.py``        every table of the paper stage as plain data (Table 1's columns defined once)
- ``figures.py``       Figure 6 (BLEU by source-sentence length) and the learning curves, with matplotlib
- ``plot_data.py``     the figures as data series for ``dvc plots show`` / ``diff``
- ``claims.py``        ``paper/claims.yaml`` checked against the regenerated metrics
- ``bootstrap.py``     paired bootstrap intervals for BLEU differences (whole test set or one bucket)
- ``proportions.py``   the difference of two proportions, with an interval fit for small counts
- ``convergence.py``   whether a run converged (stopped by patience), in words claims and the report use
- ``seeds.py``         several training seeds: mean ± sd, and claims that must hold for every seed
- ``run_data.py``      what the report says about the run's data: the scale note, what the test split offers
- ``provenance.py``    the report's provenance table, its warnings and the figures' footer
- ``snapshot_diff.py`` this run's numbers and verdicts against the committed snapshot of its scale
- ``report.py``        the Markdown/HTML report assembled from the tables, figures and claims
- ``algorithmic.py``   the paper stage on the algorithmic scale: tables, accuracy by length, claims, report
- ``length_claims.py`` ``paper/claims.algorithmic.yaml`` checked against the accuracies by length
- ``length_figure.py`` the algorithmic figure: sequence accuracy against input length, a panel per task
"""
