"""Stage ``evaluate``: perplexity, decoding, BLEU, chrF and BLEU by sentence length for one model.

    python -m activemem.stages.evaluate --params params.yaml --scale demo --model extended_neural_gpu \\
        --data data/demo/prepared --checkpoint results/demo/extended_neural_gpu/train/checkpoint.pt \\
        --out results/demo/extended_neural_gpu

Outputs in ``<out>``: ``evaluation.json`` (every number and how it was made, stable keys, read by
the paper stage), ``metrics.json`` (the headline numbers only, flat: what ``dvc metrics show``/``diff``
and ``dvc exp show`` tabulate; see ``headline``), ``hypotheses.txt`` (beam search, one per test
sentence; ``hypotheses.greedy.txt`` for greedy, empty when ``evaluate.greedy`` is off).

The model is decoded on the device, threads and width buckets it was trained with (the
checkpoint's ``train_config``), so a model with its own ``models.<m>.train`` overrides is evaluated with
them. Every input is checked against the prepare stage's manifest first, ``spm.model`` included,
and the checkpoint against the train stage's ``summary.json`` beside it; ``made_from`` in
``evaluation.json`` records both (``activemem/lineage.py``).

``evaluation.json`` keys: ``bleu`` and ``chrf`` (beam search, test, against ``test.fr`` alone: the
paper's Table 1 number), ``bleu_greedy`` (None when ``evaluate.greedy`` is off), ``perplexity``/``log_perplexity`` (test, per sub-word
token, teacher-forced), ``perplexity_per_word``, ``dev`` (the same for dev), ``sacrebleu_signature``,
``bleu_by_length`` (list of ``{bucket, lo, hi, n, bleu}``), ``parameters``, ``train_steps``,
``train_seconds``, ``decode_sentences_per_s``, ``train_max_steps``, ``truncated`` (training cut by
``max_minutes``), ``provenance`` (commit, dirty tree, versions, device, threads, seed, params hash) and
``outputs`` (size and SHA-256 of each hypotheses file written beside it, ``activemem/lineage.py``).

Memory width (Neural GPU family): ``width`` (``search``: the authors' decode at every bucket width
from |src| to 2·|src|+8, over the training buckets, best length-normalised score; or ``fixed``)
and ``bleu_fixed_width`` (the same beam at one fixed width, the ablation; None for GRU+Attention).

Several references and agreement (``evaluate/references.py``; None where the scale has one reference
and no noun-phrase records, i.e. WMT): ``bleu_multi_ref`` and ``multi_ref_signature`` (every valid
reference, ``nrefs:N``), ``references`` (stream count) and ``agreement`` (``{noun_phrases, checked,
errors, error_rate, not_found, modifiers_checked, checked_by_kind, errors_by_kind}``, see
``evaluate/agreement.py``).

Widths never trained at: ``wider_than_trained`` ``{width, sentences, bleu, bleu_rest}``: the test
sentences whose pair width ``max(|src|, |ref|+1)`` in sub-words (``data/batching.pair_width``) exceeds
the widest training bucket ``width`` (``train.buckets``), and BLEU on them and on the rest (None
where a side is empty). Training never saw such a width (``prepare.max_width`` drops wider training
pairs), and a Neural GPU decodes them at widths it was never trained at.

Subsample (``evaluate.max_sentences``, null = all): only the first N sentences of test and
``test_long`` are decoded and scored (every stream cut alike, ``evaluate/references.py``); dev
perplexity stays whole. ``max_sentences`` records the setting, ``test_sentences`` the sentences
scored and ``test_sentences_total`` those in the split (``extrapolation.sentences_total`` likewise).

Length: ``length_ratio`` (sacreBLEU hypothesis/reference length, test, first reference) and
``length_ratio_within_training`` on the ``within_training_sentences`` test sentences whose source
is at most ``train_source_max_words`` words, the longest training source (prepare manifest).

``word_classes`` (the demo; None on WMT): teacher-forced perplexity and top-1 error of the test
references per word class, ``{class: {pieces, perplexity, error_rate}}`` (``evaluate/by_word_class.py``).

Convergence: ``train_stop_reason`` (``patience``, ``max_steps`` or ``max_minutes``), ``train_flops``
(every training step's FLOPs, ``train/flops.py``) and ``selected`` (``train.select``: the point whose weights
were scored, ``best`` dev perplexity or ``last``, with its ``step``, ``dev_perplexity``, ``flops`` and
``train_seconds``).

``extrapolation``: the split ``test_long`` (more clauses than training), decoded with the same model
and settings: ``{split, bleu, bleu_multi_ref, multi_ref_signature, references, agreement,
bleu_by_length, sentences, perplexity, length_ratio}``; None when the scale has no such split. Its
beam hypotheses go to ``hypotheses.test_long.txt`` (empty then).

Empty translations: ``empty_hypotheses`` ``{beam, fixed_width, greedy}`` counts the empty test hypotheses of
each decoding (None where it did not run), ``extrapolation.empty_hypotheses`` those of ``test_long``; a
warning says so when the beam search gave any (they are scored as empty output).

Resuming: each decoded batch and each perplexity is saved as it is computed in ``<out>/.evaluate.partial/``
(``evaluate/resume.py``); the same evaluation started again after a kill reuses them, so only what was
unfinished is computed again, and ends with the numbers of an uninterrupted run. The folder is removed
once the outputs are written. Every phase (decoding, test and dev perplexity) shows its progress.

A source whose registry entry names an ``evaluate`` of its own (``activemem/data/sources``) is scored
by it instead: the algorithmic tasks by sequence accuracy and per-symbol errors per (task, length)
split, ``evaluate/algorithmic.py`` describes those outputs. ``word_classes`` (the demo grammar, which
knows every word's class) adds the scores by word class.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from activemem import engines, lineage
from activemem.atomic import write_json
from activemem.config import ParamsError, train_config
from activemem.data import sources
from activemem.data.lines import DataError, read_lines
from activemem.data.store import EncodedSplit, encoded_files, file_digest, verify_files
from activemem.data.vocab import SubwordVocab
from activemem.data.batching import pair_widths
from activemem.evaluate.by_word_class import by_word_class
from activemem.evaluate.bleu import bleu_by_length, corpus_scores, length_ratio_within, subset_bleu
from activemem.evaluate.references import EXTRAPOLATION_SPLIT, load_split, multi_reference_scores, split_files
from activemem.evaluate.resume import Resume
from activemem.evaluate.translate import empty_count, has_memory_width, translate
from activemem.provenance import provenance
from activemem.stages._common import (claim_gpus, missing_input, params_or_exit, parser, require_folder, run_stage,
                                      write_lines)
from activemem.train.checkpoint import CheckpointError, build_model
from activemem.train.checkpoint import load as load_checkpoint
from activemem.train.device import check_cpu_kernels, implied_device, pick_device, use_threads
from activemem.train.loop import selected
from activemem.train.nll import perplexities, split_nll

PARTIAL = ".evaluate.partial"  # in --out: what an unfinished evaluation computed (evaluate/resume.py)


def split_perplexity(model, encoded: EncodedSplit, targets: list[str], device, batch_size: int,
                     desc: str = "perplexity", progress: bool = False, resume: Resume | None = None) -> dict:
    """Teacher-forced perplexity of ``encoded``; ``targets`` (its French lines) give the word count.
    With ``resume``, a result saved by an earlier run of the same evaluation is reused (phase ``desc``)."""
    def compute() -> dict:
        nll, tokens = split_nll(model, encoded, device, batch_size, progress=progress, desc=desc)
        return perplexities(nll, tokens, sum(len(line.split()) for line in targets))
    return resume.result(desc, compute) if resume is not None else compute()


def wider_than_trained(encoded, hypotheses: list[str], references: list[str], widest: int) -> dict:
    """How many pairs of ``encoded`` need a memory wider than ``widest`` (the widest training bucket),
    and BLEU on them and on the others."""
    wide = pair_widths(encoded) > widest
    return {"width": int(widest), "sentences": int(wide.sum()),
            "bleu": subset_bleu(hypotheses, references, np.flatnonzero(wide)),
            "bleu_rest": subset_bleu(hypotheses, references, np.flatnonzero(~wide))}


# ---- the steps of one evaluation ----------------------------------------------------------------
@dataclass
class Trained:
    """The model under evaluation, on the device and threads it was trained with."""

    model: torch.nn.Module
    checkpoint: dict
    device: torch.device
    threads: int

    @property
    def settings(self) -> dict:
        """The training settings the model was trained with (``loop.identity_settings``: its own overrides included)."""
        return self.checkpoint["train_config"]


def load_trained(model_name: str, checkpoint: Path, scale: str) -> Trained:
    """The trained model, decoded where and how it was trained: its device setting, thread count and
    width buckets come from the checkpoint, so a model with its own ``models.<m>.train`` overrides is
    evaluated with them, not with the scale's."""
    ckpt = load_checkpoint(checkpoint)
    if ckpt.get("model_name") != model_name:
        raise ParamsError(f"{checkpoint} holds a {ckpt.get('model_name')} model, not {model_name}")
    if not isinstance(ckpt.get("train_config"), dict):
        raise CheckpointError(f"{checkpoint}: checkpoint lacks train_config: rerun the train stage")
    device = pick_device(ckpt["train_config"]["device"])
    threads = use_threads(ckpt["train_config"]["threads"], f"{scale}.train.threads")  # part of the result on CPU
    check_cpu_kernels(ckpt["train_config"].get("cpu_kernels", "native"), device)
    return Trained(build_model(ckpt, checkpoint, device), ckpt, device, threads)


