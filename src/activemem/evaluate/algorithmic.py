"""The evaluate stage on the algorithmic tasks: every test split decoded and scored by its length.

Each test split holds one task at one input length (``data/algorithmic.py``). It is decoded with the
scale's ``evaluate`` settings (greedy for a beam of one: an answer has one right form), on the
device and threads the model was trained with, and scored with ``sequence_accuracy.py``.

Length is the point, so nothing caps the memory at the training widths: a Neural GPU model decodes
an input of ``S`` symbols at the fixed width ``max(S, ceil(max_len_ratio·S) + max_len_offset)``,
however much wider than any training bucket (``evaluate.width: fixed``; the width search would try
only trained widths). Step-by-step decoders (GRU+Attention, Transformer) stop at EOS or after that
many symbols.

``evaluation.json``: ``tests`` (per test split ``{split, task, length, sequences, correct, accuracy,
accuracy_interval, interval_level, symbols, symbol_errors, symbol_error_rate, seconds}``),
``train_length``, ``dev`` (teacher-forced perplexity per symbol), ``parameters``, ``train_steps``,
``train_max_steps``, ``train_seconds``, ``truncated``, ``decode`` (the settings used) and
``provenance``. ``metrics.json``: ``accuracy`` and ``symbol_error_rate`` by task and length, dev
perplexity, parameters and steps. ``hypotheses.txt``: every test split's hypotheses, split after
split in the manifest's order (``hypotheses.greedy.txt`` and ``hypotheses.test_long.txt``, which the
translation scales fill, stay empty: the pipelines declare them for every scale).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from activemem import lineage
from activemem.atomic import write_json
from activemem.data.algorithmic import SymbolVocab
from activemem.data.lines import write_lines
from activemem.data.store import EncodedSplit, encoded_files, verify_files
from activemem.evaluate.sequence_accuracy import score
from activemem.evaluate.translate import translate
from activemem.provenance import provenance
from activemem.train.nll import perplexity, split_nll


def references(split: EncodedSplit, vocab: SymbolVocab) -> list[str]:
    return [vocab.decode(split.target(i).tolist()) for i in range(len(split))]


def checked_manifest(data: Path) -> dict:
    """The prepare stage's manifest, after checking every split this stage reads against it."""
    manifest = json.loads((data / "manifest.json").read_text())
    if manifest.get("source") != "algorithmic":
        raise ValueError(f"{data / 'manifest.json'}: not the algorithmic tasks' data: rerun the prepare stage")
    names = [*encoded_files("dev"), *(name for t in manifest["tests"] for name in encoded_files(t["split"]))]
    verify_files(data, manifest["files"], names)
    return manifest


def evaluate_algorithmic(run, model_name: str, params: dict, data: Path, out: Path, progress: bool,
                         made_from: dict) -> dict:
    """Every number of one trained model on the algorithmic tasks (see the module docstring);
    ``run`` is the trained model (``stages.evaluate.Trained``), ``made_from`` the record of the checkpoint
    and data it came from (``activemem/lineage.py``). Writes the outputs, returns the evaluation."""
    ev = params["evaluate"]
    manifest = checked_manifest(data)
    vocab = SymbolVocab()
    level = 1 - params["report"]["significance_level"]
    decode = {"batch_size": ev["batch_size"], "beam_size": ev["beam_size"], "length_penalty": ev["length_penalty"],
              "max_len_ratio": ev["max_len_ratio"], "max_len_offset": ev["max_len_offset"], "width": "fixed"}
    tests, lines = [], []
    for test in manifest["tests"]:
        split = EncodedSplit(data, test["split"])
        start = time.perf_counter()
        hypotheses, _ = translate(run.model, split, vocab, run.device, desc=f"{model_name} {test['split']}",
                                  progress=progress, **decode)
        tests.append({"split": test["split"], "task": test["task"], "length": test["length"],
                      **score(hypotheses, references(split, vocab), level),
                      "seconds": time.perf_counter() - start})
        lines += hypotheses
    nll, tokens = split_nll(run.model, EncodedSplit(data, "dev"), run.device, ev["batch_size"])
    state = run.checkpoint["state"]
    evaluation = {
        "model": model_name, "scale": params["scale"], "tests": tests, "train_length": manifest["train_length"],
        "dev": {"perplexity": perplexity(nll, tokens), "unit": "per symbol (EOS included), teacher-forced"},
        "parameters": run.model.num_parameters(), "train_steps": state["step"],
        "train_max_steps": run.settings["max_steps"], "train_seconds": state["seconds"],
        "truncated": state.get("stop_reason") == "max_minutes", "decode": decode,
        "provenance": provenance(params, run.device.type, run.threads, run.settings["seed"]),
        lineage.KEY: made_from,
    }
    write_lines(out / "hypotheses.txt", lines)
    write_lines(out / "hypotheses.greedy.txt", [])
    write_lines(out / "hypotheses.test_long.txt", [])
    # the hypotheses as written: the paper stage and the workflow refuse them replaced afterwards
    evaluation[lineage.OUTPUTS] = lineage.outputs(out, "hypotheses.txt", "hypotheses.greedy.txt",
                                                  "hypotheses.test_long.txt")
    write_json(out / "evaluation.json", evaluation)
    write_json(out / "metrics.json", headline(evaluation))
    return evaluation


def headline(evaluation: dict) -> dict:
    """``metrics.json``: what ``dvc metrics show`` tabulates, by task and length."""
    by_task: dict[str, dict] = {}
    for t in evaluation["tests"]:
        by_task.setdefault(t["task"], {})[str(t["length"])] = t["accuracy"]
    errors: dict[str, dict] = {}
    for t in evaluation["tests"]:
        errors.setdefault(t["task"], {})[str(t["length"])] = t["symbol_error_rate"]
    return {"accuracy": by_task, "symbol_error_rate": errors, "dev_ppl": evaluation["dev"]["perplexity"],
            "parameters": evaluation["parameters"], "steps": evaluation["train_steps"]}
