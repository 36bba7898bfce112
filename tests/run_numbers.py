"""What two runs of the same code and settings must share, wherever a test holds two runs to the same
numbers (the two engines, a SLURM run and a local one): their results without what describes the run.
That is wall-clock measurements at any depth (``train_seconds``, the scored step's ``selected.train_seconds``,
``decode_sentences_per_s``), provenance (the git state may differ), and ``made_from``, the digest of the
checkpoint, which keeps its run's seconds for resuming."""

RUN_FACTS = ("provenance", "made_from")


def is_timing(key: str) -> bool:
    return "seconds" in key or key.endswith("_per_s")


def results_only(metrics):
    """``metrics`` (an evaluation.json) without timings, provenance and lineage, nested ones included."""
    if isinstance(metrics, dict):
        return {k: results_only(v) for k, v in metrics.items() if k not in RUN_FACTS and not is_timing(k)}
    if isinstance(metrics, list):
        return [results_only(v) for v in metrics]
    return metrics
