"""Shared helpers: tiny model sizes and toy batches that run in milliseconds on a CPU."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from activemem import models
from activemem.tokens import BOS, EOS, PAD, RESERVED

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"

# Every registry model at its Config's tiny size: a model added to the registry is in every test
# that takes the ``model_name`` fixture, with nothing to add here.
TINY = {name: dict(models.config_class(name).TINY) for name in models.NAMES}
VOCAB = RESERVED + 8


def random_batch(batch=3, src_len=5, tgt_len=6, seed=0, pad_last=True):
    """Random source and decoder-input ids; the last sentence is shorter (padded) when asked."""
    g = torch.Generator().manual_seed(seed)
    src = torch.randint(RESERVED, VOCAB, (batch, src_len), generator=g)
    tgt_in = torch.randint(RESERVED, VOCAB, (batch, tgt_len), generator=g)
    tgt_in[:, 0] = BOS
    if pad_last:
        src[-1, src_len - 2:] = PAD
    return src, tgt_in


def shift_right(target: torch.Tensor) -> torch.Tensor:
    """Decoder input for ``target``: BOS, then the target without its last token."""
    return torch.cat([torch.full_like(target[:, :1], BOS), target[:, :-1]], dim=1)


def toy_pairs(n=8, length=5, seed=0, reverse=True):
    """``n`` fixed copy (or reverse) pairs with EOS: the overfitting task."""
    g = torch.Generator().manual_seed(seed)
    src = torch.randint(RESERVED, VOCAB, (n, length), generator=g)
    out = src.flip(1) if reverse else src.clone()
    target = torch.cat([out, torch.full((n, 1), EOS)], dim=1)
    return src, target


@pytest.fixture(params=list(TINY))
def model_name(request):
    return request.param


@pytest.fixture(scope="session")
def prepared(tmp_path_factory) -> Path:
    """The smoke scale's prepared data (from the real params.yaml), made once per test session."""
    from activemem.stages import download, prepare
    params = str(REPO / "params.yaml")
    root = tmp_path_factory.mktemp("smoke")
    download.main(["--params", params, "--scale", "smoke", "--out", str(root / "raw")])
    prepare.main(["--params", params, "--scale", "smoke", "--raw", str(root / "raw"), "--out", str(root / "prepared")])
    return root / "prepared"