def checked_inputs(data: Path) -> dict:
    """The prepare stage's manifest, after checking every file this stage reads against it (the
    sub-word model included: another spm.model would decode other text)."""
    manifest = json.loads((data / "manifest.json").read_text())
    long_split = EXTRAPOLATION_SPLIT if EXTRAPOLATION_SPLIT in manifest["pairs"] else None
    verify_files(data, manifest["files"], ("spm.model", *encoded_files("dev"), *split_files(manifest, "test"),
                                           *(split_files(manifest, long_split) if long_split else ())))
    if "longest_train_source" not in manifest:
        raise DataError(f"{data / 'manifest.json'} has no longest_train_source: rerun the prepare stage")
    return manifest


def written_by_training(checkpoint: Path) -> dict:
    """The checkpoint's digest, after checking that it is the file its training wrote (the train stage's
    ``summary.json`` beside it records it): a checkpoint copied over another would be scored silently."""
    digest = file_digest(checkpoint)
    summary = checkpoint.parent / "summary.json"
    written = json.loads(summary.read_text()).get("checkpoint") if summary.exists() else None
    if written is not None and written != digest:
        raise CheckpointError(f"{checkpoint}: not the checkpoint its training wrote (sha256 {digest['sha256'][:12]}…; "
                              f"{summary} says {written.get('sha256', '?')[:12]}…): "
                              f"{engines.rerun('train', engines.dvc_item())}")
    return digest


