#!/usr/bin/env bash
# Set up (or refresh) the project's virtual environment in .venv: torch first, then activemem with
# the pipeline engines and test tools. Safe to run again.
#   TORCH_SPEC  which torch to install first (default torch==2.13.0, the CPU wheel); on a CUDA machine
#               e.g. TORCH_SPEC="torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128"
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
# torch before anything that depends on it, so the range in pyproject.toml resolves to this build
.venv/bin/python -m pip install --quiet ${TORCH_SPEC:-torch==2.13.0}
.venv/bin/python -m pip install --quiet -e ".[pipeline,test]"
echo "activemem is installed in .venv (torch $(.venv/bin/python -c 'import torch; print(torch.__version__)'))"
