"""activemem: a reproduction of *Can Active Memory Replace Attention?* (Kaiser & Bengio, NIPS 2016).

Sub-packages, in the order the pipeline uses them:

- ``activemem.data``     downloads WMT'14 En-Fr (or generates the demo corpus), cleans, tokenises, batches
- ``activemem.models``   the four models of the paper behind one registry (``activemem.models.build``)
- ``activemem.train``    one training loop for every model (CPU, one GPU, ``torchrun``)
- ``activemem.evaluate`` perplexity, decoding, BLEU and BLEU by sentence length
- ``activemem.paper``    Table 1, the BLEU-by-length figure, the claims check and the report
- ``activemem.stages``   the pipeline's entry points, ``python -m activemem.stages.<stage>``
"""

__version__ = "0.1.0"
