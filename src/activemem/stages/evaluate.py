"""Stage ``evaluate``: perplexity, decoding, BLEU, chrF and BLEU by sentence length for one model.

    python -m activemem.stages.evaluate --params params.yaml --scale demo --model extended_neural_gpu \\
        --data data/demo/prepared --checkpoint results/demo/extended_neural_gpu/train/checkpoint.pt \\
        --out results/demo/extended_neural_gpu

Outputs in ``<out>``: ``metrics.json`` (stable keys, read by the paper stage and by DVC),
``hypotheses.txt`` (beam search, one per test sentence; ``hypotheses.greedy.txt`` for greedy, empty
when ``evaluate.greedy`` is off) and
``bleu_by_length.json`` (the Figure 6 series of this model).

``metrics.json`` keys: ``bleu`` and ``chrf`` (beam search, test, against ``test.fr`` alone: the
paper's Table 1 number), ``bleu_greedy`` (None when ``evaluate.greedy`` is off), ``perplexity``/``log_perplexity`` (test, per sub-word
token, teacher-forced), ``perplexity_per_word``, ``dev`` (the same for dev), ``sacrebleu_signature``,
``bleu_by_length`` (list of ``{bucket, lo, hi, n, bleu}``), ``parameters``, ``train_steps``,
``train_seconds``, ``decode_sentences_per_s``, ``train_max_steps``, ``truncated`` (training cut by
``max_minutes``) and ``provenance`` (commit, dirty tree, versions, device, threads, seed, params hash).

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

``extrapolation``: the split ``test_long`` (more clauses than training), decoded with the same model
and settings: ``{split, bleu, bleu_multi_ref, multi_ref_signature, references, agreement,
bleu_by_length, sentences, perplexity, length_ratio}``; None when the scale has no such split. Its
beam hypotheses go to ``hypotheses.test_long.txt`` (empty then).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch

from activemem.atomic import write_json
from activemem.config import ParamsError, get
from activemem.data.lines import DataError, read_lines
from activemem.data.store import EncodedSplit, encoded_files, verify_files
from activemem.data.vocab import SubwordVocab
from activemem.data.batching import pair_widths
from activemem.evaluate.bleu import bleu_by_length, corpus_scores, length_ratio_within, subset_bleu
from activemem.evaluate.references import EXTRAPOLATION_SPLIT, load_split, multi_reference_scores, split_files
from activemem.evaluate.translate import has_memory_width, translate
from activemem.provenance import provenance
from activemem.stages._common import missing_input, params_or_exit, parser, require_folder, run_stage, write_lines
from activemem.train.checkpoint import CheckpointError, load_model
from activemem.train.device import pick_device, use_threads
from activemem.train.nll import perplexities, split_nll


def split_perplexity(model, encoded: EncodedSplit, targets: list[str], device, batch_size: int) -> dict:
    """Teacher-forced perplexity of ``encoded``; ``targets`` (its French lines) give the word count."""
    nll, tokens = split_nll(model, encoded, device, batch_size)
    return perplexities(nll, tokens, sum(len(line.split()) for line in targets))


def wider_than_trained(encoded, hypotheses: list[str], references: list[str], widest: int) -> dict:
    """How many pairs of ``encoded`` need a memory wider than ``widest`` (the widest training bucket),
    and BLEU on them and on the others."""
    wide = pair_widths(encoded) > widest
    return {"width": int(widest), "sentences": int(wide.sum()),
            "bleu": subset_bleu(hypotheses, references, np.flatnonzero(wide)),
            "bleu_rest": subset_bleu(hypotheses, references, np.flatnonzero(~wide))}


def evaluate(model_name: str, params: dict, data: Path, checkpoint: Path, out: Path, progress=True) -> dict:
    ev = {k: get(params, f"evaluate.{k}", t, m) for k, t, m in [
        ("batch_size", int, 1), ("beam_size", int, 1), ("length_penalty", float, 0),
        ("max_len_ratio", float, 0), ("max_len_offset", int, 0), ("width", str, None),
        ("length_buckets", list, None), ("greedy", bool, None), ("max_sentences", (int, type(None)), None)]}
    device = pick_device(get(params, "train.device", str))
    threads = use_threads(params["train"]["threads"], f"{params['scale']}.train.threads")  # as in training
    manifest = json.loads((data / "manifest.json").read_text())
    long_split = EXTRAPOLATION_SPLIT if EXTRAPOLATION_SPLIT in manifest["pairs"] else None
    verify_files(data, manifest["files"], (*encoded_files("dev"), *split_files(manifest, "test"),
                                           *(split_files(manifest, long_split) if long_split else ())))
    model, ckpt = load_model(checkpoint, device)
    if ckpt["model_name"] != model_name:
        raise ParamsError(f"{checkpoint} holds a {ckpt['model_name']} model, not {model_name}")
    vocab = SubwordVocab(data / "spm.model")
    # every stream of the split, aligned or refused before any decoding (split at "\n" only)
    test_split = load_split(data, manifest, "test", ev["max_sentences"])
    test, sources, references = test_split.encoded, test_split.sources, test_split.references

    decode = {k: ev[k] for k in ("batch_size", "length_penalty", "max_len_ratio", "max_len_offset", "width")}
    decode["trained_widths"] = get(params, "train.buckets", list)  # the width search tries the training buckets
    beam, beam_stats = translate(model, test, vocab, device, beam_size=ev["beam_size"],
                                 desc=f"{model_name} beam", progress=progress, **decode)
    # The fixed-width ablation (same beam) beside the searched width; None where width means nothing.
    bleu_fixed_width = None
    if has_memory_width(model):
        fixed_beam = beam if ev["width"] == "fixed" else translate(
            model, test, vocab, device, beam_size=ev["beam_size"], desc=f"{model_name} beam, fixed width",
            progress=progress, **{**decode, "width": "fixed"})[0]
        bleu_fixed_width = corpus_scores(fixed_beam, references)["bleu"]
    greedy = []  # a diagnostic beside the beam; with the width search it is a whole second decode
    if ev["greedy"]:
        greedy, _ = translate(model, test, vocab, device, beam_size=1, desc=f"{model_name} greedy",
                              progress=progress, **decode)
    scores = corpus_scores(beam, references)
    by_length = bleu_by_length(sources, beam, references, ev["length_buckets"])
    test_ppl = split_perplexity(model, test, references, device, ev["batch_size"])
    dev_ppl = split_perplexity(model, EncodedSplit(data, "dev"), read_lines(data / "dev.fr"), device,
                               ev["batch_size"])
    if "longest_train_source" not in manifest:
        raise DataError(f"{data / 'manifest.json'} has no longest_train_source: rerun the prepare stage")
    longest_train = manifest["longest_train_source"]["words"]
    within_ratio, within_n = length_ratio_within(sources, beam, references, longest_train)
    wide = wider_than_trained(test, beam, references, max(decode["trained_widths"]))
    if wide["sentences"]:
        print(f"warning: {model_name}: {wide['sentences']} of {len(references)} test sentences are wider than "
              f"the widest training bucket ({wide['width']} sub-words): decoded at widths never trained at "
              f"(metrics.json wider_than_trained)", file=sys.stderr)
    extrapolation, long_beam = None, []
    if long_split:  # the same model and decoding settings on sentences longer than any trained on
        long = load_split(data, manifest, long_split, ev["max_sentences"])
        long_beam, _ = translate(model, long.encoded, vocab, device, beam_size=ev["beam_size"],
                                 desc=f"{model_name} {long_split}", progress=progress, **decode)
        long_scores = corpus_scores(long_beam, long.references)
        extrapolation = {
            "split": long_split, "bleu": long_scores["bleu"], **multi_reference_scores(long_beam, long),
            "bleu_by_length": bleu_by_length(long.sources, long_beam, long.references, ev["length_buckets"]),
            "sentences": len(long_beam), "sentences_total": long.total, "length_ratio": long_scores["length_ratio"],
            "perplexity": split_perplexity(model, long.encoded, long.references, device, ev["batch_size"])["perplexity"]}
    summary = ckpt["state"]
    metrics = {
        "model": model_name, "scale": params["scale"],
        "bleu": scores["bleu"], "chrf": scores["chrf"],
        "bleu_greedy": corpus_scores(greedy, references)["bleu"] if ev["greedy"] else None,
        "bleu_fixed_width": bleu_fixed_width,
        "width": ev["width"],
        "perplexity": test_ppl["perplexity"], "log_perplexity": test_ppl["log_perplexity"],
        "perplexity_per_word": test_ppl["perplexity_per_word"],
        "perplexity_unit": "per sub-word token (EOS included), teacher-forced, test split",
        "test": test_ppl, "dev": dev_ppl,
        "sacrebleu_signature": scores["sacrebleu_signature"], "chrf_signature": scores["chrf_signature"],
        **multi_reference_scores(beam, test_split),
        "length_ratio": scores["length_ratio"], "length_ratio_within_training": within_ratio,
        "within_training_sentences": within_n, "train_source_max_words": longest_train,
        "wider_than_trained": wide,
        "extrapolation": extrapolation,
        "bleu_by_length": by_length, "beam_size": ev["beam_size"], "length_penalty": ev["length_penalty"],
        "parameters": model.num_parameters(), "train_steps": summary["step"],
        "train_seconds": summary["seconds"], "decode_sentences_per_s": beam_stats["sentences_per_s"],
        "test_sentences": len(references), "test_sentences_total": test_split.total,
        "max_sentences": ev["max_sentences"],
        "train_max_steps": ckpt["train_config"]["max_steps"],
        # a run cut by the wall clock is not the preset's run: every table marks it
        "truncated": summary.get("stop_reason") == "max_minutes",
        "provenance": {**provenance(params, device.type, threads, ckpt["train_config"]["seed"]),
                       # which archives the data came from and what vouched for each (WMT; the demo has none)
                       "data_archives": {name: a.get("vouched_by") or a.get("verified_by")
                                         for name, a in (manifest.get("archives") or {}).items()}},
    }
    write_lines(out / "hypotheses.txt", beam)
    write_lines(out / "hypotheses.greedy.txt", greedy)
    write_lines(out / f"hypotheses.{EXTRAPOLATION_SPLIT}.txt", long_beam)
    write_json(out / "bleu_by_length.json", [{"model": model_name, **row} for row in by_length])
    write_json(out / "metrics.json", metrics)
    return metrics


def main(argv: list[str] | None = None) -> None:
    p = parser(__doc__)
    p.add_argument("--model", required=True)
    p.add_argument("--data", required=True, help="the prepare stage's output directory")
    p.add_argument("--checkpoint", required=True, help="the train stage's checkpoint.pt")
    p.add_argument("--out", required=True, help="directory for metrics.json and hypotheses")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    params = params_or_exit(args)
    require_folder(args.data, "prepare", "--data")
    try:
        with torch.no_grad():
            m = evaluate(args.model, params, Path(args.data), Path(args.checkpoint), Path(args.out),
                         progress=not args.no_progress)
    except FileNotFoundError as err:
        sys.exit(f"error: {missing_input(err, {args.data: 'prepare'})}")
    except (ParamsError, DataError, CheckpointError, ValueError) as err:
        sys.exit(f"error: {err}")
    print(json.dumps({k: m[k] for k in ("model", "bleu", "chrf", "perplexity", "bleu_greedy")}))


if __name__ == "__main__":
    run_stage(main, "evaluate")
