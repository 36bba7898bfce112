"""Training and evaluation end to end at the ``smoke`` scale of the real params.yaml."""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from activemem import models
from activemem.config import ParamsError, load_params
from activemem.data.lines import read_lines
from activemem.evaluate.bleu import bleu_by_length, corpus_scores, subset_bleu
from activemem.evaluate.references import load_split
from activemem.schema import Curriculum
from activemem.stages import evaluate
from activemem.train import checkpoint, loop
from activemem.train.loop import NonFiniteLoss, train

from conftest import REPO

PARAMS = REPO / "params.yaml"


def smoke_params(**train_overrides) -> dict:
    params = load_params(PARAMS, "smoke")
    params["train"].update(train_overrides)
    return params


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_prepare_reports_every_pair(prepared):
    report = json.loads((prepared / "report.json").read_text())
    for split, r in report.items():
        assert r["read"] == r["kept"] + r["dropped_total"]
    manifest = json.loads((prepared / "manifest.json").read_text())
    assert manifest["pairs"]["test"] == 40 and "train.src.npy" in manifest["files"]


@pytest.mark.parametrize("name", models.NAMES)
def test_train_and_evaluate_every_model(prepared, tmp_path, name):
    params = smoke_params()
    summary = train(name, params, prepared, tmp_path / "train", tmp_path / "work", progress=False)
    assert summary["steps"] == 6 and summary["stop_reason"] == "max_steps"
    log = read_csv(tmp_path / "train" / "train_log.csv")
    assert [int(r["step"]) for r in log] == list(range(1, 7))
    assert all(math.isfinite(float(r["loss"])) and float(r["tokens_per_s"]) > 0 for r in log)
    assert [int(r["step"]) for r in read_csv(tmp_path / "train" / "dev_log.csv")] == [3, 6]

    metrics = evaluate.evaluate(name, params, prepared, tmp_path / "train" / "checkpoint.pt",
                                tmp_path / "eval", progress=False)
    on_disk = json.loads((tmp_path / "eval" / "evaluation.json").read_text())
    assert on_disk == json.loads(json.dumps(metrics))
    # metrics.json: the headline numbers, flat, for dvc metrics/exp show
    headline = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert headline == {"bleu": metrics["bleu"], "bleu_multi_ref": metrics["bleu_multi_ref"], "chrf": metrics["chrf"],
                        "test_ppl": metrics["perplexity"], "dev_ppl": metrics["dev"]["perplexity"],
                        "length_ratio": metrics["length_ratio"],
                        "agreement_errors": metrics["agreement"]["error_rate"],
                        "parameters": metrics["parameters"], "steps": metrics["train_steps"]}
    for key in ("bleu", "chrf", "perplexity", "log_perplexity", "sacrebleu_signature", "bleu_by_length",
                "parameters", "train_steps", "train_seconds", "decode_sentences_per_s"):
        assert key in metrics, key
    assert metrics["perplexity"] == pytest.approx(math.exp(metrics["log_perplexity"]))
    assert metrics["dev"]["perplexity"] == pytest.approx(math.exp(metrics["dev"]["log_perplexity"]))
    assert metrics["train_steps"] == 6 and metrics["sacrebleu_signature"].startswith("nrefs:1")
    assert sum(b["n"] for b in metrics["bleu_by_length"]) == 40
    hyps = read_lines(tmp_path / "eval" / "hypotheses.txt")
    assert len(hyps) == 40
    assert metrics["multi_ref_signature"].startswith("nrefs:4") and metrics["references"] == 4
    agreement = metrics["agreement"]
    assert agreement["noun_phrases"] == agreement["checked"] + agreement["not_found"] > 40
    assert metrics["extrapolation"]["sentences"] == 12
    assert len(read_lines(tmp_path / "eval" / "hypotheses.test_long.txt")) == 12


def test_a_cut_split_keeps_every_stream_aligned(prepared):
    manifest = json.loads((prepared / "manifest.json").read_text())
    full, cut = load_split(prepared, manifest, "test"), load_split(prepared, manifest, "test", 7)
    assert (len(full.references), full.total, cut.total) == (40, 40, 40)
    streams = [cut.sources, cut.references, *cut.more_references, cut.records]
    assert [len(s) for s in streams] == [7] * (3 + len(full.more_references))
    assert all(s == f[:7] and s.source == f.source for s, f in
               zip(streams, [full.sources, full.references, *full.more_references, full.records]))
    assert len(cut.encoded) == 7 and list(cut.encoded.src_lengths) == list(full.encoded.src_lengths[:7])
    assert list(cut.encoded.target(6)) == list(full.encoded.target(6))
    with pytest.raises(IndexError):
        cut.encoded.source(7)
    assert len(load_split(prepared, manifest, "test", 400).references) == 40  # more than there are: all


