"""Greedy and beam search: exactness on a toy model, EOS handling, scores that match the model."""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F

from activemem import models
from activemem.models import decoding, width_search
from activemem.models.active_memory import ActiveMemoryModel
from activemem.models.extended_neural_gpu import ExtendedNeuralGPU
from activemem.tokens import BOS, EOS, PAD

from conftest import TINY, VOCAB, random_batch, shift_right


class ToyMarkov:
    """A fixed table of logits indexed by (step, previous token): small enough to enumerate."""

    def __init__(self, vocab=6, max_len=4, batch=5, seed=0):
        g = torch.Generator().manual_seed(seed)
        self.table = torch.randn(batch, max_len, vocab, vocab, generator=g) * 2.0   # [B, k, prev, V]

    def start(self, src, max_len, width=None):
        return {"row": torch.arange(src.size(0))}

    def step(self, state, prev, k):
        return self.table[state["row"], k, prev], state

    def logp(self, row, seq):
        total, prev = 0.0, BOS
        for k, tok in enumerate(seq):
            total += F.log_softmax(self.table[row, k, prev], -1)[tok].item()
            prev = tok
        return total


def exhaustive_best(toy, row, vocab, max_len, alpha):
    best, best_seq = float("-inf"), None
    real = [t for t in range(vocab) if t not in (PAD, BOS)]
    for n in range(1, max_len + 1):
        for seq in itertools.product(real, repeat=n):
            if EOS in seq[:-1] or (n < max_len and seq[-1] != EOS):
                continue  # sentences end at their first EOS, or run to max_len
            score = toy.logp(row, seq) / ((5 + n) / 6) ** alpha
            if score > best:
                best, best_seq = score, list(seq)
    return best, best_seq


def test_wide_beam_finds_the_exact_optimum():
    vocab, max_len, batch = 6, 4, 5
    toy = ToyMarkov(vocab, max_len, batch)
    src = torch.zeros(batch, 1, dtype=torch.long)
    for alpha in (0.0, 1.0):
        hyp = decoding.beam_search(toy, src, max_len, beam_size=vocab ** max_len, alpha=alpha)
        for row in range(batch):
            best, seq = exhaustive_best(toy, row, vocab, max_len, alpha)
            got = hyp.tokens[row][hyp.tokens[row] != PAD].tolist()
            assert got == seq
            assert hyp.normalized(alpha)[row].item() == pytest.approx(best, abs=1e-5)


def test_finished_hypotheses_are_never_extended():
    toy = ToyMarkov(vocab=6, max_len=6, batch=8, seed=3)
    toy.table[:, :, :, EOS] += 2.0  # make early EOS common
    hyp = decoding.beam_search(toy, torch.zeros(8, 1, dtype=torch.long), 6, beam_size=4)
    ended = 0
    for row in hyp.tokens.tolist():
        if EOS in row:
            ended += 1
            assert all(t == PAD for t in row[row.index(EOS) + 1:])
        else:
            assert PAD not in row
    assert ended > 0
    for row in range(8):
        seq = [t for t in hyp.tokens[row].tolist() if t != PAD]
        assert hyp.scores[row].item() == pytest.approx(toy.logp(row, seq), abs=1e-5)


def forced_logp(model, src, tokens, width=None):
    """log p(tokens | src) by teacher forcing, summed over non-PAD tokens."""
    kwargs = {} if width is None else {"width": width}
    logp = F.log_softmax(model(src, shift_right(tokens), **kwargs).float(), -1)
    picked = logp.gather(-1, tokens.unsqueeze(-1)).squeeze(-1)
    return (picked * (tokens != PAD)).sum(1)


def test_beam_of_one_is_greedy_and_scores_are_the_models(model_name):
    torch.manual_seed(1)
    model = models.build(model_name, VOCAB, **TINY[model_name]).eval()
    src, _ = random_batch(batch=6, src_len=5)
    max_len = 7
    greedy = decoding.greedy(model, src, max_len)
    beam1 = decoding.beam_search(model, src, max_len, beam_size=1)
    assert torch.equal(greedy.tokens, beam1.tokens)
    torch.testing.assert_close(greedy.scores, beam1.scores)
    beam4 = decoding.beam_search(model, src, max_len, beam_size=4)
    width = max(src.size(1), max_len) if isinstance(model, ActiveMemoryModel) else None
    for hyp in (greedy, beam4):
        # Pad to max_len so that the forced pass runs at the width the search used.
        tokens = F.pad(hyp.tokens, (0, max_len - hyp.tokens.size(1)), value=PAD)
        torch.testing.assert_close(hyp.scores, forced_logp(model, src, tokens, width), atol=1e-4, rtol=0)
    # Per sentence a wider beam may lose; on average over the batch it must not.
    assert beam4.scores.mean() >= greedy.scores.mean() - 1e-6


def test_generate_returns_tokens_and_restores_training_mode(model_name):
    model = models.build(model_name, VOCAB, **TINY[model_name]).train()
    src, _ = random_batch()
    out = model.generate(src, max_len=6, beam_size=3, length_penalty=0.6)
    assert out.shape[0] == 3 and out.shape[1] <= 6 and model.training
    assert ((out >= 0) & (out < VOCAB)).all() and not (out == BOS).any()


