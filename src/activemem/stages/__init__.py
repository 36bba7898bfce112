"""Pipeline entry points, one module per DAG node, each run as ``python -m activemem.stages.<name>``.

Snakemake (``Snakefile``, ``pipeline/rules/*.smk``) and DVC (``dvc.yaml``) run exactly the same
command lines; every path comes in as an argument and every setting from ``params.yaml``.

- ``download.py``  ``download``: fetch WMT'14 En-Fr, or generate the demo corpus or the algorithmic tasks
- ``archives.py``  ``archives`` (DVC only): the SHA-256 of every archive the download stage would use now
- ``prepare.py``   ``prepare``: clean every split, train the sub-word model, encode, report what was dropped
- ``train.py``     ``train``: one registry model trained on the prepared data (resumes by itself)
- ``evaluate.py``  ``evaluate``: perplexity, decoding, BLEU, chrF and BLEU by length for one model
- ``paper.py``     ``paper``: Table 1, the figures, the claims and the report
- ``_common.py``   what every stage shares: ``--params``/``--scale``, split names, atomic writers, ``run_stage``

A stage command pins the CPU kernels of its scale (``train.cpu_kernels``, ``activemem/kernels.py``)
before torch loads: Python imports this package before it runs ``-m activemem.stages.<name>``, and
``activemem <name>`` calls ``pin_kernels`` before it imports the stage. Torchrun's ranks and any process
a stage starts inherit the pin through the environment.
"""

import sys as _sys


def pin_kernels(argv: list[str]) -> None:
    """Pin the CPU kernels the scale's ``train.cpu_kernels`` names, from the command's ``--params`` and
    ``--scale``. A params file that cannot be read pins nothing here: the stage itself reports it."""
    from activemem import kernels
    from activemem.stages._common import params_quietly

    params = params_quietly(argv)
    if params is not None:
        kernels.pin(params["train"]["cpu_kernels"])


# `python -m activemem.stages.<name> ...`: while Python imports the parent packages, argv[0] is "-m"
if _sys.argv[:1] == ["-m"]:
    pin_kernels(_sys.argv[1:])