def test_evaluate_scores_the_first_sentences_and_counts_widths_never_trained_at(prepared, tmp_path):
    params = smoke_params()
    train("gru_attention", params, prepared, tmp_path / "train", progress=False)
    manifest = json.loads((prepared / "manifest.json").read_text())
    first = load_split(prepared, manifest, "test", 7)
    widths = sorted(max(s, t + 1) for s, t in zip(first.encoded.src_lengths, first.encoded.tgt_lengths))
    widest = int(widths[3])  # as if training had stopped at the median width: some test pairs are wider
    params["evaluate"] = {**params["evaluate"], "max_sentences": 7}
    # evaluation takes the widths a model trained at from its checkpoint, not from params.yaml
    ckpt = checkpoint.load(tmp_path / "train" / "checkpoint.pt")
    ckpt["train_config"]["buckets"] = [widest]
    checkpoint.save(tmp_path / "narrow.pt", ckpt)
    metrics = evaluate.evaluate("gru_attention", params, prepared, tmp_path / "narrow.pt",
                                tmp_path / "eval", progress=False)
    hyps = read_lines(tmp_path / "eval" / "hypotheses.txt")
    assert len(hyps) == 7 and len(read_lines(tmp_path / "eval" / "hypotheses.test_long.txt")) == 7
    assert (metrics["max_sentences"], metrics["test_sentences"], metrics["test_sentences_total"]) == (7, 7, 40)
    assert (metrics["extrapolation"]["sentences"], metrics["extrapolation"]["sentences_total"]) == (7, 12)
    # every score is of the first 7 sentences against their own references
    assert metrics["bleu"] == pytest.approx(corpus_scores(hyps, first.references)["bleu"])
    assert metrics["bleu_multi_ref"] == pytest.approx(corpus_scores(hyps, first.references,
                                                                    *first.more_references)["bleu"])
    assert sum(b["n"] for b in metrics["bleu_by_length"]) == 7
    assert metrics["agreement"]["noun_phrases"] == sum(len(r["noun_phrases"]) for r in first.records)
    wide = [i for i in range(7) if max(first.encoded.src_lengths[i], first.encoded.tgt_lengths[i] + 1) > widest]
    assert 0 < len(wide) < 7
    rest = [i for i in range(7) if i not in wide]
    assert metrics["wider_than_trained"] == {
        "width": widest, "sentences": len(wide), "bleu": pytest.approx(subset_bleu(hyps, first.references, wide)),
        "bleu_rest": pytest.approx(subset_bleu(hyps, first.references, rest))}


def test_bleu_by_length_partitions_and_matches_sacrebleu_per_bucket():
    from sacrebleu.metrics import BLEU
    sources = ["a b", "a b c d e", "a b c d e f g h", "x", "one two three four five six seven"]
    refs = ["le chat noir", "la voiture rouge est ici", "il mange une pomme verte", "oui", "une phrase assez longue ici"]
    hyps = ["le chat noir", "la voiture bleue est ici", "il mange une pomme", "non", "une phrase longue ici"]
    rows = bleu_by_length(sources, hyps, refs, [0, 2, 5, 100])
    assert [r["n"] for r in rows] == [2, 1, 2] and sum(r["n"] for r in rows) == len(sources)
    # a figure draws each bucket at its sentences' mean length, never at its exclusive lower bound
    assert [r["mean_words"] for r in rows] == [1.5, 5.0, 7.5]
    by_hand = {
        "1-2": ([0, 3]), "3-5": ([1]), "6-100": ([2, 4]),
    }
    for row in rows:
        idx = by_hand[row["bucket"]]
        expected = BLEU().corpus_score([hyps[i] for i in idx], [[refs[i] for i in idx]]).score
        assert row["bleu"] == pytest.approx(expected)
    with pytest.raises(ValueError, match="do not cover"):
        bleu_by_length(sources, hyps, refs, [0, 2, 5])


