"""Speed work (issue 17): fast paths compute what the reference implementations compute."""

from __future__ import annotations

import pytest
import torch

import zoo
from zoo.models.ssl_transformer import UniformDropout, contiguous_block_mask

TINY = {"d_model": 16, "layers": 2, "heads": 4, "feedforward": 32}


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny tensors: one thread avoids thread-pool contention on a shared machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def ssl(attention: str, **kw):
    torch.manual_seed(0)
    return zoo.create_model("ssl_transformer", preset="small", attention=attention, **TINY, **kw)


def test_sdpa_attention_trains_exactly_like_the_reference_layer():
    """Without dropout the two attention paths are the same function of the same parameters: ten optimiser
    steps of masked reconstruction give the same losses and weights."""
    models = {a: ssl(a, dropout=0.0) for a in ("sdpa", "reference")}
    assert models["sdpa"].state_dict().keys() == models["reference"].state_dict().keys()
    models["reference"].load_state_dict(models["sdpa"].state_dict())
    x = torch.randn(8, *models["sdpa"].input_shape, generator=torch.Generator().manual_seed(1))
    losses = {}
    for name, model in models.items():
        optimizer = model.make_optimizer(model.parameters())
        masks = torch.Generator().manual_seed(2)
        losses[name] = []
        for _ in range(10):
            mask = contiguous_block_mask(8, x.shape[-1], model.mask_length, generator=masks)
            loss = model.compute_loss({"y": model.net(x, mask=mask), "mask": mask}, x, {"x": x})
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            losses[name].append(loss.item())
    assert losses["sdpa"] == pytest.approx(losses["reference"], rel=1e-4)
    assert losses["sdpa"][-1] < losses["sdpa"][0]
    for (k, a), b in zip(models["sdpa"].state_dict().items(), models["reference"].state_dict().values()):
        if k.endswith("in_proj_bias"):  # the key bias has a zero gradient (softmax ignores it) up to rounding,
            d = a.shape[0] // 3         # which Adam's normalisation blows up: compare the query and value biases
            a, b = torch.cat([a[:d], a[2 * d:]]), torch.cat([b[:d], b[2 * d:]])
        assert torch.allclose(a, b, atol=1e-5), k


def test_fast_flag_drops_only_attention_dropout_and_rejects_a_contradiction():
    model = zoo.create_model("ssl_transformer", preset="paper", fast=True)
    layer = model.encoder.transformer.layers[0]
    assert layer.self_attn.dropout == 0.0 and layer.dropout1.p == layer.dropout.p == 0.1
    assert zoo.create_model("ssl_transformer", preset="paper").encoder.transformer.layers[0].self_attn.dropout == 0.1
    with pytest.raises(zoo.ZooError, match="fast=True drops attention-weight dropout"):
        zoo.create_model("ssl_transformer", preset="paper", fast=True, attention_dropout=0.1)
    with pytest.raises(zoo.ZooError, match="attention: expected one of"):
        zoo.create_model("ssl_transformer", attention="flash")


def test_uniform_dropout_keeps_each_value_with_probability_1_minus_p_and_rescales():
    torch.manual_seed(0)
    drop = UniformDropout(0.25).train()
    x = torch.ones(200_000, requires_grad=True)
    y = drop(x)
    kept = y.detach() != 0
    assert kept.float().mean().item() == pytest.approx(0.75, abs=0.005)
    assert torch.allclose(y.detach()[kept], torch.tensor(1 / 0.75))
    y.sum().backward()
    assert torch.equal(x.grad != 0, kept) and torch.allclose(x.grad[kept], torch.tensor(1 / 0.75))
    assert torch.equal(drop.eval()(x), x)


