"""Every verdict says only what its data shows: intervals fit for the counts they are built on, a size
gap stated where models of different sizes are compared, a length claim held against a model with
attention, algorithmic thresholds that the test split can decide, and "converged" only where patience
was spent after the best dev evaluation."""

from __future__ import annotations

import math

import pytest

from activemem.evaluate.sequence_accuracy import wilson
from activemem.paper.claims import check_claims
from activemem.paper.proportions import newcombe

from conftest import REPO
from test_paper import fake_metrics as metrics_of

CLAIMS = REPO / "paper" / "claims.yaml"
SETTINGS = {"far_below_margin": 5.0, "match_tolerance": 1.0, "significance_level": 0.05,
            "min_bucket_sentences": 10, "floor_bleu": 5.0}


def by_id(claims: list[dict]) -> dict[str, dict]:
    return {c["id"]: c for c in claims}


# ---- item 5: Newcombe's hybrid score interval -------------------------------------------------------
def test_newcombe_interval_matches_the_hand_computation_and_the_published_examples():
    # by hand, 56/70 − 48/80 (Newcombe 1998, example (a)): Wilson 56/70 = [0.6918, 0.8770] and
    # 48/80 = [0.4905, 0.7004]; lower = 0.2 − √((0.8 − 0.6918)² + (0.7004 − 0.6)²) = 0.2 − 0.1476 = 0.0524
    l1, u1 = wilson(56, 70)
    l2, u2 = wilson(48, 80)
    assert (round(l1, 4), round(u1, 4), round(l2, 4), round(u2, 4)) == (0.6918, 0.8770, 0.4905, 0.7004)
    lo, hi = newcombe(56, 70, 48, 80)
    assert lo == pytest.approx(0.2 - math.hypot(0.8 - l1, u2 - 0.6))
    assert (round(lo, 4), round(hi, 4)) == (0.0524, 0.3339)  # Newcombe's Table II, method 10
    assert tuple(round(x, 4) for x in newcombe(9, 10, 3, 10)) == (0.1705, 0.8090)
    assert tuple(round(x, 4) for x in newcombe(0, 10, 0, 20)) == (-0.1611, 0.2775)
    assert tuple(round(x, 4) for x in newcombe(0, 10, 0, 10)) == (-0.2775, 0.2775)


def test_the_agreement_claim_uses_the_small_count_interval():
    # the converged run: Neural GPU 3 errors of 139, Extended 2 of 252
    metrics = metrics_of({"neural_gpu": 13.4, "extended_neural_gpu": 33.0})
    metrics["neural_gpu"]["agreement"] = {"error_rate": 3 / 139, "checked": 139, "errors": 3}
    metrics["extended_neural_gpu"]["agreement"] = {"error_rate": 2 / 252, "checked": 252, "errors": 2}
    claim = by_id(check_claims(CLAIMS, metrics, SETTINGS))["parallel_decoder_disagrees_more"]
    lo, hi = newcombe(3, 139, 2, 252)
    assert claim["numbers"]["neural_gpu"]["interval"] == pytest.approx((lo, hi))
    assert (round(100 * lo, 1), round(100 * hi, 1)) == (-1.1, 5.4)  # Wald gave [-1.3, +4.0]
    assert claim["verdict"] == "inconclusive"
    assert "2.2% (3 of 139) vs Extended Neural GPU 0.8% (2 of 252): +1.4 points [-1.1, +5.4]" in claim["evidence"]
    assert "Newcombe hybrid score interval" in claim["evidence"] and "normal" not in claim["evidence"]
    # a clear difference is decided: 30% of 400 against 5% of 380
    metrics["neural_gpu"]["agreement"] = {"error_rate": 0.30, "checked": 400}
    metrics["extended_neural_gpu"]["agreement"] = {"error_rate": 0.05, "checked": 380}
    claim = by_id(check_claims(CLAIMS, metrics, SETTINGS))["parallel_decoder_disagrees_more"]
    assert claim["verdict"] == "reproduced" and claim["numbers"]["neural_gpu"]["count"] == 120