def test_beam_beats_greedy_on_average_on_a_trained_model(prepared, tmp_path):
    params = smoke_params(max_steps=60, eval_every=60, checkpoint_every=60, log_every=60)
    train("gru_attention", params, prepared, tmp_path, progress=False)
    model, _ = checkpoint.load_model(tmp_path / "checkpoint.pt")
    from activemem.data.store import EncodedSplit
    test = EncodedSplit(prepared, "test")
    src = torch.nn.utils.rnn.pad_sequence([torch.from_numpy(test.source(i).astype("int64")) for i in range(40)],
                                          batch_first=True)
    model.eval()
    greedy = model.hypotheses(src, 30, beam_size=1)
    beam = model.hypotheses(src, 30, beam_size=4, length_penalty=0.0)
    assert beam.scores.mean() >= greedy.scores.mean()


def package_snapshot(dest: Path) -> Path:
    """A copy of the package source as it is now, for subprocesses to import (``PYTHONPATH``).

    The editable install imports the working tree afresh in every subprocess: a source file saved
    while a long test session runs would otherwise give the straight run and the resumed run
    different code, i.e. different weights (the fingerprint sees a change between the killed and
    the resumed run, not one between the straight run and the others)."""
    package = Path(loop.__file__).resolve().parents[1]
    shutil.copytree(package, dest / package.name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return dest


def run_train_cli(params_file: Path, prepared: Path, out: Path, work: Path, source: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "activemem.stages.train", "--params", str(params_file), "--scale", "smoke",
           "--model", "extended_neural_gpu", "--data", str(prepared), "--out", str(out), "--work", str(work),
           "--no-progress"]
    path = os.pathsep.join(filter(None, [str(source), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": path}
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@pytest.mark.slow
def test_sigkilled_run_resumes_to_the_same_parameters(prepared, tmp_path):
    raw = yaml.safe_load(PARAMS.read_text())
    raw["smoke"]["train"].update(max_steps=80, checkpoint_every=5, eval_every=20, log_every=5)
    raw["smoke"]["models"]["extended_neural_gpu"].update(maps=16)
    params_file = tmp_path / "params.yaml"
    params_file.write_text(yaml.safe_dump(raw))
    source = package_snapshot(tmp_path / "src")  # one code for all three runs

    straight = run_train_cli(params_file, prepared, tmp_path / "a", tmp_path / "a_work", source)
    assert straight.wait() == 0, straight.stderr.read().decode()

    killed = run_train_cli(params_file, prepared, tmp_path / "b", tmp_path / "b_work", source)
    ckpt = tmp_path / "b_work" / "checkpoint.pt"
    deadline = time.time() + 120
    while not ckpt.exists() and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    interrupted_at = checkpoint.load(ckpt)["state"]["step"]
    assert 0 < interrupted_at < 80, "the run was not interrupted mid-way"
    assert not (tmp_path / "b" / "checkpoint.pt").exists()
    resumed = run_train_cli(params_file, prepared, tmp_path / "b", tmp_path / "b_work", source)
    assert resumed.wait() == 0, resumed.stderr.read().decode()

    a = checkpoint.load(tmp_path / "a" / "checkpoint.pt")
    b = checkpoint.load(tmp_path / "b" / "checkpoint.pt")
    assert a["identity"] == b["identity"], "the straight and the resumed run are not the same run"
    assert a["state"]["step"] == b["state"]["step"] == 80
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    rows_a, rows_b = read_csv(tmp_path / "a" / "train_log.csv"), read_csv(tmp_path / "b" / "train_log.csv")
    assert [r["step"] for r in rows_a] == [r["step"] for r in rows_b]
    assert [r["loss"] for r in rows_a] == [r["loss"] for r in rows_b]


def test_resuming_from_any_checkpoint_ends_as_the_straight_run(prepared, tmp_path, monkeypatch):
    """The SIGKILL test above resumes from wherever the kill fell (mostly the first checkpoint); this
    one resumes, deterministically, from a dev-evaluation step (dev history) and from the last
    batch of an epoch, each with the logs a later kill leaves (rows past the checkpoint) and a
    half-written checkpoint beside."""
    params = smoke_params(max_steps=50, checkpoint_every=4, eval_every=20, log_every=2)
    snapshots = tmp_path / "snapshots"
    real_save = loop._save_checkpoint

    def keeping_every_checkpoint(run):
        real_save(run)
        copy = snapshots / str(run.state["step"])
        copy.mkdir(parents=True, exist_ok=True)  # the last step saves twice (loop, then the end)
        shutil.copy2(run.checkpoint_path, copy / "checkpoint.pt")

    monkeypatch.setattr(loop, "_save_checkpoint", keeping_every_checkpoint)
    train("extended_neural_gpu", params, prepared, tmp_path / "straight", progress=False)
    monkeypatch.setattr(loop, "_save_checkpoint", real_save)
    straight = checkpoint.load(tmp_path / "straight" / "checkpoint.pt")
    epoch_end = checkpoint.load(snapshots / "48" / "checkpoint.pt")["state"]
    assert (epoch_end["epoch"], epoch_end["position"]) == (0, 48), "step 48 should end the smoke epoch"

    def columns(path, names):
        return [[r[n] for n in names] for r in read_csv(path)]

    for step in (40, 48):
        work = tmp_path / f"from_{step}"
        work.mkdir()
        shutil.copy2(snapshots / str(step) / "checkpoint.pt", work / "checkpoint.pt")
        for name in ("train_log.csv", "dev_log.csv"):
            shutil.copy2(tmp_path / "straight" / name, work / name)
        (work / ".checkpoint.pt.999.0badc0de.tmp").write_bytes(b"PK\x03\x04 cut short")
        summary = train("extended_neural_gpu", params, prepared, work, progress=False)
        assert summary["steps"] == 50
        resumed = checkpoint.load(work / "checkpoint.pt")
        for key in straight["model"]:
            assert torch.equal(straight["model"][key], resumed["model"][key]), f"resumed from step {step}: {key}"
        for key in ("exp_avg", "exp_avg_sq"):
            for i, state in straight["optimizer"]["state"].items():
                assert torch.equal(state[key], resumed["optimizer"]["state"][i][key]), f"from step {step}: {key}"
        assert torch.equal(straight["rng"]["torch"], resumed["rng"]["torch"]), f"resumed from step {step}"
        log = ["step", "epoch", "loss", "perplexity", "lr", "grad_norm", "sampling"]
        assert columns(work / "train_log.csv", log) == columns(tmp_path / "straight" / "train_log.csv", log)
        dev = ["step", "dev_perplexity", "lr"]
        assert columns(work / "dev_log.csv", dev) == columns(tmp_path / "straight" / "dev_log.csv", dev)


def test_changed_settings_start_over_instead_of_resuming(prepared, tmp_path):
    train("neural_gpu", smoke_params(), prepared, tmp_path, progress=False)
    again = train("neural_gpu", smoke_params(lr=0.001), prepared, tmp_path, progress=False)
    assert again["steps"] == 6
    assert [int(r["step"]) for r in read_csv(tmp_path / "train_log.csv")] == list(range(1, 7))
    assert checkpoint.load(tmp_path / "checkpoint.pt")["train_config"]["lr"] == 0.001


def test_non_finite_loss_stops_with_step_and_batch_and_keeps_the_checkpoint(prepared, tmp_path, monkeypatch):
    params = smoke_params(max_steps=10, checkpoint_every=3)
    real = loop.smoothed_loss
    calls = {"n": 0}

    def poisoned(logits, target, smoothing):
        calls["n"] += 1
        loss = real(logits, target, smoothing)
        return loss * float("nan") if calls["n"] == 5 else loss

    monkeypatch.setattr(loop, "smoothed_loss", poisoned)
    with pytest.raises(NonFiniteLoss, match=r"at step 5 \(epoch 0, batch 4") as err:
        train("neural_gpu", params, prepared, tmp_path, progress=False)
    # says what it knows: the file is untouched, not whose checkpoint it holds (issue 23, item 10)
    assert str(err.value).endswith(f"nothing is saved after a non-finite loss: {tmp_path / 'checkpoint.pt'} "
                                   f"is left as it was")
    assert checkpoint.load(tmp_path / "checkpoint.pt")["state"]["step"] == 3


def test_bad_params_fail_before_training_naming_the_key(prepared, tmp_path):
    raw = yaml.safe_load(PARAMS.read_text())
    raw["smoke"]["train"]["max_steps"] = -5  # the settings are checked where they are read: load_params
    (tmp_path / "negative.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(ParamsError, match="'smoke.train.max_steps' must be >= 1"):
        load_params(tmp_path / "negative.yaml", "smoke")
    raw = yaml.safe_load(PARAMS.read_text())
    raw["models"] = ["neural_gpu", "lstm_attention"]
    bad = tmp_path / "params.yaml"
    bad.write_text(yaml.safe_dump(raw))
    with pytest.raises(ParamsError, match="unknown model 'lstm_attention'"):
        load_params(bad, "smoke")
    with pytest.raises(ParamsError, match="scale 'huge' has no block"):
        load_params(PARAMS, "huge")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "manifest.json").write_text((prepared / "manifest.json").read_text())
    with pytest.raises(FileNotFoundError, match="train.src.npy does not exist"):
        train("neural_gpu", smoke_params(), tmp_path / "data", tmp_path / "out", progress=False)
    assert not (tmp_path / "out" / "checkpoint.pt").exists()


@pytest.mark.slow
def test_torchrun_two_processes_follow_one_process(prepared, tmp_path):
    raw = yaml.safe_load(PARAMS.read_text())
    raw["smoke"]["train"].update(max_steps=5, eval_every=5, checkpoint_every=5, log_every=1, batch_tokens=256)
    raw["smoke"]["models"]["gru_attention"]["dropout"] = 0.0
    params_file = tmp_path / "params.yaml"
    params_file.write_text(yaml.safe_dump(raw))
    args = ["-m", "activemem.stages.train", "--params", str(params_file), "--scale", "smoke",
            "--model", "gru_attention", "--data", str(prepared), "--no-progress"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    one = subprocess.run([sys.executable, *args, "--out", str(tmp_path / "one")], env=env,
                         capture_output=True, text=True)
    assert one.returncode == 0, one.stderr
    two = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                          *args, "--out", str(tmp_path / "two")], env=env, capture_output=True, text=True,
                         timeout=300)
    assert two.returncode == 0, two.stderr[-3000:]
    loss_one = [float(r["loss"]) for r in read_csv(tmp_path / "one" / "train_log.csv")]
    loss_two = [float(r["loss"]) for r in read_csv(tmp_path / "two" / "train_log.csv")]
    assert len(loss_one) == len(loss_two) == 5
    assert loss_one == pytest.approx(loss_two, rel=1e-4, abs=1e-4)
    assert json.loads((tmp_path / "two" / "summary.json").read_text())["world_size"] == 2


def test_length_curriculum_admits_only_short_buckets_and_widens_on_low_perplexity(prepared):
    from activemem.data.batching import BucketBatcher, pair_widths
    from activemem.data.store import EncodedSplit
    from activemem.train import curriculum
    split = EncodedSplit(prepared, "train")
    edges = [8, 16, 24, 32]
    batcher = BucketBatcher(split, edges, 128, seed=1)
    everything = [b for _, b in zip(range(len(batcher)), batcher.iterate())]
    widths = pair_widths(split)
    filled = [e for e, members in zip(edges, batcher.members) if len(members)]
    assert len(filled) >= 2, "the smoke data should fill at least two buckets"
    edge = filled[0]
    admitted = []
    for epoch, position, batch in batcher.iterate(admit=lambda e: e <= edge):
        if epoch > 0:
            break
        admitted.append((position, batch))
    assert admitted and all(widths[b.indices].max() <= edge for _, b in admitted)
    assert any(widths[b.indices].max() > edge for _, _, b in everything)
    # positions still count the skipped batches: the epoch plan is the same
    assert [p for p, _ in admitted] == [p for p, (_, _, b) in enumerate(everything)
                                        if widths[b.indices].max() <= edge]
    with pytest.raises(ValueError, match="no batch of bucket widths"):
        next(batcher.iterate(admit=lambda e: False))

    settings = Curriculum(start_width=17, every=2, max_perplexity=9.9)
    state = curriculum.start(settings)
    curriculum.record(state, settings, 1, nll=2.0 * 10, tokens=10)   # ppl e^2 ≈ 7.4
    assert state["width"] == 17
    curriculum.record(state, settings, 2, nll=2.0 * 10, tokens=10)
    assert state["width"] == 18                                      # below 9.9: one wider
    curriculum.record(state, settings, 3, nll=3.0 * 10, tokens=10)   # ppl e^3 ≈ 20
    curriculum.record(state, settings, 4, nll=3.0 * 10, tokens=10)
    assert state["width"] == 18
    assert curriculum.start(None) == {} and curriculum.admits({}, 64, 8)
    assert curriculum.admits(state, 8, 8) and not curriculum.admits(state, 24, 8)
