"""The positive control (issue 29 item 1): held-out algorithmic test inputs, the 2015 length curriculum on
sequence error, the ``control`` settings, and the control script end to end at a tiny size."""

from __future__ import annotations

import json
import random
import sys

import pytest
import torch
import yaml

from activemem import config
from activemem.data import algorithmic
from activemem.data.sources.algorithmic.download import generate as generate_algorithmic
from activemem.train import length_curriculum, lr_decay

from conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
import neural_gpu_control as control  # noqa: E402


# ---- held-out test inputs ------------------------------------------------------------------------------
def read_sources(folder, split):
    return (folder / f"{split}.src").read_text().splitlines()


def test_no_test_input_is_in_train_or_dev_and_test_inputs_are_distinct(tmp_path):
    # length 5: add has 2-bit operands, 16 inputs; 3000 training pairs draw every one not held out
    data = {"seed": 3, "tasks": ["copy", "add"], "sizes": {"train": 3000, "dev": 200, "test": 400},
            "train_length": 5, "test_lengths": [5, 12], "held_out_share": 0.5}
    listing = generate_algorithmic({"data": data}, tmp_path)
    train = set(read_sources(tmp_path, "train")) | set(read_sources(tmp_path, "dev"))
    held = set()
    for t in listing["tests"]:
        sources = read_sources(tmp_path, t["split"])
        assert len(set(sources)) == len(sources) == t["held_out"]          # distinct
        assert not set(sources) & train, t["split"]                        # held out of train and dev
        held |= set(sources)
    assert listing["held_out_inputs"] == len(held)
    by_split = {t["split"]: t for t in listing["tests"]}
    # short lengths: at most half of their inputs held out; long ones get all 400
    assert by_split["test_add_5"]["distinct_inputs"] == 16 and by_split["test_add_5"]["held_out"] == 8
    assert by_split["test_copy_5"]["distinct_inputs"] == 32 and by_split["test_copy_5"]["held_out"] == 16
    assert by_split["test_add_12"]["held_out"] == by_split["test_copy_12"]["held_out"] == 400
    # the other half of the 2-bit sums is still trained on
    assert len({s for s in train if s.startswith("add") and len(s.split()) == 6}) == 8


def test_banned_inputs_are_redrawn_and_an_exhausted_length_says_so():
    banned = {s for s, _ in algorithmic.held_out(1, "add", 3, 2)}      # 2 of the 4 one-bit sums
    drawn = {src for *_, src, _ in algorithmic.generate(1, "train", 200, ["add"], (3, 3), banned)}
    assert drawn and not drawn & banned and len(drawn) == 2
    every = {s for s, _ in algorithmic.held_out(1, "add", 3, 10)}       # all 4
    assert len(every) == algorithmic.distinct_inputs("add", 3) == 4
    with pytest.raises(ValueError, match="held out"):
        algorithmic.excluding(random.Random(0), "add", 3, every, tries=50)


def test_without_a_ban_the_training_stream_is_the_generators_own():
    rng = random.Random("algorithmic:5:train")
    expected = []
    for i in range(50):
        task = ["copy", "add"][i % 2]
        length = rng.randint(algorithmic.shortest(task), 9)
        expected.append((task, length, *algorithmic.pair(rng, task, length)))
    assert list(algorithmic.generate(5, "train", 50, ["copy", "add"], (1, 9))) == expected


# ---- the 2015 curriculum -----------------------------------------------------------------------------
@pytest.mark.parametrize("wrong, grows", [(14, True), (15, False), (0, True), (100, False)])
def test_curriculum_grows_exactly_when_sequence_error_is_below_the_bound(wrong, grows):
    state = length_curriculum.start(4)
    length_curriculum.record(state, 4, wrong, 100)          # inside: counts
    length_curriculum.record(state, 9, 100, 100)            # a mixed batch beyond the curriculum: ignored
    assert length_curriculum.check(state, 200, 0.15, 20) is grows
    assert state["length"] == (5 if grows else 4) and state["grown_at"] == ([200] if grows else [])
    assert (state["wrong"], state["seen"]) == (0, 0)


