"""An evaluation at scale (issue 32): empty translations counted and warned about, a killed evaluation
resumed to the uninterrupted run's numbers, progress on every phase."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from activemem.config import load_params
from activemem.evaluate import translate as translate_module
from activemem.paper.report import empty_translation_warnings
from activemem.stages import evaluate as evaluate_stage
from activemem.train.loop import train

from conftest import REPO

MODEL = "extended_neural_gpu"  # the width search and the fixed-width ablation: several decoding phases


class Killed(Exception):
    """What a kill leaves: the evaluation stops between two batches."""


def smoke_params() -> dict:
    return load_params(REPO / "params.yaml", "smoke")


@pytest.fixture(scope="module")
def trained(prepared, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("trained")
    train(MODEL, smoke_params(), prepared, folder, progress=False)
    return folder / "checkpoint.pt"


def outputs(out: Path) -> dict:
    """Everything the evaluation wrote, without its one timing."""
    evaluation = json.loads((out / "evaluation.json").read_text())
    evaluation.pop("decode_sentences_per_s")
    return {"evaluation": evaluation, "metrics": (out / "metrics.json").read_text(),
            **{p.name: p.read_text() for p in out.glob("hypotheses*.txt")}}


def count_batches(monkeypatch, kill_after: int | None = None) -> dict:
    """Count the batches decoded; with ``kill_after``, stop the evaluation after that many."""
    real, seen = translate_module._decode_batch, {"n": 0}

    def decode(*args, **kwargs):
        if kill_after is not None and seen["n"] == kill_after:
            raise Killed
        seen["n"] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(translate_module, "_decode_batch", decode)
    return seen


def test_a_killed_evaluation_resumes_with_the_numbers_of_an_uninterrupted_one(prepared, trained, tmp_path,
                                                                               monkeypatch, capsys):
    with monkeypatch.context() as patch:
        whole = count_batches(patch)
        evaluate_stage.evaluate(MODEL, smoke_params(), prepared, trained, tmp_path / "whole", progress=True)
    assert not (tmp_path / "whole" / evaluate_stage.PARTIAL).exists()  # removed once the outputs are written
    said = capsys.readouterr().err
    for phase in ("beam", "beam, fixed width", "test perplexity", "dev perplexity"):
        assert f"{MODEL} {phase}" in said, phase  # every phase shows its progress
    total = whole["n"]
    assert total >= 4

    with monkeypatch.context() as patch:
        count_batches(patch, kill_after=total // 2)
        with pytest.raises(Killed):
            evaluate_stage.evaluate(MODEL, smoke_params(), prepared, trained, tmp_path / "resumed", progress=False)
    assert not (tmp_path / "resumed" / "evaluation.json").exists()
    with monkeypatch.context() as patch:
        again = count_batches(patch)
        evaluate_stage.evaluate(MODEL, smoke_params(), prepared, trained, tmp_path / "resumed", progress=False)
    assert again["n"] == total - total // 2  # only what the killed run had not decoded
    assert f"{MODEL}: resumed: " in capsys.readouterr().err
    assert outputs(tmp_path / "resumed") == outputs(tmp_path / "whole")
    assert not (tmp_path / "resumed" / evaluate_stage.PARTIAL).exists()

    # another evaluation (another beam size) never takes a batch saved by this one
    other = smoke_params()
    other["evaluate"]["beam_size"] += 1
    with monkeypatch.context() as patch:
        count_batches(patch, kill_after=total // 2)
        with pytest.raises(Killed):
            evaluate_stage.evaluate(MODEL, smoke_params(), prepared, trained, tmp_path / "other", progress=False)
    with monkeypatch.context() as patch:
        fresh = count_batches(patch)
        evaluate_stage.evaluate(MODEL, other, prepared, trained, tmp_path / "other", progress=False)
    assert fresh["n"] == total


def test_empty_translations_are_counted_and_warned_about(prepared, trained, tmp_path, monkeypatch, capsys):
    real = translate_module._decode_batch

    def every_other_empty(*args, **kwargs):
        texts, scores = real(*args, **kwargs)
        return ["" if i % 2 else t for i, t in enumerate(texts)], scores

    monkeypatch.setattr(translate_module, "_decode_batch", every_other_empty)
    evaluation = evaluate_stage.evaluate(MODEL, smoke_params(), prepared, trained, tmp_path, progress=False)
    beam = (tmp_path / "hypotheses.txt").read_text().split("\n")[:-1]
    empty = sum(1 for line in beam if not line)
    assert empty > 0 and evaluation["empty_hypotheses"]["beam"] == empty
    greedy = (tmp_path / "hypotheses.greedy.txt").read_text().split("\n")[:-1]
    assert evaluation["empty_hypotheses"]["fixed_width"] > 0
    assert evaluation["empty_hypotheses"]["greedy"] == sum(1 for line in greedy if not line) > 0
    assert evaluation["extrapolation"]["empty_hypotheses"] == sum(
        1 for line in (tmp_path / "hypotheses.test_long.txt").read_text().split("\n")[:-1] if not line) > 0
    assert (f"warning: {MODEL}: {empty} of {len(beam)} test translations (beam search) are empty and are scored "
            f"as such (evaluation.json empty_hypotheses)") in capsys.readouterr().err
    # the report says it too, per model and seed, from the hypotheses it reads
    lines = empty_translation_warnings(["gru_attention", MODEL], [1],
                                       {"gru_attention": {1: ["a", "b"]}, MODEL: {1: beam}})
    assert lines == [f"Extended Neural GPU (seed 1): {empty} of {len(beam)} test translations are empty "
                     f"(evaluation.json empty_hypotheses); its scores are those of empty output there."]
