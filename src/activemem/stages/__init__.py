"""Pipeline entry points, one module per DAG node, each run as ``python -m activemem.stages.<name>``.

Snakemake (``Snakefile``, ``pipeline/rules/*.smk``) and DVC (``dvc.yaml``) run exactly the same
command lines; every path comes in as an argument and every setting from ``params.yaml``.
"""
