"""CBAM U-Net (Wang, J Biomech) and the plain U-Net baseline: attention gates, padding, loss terms, sizes."""

from __future__ import annotations

import pytest
import torch

import zoo
from zoo.models.cbam_unet import (
    CBAM,
    CBAMUNet,
    ChannelGate,
    SpatialGate,
    UNet,
    pad_to_multiple,
    total_force_error,
    total_variation,
)
from zoo.specs import default_data_spec

TASK = "landmarks2pressure"

# Hand count of the author's related code (two 1-channel encoders, 64x64 input):
#   encoder stage (c_in -> c_out): 3x3 conv 9*c_in*c_out + c_out bias, BatchNorm 2*c_out (not on stage 1)
#     1->64: 640; 64->128: 73,856 + 256; 128->256: 295,168 + 512; 256->512: 1,180,160 + 1,024;
#     512->512 twice: 2 x (2,359,808 + 1,024)                          -> 6,273,280 per encoder
#   fusions: 1x1 convs 2c -> c without bias, c = 64, 128, 256, 512, 512, 512  -> 1,744,896
#     + BatchNorm of the bottleneck fusion (512)                       -> 1,024
#   CBAM(c): shared MLP c -> c/8 -> c without bias (c^2/4) + 7x7 conv 2 -> 1 without bias (98);
#     at the six fusions and on the 128-channel finest decoder concatenation
#   decoder stage: 3x3 transposed conv 9*c_in*c_out + c_out bias, BatchNorm 2*c_out; c_in after the first
#     stage is the concatenation with the skip: 512->512, 1024->512, 1024->256, 512->128, 256->64
#                                                                      -> 10,178,880
#   head: 3x3 transposed conv 128 -> 1 with bias                       -> 1,153


def encoder_params(c_in: int) -> int:
    widths = (64, 128, 256, 512, 512, 512)
    ins = (c_in, *widths[:-1])
    return sum(9 * i * o + o + (2 * o if k else 0) for k, (i, o) in enumerate(zip(ins, widths)))


def cbam_params(c: int) -> int:
    return c * c // 4 + 98


DECODER = (9 * 512 * 512 + 512 + 1024) + (9 * 1024 * 512 + 512 + 1024) + (9 * 1024 * 256 + 256 + 512) \
    + (9 * 512 * 128 + 128 + 256) + (9 * 256 * 64 + 64 + 128) + (9 * 128 + 1)
FUSION = sum(2 * c * c for c in (64, 128, 256, 512, 512, 512)) + 2 * 512 \
    + sum(cbam_params(c) for c in (64, 128, 256, 512, 512, 512))
CBAM_UNET_PAPER = 2 * encoder_params(1) + FUSION + DECODER + cbam_params(128)
UNET_PAPER = encoder_params(2) + DECODER


@pytest.fixture(scope="module")
def paper_models() -> dict[str, UNet]:
    spec = default_data_spec(TASK, **CBAMUNet.paper_data)
    torch.manual_seed(0)
    return {name: zoo.create_model(name, data_spec=spec, preset="paper").eval()
            for name in ("cbam_unet", "unet")}


def small(name: str, grid: tuple[int, int] = (32, 16)) -> UNet:
    torch.manual_seed(0)
    return zoo.create_model(name, data_spec=default_data_spec(TASK, grid=grid), preset="small")


# -- attention ---------------------------------------------------------------------------------
def test_cbam_gates_have_their_shapes_and_lie_in_the_unit_interval():
    x = 3 * torch.randn(3, 32, 5, 7)
    channel, spatial = ChannelGate(32)(x), SpatialGate()(x)
    assert channel.shape == (3, 32, 1, 1) and spatial.shape == (3, 1, 5, 7)
    for gate in (channel, spatial):
        assert ((gate > 0) & (gate < 1)).all()
    out = CBAM(32)(x)
    assert out.shape == x.shape and (out.abs() <= x.abs()).all()  # a product of gates only attenuates