# ---- item 6: "far below" states the size gap ----------------------------------------------------------
def test_far_below_states_both_parameter_counts_and_their_ratio():
    metrics = metrics_of({"neural_gpu": 13.4, "markovian_neural_gpu": 23.1, "extended_neural_gpu": 33.0})
    for name, size in (("neural_gpu", 196_848), ("markovian_neural_gpu", 236_352), ("extended_neural_gpu", 480_816)):
        metrics[name]["parameters"] = size
    claims = by_id(check_claims(CLAIMS, metrics, SETTINGS))
    ngpu = claims["neural_gpu_far_below_extended"]
    assert ngpu["verdict"] == "reproduced"
    assert ("not a same-size comparison: Neural GPU 196,848 parameters, Extended Neural GPU 480,816; the "
            "Extended Neural GPU is 2.44× the Neural GPU's size") in ngpu["evidence"]
    assert ngpu["numbers"]["size_ratio"] == pytest.approx(480_816 / 196_848)
    assert "is 2.03× the Markovian Neural GPU's size" in claims["markovian_far_below_extended"]["evidence"]
    # models of one size are said to be so
    metrics["neural_gpu"]["parameters"] = 470_000
    assert "(ratio 1.02: about one size)" in by_id(check_claims(CLAIMS, metrics, SETTINGS))[
        "neural_gpu_far_below_extended"]["evidence"]


# ---- item 4: losing BLEU with length, against a model with attention -------------------------------
def test_parallel_decoders_must_lose_more_bleu_with_length_than_attention():
    # the converged run's buckets: every model loses BLEU from short to long sentences
    bleu = {"neural_gpu": 13.4, "markovian_neural_gpu": 23.1, "gru_attention": 91.5}
    by_length = {"neural_gpu": [27.2, 18.7, 11.0], "markovian_neural_gpu": [33.9, 28.1, 12.7],
                 "gru_attention": [91.0, 91.4, 89.2]}
    claim = by_id(check_claims(CLAIMS, metrics_of(bleu, by_length), SETTINGS))[
        "parallel_decoders_degrade_more_than_attention"]
    assert claim["verdict"] == "reproduced"
    assert claim["numbers"]["neural_gpu"]["more"] == pytest.approx((27.2 - 11.0) - (91.0 - 89.2))
    assert claim["evidence"].startswith("from 1-10 words (20 sentences) to 21-40 (20): GRU+Attention 91.0 → 89.2, "
                                        "loses 1.8; Neural GPU 27.2 → 11.0, loses 16.2: +14.4 more than GRU+Attention")
    # losing BLEU is not enough: attention losing as much makes the claim not reproduced
    by_length["gru_attention"] = [91.0, 70.0, 60.0]
    claim = by_id(check_claims(CLAIMS, metrics_of(bleu, by_length), SETTINGS))[
        "parallel_decoders_degrade_more_than_attention"]
    assert claim["verdict"] == "not reproduced"
    assert claim["numbers"]["markovian_neural_gpu"]["more"] == pytest.approx(21.2 - 31.0)
    assert "parallel_decoders_degrade_with_length" not in {c["id"] for c in check_claims(CLAIMS, metrics_of(
        bleu, by_length), SETTINGS)}


def test_losing_more_with_length_has_a_bootstrap_interval_on_real_sentences(tmp_path):
    from test_paper import make_run, render
    # of 100 sentences per bucket: Neural GPU 60, 40, 10 right; GRU+Attention 90, 88, 85
    make_run(tmp_path, {"neural_gpu": (60, 40, 10), "markovian_neural_gpu": (50, 45, 45),
                        "gru_attention": (90, 88, 85)})
    claims = by_id(render(tmp_path, ["neural_gpu", "markovian_neural_gpu", "gru_attention"])["claims"])
    claim = claims["parallel_decoders_degrade_more_than_attention"]
    ngpu, markovian = claim["numbers"]["neural_gpu"], claim["numbers"]["markovian_neural_gpu"]
    assert ngpu["more"] == pytest.approx(45.0) and ngpu["interval"][0] > 0  # 50 − 5: decided
    assert markovian["more"] == pytest.approx(0.0)  # 5 − 5
    lo, hi = markovian["interval"]
    assert lo < 0 < hi
    assert claim["verdict"] == "inconclusive"  # one decoder loses as much as attention: cannot tell


# ---- item 3: algorithmic verdicts mean what their labels say -----------------------------------------
def algorithmic_run(accuracies: dict[int, tuple[int, int]], train_length=10) -> dict:
    tests = [{"task": "add", "length": length, "correct": k, "sequences": n, "accuracy": k / n,
              "accuracy_interval": list(wilson(k, n)), "interval_level": 0.95} for length, (k, n) in accuracies.items()]
    return {"tests": tests, "train_length": train_length, "train_steps": 1200, "train_max_steps": 1200,
            "parameters": 32_520}


