"""Reserved token ids shared by the tokenizer, the batcher and every model.

The sentencepiece model is trained with exactly these ids (see ``activemem.data.vocab``), and
``PAD`` is 0 because the original Neural GPU code relies on id 0 embedding to a zero vector.
"""

PAD = 0  # padding; embeds to zero and never counts in the loss
BOS = 1  # fed as the "previous output" before the first target token
EOS = 2  # ends every target sentence (the original code also used id 2)
UNK = 3  # sentencepiece's unknown piece

RESERVED = 4  # ids below this are never produced by the sub-word model