def test_curriculum_stops_at_the_longest_and_needs_batches_to_grow():
    state = length_curriculum.start(20)
    length_curriculum.record(state, 20, 0, 32)
    assert not length_curriculum.check(state, 50, 0.15, 20) and state["length"] == 20
    empty = length_curriculum.start(3)
    assert not length_curriculum.check(empty, 50, 0.15, 20)  # no batch inside the curriculum yet


def test_sampled_sizes_stay_in_range_and_only_mixed_draws_go_beyond_the_curriculum():
    rng, state = random.Random(0), length_curriculum.start(5)
    plain = [length_curriculum.sample_length(rng, state, 1, 20, 0.6, 0.0) for _ in range(2000)]
    assert min(plain) == 1 and max(plain) == 5
    mixed = [length_curriculum.sample_length(rng, state, 1, 20, 0.6, 0.25) for _ in range(2000)]
    beyond = sum(n > 5 for n in mixed) / len(mixed)
    assert max(mixed) == 20 and 0.15 < beyond < 0.25        # 0.25 · 15/20 ≈ 0.19
    # 60% of draws are the larger of two: P(5) = 0.4·0.2 + 0.6·(1 − 0.8²) ≈ 0.30, not a uniform 0.2
    assert 0.26 < plain.count(5) / len(plain) < 0.34


# ---- the settings and the script ----------------------------------------------------------------------
def test_control_settings_are_checked():
    raw = config.read(REPO / "params.yaml")
    config.check(raw, "params.yaml")
    bad = json.loads(json.dumps(raw))
    bad["control"]["train"]["curriculum"]["bound"] = 0
    bad["control"]["model"]["maps"] = 2.5
    with pytest.raises(config.ParamsError, match="bound"):
        config.check(bad, "p")
    bad["control"]["train"]["curriculum"]["bound"] = 0.15
    with pytest.raises(config.ParamsError, match="control.model.maps"):
        config.check(bad, "p")


def test_sequence_right_needs_every_bit_and_the_eos():
    tgt = torch.tensor([[5, 4, 2], [5, 4, 2]])
    logits = torch.nn.functional.one_hot(torch.tensor([[5, 4, 2], [5, 4, 4]]), 13).float()
    assert control.sequence_right(logits, tgt).tolist() == [True, False]


def test_the_control_trains_resumes_and_tests_held_out_sizes_at_a_tiny_size(tmp_path):
    settings = control.override(control.load_settings(), [
        "model={maps: 8, height: 2, dropout: 0.0}", "data.train_size=3", "data.test_sizes=[3, 6]",
        "data.test_pairs=20", "data.long_test_gate=0.0", "train.max_steps=4", "train.max_minutes=0",
        "train.curriculum.every=2", "log_every=2", "checkpoint_every=2", "train.batch=4"])
    first = control.train(settings, 1, tmp_path / "run")
    assert first["steps"] == 4 and first["stopped"] == "max_steps"
    assert [first["test"][s]["pairs"] for s in ("3", "6")] == [20, 20]
    assert len((tmp_path / "run" / "log.jsonl").read_text().splitlines()) == 2
    again = control.train(settings, 1, tmp_path / "run")           # finished: resumes at step 4, same weights
    def scores(result):                                             # the test's seconds are the clock's
        return {size: {k: v for k, v in t.items() if k != "seconds"} for size, t in result["test"].items()}
    assert scores(again) == scores(first) and again["steps"] == 4
    with pytest.raises(KeyError, match="not a key"):
        control.override(settings, ["train.lr_typo=1"])


def test_a_run_continues_only_when_the_stopping_settings_alone_changed():
    base = control.load_settings()
    longer = control.override(base, ["train.max_steps=99999", "data.keep_best=false", "data.test_sizes=[20, 40]"])
    assert control.same_training(base, longer)
    for change in ("train.lr=0.01", "model.dropout=0.3", "train.curriculum.p_mixed=0.5", "data.train_size=8",
                   "train.settle_steps=5000", "train.settle_lrs=[0.001]", "train.decay_factor=0.98"):  # they set the lr
        assert not control.same_training(base, control.override(base, [change])), change


