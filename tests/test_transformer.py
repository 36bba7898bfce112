"""The Transformer baseline: its cache, its masks, its size beside the Extended Neural GPU, its checks.

What every registry model must do (shapes, gradients, beam of one = greedy, scores = teacher-forced
log-probabilities, bf16 and compile paths, training and evaluation at the smoke scale) is tested
for it by the tests that iterate the registry; these are the Transformer's own properties.
"""

from __future__ import annotations

import re

import pytest
import torch

from activemem import models
from activemem.config import ParamsError, load_params, model_hparams, scale_names, read
from activemem.models import decoding
from activemem.tokens import PAD

from conftest import REPO, TINY, VOCAB, random_batch


def build(**extra):
    torch.manual_seed(0)
    return models.build("transformer", VOCAB, **{**TINY["transformer"], **extra}).eval()


def test_decoding_with_the_cache_equals_recomputing_every_output():
    model = build()
    src, tgt_in = random_batch(batch=3, src_len=5, tgt_len=7)                # the last source is padded
    forced = model(src, tgt_in)
    state = model.start(src, max_len=7)
    for k in range(7):
        logits, state = model.step(state, tgt_in[:, k], k)
        torch.testing.assert_close(logits, forced[:, k], rtol=0, atol=1e-5)
        assert all(kv[0].size(2) == k + 1 for kv in state["past"])           # one more position per layer


def test_source_padding_changes_nothing_and_an_empty_source_stays_finite():
    model = build()
    src, tgt_in = random_batch(pad_last=False)
    padded = torch.cat([src, torch.full((3, 4), PAD)], dim=1)
    torch.testing.assert_close(model(src, tgt_in), model(padded, tgt_in), rtol=0, atol=1e-5)
    empty = torch.full((2, 3), PAD)
    assert torch.isfinite(model(empty, tgt_in[:2])).all()
    assert torch.isfinite(model.hypotheses(empty, max_len=4, beam_size=2).scores).all()


def test_beam_search_reorders_the_per_layer_cache():
    """The cache is a list of per-layer (keys, values): the flat default reorder cannot take it."""
    model = build()
    src, _ = random_batch(batch=4, src_len=5)
    state = model.start(src, max_len=5)
    with pytest.raises(AttributeError):
        decoding.reorder(state, torch.tensor([0]))
    _, state = model.step(state, torch.full((4,), 1), 0)
    index = torch.tensor([2, 2, 0])
    picked = model.reorder_state(state, index)
    for (k, v), (k0, v0) in zip(picked["past"] + picked["source"], state["past"] + state["source"]):
        assert torch.equal(k, k0[index]) and torch.equal(v, v0[index])
    assert torch.equal(picked["mask"], state["mask"][index])
    # a wide beam scores its best hypothesis at least as well as a narrow one, on average
    wide, narrow = (model.hypotheses(src, max_len=6, beam_size=b) for b in (5, 2))
    assert wide.scores.mean() >= narrow.scores.mean() - 1e-6


def test_params_size_it_like_the_extended_neural_gpu_at_every_scale():
    """Within 15% of the Extended Neural GPU's parameters at each scale's vocabulary (counted on the
    meta device: no memory, no initialisation)."""
    for scale in scale_names(read(REPO / "params.yaml")):
        params = load_params(REPO / "params.yaml", scale)
        vocab = params["prepare"]["vocab_size"]
        with torch.device("meta"):
            counts = {name: models.build(name, vocab, **model_hparams(params, name)).num_parameters()
                      for name in ("extended_neural_gpu", "transformer")}
        ratio = counts["transformer"] / counts["extended_neural_gpu"]
        assert 0.85 <= ratio <= 1.15, (scale, counts)


def test_its_own_rules_are_checked_on_the_resolved_block_when_params_are_read(tmp_path):
    text = (REPO / "params.yaml").read_text()
    old = "    transformer: {d_model: 8, heads: 2, layers: 3, ffn: 64}\n"
    assert text.count(old) == 1
    bad = tmp_path / "params.yaml"
    bad.write_text(text.replace(old, "    transformer: {d_model: 30, layers: 3, ffn: 64}\n"))  # heads: the default 4
    with pytest.raises(ParamsError, match=r"'smoke.models.transformer.d_model' must be a multiple of heads \(4\)"):
        load_params(bad, "demo")
    bad.write_text(text.replace(old, "    transformer: {d_model: 9, heads: 1, layers: 3, ffn: 64}\n"))
    with pytest.raises(ParamsError, match=r"'smoke.models.transformer.d_model' must be even"):
        load_params(bad, "demo")


def test_the_paper_stage_takes_it_as_a_fifth_model_beyond_the_paper(tmp_path):
    from test_paper import claims_by_id, make_run, render
    names = ["neural_gpu", "markovian_neural_gpu", "extended_neural_gpu", "gru_attention", "transformer"]
    agreement = {"agreement": {"error_rate": 0.02, "checked": 200, "noun_phrases": 210, "not_found": 10}}
    make_run(tmp_path, {"neural_gpu": (5, 2, 1), "markovian_neural_gpu": (6, 3, 1), "extended_neural_gpu": (20, 15, 10),
                        "gru_attention": (80, 40, 20), "transformer": (90, 60, 30)},
             extra={name: agreement for name in names})
    result = render(tmp_path, list(reversed(names)))                          # any order in: registry order out
    out = tmp_path / "out"
    table1 = (out / "table1.md").read_text()
    rows = [line.split("|")[1].strip() for line in table1.splitlines() if line.startswith("| ")][1:]
    assert rows == ["Neural GPU", "Markovian Neural GPU", "Extended Neural GPU", "GRU+Attention", "Transformer ⁺"]
    assert "⁺ Beyond the paper: Transformer is not among the paper's models" in table1
    assert re.search(r"\| Transformer ⁺ \| \? \| \? \| \? \|", (out / "table1.published.md").read_text())
    assert r"Transformer \textsuperscript{+}" in (out / "table1.tex").read_text()
    assert not any("Transformer" in w for w in result["warnings"])           # expected, not a warning
    claim = claims_by_id(result["claims"])["extended_matches_transformer"]
    assert claim["verdict"] == "not reproduced" and "Transformer" in claim["evidence"]
    report = (out / "report.md").read_text()
    # Figure 6's table and the agreement table have a Transformer column and row
    assert re.search(r"\| Length \(words\) \| Sentences \|.*\| GRU\+Attention \| Transformer \|", report)
    assert re.search(r"\| Transformer ⁺ \| [\d.]+ \| — \| 2\.0 \| 200 / 210 \|", report)
    assert (out / "bleu_by_length.png").stat().st_size > 0
