"""The TensorFlow half of ``authors_code.py``: runs the authors' own graph on weights and inputs we give it.

Run by ``authors_code.py`` with the ``--tf-python`` interpreter (a separate venv with TensorFlow is
fine: this file imports only numpy and TensorFlow, never torch or activemem). It loads
``neural_gpu.py`` from the user's checkout of tensorflow/models ``research/neural_gpu`` (nothing of
it is copied here), builds the graph at the requested size in TF1 graph mode, loads the given values
into *every* trainable variable (a missing or unknown name is an error), feeds the inputs and writes
what it computed to an ``.npz``.

Our shims, all applied only while ``neural_gpu.py`` is imported and built (its own text is unchanged):
- ``tf`` inside their module is ``tf.compat.v1`` with v2 behaviour disabled;
- ``tf.contrib`` (gone in TF2) holds only the one name the module touches when it is imported,
  ``contrib.compiler.jit.experimental_jit_scope`` (used only when their ``do_jit`` is on; it is off);
- ``data_utils`` is a stand-in with a silent ``print_out`` (the real one is Python 2 and only logs here);
- two taps that observe without changing anything: ``tf.nn.softmax`` records its input (the logits,
  ``[L, B, V]``) and ``tf.gradients`` records the loss it differentiates (their ``total_loss``) and
  the gradients it returns (before their clipping).

Request: ``--request DIR``: ``DIR/cases.json`` (a list of case specs) and ``DIR/<name>.npz`` per case,
with ``w:<variable name>`` weights and ``x:<feed>`` inputs. Output: ``DIR/<name>.out.npz``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import types
from pathlib import Path

import numpy as np


class _Proxy:
    """``base`` with a few attributes replaced."""

    def __init__(self, base, **overrides):
        self._base = base
        self.__dict__.update(overrides)

    def __getattr__(self, name):
        return getattr(self._base, name)


def load_authors_module(path: Path, tf, taps: dict):
    """Import ``path/neural_gpu.py`` with ``tf`` seen as the v1 API plus the shims of the docstring."""
    from tensorflow.python.framework import function  # noqa: F401  (loaded before the swap)

    v1 = tf.compat.v1

    def softmax(logits, *args, **kwargs):
        taps.setdefault("softmax_inputs", []).append(logits)
        return v1.nn.softmax(logits, *args, **kwargs)

    def gradients(ys, xs, *args, **kwargs):
        grads = v1.gradients(ys, xs, *args, **kwargs)
        taps.setdefault("gradient_targets", []).append(ys)
        taps.setdefault("gradients", []).append(list(zip(xs, grads)))
        return grads

    contrib = types.SimpleNamespace(compiler=types.SimpleNamespace(jit=types.SimpleNamespace(
        experimental_jit_scope=contextlib.nullcontext)))
    shim = _Proxy(v1, contrib=contrib, nn=_Proxy(v1.nn, softmax=softmax), gradients=gradients)
    data_utils = types.ModuleType("data_utils")
    data_utils.print_out = lambda *args, **kwargs: None

    saved = {name: sys.modules.get(name) for name in ("tensorflow", "data_utils")}
    sys.modules["tensorflow"], sys.modules["data_utils"] = shim, data_utils
    try:
        spec = importlib.util.spec_from_file_location("authors_neural_gpu", path / "neural_gpu.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        for name, value in saved.items():
            if value is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = value
    return module


def file_identity(path: Path) -> dict:
    """sha256 and git blob id of their ``neural_gpu.py``, and the checkout's commit if it is a git clone."""
    data = (path / "neural_gpu.py").read_bytes()
    blob = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
    commit = None
    with contextlib.suppress(Exception):
        commit = subprocess.run(["git", "-C", str(path), "log", "-1", "--format=%H", "--", "neural_gpu.py"],
                                capture_output=True, text=True, timeout=30).stdout.strip() or None
    return {"sha256": hashlib.sha256(data).hexdigest(), "git_blob": blob, "git_commit": commit}


def load_weights(sess, tf, weights: dict) -> None:
    """Every trainable variable gets its value from ``weights``: no more, no fewer."""
    variables = {v.op.name: v for v in tf.compat.v1.trainable_variables()}
    missing, unknown = sorted(set(variables) - set(weights)), sorted(set(weights) - set(variables))
    if missing or unknown:
        raise SystemExit(f"weights do not match the authors' graph: missing {missing}, unknown {unknown}")
    for name, var in variables.items():
        value = weights[name]
        if tuple(var.shape.as_list()) != value.shape:
            raise SystemExit(f"{name}: the graph has shape {var.shape.as_list()}, we give {value.shape}")
        var.load(value.astype(np.float32), sess)


