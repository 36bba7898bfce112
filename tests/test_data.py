"""Readers on real newstest2014 text, cleaning, sub-words, storage and batching."""

from __future__ import annotations

import gzip
import hashlib
import re
from pathlib import Path

import numpy as np
import pytest

from activemem.data.batching import BucketBatcher, pair_widths
from activemem.data.clean import SplitReport, clean_pairs
from activemem.data.lines import read_lines
from activemem.data.readers import DataError, read_parallel, read_sgm
from activemem.data.store import EncodedSplit, save_split
from activemem.data.vocab import SubwordVocab, train_vocab
from activemem.tokens import BOS, EOS, PAD

from conftest import SHARED

# A 271-segment excerpt of newstest2014 shipped with the tests (provenance in its SOURCES.md), so
# these run on a bare clone; the full files beside development checkouts are only for the check
# that the excerpt is what its SOURCES.md says.
NEWSTEST = Path(__file__).resolve().parent / "data" / "newstest2014"
FULL = SHARED / "data" / "wmt14-enfr-sample"
SEGMENTS = 271


def test_sgm_reader_returns_the_newstest2014_pairs():
    pairs = list(read_parallel(NEWSTEST / "newstest2014-fren-src.en.sgm", NEWSTEST / "newstest2014-fren-ref.fr.sgm"))
    assert len(pairs) == SEGMENTS
    plain_en, plain_fr = read_lines(NEWSTEST / "newstest2014.en"), read_lines(NEWSTEST / "newstest2014.fr")
    assert [p[2] for p in pairs] == plain_en and [p[3] for p in pairs] == plain_fr
    assert pairs[0][2] == "Kenyan press outraged at controversial media law"
    assert pairs[0][0].endswith("newstest2014-fren-src.en.sgm:3")  # line 1 <srcset>, 2 <doc>, 3 the first <seg>
    # the two C1 controls (U+0096) of segment 152 stay inside their line, in both readers
    assert pairs[151][3].count("\x96") == 2 and plain_fr[151].startswith("A compter du 4 novembre")


def test_the_excerpt_is_what_its_sources_file_says():
    table = re.findall(r"^\| (\S+) \| (\d+) \| \S+ \| (\d+) \| ([0-9a-f]{64}) \|$",
                       (NEWSTEST / "SOURCES.md").read_text(encoding="utf-8"), re.MULTILINE)
    assert len(table) == 4
    for name, lines, size, sha in table:
        data = (NEWSTEST / name).read_bytes()
        assert (data.count(b"\n"), len(data), hashlib.sha256(data).hexdigest()) == (int(lines), int(size), sha)


@pytest.mark.skipif(not FULL.exists(), reason="../shared/data (the full newstest2014) is not beside the checkout")
def test_the_excerpt_is_an_unedited_cut_of_the_full_test_set():
    for name, first, last in [("newstest2014.en", 579, 849), ("newstest2014.fr", 579, 849)]:
        full = (FULL / name).read_bytes().split(b"\n")
        assert (NEWSTEST / name).read_bytes() == b"\n".join(full[first - 1:last]) + b"\n"
    for name in ("newstest2014-fren-src.en.sgm", "newstest2014-fren-ref.fr.sgm"):
        full = (FULL / name).read_bytes().split(b"\n")[:-1]
        assert (NEWSTEST / name).read_bytes() == b"\n".join([full[0], *full[639:948], full[-1]]) + b"\n"


def test_sgm_entities_are_unescaped(tmp_path):
    sgm = tmp_path / "x.sgm"
    sgm.write_text('<doc docid="d">\n<seg id="1">Tom &amp; Jerry &quot;go&quot; &lt;b&gt;</seg>\n</doc>\n')
    assert [t for _, t in read_sgm(sgm)] == ['Tom & Jerry "go" <b>']


def test_mismatched_line_counts_name_the_file_and_line(tmp_path):
    (tmp_path / "a.en").write_text("one\ntwo\nthree\n")
    (tmp_path / "a.fr").write_text("un\ndeux\n")
    with pytest.raises(DataError, match=r"a\.en:3: a\.fr ended after 2 segments"):
        list(read_parallel(tmp_path / "a.en", tmp_path / "a.fr"))


def test_cleaning_counts_every_dropped_pair(tmp_path):
    en = tmp_path / "a.en.gz"
    with gzip.open(en, "wb") as f:
        f.write(b"good  one\n\xff\xfe bad bytes\n\nfine\na b c d e f g h\nlong " + b"w " * 50 + b"\n")
    (tmp_path / "a.fr").write_text("bien\nmauvais\nvide\nbien\nun\nlong\n")
    report = SplitReport()
    kept = list(clean_pairs(read_parallel(en, tmp_path / "a.fr"), True, 3.0, 40, report))
    assert kept == [(f"{en}:1", "good one", "bien"), (f"{en}:4", "fine", "bien")]
    assert dict(report.dropped) == {"non_utf8": 1, "empty": 1, "length_ratio": 1, "too_long": 1}
    assert report.read == report.kept + sum(report.dropped.values()) == 6
    assert report.examples["non_utf8"] == [f"{en}:2"]
    report_eval = SplitReport()
    kept_eval = list(clean_pairs(read_parallel(en, tmp_path / "a.fr"), False, 3.0, 40, report_eval))
    assert len(kept_eval) == 4 and dict(report_eval.dropped) == {"non_utf8": 1, "empty": 1}


