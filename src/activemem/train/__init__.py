"""Training: one loop for every registry model, and what it shares with evaluation.

- ``loop.py``              one training loop: CPU, one GPU (bf16 autocast) or ``torchrun`` (DDP)
- ``device.py``            the device, thread, kernel and bf16 settings turned into torch state (evaluation too)
- ``distributed.py``       multi-process training under ``torchrun``: one process per GPU
- ``loss.py``              label-smoothed cross-entropy over the real (non-PAD) target tokens
- ``nll.py``               teacher-forced NLL and perplexity: the one definition training and evaluation use
- ``schedules.py``         the original recipe's scheduled sampling and learning-rate decay on plateau
- ``curriculum.py``        the authors' 2017 length curriculum: short pairs first, wider while the model copes
- ``length_curriculum.py`` the 2015 Neural GPU's length curriculum on training sequence error
- ``lr_decay.py``          learning-rate decay for the positive control (``benchmarks/neural_gpu_control.py``)
- ``flops.py``             training compute counted: the FLOPs of every step, summed over a run
- ``fingerprint.py``       what makes two training runs the same run, so a checkpoint resumes only its own
- ``checkpoint.py``        everything needed to continue a run bit for bit, written atomically, loaded safely
"""