def test_a_second_phase_starts_from_another_runs_step_with_its_own_lr(tmp_path):
    tiny = ["model={maps: 8, height: 2, dropout: 0.0}", "data.train_size=3", "data.test_sizes=[3]",
            "data.test_pairs=10", "train.max_minutes=0", "train.settle_steps=0", "log_every=2",
            "checkpoint_every=2", "train.batch=4"]
    first = control.override(control.load_settings(), [*tiny, "train.max_steps=4"])
    control.train(first, 1, tmp_path / "one")
    second = control.override(first, ["train.max_steps=6", "train.lr=0.0001"])
    out = control.train(second, 1, tmp_path / "two", init=tmp_path / "one")
    assert out["steps"] == 6                                         # 2 more steps, not 6 from scratch
    saved = torch.load(tmp_path / "two" / "checkpoint.pt", weights_only=False)
    assert saved["optimizer"]["param_groups"][0]["lr"] == 0.0001


# ---- learning-rate decay: the settle phases, the 2015 rule, the best dev weights -----------------------
def test_settle_schedule_keeps_the_base_lr_then_each_lower_lr_for_its_phase_then_stops():
    lrs = [lr_decay.settle_lr(0.003, k, 3, [3e-4, 1e-4], 2) for k in [None, 1, 3, 4, 5, 6, 7, 9]]
    assert lrs == [0.003, 0.003, 0.003, 3e-4, 3e-4, 1e-4, 1e-4, 1e-4]
    assert [lr_decay.settled(k, 3, [3e-4, 1e-4], 2) for k in (None, 6, 7)] == [False, False, True]
    assert not lr_decay.settled(10 ** 6, 0, [], 5)                      # nothing to settle: run to max_steps
    assert lr_decay.settle_lr(0.003, 10 ** 6, 0, [], 5) == 0.003
    # the first step at the top is the one after the growth; below the top there is no count
    assert lr_decay.steps_at_top([50, 100], 20, 20, 101) == 1
    assert lr_decay.steps_at_top([50, 100], 19, 20, 101) is None
    assert lr_decay.steps_at_top([], 20, 20, 7) == 7                    # started at the top


def test_the_2015_rule_decays_only_when_perplexity_exceeds_the_last_three_checks():
    state = lr_decay.plateau_start()
    decays = []
    for step, loss in enumerate([1.0, 0.9, 0.8, 0.95, 0.7, 1.01, 0.5], start=1):   # per-check mean loss
        lr_decay.plateau_record(state, loss - 0.1)
        lr_decay.plateau_record(state, loss + 0.1)
        decays.append(lr_decay.plateau_check(state, step, 0.98, 3))
    # check 4 (0.95) exceeds max(0.9, 0.8)? it needs > max of the last three (1.0, 0.9, 0.8): no;
    # check 6 (1.01) > max(0.8, 0.95, 0.7): yes. No decay before three checks exist.
    assert decays == [False, False, False, False, False, True, False]
    assert state["scale"] == pytest.approx(0.98) and state["decayed_at"] == [6]
    assert len(state["history"]) == 3 and state["n"] == 0
    off = lr_decay.plateau_start()
    for step, loss in enumerate([0.1, 0.2, 0.3, 5.0], start=1):
        lr_decay.plateau_record(off, loss)
        assert not lr_decay.plateau_check(off, step, 1.0, 3)
    assert off["scale"] == 1.0


def test_the_dev_set_is_distinct_and_disjoint_from_every_test_input_even_at_a_test_size():
    data = {"seed": 1, "dev_size": 2, "dev_pairs": 6}
    tests = {s for s, _ in algorithmic.held_out(1, "add", control.length_of("add", 2), 5)}   # 5 of 16 inputs
    dev = control.dev_set(data, "add", tests)
    assert len({s for s, _ in dev}) == 6 and not {s for s, _ in dev} & tests
    assert control.dev_set({**data, "dev_pairs": 0}, "add", tests) == []
    assert control.better({"sequence_accuracy": 0.9, "symbol_error": 0.01}, {"sequence_accuracy": 0.8, "symbol_error": 0.0})
    assert not control.better({"sequence_accuracy": 0.9, "symbol_error": 0.02}, {"sequence_accuracy": 0.9, "symbol_error": 0.01})
    assert control.better({"sequence_accuracy": 0.9, "symbol_error": 0.01}, {"sequence_accuracy": 0.9, "symbol_error": 0.01})