def test_a_bad_target_line_is_reported_against_the_target_file(tmp_path):
    (tmp_path / "a.en").write_text("one\ntwo\nthree\n")
    (tmp_path / "a.fr").write_bytes(b"un\n\xff deux\n\n")
    report = SplitReport()
    kept = list(clean_pairs(read_parallel(tmp_path / "a.en", tmp_path / "a.fr"), True, 3.0, 40, report))
    assert [src for _, src, _ in kept] == ["one"]
    assert report.examples == {"non_utf8": [f"{tmp_path / 'a.fr'}:2"], "empty": [f"{tmp_path / 'a.fr'}:3"]}


def test_sentencepiece_round_trip_on_real_french(tmp_path):
    french, english = read_lines(NEWSTEST / "newstest2014.fr"), read_lines(NEWSTEST / "newstest2014.en")
    model = train_vocab(english[:150] + french[:150], tmp_path / "spm.model", 800, "unigram", 1, 10**6)
    vocab = SubwordVocab(model)
    assert vocab.sp.pad_id() == PAD and vocab.sp.bos_id() == BOS and vocab.sp.eos_id() == EOS
    ids = vocab.encode(french)
    assert [vocab.decode(i) for i in ids] == french   # all 271, including the 121 never trained on
    assert vocab.decode(ids[0] + [EOS, 57, 58]) == french[0]


def toy_split(tmp_path, n=200, seed=0):
    rng = np.random.default_rng(seed)
    src = [list(rng.integers(4, 50, rng.integers(1, 30))) for _ in range(n)]
    tgt = [list(rng.integers(4, 50, rng.integers(1, 30))) for _ in range(n)]
    save_split(tmp_path, "toy", src, tgt)
    return EncodedSplit(tmp_path, "toy"), src, tgt


def test_storage_round_trip(tmp_path):
    split, src, tgt = toy_split(tmp_path)
    assert len(split) == 200
    assert all(split.source(i).tolist() == src[i] and split.target(i).tolist() == tgt[i] for i in range(200))


def test_batches_partition_each_epoch_and_respect_buckets(tmp_path):
    split, _, tgt = toy_split(tmp_path)
    edges = [8, 16, 24, 32]
    batcher = BucketBatcher(split, edges, max_tokens=64, seed=3)
    widths = pair_widths(split)
    for epoch in (0, 1):
        batches = batcher.epoch(epoch)
        seen = np.concatenate(batches)
        assert sorted(seen.tolist()) == list(range(200))
        for b in batches:
            edge = edges[np.searchsorted(edges, widths[b].max())]
            size = max(1, 64 // edge)
            assert len(b) < 1.5 * size and widths[b].min() > ([0] + edges)[edges.index(edge)]
    assert [b.tolist() for b in batcher.epoch(0)] == [b.tolist() for b in BucketBatcher(split, edges, 64, 3).epoch(0)]
    assert [b.tolist() for b in batcher.epoch(0)] != [b.tolist() for b in batcher.epoch(1)]


def test_batch_tensors_and_resuming_from_a_position(tmp_path):
    split, src, tgt = toy_split(tmp_path)
    batcher = BucketBatcher(split, [8, 16, 24, 32], max_tokens=64, seed=3)
    stream = batcher.iterate()
    first = [next(stream) for _ in range(len(batcher) + 3)]
    resumed = batcher.iterate(epoch=first[-3][0], position=first[-3][1])
    for expected in first[-3:]:
        got = next(resumed)
        assert got[:2] == expected[:2] and np.array_equal(got[2].indices, expected[2].indices)
    batch = first[0][2]
    i = batch.indices[0]
    n = len(tgt[i])
    assert batch.tgt_in[0, 0] == BOS and batch.tgt_in[0, 1:n + 1].tolist() == tgt[i]
    assert batch.tgt_out[0, :n].tolist() == tgt[i] and batch.tgt_out[0, n] == EOS
    assert batch.src[0, :len(src[i])].tolist() == src[i] and (batch.src[0, len(src[i]):] == PAD).all()


def test_ranks_split_the_global_batches_of_a_single_process(tmp_path):
    split, _, _ = toy_split(tmp_path)
    single = BucketBatcher(split, [8, 16, 24, 32], 64, seed=3).epoch(0)
    shares = [BucketBatcher(split, [8, 16, 24, 32], 64, seed=3, rank=r, world=2).epoch(0) for r in (0, 1)]
    assert len(shares[0]) == len(shares[1])
    assert len(single) == len(shares[0])
    for whole, part0, part1 in zip(single, *shares):
        if len(whole) >= 2:
            assert sorted(whole.tolist()) == sorted(part0.tolist() + part1.tolist())
            assert not set(part0.tolist()) & set(part1.tolist())
        else:
            assert part0.tolist() == part1.tolist() == whole.tolist()


def test_too_wide_pairs_are_an_error_naming_the_file(tmp_path):
    split, _, _ = toy_split(tmp_path)
    with pytest.raises(ValueError, match="toy: .* wider than the largest bucket edge 16"):
        BucketBatcher(split, [8, 16], 64, seed=0)
