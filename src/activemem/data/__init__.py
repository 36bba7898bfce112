"""Data: where the parallel text comes from and how it becomes training batches.

- ``sources/``           the data-source registry (``data.source``): each source's ``data``
                           schema, its download, and the steps it takes its own way
- ``manifest.py``          the WMT'14 manifest (``wmt14.yaml``) and the mirror setting
- ``wmt14.yaml``           the WMT'14 En-Fr sources: URLs, archive members, checksums
- ``archives.py``          where each archive comes from (own folder, cache, download) and whether a
                           copy is accepted (published, lock, vouched)
- ``vouched.py``           the committed entries vouching for copies that differ from the published file
- ``digest_memo.py``       SHA-256 and MD5 of big files, remembered by their ``stat`` so each is read once
- ``download.py``          resumable, verified, atomic HTTP and file:// downloads
- ``extract.py``           archive checks and extraction keyed by the archive's checksum
- ``readers.py``           plain, gzip and SGM readers with file:line errors
- ``lines.py``             the one way line-oriented text is read and written (a line ends at a newline only)
- ``demo.py``              the embedded demo corpus: English-French pairs from a small grammar and a seed
- ``demo_lexicon.py``      the demo grammar's lexicon: nouns with gender, adjectives, determiners, verbs
- ``demo_word_classes.py`` the word class of every French word the demo grammar writes
- ``algorithmic.py``       the algorithmic tasks (copy, reverse, sort, addition, multiplication) from a seed
- ``clean.py``             normalisation and filtering, every dropped pair counted
- ``overlap.py``           how much of each evaluation split is also in the training data
- ``vocab.py``             the joint sentencepiece sub-word model, with our reserved ids
- ``encode.py``            sub-word encoding of the prepared text, one chunk of pairs at a time
- ``symbols.py``           the algorithmic tasks encoded with their fixed symbol vocabulary
- ``phases.py``            wall time and peak memory of each phase of a long data job
- ``store.py``             encoded splits on disk (numpy arrays with offsets)
- ``batching.py``          token-budget batches from length buckets, resumable
"""
