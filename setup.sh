#!/usr/bin/env bash
# Set up (or refresh) the project's virtual environment in .venv, as tested: every package at the
# version and SHA-256 in requirements/lock.txt, then torch 2.13.0, then activemem itself (editable).
# Safe to run again: what is already there at the locked version is kept.
#
#   TORCH_SPEC  what pip is given for torch (default: torch==2.13.0, the pin in requirements/torch.txt).
#               Plain `torch==2.13.0` comes from PyPI, whose Linux x86_64 wheel is the CUDA 13 build:
#               about 2.7 GB to download with the nvidia-* libraries and triton it pulls in, and it runs
#               on a CPU too. On a machine without a GPU the CPU build is 190 MB:
#                 TORCH_SPEC="torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu" bash setup.sh
#               (another CUDA version: .../whl/cu126 and the like). On macOS and Windows PyPI's wheel
#               is the only build and has no CUDA.
#   PYTHON      the interpreter for a new .venv (default python3.11, the one the lock was made for).
#
# Torch is the one package outside the hashed lock: its CPU and CUDA builds are different files under
# one version (from different indexes), and a CUDA build needs packages a CPU build does not, so no
# single list of hashes fits both. Its own small dependencies (sympy, networkx, filelock, ...) are in
# the lock and installed before it, so that it finds them there. The lock is made for CPython 3.11 on
# Linux; `bash requirements/lock.sh` remakes it.
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
PIP=(.venv/bin/python -m pip)
version=$(.venv/bin/python -c 'import sys; print("%d.%d" % sys.version_info[:2])')
[ "$version" = 3.11 ] || echo "warning: .venv has Python $version; requirements/lock.txt was made for 3.11" >&2

echo "== pip itself"
"${PIP[@]}" install --upgrade --progress-bar on pip
# Hash-checking mode: pip refuses any file whose SHA-256 is not in the lock, and any package the lock
# does not list, so what is installed is exactly what was tested.
echo "== $(grep -c '^[a-z]' requirements/lock.txt) locked packages (requirements/lock.txt; about 125 MB to download, 650 MB installed)"
"${PIP[@]}" install --require-hashes --progress-bar on -r requirements/lock.txt
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}
echo "== $TORCH_SPEC (CPU build 190 MB; PyPI's Linux build is the CUDA one, about 2.7 GB: see TORCH_SPEC at the top of setup.sh)"
# shellcheck disable=SC2086  # TORCH_SPEC may carry options (--index-url ...): split on purpose
"${PIP[@]}" install --progress-bar on $TORCH_SPEC
echo "== activemem (editable, nothing else: everything it needs is installed above)"
# --no-build-isolation: build with the locked setuptools and wheel rather than fresh, unpinned ones
"${PIP[@]}" install --no-deps --no-build-isolation -e .
"${PIP[@]}" check
echo "activemem is installed in .venv (torch $(.venv/bin/python -c 'import torch; print(torch.__version__)'))"
