# Shared helpers of the Snakemake rules. Every rule runs `python -m activemem.stages.<stage>` with the
# same arguments as the stage of the same name in dvc.yaml (tests/test_pipeline.py checks this).
from pathlib import Path

from activemem.config import load_params

SCALE = config["scale"]
MODELS = config["models"]
# Validates params.yaml when the workflow loads: a bad value fails here, naming its key.
PARAMS = load_params("params.yaml", SCALE)
S = config[SCALE]


def code(*parts):
    """The files of the named package parts (a stage reruns when its code changes); byte-code caches
    are left out, as .dvcignore leaves them out for DVC."""
    files = []
    for part in parts:
        path = Path("src/activemem") / part
        if path.is_dir():
            files += sorted(str(p) for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
        else:
            files.append(str(path))
    return files


STAGE_CODE = code("stages/_common.py", "config.py", "tokens.py", "atomic.py")