def algorithmic_claims(runs: dict) -> dict[str, dict]:
    from activemem.paper import length_claims
    return by_id(length_claims.check(REPO / "paper" / "claims.algorithmic.yaml", runs, "algorithmic"))


def test_a_model_that_never_learned_the_task_is_inconclusive_not_refuted():
    # the committed algorithmic run: Neural GPU 78/100 on add within training, 0/100 at length 100
    runs = {"neural_gpu": {1: algorithmic_run({10: (78, 100), 100: (0, 100)})},
            "extended_neural_gpu": {1: algorithmic_run({10: (67, 100), 100: (0, 100)})},
            "gru_attention": {1: algorithmic_run({10: (100, 100), 100: (0, 100)})}}
    claims = algorithmic_claims(runs)
    ngpu = claims["neural_gpu_generalises_addition"]
    assert ngpu["verdict"] == "inconclusive"  # the committed report said "not reproduced"
    assert ngpu["reason"].startswith("Neural GPU does not reach 99.0% within the training lengths: it did not learn")
    assert claims["extended_neural_gpu_generalises_addition"]["verdict"] == "inconclusive"
    assert claims["attention_does_not_generalise_addition"]["verdict"] == "reproduced"  # learned, 0/100 beyond
    # a model that learned the task and fails beyond: not reproduced
    runs["neural_gpu"] = {1: algorithmic_run({10: (100, 100), 100: (0, 100)})}
    assert algorithmic_claims(runs)["neural_gpu_generalises_addition"]["verdict"] == "not reproduced"


def test_at_least_99_percent_needs_a_split_that_can_show_it():
    from activemem.paper.length_claims import pairs_needed
    assert pairs_needed(0.99, 0.95) == 381  # 381/381: Wilson lower bound 99.002%; 380/380: 98.999%
    assert wilson(381, 381)[0] >= 0.99 > wilson(380, 380)[0]
    # 100/100 everywhere: the interval [96.3%, 100%] can never clear 99%, so nothing is decided, and the
    # evidence says how many pairs would be
    runs = {"neural_gpu": {1: algorithmic_run({10: (100, 100), 100: (100, 100)})}}
    claim = algorithmic_claims(runs)["neural_gpu_generalises_addition"]
    assert claim["verdict"] == "inconclusive"
    assert claim["reason"] == "100 test pairs per split cannot decide 99.0%; 381 would"
    assert ("100 test pairs cannot show 99.0% (even 100/100 has a Wilson lower bound of 96.3%): 381 pairs would "
            "be needed") in claim["evidence"]
    # 400/400 (the raised test splits) clears it: reproduced
    runs = {"neural_gpu": {1: algorithmic_run({10: (400, 400), 100: (400, 400)})}}
    claim = algorithmic_claims(runs)["neural_gpu_generalises_addition"]
    assert (claim["verdict"], claim["reason"]) == ("reproduced", None)
    # and 395/400 beyond is a real "inconclusive" (interval across 99%), without the size reason
    runs = {"neural_gpu": {1: algorithmic_run({10: (400, 400), 100: (398, 400)})}}
    claim = algorithmic_claims(runs)["neural_gpu_generalises_addition"]
    assert (claim["verdict"], claim["reason"]) == ("inconclusive", None)