def test_keep_mask_lanes_are_independent_with_the_quantised_probability():
    """Four 16-bit lanes per 64-bit draw: each lane keeps with 1 - round(p * 65536) / 65536, neighbours (lanes
    of one draw) and lanes of different draws are uncorrelated, and the scale makes the expectation exact."""
    from zoo.models.ssl_transformer import drop_levels, keep_mask, keep_scale

    assert drop_levels(0.1) == 6554 and keep_scale(0.1) == 65536 / (65536 - 6554)
    assert drop_levels(0.25) == 16384 and keep_scale(0.25) == pytest.approx(4 / 3, abs=0)
    torch.manual_seed(0)
    n = 4_000_000
    keep = keep_mask(torch.Size((n,)), 0.25, torch.empty(0))
    assert keep.dtype == torch.float32 and set(keep.unique().tolist()) == {0.0, 1.0}
    sd = (0.75 * 0.25 / n) ** 0.5
    assert keep.mean().item() == pytest.approx(0.75, abs=5 * sd)
    lanes = keep.view(-1, 4)
    for lane in range(4):
        assert lanes[:, lane].mean().item() == pytest.approx(0.75, abs=10 * sd)
    for a, b in ((0, 1), (1, 2), (2, 3)):  # lanes of one draw: P(both kept) = 0.75^2
        assert (lanes[:, a] * lanes[:, b]).mean().item() == pytest.approx(0.5625, abs=0.003)
    assert (lanes[:-1, 3] * lanes[1:, 0]).mean().item() == pytest.approx(0.5625, abs=0.003)  # across draws
    scaled = keep * keep_scale(0.25)
    assert scaled.mean().item() == pytest.approx(1.0, abs=5 * sd / 0.75)
    # odd sizes and bf16: as many elements as asked, 0/1 in the requested dtype
    odd = keep_mask(torch.Size((3, 5, 7)), 0.5, torch.empty(0, dtype=torch.bfloat16))
    assert odd.shape == (3, 5, 7) and odd.dtype == torch.bfloat16 and set(odd.unique().tolist()) <= {0.0, 1.0}
    # p within 1/131072 of 0 or 1 falls back to exact float uniforms (a 16-bit lane cannot express it)
    assert drop_levels(1e-6) == 0 and keep_scale(1e-6) == 1 / (1 - 1e-6)
    assert keep_mask(torch.Size((1000,)), 1e-6, torch.empty(0)).sum().item() == 1000


def test_adam_is_fused_on_cpu_and_sgd_untouched():
    model = zoo.create_model("cnn_bilstm_attention", task="imu2pressure")
    assert model.make_optimizer(model.parameters()).defaults["fused"] is True
    sgd = zoo.create_model("cnn_bilstm_attention", task="imu2pressure", optimizer="sgd")
    assert not sgd.make_optimizer(sgd.parameters()).defaults.get("fused")


def test_zoo_fit_sets_threads_from_the_cores_it_may_use(monkeypatch):
    import os

    from zoo.lightning_cli import available_cores

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0}, raising=False)
    assert available_cores() == 1
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2}, raising=False)
    assert available_cores() == 3


def test_train_speed_benchmark_prints_a_row_per_variant(capsys):
    from benchmarks.train_speed import main

    assert main(["--models", "ssl_transformer", "--presets", "small", "--repeats", "1", "--steps", "1",
                 "--batch", "4"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ssl_transformer")]
    assert [r.split("|")[3:5] for r in rows] == [[" reference ", " fp32 "], [" reference ", " bf16 "],
                                                 [" default ", " fp32 "], [" default ", " bf16 "]]
    assert all(float(r.split("|")[8]) > 0 for r in rows)  # windows/s


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_fused_dropouts_equal_the_unfused_layer_with_the_same_draws(precision):
    """The SDPA layer's residual and ReLU dropouts, fused, give the outputs and gradients of the reference
    order (attention, dropout, add, norm; linear, relu, dropout, linear, dropout, add, norm) from one seed."""
    from torch import nn

    from zoo.models.ssl_transformer import SdpaEncoderLayer

    torch.manual_seed(0)
    layer = SdpaEncoderLayer(16, 4, 32, 0.3, activation="relu", batch_first=True).train()
    x = torch.randn(3, 10, 16, requires_grad=True)
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32

    def run(fused: bool) -> tuple[torch.Tensor, list[torch.Tensor]]:
        layer.zero_grad()
        x.grad = None
        torch.manual_seed(7)
        with torch.autocast("cpu", dtype=dtype, enabled=precision == "bf16"):
            if fused:
                y = layer(x)
            else:
                x1 = layer.norm1(x + layer.dropout1(layer._attention(x)))
                h = layer.linear2(layer.dropout(nn.functional.relu(layer.linear1(x1))))
                y = layer.norm2(x1 + layer.dropout2(h))
        (y.float() ** 2).sum().backward()
        return y.detach().float(), [x.grad.clone(), *[p.grad.clone() for p in layer.parameters()]]

    y_fused, g_fused = run(True)
    y_ref, g_ref = run(False)
    tol = {"atol": 2e-2, "rtol": 2e-2} if precision == "bf16" else {"atol": 1e-5, "rtol": 1e-5}
    assert (y_fused == 0).sum() == (y_ref == 0).sum()
    assert torch.allclose(y_fused, y_ref, **tol)
    for a, b in zip(g_fused, g_ref):
        assert torch.allclose(a, b, **tol)
    assert not torch.allclose(run(True)[0], layer.eval()(x).detach().float())  # dropout was on
