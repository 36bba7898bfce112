"""The joint English+French sub-word vocabulary (sentencepiece), with our reserved ids.

Trained on the training split only. ``identity`` normalisation plus byte fall-back make
``decode(encode(x)) == x`` for any text after our own normalisation, so BLEU is computed on exactly
the text the model was asked to produce.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Iterable, Iterator

import sentencepiece as spm

from activemem.atomic import renamed_on_success
from activemem.progress import progress_bar
from activemem.tokens import BOS, EOS, PAD, UNK


def train_vocab(sentences: Iterable[str], model_path: str | Path, vocab_size: int, model_type: str,
                seed: int, max_sentences: int, threads: int = 2) -> Path:
    """Train a sentencepiece model and write ``<model_path>`` (and ``.vocab``) atomically.

    Sentencepiece is silent while it reads and trains (minutes on WMT), so this says on stderr how
    many sentences it has read, what it then trains on, and when it is done."""
    model_path = Path(model_path)
    model_path.parent.mkdir(parents=True, exist_ok=True)
    # sentencepiece writes <prefix>.model and <prefix>.vocab itself and records the prefix inside the
    # model file, so the prefix is fixed (not atomic.py's random per-process name): spm.model is then
    # the same bytes on every run. The stages' workspace lock (locking.py) keeps two runs apart.
    tmp_prefix = model_path.with_name(model_path.stem + ".tmp")
    spm.set_random_generator_seed(seed)
    what = f"a {model_type} model of {vocab_size} pieces on {threads} threads"
    start = time.perf_counter()
    with renamed_on_success({f"{tmp_prefix}.vocab": model_path.with_suffix(".vocab"),
                             f"{tmp_prefix}.model": model_path}):
        try:
            _train(_announced(sentences, what, max_sentences), tmp_prefix, vocab_size, model_type,
                   max_sentences, threads)
        except RuntimeError as err:  # sentencepiece reports e.g. a vocabulary smaller than the alphabet
            raise ValueError(f"prepare.vocab_size={vocab_size}: sentencepiece refused to train: {err}") from None
    _say(f"sub-word model: {model_path} written in {time.perf_counter() - start:.1f} s")
    return model_path


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _announced(sentences: Iterable[str], what: str, max_sentences: int) -> Iterator[str]:
    """``sentences`` as sentencepiece reads them, counted on a progress bar; once they are all read
    (sentencepiece reads everything before it trains), a line saying what it trains on."""
    count = 0
    for count, sentence in enumerate(progress_bar(sentences, desc="sub-word model: reading sentences",
                                                  unit="sentences", mininterval=1.0), 1):
        yield sentence
    sample = f"a random sample of {max_sentences} of {count}" if count > max_sentences else f"all {count}"
    _say(f"sub-word model: training sentencepiece, {what}, on {sample} sentences")


def _train(sentences, tmp_prefix, vocab_size, model_type, max_sentences, threads) -> None:
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences), model_prefix=str(tmp_prefix), vocab_size=vocab_size,
        model_type=model_type, character_coverage=1.0, byte_fallback=True,
        normalization_rule_name="identity", remove_extra_whitespaces=False,
        pad_id=PAD, bos_id=BOS, eos_id=EOS, unk_id=UNK, input_sentence_size=max_sentences,
        shuffle_input_sentence=True, num_threads=threads, minloglevel=2, hard_vocab_limit=False)


class SubwordVocab:
    """Encode text to ids and decode ids (stopping at EOS, skipping PAD/BOS) back to text."""

    def __init__(self, model_path: str | Path):
        self.path = Path(model_path)
        self.sp = spm.SentencePieceProcessor(model_file=str(self.path))

    def __len__(self) -> int:
        return self.sp.get_piece_size()

    def encode(self, texts: list[str], threads: int = 1) -> list[list[int]]:
        """Sub-word ids of each text; ``threads`` encode in parallel inside sentencepiece (the ids do
        not depend on it)."""
        return self.sp.encode(texts, out_type=int, num_threads=threads)

    def pieces(self, ids: list[int]) -> list[str]:
        """The sub-word pieces of ``ids`` as sentencepiece writes them (``▁`` starts a word)."""
        return [self.sp.id_to_piece(i) for i in ids]

    def decode(self, ids: list[int]) -> str:
        """The text of ``ids`` exactly as sentencepiece decodes it. Byte fall-back pieces can decode
        to any character, line breaks included: text meant for a file of lines (a hypothesis) goes
        through ``activemem.data.lines.one_line`` first."""
        if EOS in ids:
            ids = ids[: ids.index(EOS)]
        return self.sp.decode([i for i in ids if i not in (PAD, BOS)])
