"""Stage ``evaluate``: perplexity, decoding, BLEU, chrF and BLEU by sentence length for one model.

    python -m activemem.stages.evaluate --params params.yaml --scale demo --model extended_neural_gpu \\
        --data data/demo/prepared --checkpoint results/demo/extended_neural_gpu/train/checkpoint.pt \\
        --out results/demo/extended_neural_gpu

Outputs in ``<out>``: ``metrics.json`` (stable keys, read by the paper stage and by DVC),
``hypotheses.txt`` (beam search, one per test sentence; ``hypotheses.greedy.txt`` for greedy) and
``bleu_by_length.json`` (the Figure 6 series of this model).

``metrics.json`` keys: ``bleu`` and ``chrf`` (beam search, test), ``bleu_greedy``,
``perplexity``/``log_perplexity`` (test, per sub-word token, teacher-forced),
``perplexity_per_word``, ``dev`` (the same for dev), ``sacrebleu_signature``, ``bleu_by_length``
(list of ``{bucket, lo, hi, n, bleu}``), ``parameters``, ``train_steps``, ``train_seconds``,
``decode_sentences_per_s``, ``train_max_steps``, ``truncated`` (training cut by ``max_minutes``) and
``provenance`` (commit, dirty tree, versions, device, threads, seed, params hash).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

from activemem.atomic import write_json
from activemem.config import ParamsError, get
from activemem.data.lines import DataError, read_lines
from activemem.data.store import EncodedSplit, verify_files
from activemem.data.vocab import SubwordVocab
from activemem.evaluate.bleu import bleu_by_length, check_aligned, corpus_scores
from activemem.evaluate.perplexity import perplexities, split_nll
from activemem.evaluate.translate import translate
from activemem.provenance import provenance
from activemem.stages._common import params_or_exit, parser, run_stage, write_lines
from activemem.train.checkpoint import CheckpointError, load_model
from activemem.train.loop import pick_device


def split_perplexity(model, data: Path, split: str, device, batch_size: int) -> dict:
    nll, tokens = split_nll(model, EncodedSplit(data / f"{split}.npz"), device, batch_size)
    words = sum(len(line.split()) for line in read_lines(data / f"{split}.fr"))
    return perplexities(nll, tokens, words)


def evaluate(model_name: str, params: dict, data: Path, checkpoint: Path, out: Path, progress=True) -> dict:
    ev = {k: get(params, f"evaluate.{k}", t, m) for k, t, m in [
        ("batch_size", int, 1), ("beam_size", int, 1), ("length_penalty", float, 0),
        ("max_len_ratio", float, 0), ("max_len_offset", int, 0), ("width", str, None),
        ("length_buckets", list, None)]}
    if ev["width"] not in ("fixed", "search"):
        raise ParamsError(f"'{params['scale']}.evaluate.width' must be fixed or search, got {ev['width']!r}")
    device = pick_device(get(params, "train.device", str))
    threads = get(params, "train.threads", int, 1)
    torch.set_num_threads(threads)  # part of the result on CPU, like in training
    verify_files(data, json.loads((data / "manifest.json").read_text())["files"], ("test.npz", "dev.npz"))
    model, ckpt = load_model(checkpoint, device)
    if ckpt["model_name"] != model_name:
        raise ParamsError(f"{checkpoint} holds a {ckpt['model_name']} model, not {model_name}")
    vocab = SubwordVocab(data / "spm.model")
    test = EncodedSplit(data / "test.npz")
    sources, references = read_lines(data / "test.en"), read_lines(data / "test.fr")  # split at "\n" only
    check_aligned(references, sources=sources)  # refused before decoding, not after
    if len(test) != len(references):
        raise DataError(f"{data / 'test.npz'} holds {len(test)} pairs but {references.source} has "
                        f"{len(references)} lines: refusing to score misaligned text")

    decode = {k: ev[k] for k in ("batch_size", "length_penalty", "max_len_ratio", "max_len_offset", "width")}
    beam, beam_stats = translate(model, test, vocab, device, beam_size=ev["beam_size"],
                                 desc=f"{model_name} beam", progress=progress, **decode)
    greedy, _ = translate(model, test, vocab, device, beam_size=1, desc=f"{model_name} greedy",
                          progress=progress, **decode)
    scores = corpus_scores(beam, references)
    by_length = bleu_by_length(sources, beam, references, ev["length_buckets"])
    test_ppl = split_perplexity(model, data, "test", device, ev["batch_size"])
    summary = ckpt["state"]
    metrics = {
        "model": model_name, "scale": params["scale"],
        "bleu": scores["bleu"], "chrf": scores["chrf"],
        "bleu_greedy": corpus_scores(greedy, references)["bleu"],
        "perplexity": test_ppl["perplexity"], "log_perplexity": test_ppl["log_perplexity"],
        "perplexity_per_word": test_ppl["perplexity_per_word"],
        "perplexity_unit": "per sub-word token (EOS included), teacher-forced, test split",
        "test": test_ppl, "dev": split_perplexity(model, data, "dev", device, ev["batch_size"]),
        "sacrebleu_signature": scores["sacrebleu_signature"], "chrf_signature": scores["chrf_signature"],
        "bleu_by_length": by_length, "beam_size": ev["beam_size"], "length_penalty": ev["length_penalty"],
        "parameters": model.num_parameters(), "train_steps": summary["step"],
        "train_seconds": summary["seconds"], "decode_sentences_per_s": beam_stats["sentences_per_s"],
        "test_sentences": len(references),
        "train_max_steps": ckpt["train_config"]["max_steps"],
        # a run cut by the wall clock is not the preset's run: every table marks it
        "truncated": summary.get("stop_reason") == "max_minutes",
        "provenance": provenance(params, device.type, threads, ckpt["train_config"]["seed"]),
    }
    write_lines(out / "hypotheses.txt", beam)
    write_lines(out / "hypotheses.greedy.txt", greedy)
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
    try:
        with torch.no_grad():
            m = evaluate(args.model, params, Path(args.data), Path(args.checkpoint), Path(args.out),
                         progress=not args.no_progress)
    except (ParamsError, DataError, CheckpointError, FileNotFoundError, ValueError) as err:
        sys.exit(f"error: {err}")
    print(json.dumps({k: m[k] for k in ("model", "bleu", "chrf", "perplexity", "bleu_greedy")}))


if __name__ == "__main__":
    run_stage(main, "evaluate")