# ---- item 2: "converged" means patience spent after the best dev evaluation ------------------------------
def test_convergence_needs_evaluations_after_the_best_that_do_not_improve_on_it():
    from activemem.paper.convergence import CONVERGED, IMPROVING, status
    run = {"train_steps": 2900, "train_max_steps": 8000, "train_stop_reason": "patience",
           "selected": {"select": "best", "step": 2900}}
    # the converged snapshot's Neural GPU: stopped by patience (gains under 1%) with its best at the last step
    creeping = [{"step": 2600, "dev_perplexity": 7.20}, {"step": 2700, "dev_perplexity": 7.15},
                {"step": 2800, "dev_perplexity": 7.10}, {"step": 2900, "dev_perplexity": 7.05}]
    st = status(run, creeping)
    assert (st["state"], st["best_step"], st["after"]) == (IMPROVING, 2900, 0)
    assert st["text"] == ("stopped by patience at 2900/8000 steps but still improving at its last evaluation (each "
                          "of its last evaluations gained less than train.min_improvement): not converged")
    # its best followed by three evaluations no better: converged
    spent = creeping[:2] + [{"step": 2800, "dev_perplexity": 7.3}, {"step": 2900, "dev_perplexity": 7.2}, {"step": 3000, "dev_perplexity": 7.16}]
    st = status({**run, "train_steps": 3000}, spent)
    assert (st["state"], st["best_step"], st["after"]) == (CONVERGED, 2700, 3)
    assert st["text"] == ("converged (3000/8000 steps, stopped by patience; best dev perplexity at step 2700, not "
                          "improved on by the 3 later evaluations)")
    # the demo's step cap, still improving: never "converged"
    demo = {"train_steps": 600, "train_max_steps": 600, "train_stop_reason": "max_steps",
            "selected": {"select": "best", "step": 600}}
    st = status(demo, [{"step": 500, "dev_perplexity": 3.2}, {"step": 600, "dev_perplexity": 3.07}])
    assert st["text"] == "stopped at the step cap (600/600 steps), still improving at its last evaluation: not converged"
    # without a dev log: a best selected before the last step had later evaluations
    assert status({**run, "train_steps": 3000, "selected": {"select": "best", "step": 2700}})["state"] == CONVERGED
    assert status(run)["state"] == IMPROVING


def test_the_report_and_the_budget_say_which_models_did_not_converge(tmp_path):
    from test_paper import make_run, render
    make_run(tmp_path, {"extended_neural_gpu": (80, 80, 80), "gru_attention": (90, 90, 90)},
             {"extended_neural_gpu": {"train_stop_reason": "max_steps", "selected": {"select": "best", "step": 1500}}})
    (tmp_path / "results/extended_neural_gpu/seed1/train/dev_log.csv").write_text(
        "step,dev_perplexity\n500,4.0\n1000,3.5\n1500,3.1\n")
    result = render(tmp_path, ["extended_neural_gpu", "gru_attention"])
    assert ("Not converged: Extended Neural GPU (still improving, step cap). Their numbers are those of models "
            "stopped before their dev perplexity stopped improving") in result["warnings"][0]
    claim = by_id(result["claims"])["extended_matches_attention"]
    assert claim["budget"].startswith("scale demo: Extended Neural GPU stopped at the step cap (1500/1500 steps), "
                                      "still improving at its last evaluation: not converged, scored at step 1500")
    assert "GRU+Attention converged (1500/1500 steps, stopped by patience; best dev perplexity at step 20" in claim["budget"]
    report = (tmp_path / "out" / "report.md").read_text()
    assert "| Stopped by | Converged | Scored step |" in report
    assert "| max_steps | no: still improving (step cap) |" in report and "| patience | converged |" in report
    assert "- Extended Neural GPU: stopped at the step cap (1500/1500 steps), still improving" in report


# ---- item 1: the heading names the data the run was on ---------------------------------------------------
def test_table_1_is_headed_by_the_data_the_run_trained_on(tmp_path):
    import json

    from activemem.config import load_params, preset_comparison
    from activemem.paper.report import build
    from activemem.paper.run_data import data_name, data_note, scale_note
    from test_paper import EVALUATE, make_run

    make_run(tmp_path, {"extended_neural_gpu": (80, 80, 80), "gru_attention": (90, 90, 90)})
    (tmp_path / "data" / "manifest.json").write_text(json.dumps({"pairs": {"train": 12000, "test": 300}}))
    build("converged", ["extended_neural_gpu", "gru_attention"], tmp_path / "results", tmp_path / "data",
          REPO / "paper", tmp_path / "out", SETTINGS, EVALUATE, [1], None, "demo")
    report = (tmp_path / "out" / "report.md").read_text()
    demo = "the demo grammar (an embedded synthetic English→French corpus), not WMT'14"
    assert f"## Table 1, regenerated on {demo}\n" in report
    assert "## Table 1: WMT'14" not in report and "\nWMT'14 English→French.\n" not in report  # the old heading, note
    assert "Embedded demo corpus (a small English→French grammar)" in report  # the converged scale's note
    assert "Published (Table 1, WMT'14 English→French, newstest2014: the paper's data, not this run's" in report
    note = (f"Regenerated on {demo} (12,000 pairs kept for training). The published Table 1 is the paper's: "
            "WMT'14 English→French, newstest2014.")
    assert (tmp_path / "out" / "table1.md").read_text().count(note) == 1
    assert "regenerated on the demo grammar (an embedded synthetic" in (tmp_path / "out" / "report.html").read_text()
    # WMT'14: the news scale is a subset, the paper scale all of it
    news = preset_comparison(load_params(REPO / "params.yaml", "news"))
    assert data_name("wmt14", news) == "a WMT'14 English→French subset (News Commentary v9 only), tested on newstest2014"
    assert data_note("wmt14", news, tmp_path / "data") == (
        "Regenerated on a WMT'14 English→French subset (News Commentary v9 only), tested on newstest2014 (12,000 "
        "pairs kept for training; trained on News Commentary v9).")
    paper = preset_comparison(load_params(REPO / "params.yaml", "paper"))
    assert data_name("wmt14", paper) == "full WMT'14 English→French, tested on newstest2014"
    assert data_name("algorithmic", None) == "the algorithmic tasks (generated symbol sequences)"
    assert scale_note("converged", None, tmp_path / "data", "demo").startswith("Embedded demo corpus")