def decode_test(run: Trained, split, vocab, ev: dict, name: str, progress: bool, resume: Resume | None = None) -> dict:
    """The test split decoded: beam (Table 1), the fixed-width ablation (Neural GPU family) and greedy
    (when ``evaluate.greedy``); each batch saved in ``resume`` as it is decoded."""
    decode = {k: ev[k] for k in ("batch_size", "length_penalty", "max_len_ratio", "max_len_offset", "width")}
    decode["trained_widths"] = run.settings["buckets"]  # the width search tries the widths it trained at
    decode["resume"] = resume
    beam, stats = translate(run.model, split.encoded, vocab, run.device, beam_size=ev["beam_size"],
                            desc=f"{name} beam", progress=progress, **decode)
    fixed = None  # where width means nothing (GRU+Attention) there is no ablation
    if has_memory_width(run.model):
        fixed = beam if ev["width"] == "fixed" else translate(
            run.model, split.encoded, vocab, run.device, beam_size=ev["beam_size"],
            desc=f"{name} beam, fixed width", progress=progress, **{**decode, "width": "fixed"})[0]
    greedy = None  # a diagnostic beside the beam; with the width search it is a whole second decode
    if ev["greedy"]:
        greedy, _ = translate(run.model, split.encoded, vocab, run.device, beam_size=1, desc=f"{name} greedy",
                              progress=progress, **decode)
    return {"beam": beam, "fixed": fixed, "greedy": greedy, "decode": decode, "stats": stats}


