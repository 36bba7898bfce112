"""The algorithmic tasks where active memory was born: copy, reverse, sort, binary addition and
multiplication (the Neural GPU's tasks, Kaiser & Sutskever 2016; ``docs/original-code.md`` §5),
generated from a seed: no download, the same pairs on every machine.

Every pair is written over a small fixed symbol vocabulary (``SYMBOLS``; no sub-word model): the
source is the task's marker followed by the input, the target is the answer.

    copy     copy 1 0 1 1          ->  1 0 1 1
    reverse  reverse 1 0 1 1       ->  1 1 0 1
    sort     sort 1 0 1 1          ->  0 1 1 1
    add      add 1 1 0 + 1 0 0     ->  0 0 1 0        3 + 1 = 4
    mul      mul 1 1 0 * 1 0 0     ->  1 1 0 0 0 0    3 · 1 = 3

Numbers are binary and *little-endian* (least significant bit first) [U]: the carry then travels in
the reading direction, so a left-to-right decoder can produce the answer without looking ahead;
both operands have the same number of bits (leading zeros allowed) and the answer has a fixed
width (``n + 1`` bits for a sum, ``2n`` for a product of ``n``-bit operands), so its length says
nothing about its value.

A pair's *length* ``L`` is its input's length in symbols, the marker left out: ``L`` bits for copy,
reverse and sort; two ``n``-bit operands and the operator, ``n = (L − 1) // 2``, for add and mul (an
even ``L`` gives an input one symbol shorter). Training and dev draw ``L`` uniformly from each task's
shortest input to ``lengths.train``; each test split has one task and one length (``test_<task>_<L>``).
"""

from __future__ import annotations

import random
from typing import Iterator

from activemem.tokens import BOS, EOS, PAD, RESERVED

BITS = ("0", "1")
OPERATORS = {"add": "+", "mul": "*"}
TASKS = ("copy", "reverse", "sort", "add", "mul")
# The fixed vocabulary: id = RESERVED + position (ids below RESERVED are PAD, BOS, EOS, UNK: tokens.py).
SYMBOLS = (*BITS, *OPERATORS.values(), *TASKS)
VOCAB_SIZE = RESERVED + len(SYMBOLS)
UNKNOWN = "?"  # what decoding writes for an id that is no symbol (UNK): never right


def shortest(task: str) -> int:
    """The shortest input of ``task``: one bit, or two one-bit operands and the operator."""
    return 3 if task in OPERATORS else 1


def split_name(task: str, length: int) -> str:
    return f"test_{task}_{length}"


def operand_bits(length: int) -> int:
    return (length - 1) // 2


def _bits(value: int, width: int) -> list[str]:
    """``value`` in ``width`` binary digits, least significant first."""
    return [str((value >> i) & 1) for i in range(width)]


def _value(bits: list[str]) -> int:
    return sum(1 << i for i, b in enumerate(bits) if b == "1")


def solve(task: str, inputs: list[str]) -> list[str]:
    """The answer to one input (the marker left out): the one definition of every task."""
    if task == "copy":
        return list(inputs)
    if task == "reverse":
        return inputs[::-1]
    if task == "sort":
        return sorted(inputs)
    n = operand_bits(len(inputs))
    a, b = _value(inputs[:n]), _value(inputs[n + 1:])
    return _bits(a + b, n + 1) if task == "add" else _bits(a * b, 2 * n)


def make_input(rng: random.Random, task: str, length: int) -> list[str]:
    """A random input of ``task`` of nominal ``length`` (see the module docstring)."""
    if task in OPERATORS:
        n = operand_bits(length)
        return [rng.choice(BITS) for _ in range(n)] + [OPERATORS[task]] + [rng.choice(BITS) for _ in range(n)]
    return [rng.choice(BITS) for _ in range(length)]


