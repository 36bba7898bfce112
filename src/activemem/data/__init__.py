"""Data: where the parallel text comes from and how it becomes training batches.

- ``sources/``                      the data-source registry (``data.source``): each source's ``data``
                                    schema, its download, and the steps it takes its own way
- ``manifest.py`` + ``wmt14.yaml``  the WMT'14 En-Fr sources (URLs, archive members, checksums)
- ``archives.py``                   where each archive comes from (own folder, cache, download) and
                                    whether a copy is accepted (published, lock, vouched)
- ``vouched.py``                    the committed entries vouching for copies that differ
- ``download.py``                   resumable, verified, atomic HTTP and file:// downloads
- ``extract.py``                    archive checks and extraction keyed by the archive's checksum
- ``readers.py``                    plain, gzip and SGM readers with file:line errors
- ``demo.py`` + ``demo_lexicon.py`` the embedded demo corpus (a grammar, generated from a seed)
- ``clean.py``                      normalisation and filtering, every dropped pair counted
- ``vocab.py``                      the joint sentencepiece sub-word model
- ``store.py``                      encoded splits on disk (numpy arrays with offsets)
- ``batching.py``                   token-budget batches from length buckets, resumable
"""