def extrapolation_scores(run: Trained, data: Path, manifest: dict, vocab, ev: dict, decode: dict, name: str,
                         progress: bool) -> tuple[dict | None, list[str]]:
    """``test_long`` (longer than any training sentence) decoded with the same model and settings:
    its scores and hypotheses; (None, []) where the scale has no such split."""
    if EXTRAPOLATION_SPLIT not in manifest["pairs"]:
        return None, []
    long = load_split(data, manifest, EXTRAPOLATION_SPLIT, ev["max_sentences"])
    beam, _ = translate(run.model, long.encoded, vocab, run.device, beam_size=ev["beam_size"],
                        desc=f"{name} {EXTRAPOLATION_SPLIT}", progress=progress, **decode)
    scores = corpus_scores(beam, long.references)
    return {"split": EXTRAPOLATION_SPLIT, "bleu": scores["bleu"], **multi_reference_scores(beam, long),
            "bleu_by_length": bleu_by_length(long.sources, beam, long.references, ev["length_buckets"]),
            "sentences": len(beam), "sentences_total": long.total, "length_ratio": scores["length_ratio"],
            "empty_hypotheses": empty_count(beam),
            "perplexity": split_perplexity(run.model, long.encoded, long.references, run.device, ev["batch_size"],
                                           f"{name} {EXTRAPOLATION_SPLIT} perplexity", progress,
                                           decode["resume"])["perplexity"]}, beam


def headline(evaluation: dict) -> dict:
    """``metrics.json``: the numbers a reader compares across runs and experiments, flat (what
    ``dvc metrics show`` and ``dvc exp show`` tabulate); everything else is in ``evaluation.json``."""
    agreement = evaluation.get("agreement") or {}
    return {"bleu": evaluation["bleu"], "bleu_multi_ref": evaluation.get("bleu_multi_ref"),
            "chrf": evaluation["chrf"], "test_ppl": evaluation["perplexity"],
            "dev_ppl": evaluation["dev"]["perplexity"], "length_ratio": evaluation["length_ratio"],
            "agreement_errors": agreement.get("error_rate"), "parameters": evaluation["parameters"],
            "steps": evaluation["train_steps"]}


