#!/usr/bin/env bash
# Regenerate requirements/lock.txt, the exact version and SHA-256 of every package setup.sh installs
# except torch (see the header of setup.sh for why torch stays outside), from pyproject.toml's
# dependencies with the extras `pipeline` and `test`, for CPython 3.11 on Linux.
#
#   bash requirements/lock.sh                  # keep the pins that still fit pyproject.toml
#   bash requirements/lock.sh --upgrade        # move every pin to the newest release within its bounds
#   bash requirements/lock.sh -P numpy         # move one package
#
# Torch's metadata is read from its CPU wheel (TORCH_FIND_LINKS: a folder or an HTML page of wheels),
# never from PyPI's CUDA build: the lock then holds torch's own small dependencies but none of the
# nvidia-* packages, which only a CUDA build needs and installs for itself.
# After a change, run `bash setup.sh` and the test suite before committing the new lock.
set -euo pipefail
cd "$(dirname "$0")/.."
TOOLS=${TOOLS:-/tmp/activemem-pip-tools}
[ -x "$TOOLS/bin/pip-compile" ] || { python3.11 -m venv "$TOOLS" && "$TOOLS/bin/pip" install "pip-tools>=7.6,<8"; }
# PIP_CONFIG_FILE=/dev/null: no local pip configuration (mirrors, caps) leaks into the lock; the
# hashes are those of PyPI's files.
PIP_CONFIG_FILE=/dev/null CUSTOM_COMPILE_COMMAND="bash requirements/lock.sh" "$TOOLS/bin/pip-compile" \
    pyproject.toml --extra pipeline --extra test --build-deps-for editable \
    -c requirements/torch.txt --find-links "${TORCH_FIND_LINKS:-https://download.pytorch.org/whl/cpu/torch/}" \
    --no-emit-find-links --unsafe-package torch --generate-hashes --strip-extras \
    --output-file requirements/lock.txt "$@"
# The extras name activemem itself (test = activemem[pipeline,slurm]), so pip-compile lists the
# project, by its absolute path, as a requirement: setup.sh installs it on its own (pip cannot hash a
# folder), so its entry and pip-compile's warning about it go.
python3 - <<'PY'
import re
from pathlib import Path
lock = Path("requirements/lock.txt")
text = re.sub(r"# WARNING: pip install will require the following package to be hashed\.\n(#.*\n)*"
              r"activemem @ [^\n]*\n(    [^\n]*\n)*", "", lock.read_text())
assert "activemem @" not in text, "requirements/lock.sh: could not drop the project's own entry"
# pip-compile's closing warning about the unpinned torch: say what happens instead
text, n = re.subn(r"\n# WARNING: The following packages were not pinned(.*\n)*# torch\n\Z",
                  "\n# torch: not here; setup.sh installs requirements/torch.txt (torch==2.13.0) on its own\n", text)
assert n == 1, "requirements/lock.sh: pip-compile's note about torch has changed"
lock.write_text(text)
# The job environment's stamp (pipeline/envs/activemem.yaml says why): a new lock, a new environment
import hashlib
env = Path("pipeline/envs/activemem.yaml")
stamp = hashlib.sha256(lock.read_bytes() + Path("requirements/torch.txt").read_bytes()).hexdigest()[:16]
env_text, n = re.subn(r"^# lock: sha256 \S+$", f"# lock: sha256 {stamp}", env.read_text(), flags=re.M)
assert n == 1, f"requirements/lock.sh: no '# lock: sha256' line in {env}"
env.write_text(env_text)
PY
