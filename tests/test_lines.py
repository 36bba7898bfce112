"""Line-exact text: one reader and one writer for every text file, hypotheses that are always one
line, and scoring that refuses misaligned files (``activemem.data.lines``, ``evaluate.bleu``).

The references are real newstest2014 French (the excerpt in tests/data/newstest2014).
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
import torch

from activemem.data.lines import DataError, Lines, numbered_lines, one_line, read_lines, write_lines
from activemem.data.readers import read_parallel
from activemem.data.store import EncodedSplit, save_split
from activemem.data.vocab import SubwordVocab, train_vocab
from activemem.evaluate.bleu import bleu_by_length, corpus_scores
from activemem.paper.bootstrap import Sentences
from activemem.evaluate.translate import translate
from activemem.tokens import EOS

REPO = Path(__file__).resolve().parents[1]
NEWSTEST = REPO / "tests" / "data" / "newstest2014"

# Every character other than "\n" and "\r" at which str.splitlines() breaks a line.
BREAKS = {"U+2028": "\u2028", "U+2029": "\u2029", "x0b": "\x0b", "x0c": "\x0c", "x1c": "\x1c",
          "x1d": "\x1d", "x1e": "\x1e", "x85": "\x85"}
N = 40       # references used per test
INSIDE = 7   # the reference that gets the character


def real_text(n: int = N) -> tuple[list[str], list[str]]:
    return (list(read_lines(NEWSTEST / "newstest2014.en"))[:n],
            list(read_lines(NEWSTEST / "newstest2014.fr"))[:n])


@pytest.mark.parametrize("char", BREAKS.values(), ids=BREAKS.keys())
def test_a_break_character_inside_a_reference_shifts_nothing(tmp_path, char):
    sources, refs = real_text()
    refs[INSIDE] = refs[INSIDE].replace(" ", char, 1)
    assert char in refs[INSIDE]
    # the input really is a trap: str.splitlines() would see one line more
    assert len(("\n".join(refs) + "\n").splitlines()) == N + 1

    # the prepare stage's reader on the raw pair: N aligned pairs, the character kept in its line
    (tmp_path / "raw.en").write_text("\n".join(sources) + "\n", encoding="utf-8")
    (tmp_path / "raw.fr").write_bytes(("\n".join(refs) + "\n").encode("utf-8"))
    pairs = list(read_parallel(tmp_path / "raw.en", tmp_path / "raw.fr"))
    assert [p[3] for p in pairs] == refs

    # references and two perfect hypothesis files, written and read back by the package
    write_lines(tmp_path / "test.fr", refs)
    write_lines(tmp_path / "exact.txt", refs)                          # the reference text itself
    write_lines(tmp_path / "decoded.txt", [one_line(r) for r in refs])  # as the decoder writes it
    references = read_lines(tmp_path / "test.fr")
    assert references == refs
    for name in ("exact.txt", "decoded.txt"):
        hypotheses = read_lines(tmp_path / name)
        assert len(hypotheses) == N
        assert corpus_scores(hypotheses, references)["bleu"] == pytest.approx(100)
        rows = bleu_by_length(sources, hypotheses, references, [0, 15, 30, 100])
        assert sum(r["n"] for r in rows) == N
        assert all(r["bleu"] == pytest.approx(100) for r in rows if r["n"])
    # the claims' paired bootstrap scores the same per-sentence statistics
    both = {n: read_lines(tmp_path / n) for n in ("exact.txt", "decoded.txt")}
    sentences = Sentences.from_text(sources, references, both, resamples=20, seed=1)
    assert all(sentences.bleu(n, sentences.members()) == pytest.approx(100) for n in both)
    assert set(sentences.difference_samples("exact.txt", "decoded.txt", sentences.members())) == {0.0}


def test_one_line_removes_every_break_and_control_but_keeps_text():
    assert one_line("Bonjour\n le monde\x0c !") == "Bonjour le monde !"
    assert one_line("  a\r\nb\tc\x00d\x7fe\x96f  ") == "a b c d e f"
    assert one_line("".join(BREAKS.values()).join(["x", "y"])) == "x y"
    # ordinary text stays as it is: no-break space, soft hyphen, zero-width joiner, accents
    kept = "voiture\u00a0? arc\u00adhitecture \u200d élève"
    assert one_line(kept) == kept
    real = [r for r in read_lines(NEWSTEST / "newstest2014.fr") if "\x96" not in r]  # no C1 controls
    assert len(real) == 270 and [one_line(r) for r in real] == real
    for text in ("a\nb", "a\x0cb", "a\u2028b", "\x85", ""):
        assert len((one_line(text) + "\n").splitlines()) == 1


class BytePieceModel:
    """Stands in for a model whose beam search emits byte-fallback pieces for "\\n" and "\\f"."""

    def __init__(self, ids: list[int]):
        self.ids = ids

    def eval(self):
        return self

    def hypotheses(self, src, max_len, beam_size, length_penalty, **kwargs):
        tokens = torch.tensor([self.ids + [EOS]] * src.size(0))
        return type("Hyp", (), {"tokens": tokens, "scores": torch.zeros(src.size(0))})()


def test_decoded_hypotheses_never_hold_a_line_break(tmp_path):
    english, french = real_text(300)
    vocab = SubwordVocab(train_vocab(english + french, tmp_path / "spm.model", 800, "unigram", 1, 10**6))
    newline, form_feed = vocab.sp.piece_to_id("<0x0A>"), vocab.sp.piece_to_id("<0x0C>")
    ids = vocab.encode(["Bonjour"])[0] + [newline] + vocab.encode(["le monde"])[0] + [form_feed] \
        + vocab.encode(["!"])[0]
    assert "\n" in vocab.decode(ids) and "\x0c" in vocab.decode(ids)  # what sentencepiece gives back
    save_split(tmp_path, "test", [[5, 6, 7]] * 3, [[5]] * 3)
    hypotheses, _ = translate(BytePieceModel(ids), EncodedSplit(tmp_path, "test"), vocab, "cpu",
                              batch_size=2, beam_size=1, length_penalty=0.0, max_len_ratio=2.0,
                              max_len_offset=5, progress=False)
    assert hypotheses == ["Bonjour le monde !"] * 3
    write_lines(tmp_path / "hypotheses.txt", hypotheses)
    assert read_lines(tmp_path / "hypotheses.txt") == hypotheses


def test_scoring_refuses_different_counts_and_names_both_files(tmp_path):
    sources, refs = real_text()
    write_lines(tmp_path / "test.fr", refs)
    write_lines(tmp_path / "hypotheses.txt", refs[:-1])
    references, hypotheses = read_lines(tmp_path / "test.fr"), read_lines(tmp_path / "hypotheses.txt")
    expected = rf"hypotheses {tmp_path}/hypotheses.txt has {N - 1} lines but references {tmp_path}/test.fr has {N}"
    with pytest.raises(DataError, match=expected):
        corpus_scores(hypotheses, references)
    with pytest.raises(DataError, match=expected):
        bleu_by_length(sources, hypotheses, references, [0, 15, 30, 100])
    with pytest.raises(DataError, match=rf"sources has {N - 2} lines but references {tmp_path}/test.fr has {N}"):
        bleu_by_length(sources[:-2], references, references, [0, 15, 30, 100])
    # plain lists (not read from a file) are refused too
    with pytest.raises(DataError, match=f"hypotheses has {N + 1} lines but references has {N}"):
        corpus_scores(refs + ["extra"], refs)


def test_the_paper_stage_refuses_a_hypotheses_file_of_another_length(tmp_path):
    from activemem.paper.report import build

    sources, refs = real_text()
    refs[INSIDE] = refs[INSIDE].replace(" ", "\u2028", 1)  # one line for us, two for str.splitlines()
    write_lines(tmp_path / "data" / "test.en", sources)
    write_lines(tmp_path / "data" / "test.fr", refs)
    run = tmp_path / "results" / "neural_gpu" / "seed1"
    write_lines(run / "hypotheses.txt", [one_line(r) for r in refs[:-1]])
    (run / "evaluation.json").write_text('{"bleu": 1.0, "perplexity": 2.0, "log_perplexity": 0.69}')
    with pytest.raises(DataError, match=rf"hypotheses {run}/hypotheses.txt has {N - 1} lines but "
                                        rf"references {tmp_path}/data/test.fr has {N}"):
        build("smoke", ["neural_gpu"], tmp_path / "results", tmp_path / "data", REPO / "paper",
              tmp_path / "out", {}, {})


def test_read_after_write_returns_the_same_lines(tmp_path):
    lines = ["", "  spaces kept  ", "tab\tinside", "cr\rinside", "\x0c\u2028\x85", "é « guillemets »", ""]
    write_lines(tmp_path / "x.txt", lines)
    assert (tmp_path / "x.txt").read_bytes() == ("\n".join(lines) + "\n").encode("utf-8")
    got = read_lines(tmp_path / "x.txt")
    assert got == lines and isinstance(got, Lines) and got.source == str(tmp_path / "x.txt")


@pytest.mark.parametrize("bad", ["two\nlines", "ends in cr\r"])
def test_the_writer_refuses_a_line_that_would_not_read_back(tmp_path, bad):
    with pytest.raises(DataError, match=r"x\.txt:2: refusing to write a line"):
        write_lines(tmp_path / "x.txt", ["fine", bad, "never reached"])
    assert list(tmp_path.iterdir()) == []  # neither the file nor a partial temporary file


def test_reader_splits_at_newline_only_and_handles_crlf_gzip_and_bad_bytes(tmp_path):
    (tmp_path / "crlf.txt").write_bytes(b"one\r\ntwo\x0cstill two\r\nlast without newline")
    assert read_lines(tmp_path / "crlf.txt") == ["one", "two\x0cstill two", "last without newline"]
    (tmp_path / "empty.txt").write_bytes(b"")
    assert read_lines(tmp_path / "empty.txt") == []
    with gzip.open(tmp_path / "x.fr.gz", "wb") as f:
        f.write("un\u2028deux\ntrois\n".encode("utf-8"))
    assert [t for _, t in numbered_lines(tmp_path / "x.fr.gz")] == ["un\u2028deux", "trois"]
    (tmp_path / "bad.fr").write_bytes(b"ok\n\xff\xfe\n")
    assert list(numbered_lines(tmp_path / "bad.fr")) == [(1, "ok"), (2, None)]  # cleaning counts it
    with pytest.raises(DataError, match=r"bad\.fr:2: not valid UTF-8"):
        read_lines(tmp_path / "bad.fr")