def evaluate(model_name: str, params: dict, data: Path, checkpoint: Path, out: Path, progress=True) -> dict:
    """Every number of one trained model (see the module docstring); writes the outputs and returns
    ``evaluation.json``'s content."""
    ev = params["evaluate"]  # checked by schema.py when params.yaml was loaded
    # what this evaluation is made from: the paper stage and the workflow check it before trusting it
    made_from = {checkpoint.as_posix(): written_by_training(checkpoint), **lineage.made_from(data / "manifest.json")}
    own = sources.hook(params["data"]["source"], "evaluate")
    if own:  # a source scored its own way (the algorithmic tasks: sequence accuracy)
        return own(load_trained(model_name, checkpoint, params["scale"]), model_name, params, data, out, progress,
                   made_from)
    manifest = checked_inputs(data)
    run = load_trained(model_name, checkpoint, params["scale"])
    # what a killed evaluation already decoded, reused only by the very same evaluation (evaluate/resume.py)
    resume = Resume(out / PARTIAL, {"model": model_name, "made_from": made_from, "evaluate": ev,
                                    "train_config": run.settings, "device": run.device.type, "threads": run.threads,
                                    "torch": torch.__version__})
    vocab = SubwordVocab(data / "spm.model")
    # every stream of the split, aligned or refused before any decoding (split at "\n" only)
    test = load_split(data, manifest, "test", ev["max_sentences"])
    decoded = decode_test(run, test, vocab, ev, model_name, progress, resume)
    beam, references = decoded["beam"], test.references
    scores = corpus_scores(beam, references)
    test_ppl = split_perplexity(run.model, test.encoded, references, run.device, ev["batch_size"],
                                f"{model_name} test perplexity", progress, resume)
    dev_ppl = split_perplexity(run.model, EncodedSplit(data, "dev"), read_lines(data / "dev.fr"), run.device,
                               ev["batch_size"], f"{model_name} dev perplexity", progress, resume)
    empty = {kind: empty_count(hyps) if hyps is not None else None
             for kind, hyps in (("beam", beam), ("fixed_width", decoded["fixed"]), ("greedy", decoded["greedy"]))}
    if empty["beam"]:
        print(f"warning: {model_name}: {empty['beam']} of {len(beam)} test translations (beam search) are empty "
              f"and are scored as such (evaluation.json empty_hypotheses)", file=sys.stderr)
    longest_train = manifest["longest_train_source"]["words"]
    within_ratio, within_n = length_ratio_within(test.sources, beam, references, longest_train)
    wide = wider_than_trained(test.encoded, beam, references, max(run.settings["buckets"]))
    if wide["sentences"]:
        print(f"warning: {model_name}: {wide['sentences']} of {len(references)} test sentences are wider than "
              f"the widest training bucket ({wide['width']} sub-words): decoded at widths never trained at "
              f"(evaluation.json wider_than_trained)", file=sys.stderr)
    extrapolation, long_beam = extrapolation_scores(run, data, manifest, vocab, ev, decoded["decode"], model_name,
                                                    progress)
    if extrapolation and extrapolation["empty_hypotheses"]:
        print(f"warning: {model_name}: {extrapolation['empty_hypotheses']} of {len(long_beam)} {EXTRAPOLATION_SPLIT} "
              f"translations are empty (evaluation.json extrapolation.empty_hypotheses)", file=sys.stderr)
    # where the gap is (the demo grammar knows every word's class; WMT's text does not)
    classes = (by_word_class(run.model, test.encoded, vocab, run.device, ev["batch_size"])
               if sources.entry(params["data"]["source"]).word_classes else None)
    state = run.checkpoint["state"]
    evaluation = {
        "model": model_name, "scale": params["scale"],
        "bleu": scores["bleu"], "chrf": scores["chrf"],
        "bleu_greedy": corpus_scores(decoded["greedy"], references)["bleu"] if decoded["greedy"] is not None else None,
        "bleu_fixed_width": corpus_scores(decoded["fixed"], references)["bleu"] if decoded["fixed"] is not None else None,
        "width": ev["width"],
        "perplexity": test_ppl["perplexity"], "log_perplexity": test_ppl["log_perplexity"],
        "perplexity_per_word": test_ppl["perplexity_per_word"],
        "perplexity_unit": "per sub-word token (EOS included), teacher-forced, test split",
        "test": test_ppl, "dev": dev_ppl,
        "sacrebleu_signature": scores["sacrebleu_signature"], "chrf_signature": scores["chrf_signature"],
        **multi_reference_scores(beam, test),
        "length_ratio": scores["length_ratio"], "length_ratio_within_training": within_ratio,
        "within_training_sentences": within_n, "train_source_max_words": longest_train,
        "wider_than_trained": wide,
        "extrapolation": extrapolation,
        "word_classes": classes,
        "bleu_by_length": bleu_by_length(test.sources, beam, references, ev["length_buckets"]),
        "beam_size": ev["beam_size"], "length_penalty": ev["length_penalty"],
        "parameters": run.model.num_parameters(), "train_steps": state["step"],
        "train_seconds": state["seconds"], "decode_sentences_per_s": decoded["stats"]["sentences_per_s"],
        "test_sentences": len(references), "test_sentences_total": test.total,
        # hypotheses that are empty (a model that learned to stop at once), by decoding; None: not decoded
        "empty_hypotheses": empty,
        "max_sentences": ev["max_sentences"],
        "train_max_steps": run.settings["max_steps"],
        # why training stopped, and the point whose weights were scored (train.select) with its cost
        "train_stop_reason": state["stop_reason"], "train_flops": state["flops"],
        "selected": selected(state, run.settings["select"]),
        # a run cut by the wall clock is not the preset's run: every table marks it
        "truncated": state.get("stop_reason") == "max_minutes",
        "provenance": {**provenance(params, run.device.type, run.threads, run.settings["seed"]),
                       # which archives the data came from and what vouched for each (WMT; the demo has none)
                       "data_archives": {name: a.get("vouched_by") or a.get("verified_by")
                                         for name, a in (manifest.get("archives") or {}).items()}},
        lineage.KEY: made_from,
    }
    write_lines(out / "hypotheses.txt", beam)
    write_lines(out / "hypotheses.greedy.txt", decoded["greedy"] or [])
    write_lines(out / f"hypotheses.{EXTRAPOLATION_SPLIT}.txt", long_beam)
    # the hypotheses as written: the paper stage and the workflow refuse them replaced afterwards
    evaluation[lineage.OUTPUTS] = lineage.outputs(out, "hypotheses.txt", "hypotheses.greedy.txt",
                                                  f"hypotheses.{EXTRAPOLATION_SPLIT}.txt")
    write_json(out / "evaluation.json", evaluation)
    write_json(out / "metrics.json", headline(evaluation))
    if resume.reused:
        print(f"{model_name}: resumed: {resume.reused} batches and results taken from the killed run's "
              f"{out / PARTIAL}", file=sys.stderr)
    resume.finish()
    return evaluation