def test_width_search_is_at_least_as_good_as_the_fixed_width():
    torch.manual_seed(2)
    model = models.build("extended_neural_gpu", VOCAB, **TINY["extended_neural_gpu"]).eval()
    src, _ = random_batch(batch=4, src_len=4)
    fixed = model.hypotheses(src, max_len=8)                   # width = max(S, max_len) = 8
    searched = model.hypotheses(src, max_len=8, width="search")  # widths 4..min(8, 16)
    assert (searched.normalized(0.0) >= fixed.normalized(0.0) - 1e-5).all()
    narrow = model.hypotheses(src, max_len=8, width=5)
    assert narrow.tokens.size(1) <= 5


MEMORY_WIDTH = [n for n in models.NAMES if issubclass(models.model_class(n), ActiveMemoryModel)]


@pytest.mark.parametrize("name", MEMORY_WIDTH)
@pytest.mark.parametrize("beam", [1, 3])
def test_a_row_in_a_wide_tensor_equals_the_row_decoded_alone(name, beam):
    """Columns beyond a row's width held at zero (and its encoder stopped after its own steps) are
    exactly a memory of that width: the width search may decode many widths in one tensor."""
    torch.manual_seed(3)
    model = models.build(name, VOCAB, **TINY[name]).eval()
    src, _ = random_batch(batch=4, src_len=5)                 # the last source has 3 tokens
    widths = torch.tensor([5, 9, 7, 3])
    together = decoding.search(model, src, 9, beam, 0.6, width=widths, limits=widths)
    for row, w in enumerate(widths.tolist()):
        alone_src = src[row:row + 1, :int((src[row] != PAD).sum())]
        alone = model.hypotheses(alone_src, max_len=w, beam_size=beam, length_penalty=0.6, width=w)
        n = alone.tokens.size(1)
        assert together.tokens[row, :n].tolist() == alone.tokens[0].tolist()
        assert (together.tokens[row, n:] == PAD).all()
        assert together.scores[row].item() == pytest.approx(alone.scores[0].item(), abs=1e-5)


def test_width_search_keeps_each_sentences_best_width():
    torch.manual_seed(4)
    model = models.build("extended_neural_gpu", VOCAB, **TINY["extended_neural_gpu"]).eval()
    src, _ = random_batch(batch=3, src_len=4)
    alpha, trained = 0.6, [2, 3, 5, 6, 9]
    found = model.hypotheses(src, max_len=1, beam_size=2, length_penalty=alpha, width="search",
                             trained_widths=trained)
    for row in range(3):
        length = int((src[row] != PAD).sum())
        tried = width_search.candidate_widths(length, trained)
        assert tried == [w for w in trained if length <= w <= 2 * length + 8] and len(tried) >= 2
        alone = [model.hypotheses(src[row:row + 1, :length], w, 2, alpha, width=w) for w in tried]
        best = max(alone, key=lambda h: h.normalized(alpha).item())   # first (narrowest) of ties
        got = found.tokens[row][found.tokens[row] != PAD].tolist()
        assert got == best.tokens[0][best.tokens[0] != PAD].tolist()
        assert found.normalized(alpha)[row].item() == pytest.approx(best.normalized(alpha).item(), abs=1e-5)


def test_candidate_widths_follow_the_original_code_over_the_training_buckets():
    assert width_search.candidate_widths(3) == list(range(3, 15))        # |src| … 2·|src| + 8, every width
    buckets = [8, 12, 16, 20]
    assert width_search.candidate_widths(3, buckets) == [8, 12]          # the buckets in 3 … 14
    assert width_search.candidate_widths(10, buckets) == [12, 16, 20]    # at most the widest bucket
    assert width_search.candidate_widths(13, [8, 12, 40]) == [40]        # none in 13 … 34: smallest holding it
    assert width_search.candidate_widths(30, buckets) == [30]            # longer than any training width
    assert width_search.candidate_widths(0, buckets) == [8]
    assert width_search.candidate_widths(5, list(range(1, 100))) == list(range(5, 19))  # every-integer buckets


class NestedExtended(ExtendedNeuralGPU):
    """The Extended Neural GPU with its decoding state nested one level (as a per-layer cache is):
    the flat default reorder cannot take it, so beam search works only through the model's hook."""

    def start(self, src, max_len, width=None):
        return {"memory": super().start(src, max_len, width)}

    def step(self, state, prev, k):
        logits, inner = super().step(state["memory"], prev, k)
        return logits, {"memory": inner}

    def reorder_state(self, state, index):
        return {"memory": decoding.reorder(state["memory"], index)}


def test_the_search_reorders_a_nested_state_through_the_models_hook():
    torch.manual_seed(5)
    plain = models.build("extended_neural_gpu", VOCAB, **TINY["extended_neural_gpu"]).eval()
    nested = NestedExtended(VOCAB, plain.config).eval()
    nested.load_state_dict(plain.state_dict())
    src, _ = random_batch(batch=4, src_len=4)
    with pytest.raises(AttributeError):      # what the search did before it asked the model
        decoding.reorder(nested.start(src, 6), torch.tensor([0, 0, 1]))
    for kwargs in ({"max_len": 6, "beam_size": 3, "length_penalty": 0.6},
                   {"max_len": 6, "beam_size": 2, "length_penalty": 0.6, "width": "search",
                    "trained_widths": [4, 6, 8, 12]}):
        a, b = plain.hypotheses(src, **kwargs), nested.hypotheses(src, **kwargs)
        assert torch.equal(a.tokens, b.tokens), kwargs
        torch.testing.assert_close(a.scores, b.scores, rtol=0, atol=1e-6)
