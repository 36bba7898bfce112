"""Evaluation: perplexity (``train/nll.py``, shared with training), decoding, BLEU and BLEU by length,
and the diagnostics of where a model loses.

- ``references.py``        an evaluation split as scored: sources, every reference stream, noun-phrase records
- ``translate.py``         batched greedy or beam-search decoding of a split, detokenised
- ``resume.py``            what an evaluation has computed, kept on disk so that a killed one resumes
- ``bleu.py``              BLEU, chrF and BLEU by source-sentence length (Figure 6's data), with sacrebleu
- ``dev_bleu.py``          dev BLEU during training: the BLEU half of the learning curves
- ``agreement.py``         the demo's agreement diagnostic: does each noun phrase agree with its own noun?
- ``by_word_class.py``     teacher-forced perplexity and top-1 error of the references, by word class
- ``algorithmic.py``       the evaluate stage on the algorithmic tasks: every test split scored by length
- ``sequence_accuracy.py`` the algorithmic scores: sequence accuracy, per-symbol errors, Wilson interval
"""