# ---- item 7: the report says what moved against the committed snapshot ----------------------------------
def test_snapshot_names_and_table_parsing():
    from activemem.paper.snapshot_diff import parse_tables, snapshot_name
    assert snapshot_name("converged", [1]) == "converged" and snapshot_name("converged", [1, 2, 3]) == "converged-3seeds"
    cells = parse_tables("| Model | Perplexity | BLEU |\n|:--|--:|--:|\n| Neural GPU | 6.56 ± 0.42 | 15.0 ± 1.6 |\n"
                         "| Transformer ⁺ | 1.17 | 90.1 |\n\n⁺ Beyond the paper.\n### add\n\n| Model | 10 (trained) |\n"
                         "|:--|--:|\n| Neural GPU | 78.0 (5.6) |\n")
    assert cells == {("", "Neural GPU", "Perplexity"): "6.56 ± 0.42", ("", "Neural GPU", "BLEU"): "15.0 ± 1.6",
                     ("", "Transformer", "Perplexity"): "1.17", ("", "Transformer", "BLEU"): "90.1",
                     ("add", "Neural GPU", "10 (trained)"): "78.0 (5.6)"}


def snapshot_paper(tmp_path, scale: str, table1: str, claims: list[dict]):
    """A copy of paper/ whose snapshot of ``scale`` holds ``table1`` and ``claims``."""
    import json
    import shutil
    paper = tmp_path / "paper"
    shutil.copytree(REPO / "paper", paper, ignore=shutil.ignore_patterns("snapshot", "build"))
    folder = paper / "snapshot" / scale
    folder.mkdir(parents=True)
    (folder / "table1.md").write_text(table1)
    (folder / "claims.json").write_text(json.dumps(claims))
    return paper


def test_the_report_says_which_numbers_and_verdicts_moved_against_the_snapshot(tmp_path):
    import json
    from test_paper import make_run, render
    names = ["extended_neural_gpu", "gru_attention"]
    make_run(tmp_path, {"extended_neural_gpu": (80, 80, 80), "gru_attention": (90, 90, 90)})
    # a first render gives this run's own table and claims: as a snapshot, they are identical
    first = render(tmp_path, names, out="first")
    paper = snapshot_paper(tmp_path, "demo", (tmp_path / "first" / "table1.md").read_text(),
                           json.loads((tmp_path / "first" / "claims.json").read_text()))
    same = render(tmp_path, names, paper=paper)
    assert same["snapshot"].identical
    report = (tmp_path / "out" / "report.md").read_text()
    assert ("**Against the committed snapshot:** Identical to the committed snapshot (paper/snapshot/demo/): every "
            "number of the table and every verdict.") in report.splitlines()[:4]
    # "What moved" diffs against the snapshot (not the published table, whose `?` cells differ from any run)
    assert "### What moved (`diff paper/snapshot/demo/table1.md table1.md`)\n\n```diff\n(no difference)\n```" in report
    # a snapshot where the Extended Neural GPU scored 78.5 BLEU at perplexity 2.10, and one verdict differed
    table1 = (tmp_path / "first" / "table1.md").read_text()
    row = next(line for line in table1.splitlines() if line.startswith("| Extended Neural GPU |"))
    cells = row.split(" | ")
    cells[1], cells[3] = "2.10", "78.5"
    claims = json.loads((tmp_path / "first" / "claims.json").read_text())
    changed = next(c for c in claims if c["id"] == "extended_matches_attention")
    before = changed["verdict"]
    changed["verdict"] = "inconclusive"
    paper = snapshot_paper(tmp_path / "moved", "demo", table1.replace(row, " | ".join(cells)), claims)
    moved = render(tmp_path, names, paper=paper)["snapshot"]
    assert not moved.identical
    assert moved.models == ["Extended Neural GPU: Perplexity 2.10 → 2.00 (-0.10), BLEU 78.5 → 80.0 (+1.5)"]
    assert moved.verdicts == [f"extended_matches_attention: inconclusive → {before}"]
    report = (tmp_path / "out" / "report.md").read_text()
    assert f"-{' | '.join(cells)}\n+{row}\n" in moved.table_diff and moved.table_diff in report
    assert moved.table_diff.count("\n-") == 1  # only the row that moved
    assert ("Differs from the committed snapshot (paper/snapshot/demo/): numbers moved: Extended Neural GPU: "
            "Perplexity 2.10 → 2.00 (-0.10), BLEU 78.5 → 80.0 (+1.5). verdicts changed: extended_matches_attention: "
            f"inconclusive → {before}.") in report