def main(argv: list[str] | None = None) -> None:
    p = parser(__doc__)
    p.add_argument("--model", required=True)
    p.add_argument("--data", required=True, help="the prepare stage's output directory")
    p.add_argument("--checkpoint", required=True, help="the train stage's checkpoint.pt")
    p.add_argument("--out", required=True, help="directory for evaluation.json, metrics.json and hypotheses")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    params = params_or_exit(args)
    require_folder(args.data, "prepare", "--data")
    # the one GPU the evaluate rule asks Snakemake for: its own, not a training job's
    gpus = min(params["train"]["gpus"], 1)
    if implied_device(train_config(params, args.model).device, gpus) != "cpu":
        claim_gpus(args, gpus, f"evaluating {args.model}")
    try:
        with torch.no_grad():
            m = evaluate(args.model, params, Path(args.data), Path(args.checkpoint), Path(args.out),
                         progress=not args.no_progress)
    except FileNotFoundError as err:
        sys.exit(f"error: {missing_input(err, {args.data: 'prepare'})}")
    except (ParamsError, DataError, CheckpointError, ValueError) as err:
        sys.exit(f"error: {err}")
    if "tests" in m:  # the algorithmic tasks
        print(json.dumps({"model": m["model"], **{t["split"]: round(t["accuracy"], 4) for t in m["tests"]}}))
    else:
        print(json.dumps({k: m[k] for k in ("model", "bleu", "chrf", "perplexity", "bleu_greedy")}))


if __name__ == "__main__":
    run_stage(main, "evaluate")
