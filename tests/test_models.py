"""The registry models: shapes, gradients, the decoders' causal structure, config errors.

Convention (``models/base.py``): ``tgt_in[:, k]`` is output ``k − 1`` (``BOS`` at ``k = 0``), so
"output token j" below is ``tgt_in[:, j + 1]``.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from activemem import models
from activemem.models.cgru import CGRU, cutoff_sigmoid
from activemem.tokens import PAD, RESERVED

from conftest import REPO, TINY, VOCAB, random_batch


def build(name, **extra):
    torch.manual_seed(0)
    return models.build(name, VOCAB, **{**TINY[name], **extra})


PAPER_MODELS = ("neural_gpu", "markovian_neural_gpu", "extended_neural_gpu", "gru_attention")


def test_registry_names_are_the_contract():
    # The paper's four keep their names (params.yaml, result paths) and lead in the paper's order.
    assert models.NAMES[:4] == PAPER_MODELS and list(models.PAPER_NAMES) == list(PAPER_MODELS)
    assert all(models.in_paper(n) for n in PAPER_MODELS)
    labels = [models.label(n) for n in models.NAMES]
    styles = [models.REGISTRY[n].style for n in models.NAMES]
    # told apart in tables and in a figure printed without colour: marker and line style both differ
    assert len(set(labels)) == len(labels)
    assert len({s.marker for s in styles}) == len(styles) and len({str(s.linestyle) for s in styles}) == len(styles)
    for name in models.NAMES:  # each entry's Config is the one its class builds from
        assert models.model_class(name).Config is models.config_class(name)
        assert TINY[name] and set(TINY[name]) <= {f.name for f in dataclasses.fields(models.config_class(name))}


def test_a_registry_entry_whose_config_disagrees_with_its_class_is_refused(monkeypatch):
    wrong = models.REGISTRY["gru_attention"]._replace(config="activemem.models.configs:ActiveMemoryConfig")
    monkeypatch.setitem(models.REGISTRY, "gru_attention", wrong)
    with pytest.raises(TypeError, match="'gru_attention' names ActiveMemoryConfig, but .*GRUAttentionConfig"):
        models.build("gru_attention", VOCAB)


def test_shapes_and_every_parameter_gets_a_gradient(model_name):
    model = build(model_name)
    src, tgt_in = random_batch()
    logits = model(src, tgt_in)
    assert logits.shape == (3, 6, VOCAB)
    assert torch.isfinite(logits).all()
    logits.logsumexp(-1).sum().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    # The PAD rows of embeddings get zero gradient by design; whole tensors must not.
    assert missing == [], missing


def test_cutoff_sigmoid_saturates_exactly():
    x = torch.tensor([-10.0, 0.0, 10.0])
    assert cutoff_sigmoid(x).tolist() == pytest.approx([0.0, 0.5, 1.0])
    assert cutoff_sigmoid(x, cutoff=1.0).tolist() == pytest.approx(torch.sigmoid(x).tolist())


def test_cgru_matches_the_equation_and_tape_enters_linearly():
    torch.manual_seed(0)
    cell = CGRU(4, tape=True)
    s, p = torch.randn(2, 4, 5, 3), torch.randn(2, 4, 5, 3)
    # Recompute CGRU^d by hand with the kernels split into their state and tape halves.
    conv = torch.nn.functional.conv2d
    gw, cw = cell.gates.weight, cell.candidate.weight
    gates = conv(s, gw[:, 4:], cell.gates.bias, padding=1) + conv(p, gw[:, :4], padding=1)
    u, r = cutoff_sigmoid(gates).chunk(2, dim=1)
    c = torch.tanh(conv(r * s, cw[:, 4:], cell.candidate.bias, padding=1) + conv(p, cw[:, :4], padding=1))
    torch.testing.assert_close(cell(s, p), u * s + (1 - u) * c)
    assert cell.gates.bias.detach().eq(1.0).all() and cell.candidate.bias.detach().eq(0.0).all()


def test_neural_gpu_ignores_the_target_tokens():
    model = build("neural_gpu").eval()
    src, tgt_in = random_batch()
    other = torch.randint(RESERVED, VOCAB, tgt_in.shape)
    torch.testing.assert_close(model(src, tgt_in), model(src, other), rtol=0, atol=0)


def test_markovian_depends_on_the_previous_output_only():
    model = build("markovian_neural_gpu").eval()
    src, tgt_in = random_batch(tgt_len=6)
    base = model(src, tgt_in)
    k = 4
    changed_prev = tgt_in.clone()
    changed_prev[:, k] = (tgt_in[:, k] - RESERVED + 1) % (VOCAB - RESERVED) + RESERVED  # output k−1
    assert not torch.allclose(model(src, changed_prev)[:, k], base[:, k])
    for j in range(1, k):  # outputs j − 1 < k − 1
        changed = tgt_in.clone()
        changed[:, j] = (tgt_in[:, j] - RESERVED + 1) % (VOCAB - RESERVED) + RESERVED
        torch.testing.assert_close(model(src, changed)[:, k], base[:, k], rtol=0, atol=0)


def test_extended_step_by_step_equals_teacher_forcing():
    model = build("extended_neural_gpu").eval()
    src, tgt_in = random_batch(tgt_len=7)
    forced = model(src, tgt_in)
    state = model.start(src, max_len=7)
    for k in range(7):
        logits, state = model.step(state, tgt_in[:, k], k)
        torch.testing.assert_close(logits, forced[:, k], rtol=0, atol=1e-5)


@pytest.mark.parametrize("name", ["extended_neural_gpu", "transformer"])
def test_a_decoder_is_causal_and_really_reads_its_earlier_outputs(name):
    """Output j depends on the outputs before it (the tape, the decoder's self-attention), never after."""
    model = build(name).eval()
    src, tgt_in = random_batch(tgt_len=7)
    base = model(src, tgt_in)
    for j in range(6):  # change output token j = tgt_in[:, j + 1]
        changed = tgt_in.clone()
        changed[:, j + 1] = (tgt_in[:, j + 1] - RESERVED + 1) % (VOCAB - RESERVED) + RESERVED
        out = model(src, changed)
        torch.testing.assert_close(out[:, : j + 1], base[:, : j + 1], rtol=0, atol=0)
        assert not torch.allclose(out[:, j + 1], base[:, j + 1])


def test_attention_weights_are_a_distribution_over_real_tokens():
    model = build("gru_attention").eval()
    src, tgt_in = random_batch()
    _, attention = model(src, tgt_in, return_attention=True)                 # [B, T, S]
    torch.testing.assert_close(attention.sum(-1), torch.ones(3, 6))
    masked = (src == PAD).unsqueeze(1).expand_as(attention)
    assert masked.any() and attention[masked].eq(0).all()
    assert (attention[~masked] > 0).all()


def test_padding_does_not_change_the_attention_model():
    model = build("gru_attention").eval()
    src, tgt_in = random_batch(pad_last=False)
    padded = torch.cat([src, torch.zeros(3, 4, dtype=torch.long)], dim=1)
    torch.testing.assert_close(model(src, tgt_in), model(padded, tgt_in), rtol=0, atol=1e-5)


def test_bad_names_and_widths_are_named():
    # (a model's sizes are checked once, by the schema, naming their key path: test_params.py)
    with pytest.raises(ValueError, match="unknown model 'transfomer'"):
        models.build("transfomer", VOCAB)
    with pytest.raises(ValueError, match="width 3 is smaller"):
        build("neural_gpu")(*random_batch(), width=3)


def test_summary_cli_prints_every_model(capsys):
    from activemem.models.__main__ import main
    main(["--summary", "--vocab-size", "100"])
    out = capsys.readouterr().out
    for name in models.NAMES:
        assert name in out
    counts = {line.split()[0]: int(line.split()[1].replace(",", "")) for line in out.splitlines()[1:]}
    # The Markovian model adds E_prev (V×M) and A (2M×M + M) to the Neural GPU.
    assert counts["markovian_neural_gpu"] - counts["neural_gpu"] == 100 * 256 + 2 * 256 * 256 + 256


def test_summary_counts_at_the_scale_asked(tmp_path, capsys):
    """With --params, the scale's sizes and vocabulary: the prepared one when prepare has run (726 at the
    demo, not the 1,000 asked), else the size asked; counted on the meta device, equal to a real build."""
    import shutil

    from activemem.config import load_params, model_hparams
    from activemem.models.__main__ import main
    shutil.copy(REPO / "params.yaml", tmp_path / "params.yaml")

    def counts():
        main(["--summary", "--params", str(tmp_path / "params.yaml"), "--scale", "demo"])
        out = capsys.readouterr().out
        return out.splitlines()[0], {line.split()[0]: int(line.split()[1].replace(",", ""))
                                     for line in out.splitlines()[1:]}

    header, asked = counts()
    assert "vocabulary 1,000: prepare.vocab_size" in header
    (tmp_path / "data" / "demo" / "prepared").mkdir(parents=True)
    (tmp_path / "data" / "demo" / "prepared" / "manifest.json").write_text('{"vocab_size": 726}')
    header, made = counts()
    assert "vocabulary 726: made by the prepare stage" in header
    # Table 1's demo counts (paper/snapshot/demo) are of this vocabulary
    assert made["neural_gpu"] == 259_200 and made["extended_neural_gpu"] == 543_168
    assert asked["neural_gpu"] > made["neural_gpu"]
    params = load_params(tmp_path / "params.yaml", scale="demo")
    real = models.build("transformer", 726, **model_hparams(params, "transformer")).num_parameters()
    assert made["transformer"] == real


def test_scheduled_sampling_replaces_the_gold_tape():
    model = build("extended_neural_gpu", dropout=0.0).train()
    src, tgt_in = random_batch(tgt_len=6)
    other = tgt_in.clone()
    other[:, 1:] = (tgt_in[:, 1:] - RESERVED + 1) % (VOCAB - RESERVED) + RESERVED

    def run(tokens, rate):
        model.sampling_probability = rate
        torch.manual_seed(5)
        return model(src, tokens)

    # always feeding its own samples, the model no longer sees the gold tokens at all
    torch.testing.assert_close(run(tgt_in, 1.0), run(other, 1.0), rtol=0, atol=0)
    assert not torch.allclose(run(tgt_in, 0.0), run(other, 0.0))


def test_console_script_dispatches_to_models_and_stages(capsys):
    from activemem import cli
    cli.main(["models", "--summary", "--vocab-size", "50"])
    assert "extended_neural_gpu" in capsys.readouterr().out
    assert set(cli.stage_names()) == {"archives", "download", "prepare", "train", "evaluate", "paper"}
    with pytest.raises(SystemExit) as stop:
        cli.main(["transmogrify"])
    assert stop.value.code == 2 and "unknown command 'transmogrify'" in capsys.readouterr().err


def test_activation_checkpointing_changes_memory_not_results():
    src, tgt_in = random_batch()
    grads = []
    for flag in (False, True):
        model = build("extended_neural_gpu", dropout=0.0, checkpoint_steps=flag).train()
        model(src, tgt_in).logsumexp(-1).sum().backward()
        grads.append({n: p.grad for n, p in model.named_parameters()})
    for name in grads[0]:
        torch.testing.assert_close(grads[0][name], grads[1][name], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["neural_gpu", "markovian_neural_gpu", "extended_neural_gpu"])
def test_the_authors_first_cgru_is_applied_once_to_the_embedded_source(name):
    """``first_cgru`` (default on, as in the authors' code): one plain CGRU over the embedded source
    before the steps, ``3·M·(M·kw·kh + 1)`` parameters (state kernels only: their extra input is
    zero); off, the encoder has no such layer."""
    on, off = build(name), build(name, first_cgru=False)
    assert on.config.first_cgru and not off.config.first_cgru
    m, kw, kh = on.config.maps, on.config.kernel_width, on.config.kernel_height
    first = {n: p.shape for n, p in on.named_parameters() if n.startswith("encoder.first.")}
    assert first == {"encoder.first.gates.weight": (2 * m, m, kw, kh), "encoder.first.gates.bias": (2 * m,),
                     "encoder.first.candidate.weight": (m, m, kw, kh), "encoder.first.candidate.bias": (m,)}
    assert not any(".first." in n for n, _ in off.named_parameters())
    assert on.num_parameters() - off.num_parameters() == 3 * m * (m * kw * kh + 1)
    # off and on share every other weight: off is on without the layer
    off.load_state_dict({n: p for n, p in on.state_dict().items() if ".first." not in n})
    src, tgt_in = random_batch()
    on.eval(), off.eval()
    with torch.no_grad():
        width = max(src.size(1), tgt_in.size(1))
        s = on.encoder.first(on.encoder.embed(src, width))            # s_0 = CGRU_first(e), as written
        for _ in range(width):
            s = off.encoder.steps(s, off.encoder.steps.kernels())
        torch.testing.assert_close(on.encoder(src, width), s)          # then the steps, from s_0
        before = on(src, tgt_in)
        assert not torch.allclose(before, off(src, tgt_in), atol=1e-4)
        on.encoder.first.candidate.weight.mul_(-1.0)                   # its weights reach the output
        assert not torch.allclose(before, on(src, tgt_in), atol=1e-4)


def test_the_first_cgru_starts_as_the_live_half_of_the_authors_kernel():
    """Their ``first`` kernels are orthogonal over ``2M`` input channels, so the half we keep has
    entries of variance ``gain² / (kw·kh·2M)``, half that of an ``M``-input kernel."""
    torch.manual_seed(0)
    model = models.build("neural_gpu", VOCAB, maps=32, height=2)
    m, gain = 32, model.config.init_gain
    for conv, steps in ((model.encoder.first.gates, model.encoder.steps.layers[0].gates),
                        (model.encoder.first.candidate, model.encoder.steps.layers[0].candidate)):
        assert conv.weight.var().item() == pytest.approx(gain ** 2 / (9 * 2 * m), rel=0.1)
        assert steps.weight.var().item() == pytest.approx(gain ** 2 / (9 * m), rel=0.1)
    assert torch.all(model.encoder.first.gates.bias == model.config.gate_bias)
    assert torch.all(model.encoder.first.candidate.bias == 0)


def test_a_checkpoint_from_before_the_first_cgru_rebuilds_without_it():
    from activemem.train.checkpoint import build_model

    old = build("extended_neural_gpu", first_cgru=False)
    config = {k: v for k, v in dataclasses.asdict(old.config).items() if k != "first_cgru"}
    ckpt = {"model_name": "extended_neural_gpu", "vocab_size": VOCAB, "model_config": config,
            "model": old.state_dict(), "train_config": {}, "state": {}}
    assert not build_model(ckpt, "old.pt").config.first_cgru
    new = build("extended_neural_gpu")
    ckpt |= {"model_config": dataclasses.asdict(new.config), "model": new.state_dict()}
    assert build_model(ckpt, "new.pt").config.first_cgru