def test_a_scale_without_a_snapshot_says_so(tmp_path):
    import shutil
    from test_paper import make_run, render
    make_run(tmp_path, {"extended_neural_gpu": (80, 80, 80), "gru_attention": (90, 90, 90)})
    paper = tmp_path / "paper"
    shutil.copytree(REPO / "paper", paper, ignore=shutil.ignore_patterns("snapshot", "build"))
    result = render(tmp_path, ["extended_neural_gpu", "gru_attention"], paper=paper)
    assert result["snapshot"].folder is None
    report = (tmp_path / "out" / "report.md").read_text()
    assert ("**Against the committed snapshot:** No committed snapshot of this scale: there is nothing to compare "
            "these numbers with.") in report
    assert "### What moved (`diff table1.published.md table1.md`)" in report  # then against the published


def test_a_long_list_of_moved_rows_is_cut_at_the_top_of_the_report():
    from activemem.paper.snapshot_diff import SHOWN_ROWS, Comparison, compare_claims, compare_tables
    old = {("add", f"model {i}", "10"): "50.0 (1.0)" for i in range(20)}
    new = {key: "60.0 (1.0)" for key in old}
    moved = compare_tables(old, new)
    assert moved[0] == "add: model 0: 10 50.0 → 60.0 (+10.0)" and len(moved) == 20
    text = Comparison("paper/snapshot/algorithmic/", moved).text()
    assert text.count("→") == SHOWN_ROWS and text.endswith("; and 8 more rows (diff the tables).")
    assert compare_claims([{"id": "a", "verdict": "reproduced"}, {"id": "gone", "verdict": "inconclusive"}],
                          [{"id": "a", "verdict": "reproduced"}, {"id": "new", "verdict": "inconclusive"}]) == [
        "new: inconclusive (a claim the snapshot does not have)", "gone: no longer checked (snapshot: inconclusive)"]


def test_with_its_patience_known_a_run_needs_that_many_evaluations_after_its_best():
    from activemem.paper.convergence import CONVERGED, EARLY, status
    # the converged snapshot's Extended Neural GPU: best at 3000, stopped at 3100 with patience 3
    run = {"train_steps": 3100, "train_max_steps": 8000, "train_stop_reason": "patience",
           "selected": {"select": "best", "step": 3000}}
    log = [{"step": 2800, "dev_perplexity": 2.21}, {"step": 2900, "dev_perplexity": 2.195},
           {"step": 3000, "dev_perplexity": 2.18}, {"step": 3100, "dev_perplexity": 2.19}]
    assert status(run, log)["state"] == CONVERGED  # patience unknown: one evaluation after the best
    st = status(run, log, patience=3)
    assert st["state"] == EARLY
    assert st["text"] == ("stopped by patience at 3100/8000 steps; best dev perplexity at step 3000, not improved on "
                          "by the 1 later evaluation, fewer than train.patience (3): its patience was spent on gains "
                          "under train.min_improvement up to its best: not converged")
    log += [{"step": 3200, "dev_perplexity": 2.185}, {"step": 3300, "dev_perplexity": 2.2}]
    assert status({**run, "train_steps": 3300}, log, patience=3)["state"] == CONVERGED
