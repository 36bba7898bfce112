"""BLEU, chrF and BLEU by source-sentence length (the data of the paper's Figure 6), with sacrebleu.

BLEU is sacrebleu's corpus BLEU on detokenised text (default ``13a`` tokenisation), so numbers are
comparable with other WMT'14 En→Fr results computed the same way; the signature string recorded next
to every score says exactly how it was computed.

Several references: the demo's test split has one reference stream per valid French translation
(``test.fr`` and ``test.fr.ref2`` … , see ``data/sources/demo/download.py``); :func:`corpus_scores` takes them
all and the signature then says ``nrefs:N``. A stream may repeat the first reference where a
sentence has fewer valid ones: sacreBLEU clips n-gram counts by their maximum over the references
and takes the closest reference length, so a repeated reference changes nothing.

Length ratio: sacreBLEU's hypothesis length over (closest) reference length in tokens, the ratio its
brevity penalty reads; > 1 means the system writes too much.

BLEU by length: sentences are put in buckets by *source* length in words, ``(edge_i, edge_{i+1}]``,
and each bucket gets its own corpus BLEU; the buckets partition the test set.

Every function here first checks that hypotheses, references (and sources) have the same number of
lines: sacrebleu itself scores misaligned lists without complaint, and one missing or split line
shifts every later pair. Lists read with ``activemem.data.lines.read_lines`` remember their file,
so the error names the files and their counts.
"""

from __future__ import annotations


import sacrebleu
from sacrebleu.metrics import BLEU, CHRF

from activemem.data.lines import DataError


def check_aligned(references: list[str], **others: list[str]) -> None:
    """Refuse to score unless every list in ``others`` has one line per reference."""
    def name(lines, role: str) -> str:
        source = getattr(lines, "source", None)
        role = role.replace("_", " ")
        return f"{role} {source}" if source else role

    for role, lines in others.items():
        if len(lines) != len(references):
            raise DataError(f"{name(lines, role)} has {len(lines)} lines but {name(references, 'references')} "
                            f"has {len(references)}: refusing to score misaligned text")


def corpus_scores(hypotheses: list[str], references: list[str], *more_references: list[str]) -> dict:
    """Corpus BLEU and chrF against ``references`` and any ``more_references`` streams (one line per
    hypothesis each), the signatures, and the length ratio (see the module docstring)."""
    check_aligned(references, hypotheses=hypotheses,
                  **{f"reference_stream_{i}": r for i, r in enumerate(more_references, start=2)})
    streams = [references, *more_references]
    bleu, chrf = BLEU(), CHRF()
    b = bleu.corpus_score(hypotheses, streams)
    c = chrf.corpus_score(hypotheses, streams)
    return {"bleu": b.score, "chrf": c.score, "sacrebleu_signature": str(bleu.get_signature()),
            "chrf_signature": str(chrf.get_signature()), "sacrebleu_version": sacrebleu.__version__,
            "length_ratio": b.sys_len / b.ref_len if b.ref_len else None,
            "hypothesis_tokens": b.sys_len, "reference_tokens": b.ref_len}


def length_ratio_within(sources: list[str], hypotheses: list[str], references: list[str],
                        max_source_words: int) -> tuple[float | None, int]:
    """The length ratio on the sentences whose source has at most ``max_source_words`` words (e.g.
    no longer than the longest training source), and how many sentences that is; None if none."""
    check_aligned(references, hypotheses=hypotheses, sources=sources)
    members = [i for i, s in enumerate(sources) if len(s.split()) <= max_source_words]
    if not members:
        return None, 0
    b = BLEU().corpus_score([hypotheses[i] for i in members], [[references[i] for i in members]])
    return (b.sys_len / b.ref_len if b.ref_len else None), len(members)


def subset_bleu(hypotheses: list[str], references: list[str], members) -> float | None:
    """Corpus BLEU (first reference) of the sentences ``members``; None when there are none."""
    check_aligned(references, hypotheses=hypotheses)
    members = list(members)
    if not members:
        return None
    return BLEU().corpus_score([hypotheses[i] for i in members], [[references[i] for i in members]]).score


def bucket_label(lo: int, hi: int) -> str:
    return f"{lo + 1}-{hi}"


def bleu_by_length(sources: list[str], hypotheses: list[str], references: list[str],
                   edges: list[int]) -> list[dict]:
    """``[{bucket, lo, hi, n, bleu, mean_words}]`` for source lengths in ``(edges[i], edges[i+1]]`` words."""
    if sorted(edges) != list(edges) or len(edges) < 2:
        raise ValueError(f"length bucket edges must be increasing with at least two values, got {edges}")
    check_aligned(references, hypotheses=hypotheses, sources=sources)
    lengths = [len(s.split()) for s in sources]
    if max(lengths, default=0) > edges[-1] or min(lengths, default=1) <= edges[0]:
        raise ValueError(f"length buckets {edges} do not cover source lengths "
                         f"{min(lengths)}..{max(lengths)}")
    rows = []
    for lo, hi in zip(edges, edges[1:]):
        members = [i for i, n in enumerate(lengths) if lo < n <= hi]
        score = (BLEU().corpus_score([hypotheses[i] for i in members], [[references[i] for i in members]]).score
                 if members else None)
        # the mean length of the bucket's sentences: where a figure draws the bucket (its bounds are
        # exclusive below, and the last one is open-ended: 21-1000 words holds sentences of 21-23)
        mean_words = round(sum(lengths[i] for i in members) / len(members), 2) if members else None
        rows.append({"bucket": bucket_label(lo, hi), "lo": lo, "hi": hi, "n": len(members), "bleu": score,
                     "mean_words": mean_words})
    return rows
