"""Issue 21: training to convergence (patience, the best dev checkpoint), counted training FLOPs, dev
BLEU for the curves, the per-word-class diagnostic and scales that extend another."""

from __future__ import annotations

import copy
import csv
import math

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from activemem import models
from activemem.config import ParamsError, load_params, read, resolve
from activemem.data import demo
from activemem.data.demo_word_classes import CLASSES, OTHER, classes_of_forms, split_word, word_class
from activemem.data.store import EncodedSplit
from activemem.data.vocab import SubwordVocab
from activemem.evaluate.by_word_class import by_word_class, piece_classes
from activemem.evaluate.dev_bleu import greedy_dev_bleu
from activemem.train import checkpoint
from activemem.train.flops import FlopMeter
from activemem.train.loop import train
from activemem.train.nll import perplexity, split_nll

from conftest import REPO, TINY, VOCAB

PARAMS = REPO / "params.yaml"


def smoke(**train_overrides) -> dict:
    params = load_params(PARAMS, "smoke")
    params["train"].update(train_overrides)
    return params


def dev_log(folder) -> list[dict]:
    with open(folder / "dev_log.csv", newline="") as f:
        return list(csv.DictReader(f))


# ---- FLOPs ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", models.NAMES)
def test_flop_meter_counts_what_torchs_counter_counts_and_scales_with_the_batch(name):
    model = models.build(name, VOCAB, **TINY[name]).train()
    meter = FlopMeter(model)
    src = torch.full((1, 7), VOCAB - 1)
    tgt = torch.full((1, 9), VOCAB - 1)
    with FlopCounterMode(display=False) as counter:
        copy.deepcopy(model)(src, tgt).float().logsumexp(-1).sum().backward()
    assert meter.step(1, 7, 9) == counter.get_total_flops() > 0
    assert meter.step(5, 7, 9) == 5 * counter.get_total_flops()
    assert meter.step(1, 14, 9) > meter.step(1, 7, 9)


@pytest.mark.parametrize("name", models.NAMES)
@pytest.mark.parametrize("sampling", [0.0, 0.5])
def test_every_model_has_a_flop_polynomial_exact_at_lengths_it_was_not_fitted_on(name, sampling):
    """The fitted f(S, T) (train/flops.py) is what the counter counts, well beyond the fit's lengths,
    in both orders of S and T: a model whose work stops being polynomial fails here, not silently."""
    meter = FlopMeter(models.build(name, VOCAB, **TINY[name]).train())
    assert meter.fit(sampling) is not None, f"{name}: no polynomial fits its FLOPs"
    for src_len, tgt_len in [(2, 13), (17, 5), (11, 12)]:
        assert meter.step(3, src_len, tgt_len, sampling) == 3 * meter._count(src_len, tgt_len, sampling), \
            (src_len, tgt_len)


def test_counting_flops_leaves_the_random_numbers_alone():
    model = models.build("extended_neural_gpu", VOCAB, **TINY["extended_neural_gpu"])
    torch.manual_seed(3)
    FlopMeter(model).step(2, 6, 6, sampling=0.5)
    after_counting = torch.rand(4)
    torch.manual_seed(3)
    assert torch.equal(torch.rand(4), after_counting)


# ---- convergence: patience, the best checkpoint, the curves ----------------------------------------
def test_a_run_stops_by_patience_and_is_scored_at_its_best_dev_perplexity(prepared, tmp_path):
    # min_improvement 0.5: only halving the dev perplexity counts, so patience runs out within a few evaluations
    params = smoke(max_steps=60, eval_every=2, patience=2, min_improvement=0.5, select="best")
    summary = train("gru_attention", params, prepared, tmp_path / "out", progress=False)
    assert summary["stop_reason"] == "patience" and summary["steps"] < 60
    rows = dev_log(tmp_path / "out")
    assert [int(r["step"]) for r in rows] == list(range(2, summary["steps"] + 1, 2))
    flops = [int(r["flops"]) for r in rows]
    assert flops == sorted(set(flops)) and flops[-1] == summary["flops"]
    best = min(rows, key=lambda r: float(r["dev_perplexity"]))
    assert summary["selected"]["step"] == int(best["step"]) and summary["selected"]["flops"] == int(best["flops"])
    # evaluation rebuilds exactly the best weights: their dev perplexity is the logged best
    ckpt = checkpoint.load(tmp_path / "out" / "checkpoint.pt")
    model = checkpoint.build_model(ckpt, tmp_path / "out" / "checkpoint.pt")
    nll, tokens = split_nll(model, EncodedSplit(prepared, "dev"), torch.device("cpu"), params["train"]["eval_batch_size"])
    assert perplexity(nll, tokens) == pytest.approx(float(best["dev_perplexity"]), rel=1e-9)


