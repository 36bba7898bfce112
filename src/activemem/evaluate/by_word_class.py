"""Where the gap is: teacher-forced perplexity and top-1 error of the test references, by word class.

The paper's argument is that a decoder writing its outputs at once cannot make them depend on each other.
On the demo grammar that shows *where* a model loses: on the nouns (lexical choice: which synonym), on
the determiners and adjectives whose gender and number follow the noun (agreement), on the verbs, or at
the end of the sentence (length). Each reference sub-word piece takes the class of the word it is part of
(``data/demo_word_classes.py``; EOS is its own class), and per class we report

    perplexity = exp(Σ NLL of its pieces / its pieces)        (teacher-forced, as Table 1's perplexity)
    error rate = share of its pieces that are not the model's most likely next piece

Teacher forcing gives every model the reference's own earlier words, so an adjective is judged after the
noun the reference chose: its error is the agreement the model failed to carry. A noun's error includes
choosing the other, equally valid synonym (the first reference holds one of them); the Neural GPU, which
does not see its earlier outputs, pays this for every later word that agrees with the noun.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from activemem.data.batching import collate, length_sorted_batches, pair_widths
from activemem.data.demo_word_classes import CLASSES, END, OTHER, split_word, word_class
from activemem.data.store import EncodedSplit
from activemem.data.vocab import SubwordVocab
from activemem.tokens import PAD

WORD_START = "\u2581"  # sentencepiece's mark of a piece that starts a word


def piece_classes(pieces: list[str]) -> list[str]:
    """The class of each piece: that of the word part (``l'`` or ``homme`` in ``l'homme``) its first
    character belongs to."""
    words: list[list[str]] = []
    for piece in pieces:
        if piece.startswith(WORD_START) or not words:
            words.append([])
        words[-1].append(piece)
    classes: list[str] = []
    for word in words:
        texts = [p[1:] if i == 0 and p.startswith(WORD_START) else p for i, p in enumerate(word)]
        texts = ["?" if t.startswith("<0x") else t for t in texts]  # a byte piece: one character
        parts = split_word("".join(texts))
        ends, total = [], 0
        for part in parts:
            total += len(part)
            ends.append(total)
        start = 0
        for text in texts:
            index = next((k for k, end in enumerate(ends) if start < end), len(parts) - 1)
            classes.append(word_class(parts[index]) if parts else OTHER)
            start += len(text)
    return classes


class WordClassTally:
    """The sums behind ``by_word_class``, batch by batch: ``add`` takes a batch's teacher-forced logits."""

    def __init__(self, split: EncodedSplit, vocab: SubwordVocab):
        self.classes = [piece_classes(vocab.pieces(split.target(i).tolist())) + [END] for i in range(len(split))]
        self.nll_sum: dict[str, float] = {}
        self.pieces: dict[str, int] = {}
        self.errors: dict[str, int] = {}

    def add(self, indices, batch, logits: torch.Tensor) -> None:
        logits = logits.float()
        nll = F.cross_entropy(logits.transpose(1, 2), batch.tgt_out, ignore_index=PAD, reduction="none").cpu()
        wrong = (logits.argmax(-1) != batch.tgt_out).cpu()
        for row, i in enumerate(indices):
            for position, kind in enumerate(self.classes[i]):
                self.nll_sum[kind] = self.nll_sum.get(kind, 0.0) + float(nll[row, position])
                self.pieces[kind] = self.pieces.get(kind, 0) + 1
                self.errors[kind] = self.errors.get(kind, 0) + int(wrong[row, position])

    def result(self) -> dict:
        """``{class: {pieces, perplexity, error_rate}}``, classes without pieces left out."""
        order = [c for c in (*CLASSES, OTHER) if c in self.pieces]
        return {kind: {"pieces": self.pieces[kind], "perplexity": math.exp(self.nll_sum[kind] / self.pieces[kind]),
                       "error_rate": self.errors[kind] / self.pieces[kind]} for kind in order}


@torch.no_grad()
def by_word_class(model, split: EncodedSplit, vocab: SubwordVocab, device, batch_size: int) -> dict:
    """``{class: {pieces, perplexity, error_rate}}`` over ``split``'s references (classes without pieces
    are left out), teacher-forced, in eval mode."""
    model.eval()
    tally = WordClassTally(split, vocab)
    for indices in length_sorted_batches(pair_widths(split), batch_size):
        batch = collate(split, indices).to(device)
        tally.add(indices, batch, model(batch.src, batch.tgt_in))
    return tally.result()
