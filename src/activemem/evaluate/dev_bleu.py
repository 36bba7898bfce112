"""Dev BLEU during training: the BLEU half of the learning curves (``train.dev_bleu``).

Training calls the scorer this module builds at every ``dev_bleu.every``-th dev evaluation. It decodes the
first ``dev_bleu.sentences`` dev sentences greedily at the fixed width (``max(|src|, max_len)``), the
cheapest decode every model has: a curve shows where BLEU stops moving, Table 1's BLEU is still the beam
search on test. Training cannot import this (decoding lives above it in the package's layers), so the
train stage hands the scorer in.
"""

from __future__ import annotations

import json
from pathlib import Path

from activemem.data.vocab import SubwordVocab
from activemem.evaluate.bleu import corpus_scores
from activemem.evaluate.references import load_split
from activemem.evaluate.translate import translate


def greedy_dev_bleu(data: Path, decoding: dict):
    """A scorer ``(model, device, sentences) -> BLEU`` of greedy decodes of the first dev sentences;
    ``decoding`` is the scale's ``evaluate`` section (batch size, length limits, length penalty)."""
    manifest = json.loads((data / "manifest.json").read_text())
    vocab = SubwordVocab(data / "spm.model")
    splits = {}

    def score(model, device, sentences: int) -> float:
        if sentences not in splits:
            splits[sentences] = load_split(data, manifest, "dev", sentences)
        dev = splits[sentences]
        hypotheses, _ = translate(model, dev.encoded, vocab, device, batch_size=decoding["batch_size"], beam_size=1,
                                  length_penalty=decoding["length_penalty"], max_len_ratio=decoding["max_len_ratio"],
                                  max_len_offset=decoding["max_len_offset"], width="fixed", progress=False)
        return corpus_scores(hypotheses, dev.references)["bleu"]

    return score