def pair(rng: random.Random, task: str, length: int) -> tuple[str, str]:
    """One ``(source, target)`` line pair, symbols separated by spaces."""
    inputs = make_input(rng, task, length)
    return " ".join([task, *inputs]), " ".join(solve(task, inputs))


def generate(seed: int, split: str, count: int, tasks: list[str], lengths: tuple[int, int],
             banned: frozenset[str] | set[str] = frozenset()) -> Iterator[tuple[str, str, str, int]]:
    """``count`` pairs ``(task, length, source, target)`` of ``split``: tasks in turn, each length drawn
    uniformly from the task's shortest input to ``lengths[1]`` (at least ``lengths[0]``), no source in
    ``banned`` (the held-out test inputs: redrawn). One random stream per split, seeded by ``seed`` and
    the split's name: a split never changes when another one's size does."""
    rng = random.Random(f"algorithmic:{seed}:{split}")
    for i in range(count):
        task = tasks[i % len(tasks)]
        length = rng.randint(max(lengths[0], shortest(task)), lengths[1])
        yield (task, length, *excluding(rng, task, length, banned))


def input_key(source: str) -> str:
    """What makes two pairs the same input: the source line (marker and input symbols)."""
    return source


def distinct_inputs(task: str, length: int) -> int:
    """How many different inputs ``task`` has at nominal ``length`` (2^bits: operands or bits)."""
    return 2 ** (2 * operand_bits(length) if task in OPERATORS else length)


def held_out_count(task: str, length: int, count: int, share: float = 1.0) -> int:
    """How many test inputs ``held_out`` gives: ``count``, but at most ``share`` of the length's distinct
    inputs (the rest stay for training: at 4-bit operands add has only 256 inputs)."""
    return min(count, int(share * distinct_inputs(task, length)))


def held_out(seed: int, task: str, length: int, count: int, share: float = 1.0) -> list[tuple[str, str]]:
    """``held_out_count`` *distinct* test pairs of ``task`` at ``length``, from their own random stream:
    the test inputs that training and dev must never see (``generate``'s ``banned``, ``excluding``)."""
    rng = random.Random(f"algorithmic:{seed}:held_out:{task}:{length}")
    count = held_out_count(task, length, count, share)
    pairs: dict[str, str] = {}
    while len(pairs) < count:
        source, target = pair(rng, task, length)
        pairs.setdefault(source, target)
    return list(pairs.items())


def excluding(rng: random.Random, task: str, length: int, banned: set[str], tries: int = 1000) -> tuple[str, str]:
    """One pair of ``task`` at ``length`` whose input is not in ``banned`` (redrawn until it is not)."""
    for _ in range(tries):
        source, target = pair(rng, task, length)
        if source not in banned:
            return source, target
    raise ValueError(f"{task} at length {length}: every input drawn in {tries} tries is held out for "
                     f"testing ({distinct_inputs(task, length)} distinct inputs in all)")


class SymbolVocab:
    """The fixed vocabulary with the interface of ``SubwordVocab``: encode lines of symbols to ids,
    decode ids (stopping at EOS, skipping PAD and BOS) back to a line of symbols."""

    def __init__(self) -> None:
        self.ids = {s: RESERVED + i for i, s in enumerate(SYMBOLS)}

    def __len__(self) -> int:
        return VOCAB_SIZE

    def encode(self, texts: list[str], threads: int = 1) -> list[list[int]]:
        try:
            return [[self.ids[s] for s in text.split()] for text in texts]
        except KeyError as err:
            raise ValueError(f"symbol {err.args[0]!r} is not in the algorithmic vocabulary "
                             f"({' '.join(SYMBOLS)})") from None

    def decode(self, ids: list[int]) -> str:
        if EOS in ids:
            ids = ids[: ids.index(EOS)]
        return " ".join(SYMBOLS[i - RESERVED] if RESERVED <= i < VOCAB_SIZE else UNKNOWN
                        for i in ids if i not in (PAD, BOS))