def test_channel_mlp_is_one_set_of_weights_shared_by_the_average_and_max_paths():
    gate = ChannelGate(32, reduction=8)
    assert [tuple(p.shape) for p in gate.parameters()] == [(4, 32, 1, 1), (32, 4, 1, 1)]
    x = torch.randn(2, 32, 4, 4)
    avg, peak = x.mean((2, 3), keepdim=True), x.amax((2, 3), keepdim=True)
    torch.testing.assert_close(gate(x), torch.sigmoid(gate.mlp(avg) + gate.mlp(peak)))
    constant = torch.randn(2, 32, 1, 1).expand(-1, -1, 4, 4)  # average == max: both paths give one score
    torch.testing.assert_close(gate(constant), torch.sigmoid(2 * gate.mlp(constant[:, :, :1, :1])))


# -- any grid size -----------------------------------------------------------------------------
def test_padding_uses_the_outside_foot_value_for_geometry_and_zero_for_landmarks():
    x = torch.stack([torch.arange(15.0).reshape(5, 3) - 1.5, torch.full((5, 3), 2.0)])[None]  # [1, 2, 5, 3]
    padded, (rows, cols) = pad_to_multiple(x, 4)
    assert padded.shape == (1, 2, 8, 4)
    assert (rows, cols) == (slice(1, 6), slice(0, 3))  # 3 extra rows: 1 above, 2 below; 1 column right
    torch.testing.assert_close(padded[:, :, rows, cols], x)
    outside = torch.ones(8, 4, dtype=torch.bool)
    outside[rows, cols] = False
    assert (padded[0, 0][outside] == -1.5).all()  # the geometry's minimum
    assert (padded[0, 1][outside] == 0).all()
    fits = x[..., :4, :2]
    same, crop = pad_to_multiple(fits, 2)
    assert same is fits and crop == (slice(None), slice(None))  # already a multiple: untouched


@pytest.mark.parametrize("name", ["cbam_unet", "unet"])
@pytest.mark.parametrize("grid", [(20, 9), (32, 16), (64, 64)])
def test_output_has_the_input_grid(name, grid):
    model = small(name, grid).eval()
    with torch.no_grad():
        y = model({"x": torch.randn(2, 2, *grid)})
    assert y.shape == (2, *grid) and torch.isfinite(y).all()


# -- loss --------------------------------------------------------------------------------------
PRED = torch.tensor([[[1.0, 2.0], [3.0, 4.0]], [[0.0, 0.0], [0.0, 0.0]]])
TARGET = torch.tensor([[[0.0, 0.0], [0.0, 6.0]], [[2.0, 2.0], [2.0, 2.0]]])


def test_total_force_error_by_hand():
    # one scale: sample 1 totals 10 vs 6 over 4 cells -> 1, sample 2 totals 0 vs 8 -> 2; mean 1.5
    assert float(total_force_error(PRED, TARGET, torch.full((2, 2), 2.0))) == pytest.approx(1.5)
    # per-cell scales [[1, 1], [1, 3]]: physical differences (1, 2, 3, -6) -> mean 0 and
    # (-2, -2, -2, -6) -> |mean| 3; batch mean 1.5, in units of the mean scale 1.5 -> 1.0
    std = torch.tensor([[1.0, 1.0], [1.0, 3.0]])
    assert float(total_force_error(PRED, TARGET, std)) == pytest.approx(1.0)


def test_total_variation_by_hand():
    # horizontal |1 - 0|, |5 - 3| -> mean 1.5; vertical |3 - 0|, |5 - 1| -> mean 3.5
    assert float(total_variation(torch.tensor([[0.0, 1.0], [3.0, 5.0]]))) == pytest.approx(5.0)


def test_loss_is_l1_plus_total_force_plus_weighted_total_variation():
    model = small("cbam_unet", grid=(2, 2))  # target_std = 1
    # L1: |differences| sum 8 + 8 over 8 cells = 2; force 1.5; TV of PRED: (1 + 1) / 4 + (2 + 2) / 4 = 1.5
    loss = model.compute_loss({"y": PRED}, TARGET, {})
    assert float(loss) == pytest.approx(2.0 + 1.5 + 1e-5 * 1.5)
    assert CBAMUNet.compute_loss is UNet.compute_loss


