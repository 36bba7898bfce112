"""Bootstrap intervals for BLEU differences, on the whole test set or on one length bucket.

The scheme is sacreBLEU's paired bootstrap (Koehn 2004): draw the test sentences with replacement,
recompute each system's corpus BLEU from the drawn sentences' sufficient statistics (n-gram matches
and totals, hypothesis and reference lengths), repeat. Both systems are scored on the *same* draws,
so the spread of their difference reflects the test sentences, not two unrelated samples. Where
sacreBLEU reports a p-value against "no difference", the claims need an interval for the
difference itself, to compare it with a threshold (a margin, a tolerance, zero): that is what this
module returns.

Two length buckets hold different sentences, so a difference *between buckets* (a gap on long
sentences minus the gap on short ones) combines independent draws of each bucket.

BLEU here is sacreBLEU's default (13a tokenisation, exponential smoothing), computed with its
public ``corpus_score`` and ``compute_bleu``: the full-sample value equals the table's BLEU.
"""

from __future__ import annotations

import numpy as np
from sacrebleu.metrics import BLEU

ORDER = 4  # BLEU's n-gram order; a row of statistics: sys_len, ref_len, correct[1..4], total[1..4]


def sentence_stats(hypotheses: list[str], *streams: list[str]) -> np.ndarray:
    """One row of BLEU sufficient statistics per sentence, shape ``(n, 2 + 2·ORDER)``, against one
    or several reference ``streams`` (sacreBLEU's multi-reference counting: n-gram matches clipped
    by the most in any reference, reference length the closest one)."""
    metric = BLEU()
    rows = []
    for hyp, *refs in zip(hypotheses, *streams, strict=True):
        s = metric.corpus_score([hyp], [[r] for r in refs])
        rows.append([s.sys_len, s.ref_len, *s.counts, *s.totals])
    return np.asarray(rows, dtype=np.int64).reshape(len(rows), 2 + 2 * ORDER)


def bleu_of(summed: np.ndarray) -> float:
    """Corpus BLEU from summed statistics, exactly as sacreBLEU's ``BLEU()`` computes it."""
    return float(BLEU.compute_bleu(correct=summed[2:2 + ORDER].tolist(), total=summed[2 + ORDER:].tolist(),
                                   sys_len=int(summed[0]), ref_len=int(summed[1]), smooth_method="exp").score)


def draws(n: int, resamples: int, seed: int, key: int = 0) -> np.ndarray:
    """How often each of ``n`` sentences is drawn in each of ``resamples`` draws with replacement,
    shape ``(resamples, n)``; ``key`` separates streams (one per length bucket), so independent
    buckets never share draws. Counts, not index lists: a draw's statistics are then one matrix
    product, without a (resamples × n × statistics) array."""
    idx = np.random.default_rng([seed, key]).integers(0, n, size=(resamples, n))
    flat = (idx + n * np.arange(resamples)[:, None]).ravel()
    return np.bincount(flat, minlength=resamples * n).reshape(resamples, n)


def resampled_bleu(stats: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """BLEU of each draw (a row of ``counts`` weights the rows of ``stats``)."""
    return np.array([bleu_of(row) for row in counts @ stats])


def interval(samples: np.ndarray, level: float) -> tuple[float, float]:
    """Central ``1 - level`` percentile interval (``level`` 0.05 gives 95%)."""
    lo, hi = np.quantile(samples, [level / 2, 1 - level / 2])
    return float(lo), float(hi)


class Sentences:
    """Per-sentence BLEU statistics of every model on one test set, with each sentence's source
    length in words (the bucket key of ``bleu_by_length``)."""

    def __init__(self, source_words: list[int], stats: dict[str, np.ndarray], resamples: int, seed: int):
        self.words = np.asarray(source_words)
        self.stats = stats
        self.resamples, self.seed = resamples, seed

    @classmethod
    def from_text(cls, sources: list[str], references: list[str] | list[list[str]],
                  hypotheses: dict[str, list[str]], resamples: int, seed: int) -> "Sentences":
        """``references``: one stream (a list of lines) or several (a list of such lists)."""
        streams = references if references and isinstance(references[0], list) else [references]
        stats = {name: sentence_stats(hyps, *streams) for name, hyps in hypotheses.items()}
        return cls([len(s.split()) for s in sources], stats, resamples, seed)

    def members(self, lo: int | None = None, hi: int | None = None) -> np.ndarray:
        """Positions of the sentences whose source has ``lo < words <= hi`` (all when no bounds)."""
        if lo is None:
            return np.arange(len(self.words))
        return np.flatnonzero((self.words > lo) & (self.words <= hi))

    def bleu(self, model: str, members: np.ndarray) -> float:
        return bleu_of(self.stats[model][members].sum(axis=0))

    def difference_samples(self, a: str, b: str, members: np.ndarray, key: int = 0) -> np.ndarray:
        """Paired bootstrap samples of BLEU(a) − BLEU(b) on ``members`` (the same draws for both)."""
        counts = draws(len(members), self.resamples, self.seed, key)
        return resampled_bleu(self.stats[a][members], counts) - resampled_bleu(self.stats[b][members], counts)

    def bleu_samples(self, model: str, members: np.ndarray, key: int = 0) -> np.ndarray:
        counts = draws(len(members), self.resamples, self.seed, key)
        return resampled_bleu(self.stats[model][members], counts)