def test_without_select_best_the_last_weights_are_scored(prepared, tmp_path):
    summary = train("neural_gpu", smoke(select="last"), prepared, tmp_path / "out", progress=False)
    assert summary["selected"]["step"] == summary["steps"] == 6
    ckpt = checkpoint.load(tmp_path / "out" / "checkpoint.pt")
    model = checkpoint.build_model(ckpt, tmp_path / "out" / "checkpoint.pt")
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), ckpt["model"].values()))
    ckpt["train_config"]["select"] = "best"
    ckpt["best_model"] = None
    with pytest.raises(checkpoint.CheckpointError, match="holds no best weights"):
        checkpoint.build_model(ckpt, tmp_path / "out" / "checkpoint.pt")


def test_measuring_dev_bleu_changes_no_number_of_the_run(prepared, tmp_path):
    params = smoke()
    plain = train("extended_neural_gpu", params, prepared, tmp_path / "plain", progress=False)
    scorer = greedy_dev_bleu(prepared, params["evaluate"])
    measured = train("extended_neural_gpu", params, prepared, tmp_path / "bleu", progress=False, dev_scorer=scorer)
    a = checkpoint.load(tmp_path / "plain" / "checkpoint.pt")["model"]
    b = checkpoint.load(tmp_path / "bleu" / "checkpoint.pt")["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert plain["best_dev_perplexity"] == measured["best_dev_perplexity"]
    bleus = [r["dev_bleu"] for r in dev_log(tmp_path / "bleu")]
    assert bleus and all(0 <= float(b) <= 100 for b in bleus)  # smoke: dev_bleu.every is 1
    assert all(r["dev_bleu"] == "" for r in dev_log(tmp_path / "plain"))


# ---- where the gap is: word classes -------------------------------------------------------------------
def test_every_word_of_the_grammar_has_one_class():
    table = classes_of_forms()  # raises if a form were in two classes
    assert set(table.values()) == set(CLASSES) - {"end of sentence"}
    for seed in range(60):
        pair = demo.make_pair(f"classes-{seed}", f"syn-{seed}", max_clauses=2, max_depth=2)
        for word in pair.fr.split():
            assert all(word_class(part) != OTHER for part in split_word(word)), (word, pair.fr)


def test_pieces_take_the_class_of_the_word_part_they_start_in():
    assert split_word("L'homme") == ["l'", "homme"] and split_word("dort.") == ["dort", "."]
    pieces = ["▁L", "'", "hom", "me", "▁a", "▁v", "u", "▁les", "▁bel", "les", "▁gares", "."]
    assert piece_classes(pieces) == ["determiner", "determiner", "noun", "noun", "verb", "verb", "verb",
                                     "determiner", "adjective", "adjective", "noun", "function"]


def test_the_classes_partition_the_teacher_forced_perplexity(prepared):
    """Per class pieces add up to the split's tokens, and their NLLs to the split's NLL."""
    split = EncodedSplit(prepared, "test")
    torch.manual_seed(0)
    model = models.build("markovian_neural_gpu", len(SubwordVocab(prepared / "spm.model")), **TINY["markovian_neural_gpu"])
    classes = by_word_class(model, split, SubwordVocab(prepared / "spm.model"), torch.device("cpu"), 16)
    nll, tokens = split_nll(model, split, torch.device("cpu"), 16)
    assert sum(c["pieces"] for c in classes.values()) == tokens
    assert classes["end of sentence"]["pieces"] == len(split)
    assert sum(c["pieces"] * math.log(c["perplexity"]) for c in classes.values()) == pytest.approx(nll, rel=1e-6)
    assert OTHER not in classes and all(0 <= c["error_rate"] <= 1 for c in classes.values())


# ---- a scale made from another (`<<: *demo`) ---------------------------------------------------------------
def test_the_converged_scale_is_the_demo_but_for_its_training_stop():
    raw = read(PARAMS)
    demo_scale, converged = resolve(raw, "demo"), resolve(raw, "converged")
    assert {k: v for k, v in converged.items() if k != "train"} == {k: v for k, v in demo_scale.items() if k != "train"}
    changed = {k for k in converged["train"] if converged["train"][k] != demo_scale["train"].get(k)}
    assert {"patience", "select", "max_steps"} <= changed
    assert converged["train"]["select"] == "best" and converged["train"]["patience"] > 0


def test_a_claim_budget_says_a_run_stopped_by_patience_and_where_it_was_scored():
    from activemem.paper.claims import budget
    converged = {"train_steps": 1800, "train_max_steps": 8000, "parameters": 1000, "train_stop_reason": "patience",
                 "selected": {"select": "best", "step": 1500}}
    equal_steps = {"train_steps": 600, "train_max_steps": 600, "parameters": 1000, "train_stop_reason": "max_steps",
                   "selected": {"select": "best", "step": 600}}
    # without the dev log (paper/convergence.py): a best scored before the last step had later evaluations
    assert budget("c", ["neural_gpu"], {"neural_gpu": converged}) == (
        "scale c: Neural GPU converged (1800/8000 steps, stopped by patience; best dev perplexity at step 1500, not "
        "improved on by the later evaluations), scored at step 1500, 1,000 parameters")
    assert budget("d", ["neural_gpu"], {"neural_gpu": equal_steps}) == (
        "scale d: Neural GPU stopped at the step cap (600/600 steps), still improving at its last evaluation: not "
        "converged, scored at step 600, 1,000 parameters")