# -- the two models ----------------------------------------------------------------------------
def test_cbam_unet_and_unet_differ_only_by_the_fusion_and_attention_path():
    cbam, plain = small("cbam_unet"), small("unet")
    assert not any(isinstance(m, CBAM) for m in plain.modules())
    assert sum(isinstance(m, CBAM) for m in cbam.modules()) == 3 + 1  # one per scale + the refinement

    def shapes(module: torch.nn.Module, skip: str = "") -> dict[str, tuple[int, ...]]:
        items = module.state_dict().items()
        return {k: tuple(v.shape) for k, v in items if not (skip and k.startswith(skip))}

    assert shapes(cbam.net.decoder, skip="refine.") == shapes(plain.net.decoder)
    first = "stages.0.0.weight"
    for branch in (cbam.net.encoder.geometry, cbam.net.encoder.landmarks):
        theirs, ours = shapes(branch), shapes(plain.net.encoder)
        assert theirs[first] == (16, 1, 3, 3) and ours[first] == (16, 2, 3, 3)
        del theirs[first], ours[first]
        assert theirs == ours


def test_too_shallow_widths_are_rejected():
    with pytest.raises(zoo.ZooError, match="widths needs at least 2 stages"):
        zoo.create_model("unet", widths=(16,))


# -- paper preset ------------------------------------------------------------------------------
def test_paper_preset_has_the_size_of_the_authors_code(paper_models):
    counts = {name: model.num_parameters() for name, model in paper_models.items()}
    print(f"paper preset parameters: {counts}")
    assert CBAM_UNET_PAPER == 24_695_407
    assert counts == {"cbam_unet": CBAM_UNET_PAPER, "unet": UNET_PAPER}


def test_paper_preset_maps_64x64_inputs_through_a_1x1_bottleneck(paper_models):
    x = torch.randn(2, 2, 64, 64)
    for model in paper_models.values():
        with torch.no_grad():
            features = model.net.encoder(x)
            y = model({"x": x})
        assert [tuple(f.shape[1:]) for f in features] == [
            (64, 32, 32), (128, 16, 16), (256, 8, 8), (512, 4, 4), (512, 2, 2), (512, 1, 1)]
        assert y.shape == (2, 64, 64) and (y.abs() < model.net.output_range).all()


def test_paper_preset_trains_as_the_authors_code(paper_models):
    config = paper_models["cbam_unet"].configure_optimizers()
    optimizer, scheduler = config["optimizer"], config["lr_scheduler"]
    assert isinstance(optimizer, torch.optim.Adam)
    group = optimizer.param_groups[0]
    assert (group["lr"], group["betas"], group["weight_decay"]) == (2e-4, (0.5, 0.999), 1e-5)
    assert isinstance(scheduler, torch.optim.lr_scheduler.StepLR)
    assert (scheduler.step_size, scheduler.gamma) == (20, 0.5)


@pytest.mark.parametrize("name", ["cbam_unet", "unet"])
def test_channels_last_computes_the_same_maps_and_gradients(name):
    torch.manual_seed(0)
    spec = default_data_spec("landmarks2pressure")
    plain = zoo.create_model(name, data_spec=spec, preset="small", channels_last=False)
    last = zoo.create_model(name, data_spec=spec, preset="small")  # the small preset's default
    assert last.net.channels_last and not plain.net.channels_last
    last.load_state_dict(plain.state_dict())
    conv = next(m for m in last.net.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    x = torch.randn(4, *plain.input_shape)
    outs = []
    for model in (plain, last):
        model.train()
        y = model.net(x)
        y.square().mean().backward()
        outs.append((y.detach(), conv_grad(model)))
    assert torch.allclose(outs[0][0], outs[1][0], atol=1e-5, rtol=1e-4)
    assert torch.allclose(outs[0][1], outs[1][1], atol=1e-5, rtol=1e-3)


def conv_grad(model) -> torch.Tensor:
    return next(m for m in model.net.modules() if isinstance(m, torch.nn.Conv2d)).weight.grad.contiguous()