def test_a_run_settles_through_its_lr_phases_checks_dev_and_tests_the_best_weights(tmp_path):
    settings = control.override(control.load_settings(), [
        "model={maps: 8, height: 2, dropout: 0.0}", "data.train_size=3", "data.test_sizes=[3]",
        "data.test_pairs=10", "data.dev_size=4", "data.dev_pairs=8", "data.dev_every=2", "train.max_minutes=0",
        "train.stop_size=3", "train.settle_steps=2", "train.settle_lrs=[0.001, 0.0001]", "train.settle_phase_steps=2",
        "train.curriculum.every=2", "log_every=1", "checkpoint_every=2", "train.batch=4"])
    out = control.train(settings, 1, tmp_path / "run")
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert out["stopped"] == "settled" and out["steps"] == 6            # started at the top: 2 + 2 + 2 steps
    assert [line["lr"] for line in log] == [0.003, 0.003, 0.001, 0.001, 0.0001, 0.0001]
    assert [d["step"] for d in out["dev"]] == [2, 4, 6] and [d["lr"] for d in out["dev"]] == [0.003, 0.001, 0.0001]
    best = max(out["dev"], key=lambda d: (d["sequence_accuracy"], -d["symbol_error"], d["step"]))
    assert out["tested_step"] == best["step"]
    saved = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=False)
    model = control.build(settings, algorithmic.SymbolVocab())
    model.load_state_dict(saved["best_weights"])                        # the tests scored these weights
    tests = {3: algorithmic.held_out(1, "add", control.length_of("add", 3), 10)}
    again = control.evaluate(model, algorithmic.SymbolVocab(), tests, settings, "add")["3"]
    assert again["sequence_accuracy"] == out["test"]["3"]["sequence_accuracy"]
    assert again["symbol_error"] == out["test"]["3"]["symbol_error"]


def test_the_2015_rule_replayed_over_a_log_matches_the_rule_run_check_by_check():
    losses = [1.0, 0.9, 0.8, 0.95, 0.7, 1.01, 0.5, 1.05]
    log = [{"step": 50 * (i + 1), "loss": loss} for i, loss in enumerate(losses)]
    assert control.replay_decay(log, 50, 0.98, 3) == {"decayed_at": [300, 400], "scale": pytest.approx(0.98 ** 2)}
    # every 200 steps: two checks (the means of four lines each), fewer than the three it compares with
    assert control.replay_decay(log, 200, 0.98, 3) == {"decayed_at": [], "scale": 1.0}
    assert control.replay_decay(log, 50, 1.0, 3)["decayed_at"] == []


def test_the_snapshot_keeps_earlier_runs_whose_folders_are_gone_and_updates_the_rest(tmp_path):
    snapshot, out = tmp_path / "snap", tmp_path / "out"
    snapshot.mkdir()
    earlier = [{"run": "C-old", "finished": True, "changed": [], "curriculum": [], "seed": 1, "steps": 2100,
                "train_seconds": 1.0, "curriculum_size": 20, "test": {"200": {"pairs": 400, "sequence_accuracy": 0.91}},
                "stopped": "settled"},
               {"run": "K-new", "finished": False, "changed": [], "curriculum": [], "steps": 5,
                "train_seconds": 1.0, "curriculum_size": 3}]
    (snapshot / "runs.json").write_text(json.dumps(earlier))
    (out / "K-new").mkdir(parents=True)
    (out / "K-new" / "log.jsonl").write_text(json.dumps({"step": 50, "seconds": 2.0, "size": 4}) + "\n")
    control.summarize(out, snapshot)
    runs = {r["run"]: r for r in json.loads((snapshot / "runs.json").read_text())}
    assert runs["C-old"]["earlier"] and runs["C-old"]["test"]["200"]["sequence_accuracy"] == 0.91
    assert "earlier" not in runs["K-new"] and runs["K-new"]["steps"] == 50      # rebuilt from its folder
    table = (snapshot / "runs.md").read_text()
    assert "| C-old | (earlier block) - |" in table and "200: 0.9100 (400)" in table