def session(tf):
    # Soft placement: their graph pins ops to /gpu:0 (their trainer sets it too); one thread each.
    config = tf.compat.v1.ConfigProto(allow_soft_placement=True, intra_op_parallelism_threads=1,
                                      inter_op_parallelism_threads=1)
    return tf.compat.v1.Session(config=config)


def run_cgru(ng, tf, spec: dict, weights: dict, inputs: dict) -> dict:
    """One ``conv_gru`` call: their CGRU, with the tape as its extra input when one is given."""
    v1 = tf.compat.v1
    with tf.Graph().as_default():
        mem = v1.placeholder(tf.float32, inputs["mem"].shape)
        extra = [v1.placeholder(tf.float32, inputs["tape"].shape)] if "tape" in inputs else []
        out = ng.conv_gru(extra, mem, spec["kw"], spec["kh"], spec["nmaps"], 1, spec["cutoff"],
                          "cell", False)
        with session(tf) as sess:
            sess.run(v1.global_variables_initializer())
            load_weights(sess, tf, weights)
            feed = {mem: inputs["mem"]}
            if extra:
                feed[extra[0]] = inputs["tape"]
            return {"out": sess.run(out, feed)}


def run_model(ng, tf, spec: dict, weights: dict, inputs: dict, taps: dict) -> dict:
    """Their ``NeuralGPU`` class in training configuration (``backward=True``, so that the loss it
    minimises is built), run without an update: dropout off (``do_training`` 0), scheduled sampling
    off (``sampling`` fed 0), a zero ``prev_step`` as their trainer feeds."""
    v1 = tf.compat.v1
    taps.clear()
    with tf.Graph().as_default():
        model = ng.NeuralGPU(
            spec["nmaps"], spec["vec_size"], spec["vocab"], spec["vocab"], 0.1, 4.0, spec["cutoff"],
            spec["nconvs"], spec["kw"], spec["kh"], spec["height"], 0, 0.1, 3, 1, 1, 0.0, 0.1,
            beam_size=spec["beam_size"], backward=True)
        (logits,) = taps["softmax_inputs"]          # [L, B, V], the argument of their tf.nn.softmax
        (total_loss,) = taps["gradient_targets"]    # what tf.gradients differentiates
        (grads,) = taps["gradients"]
        fetch = {"logits": logits, "total_loss": total_loss, "nll": model.losses[0],
                 "final_state": model.after_enc_step}
        fetch |= {f"grad:{v.op.name}": tf.convert_to_tensor(g) for v, g in grads if g is not None}
        inp, tgt = inputs["inp"], inputs["tgt"]     # [B, h, L], [B, 1, L]
        batch, height, length = inp.shape
        feed = {model.input: inp, model.target: tgt, model.length_tensor: length,
                model.prev_step: np.zeros([batch, length, height, spec["nmaps"]], np.float32),
                model.do_training: 0.0, model.noise_param: 0.0, model.update_mem: 0,
                model.sampling: 0.0}
        with session(tf) as sess:
            sess.run(v1.global_variables_initializer())
            load_weights(sess, tf, weights)
            got = sess.run(fetch, feed)
    got["logits"] = np.transpose(got["logits"], (1, 0, 2))      # [B, L, V]
    return got


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--authors-code", type=Path, required=True,
                        help="your checkout of tensorflow/models research/neural_gpu")
    parser.add_argument("--request", type=Path, required=True, help="folder written by authors_code.py")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    tf.compat.v1.disable_v2_behavior()
    taps: dict = {}
    ng = load_authors_module(args.authors_code, tf, taps)
    cases = json.loads((args.request / "cases.json").read_text())
    for spec in cases:
        with np.load(args.request / f"{spec['name']}.npz") as data:
            weights = {k[2:]: data[k] for k in data.files if k.startswith("w:")}
            inputs = {k[2:]: data[k] for k in data.files if k.startswith("x:")}
        if spec["kind"] == "cgru":
            got = run_cgru(ng, tf, spec, weights, inputs)
        else:
            got = run_model(ng, tf, spec, weights, inputs, taps)
        np.savez(args.request / f"{spec['name']}.out.npz", **got)
    identity = file_identity(args.authors_code)
    identity["tensorflow"] = tf.__version__
    (args.request / "authors.json").write_text(json.dumps(identity, indent=1))


if __name__ == "__main__":
    main()
