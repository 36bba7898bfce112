"""activemem: a reproduction of *Can Active Memory Replace Attention?* (Kaiser & Bengio, NIPS 2016).

Sub-packages, in the order the pipeline uses them:

- ``data/``            WMT'14 En-Fr, the demo corpus or the algorithmic tasks: fetched, cleaned, encoded, batched
- ``models/``          every model behind one registry (``activemem.models.build``)
- ``train/``           one training loop for every model (CPU, one GPU, ``torchrun``)
- ``evaluate/``        perplexity, decoding, BLEU and BLEU by sentence length, and the diagnostics
- ``paper/``           Table 1, the figures, the claims check and the report
- ``stages/``          the pipeline's entry points, ``python -m activemem.stages.<stage>``

Modules, lowest layer first (``tests/test_layers.py``):

- ``tokens.py``        the reserved token ids shared by the sub-word model, the batcher and every model
- ``atomic.py``        atomic file writes: a private temporary file beside the target, then a rename
- ``locking.py``       locks that make two runs in one workspace fail fast instead of interleaving
- ``provenance.py``    where a number came from: source hash, settings, library versions, machine
- ``cores.py``         how many CPU cores a job was given, so that it never runs more threads
- ``kernels.py``       which CPU kernels torch runs: the machine's own, or one pinned instruction set
- ``interrupt.py``     Ctrl-C of a Snakemake run: one true line, and a plain rerun that goes on
- ``disk.py``          free disk space: a stage stops with one line before the disk fills
- ``engines.py``       which engine runs a stage, and the command that reruns another stage under it
- ``progress.py``      progress of long loops: a tqdm bar on a terminal, plain lines in a log file
- ``gpus.py``          which physical GPUs a local job uses: one lock file per GPU
- ``imports.py``       which package files a module runs (its import closure, parsed): each stage's code
- ``lineage.py``       what each result was made from (``made_from``), checked by whatever reads it
- ``config.py``        ``params.yaml`` read (scale sections merge ``defaults`` by YAML merge keys), all checked first
- ``schema.py``        the schema of ``params.yaml``: every key's type, allowed values and meaning
- ``schema_export.py`` ``params.yaml``'s JSON Schema, generated from ``schema.py``
- ``dag.py``           the DAG declared once: each stage's command, files, settings read and code; dvc.yaml
- ``engines_sync.py``  either engine after the other: DVC told what Snakemake made, and Snakemake what DVC made
- ``cli.py``           the ``activemem`` command: a sub-command per stage, ``models``, ``check-params``
- ``entry.py``         what every command-line entry point shares: readable help, a quiet end on a closed pipe
- ``__main__.py``      ``python -m activemem``: the ``activemem`` command
"""

__version__ = "0.1.0"
