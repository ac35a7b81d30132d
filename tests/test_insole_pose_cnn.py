"""Dual-encoder insole-to-pose CNN (Han): decoder plan, lifting, soft-argmax, targets, loss, linear probe."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

import zoo
from zoo.models.insole_pose_cnn import (
    InsolePoseCNN,
    LiftedConv3d,
    gaussian_heatmaps,
    lift,
    linear_probe,
    plan_decoder,
    soft_argmax,
)
from zoo.specs import default_data_spec

NARROW = {"encoder_widths": [4, 4, 4, 4], "decoder_widths": [4, 4, 4]}  # paper structure, cheap to run


def spec(grid=(16, 8), frames=6, keypoints=19) -> dict:
    names = [f"kp{i}" for i in range(keypoints)]
    return default_data_spec("insole2pose", grid=list(grid), frames=frames, target_shape=[keypoints, 3],
                             keypoint_names=names)


def small_model(**kw) -> InsolePoseCNN:
    torch.manual_seed(0)
    return zoo.create_model("insole_pose_cnn", data_spec=spec(**kw), preset="small")


def test_decoder_plan_reproduces_the_papers_kernels():
    assert plan_decoder((7, 10, 9), (20, 20, 18)) == [((3, 5, 5), 2), ((3, 4, 3), 1), ((3, 3, 5), 2)]
    model = InsolePoseCNN(data_spec=spec((30, 22), 40), preset="paper")
    convs = [block[0] for block in model.net.decoder]
    assert [c.kernel_size for c in convs] == [(3, 5, 5), (3, 4, 3), (2, 2, 2), (3, 3, 5)]
    assert isinstance(convs[2], torch.nn.ConvTranspose3d) and convs[2].stride == (2, 2, 2)
    with pytest.raises(zoo.ZooError, match="cannot decode a .* voxel grid"):
        plan_decoder((1, 2, 9), (20, 20, 18))


def test_paper_preset_parameter_count_matches_the_layer_arithmetic():
    # The paper states no total; count by hand: conv weights + bias, BatchNorm weight + bias.
    def conv(c_in, c_out, taps):
        return c_in * c_out * taps + c_out + 2 * c_out

    encoder = sum(conv(a, b, 9) for a, b in [(40, 32), (32, 64), (64, 128), (128, 256)])
    decoder = conv(257, 256, 75) + conv(256, 128, 36) + conv(128, 64, 8) + conv(64, 19, 45)
    model = InsolePoseCNN(data_spec=spec((30, 22), 40), preset="paper")
    assert model.num_parameters() == 2 * encoder + decoder == 7_035_769


def test_paper_input_gives_paper_voxels_heatmaps_and_keypoints():
    torch.manual_seed(0)
    model = InsolePoseCNN(data_spec=spec((30, 22), 40), preset="paper").eval()
    x = torch.rand(1, 2, 40, 30, 22)
    with torch.no_grad():
        features = model.encode(x)
        out = model({"x": x})
    assert model.net.voxels == (7, 10, 9)
    assert features.shape == (1, 256, 7, 10)
    assert out["heatmap"].shape == (1, 19, 20, 20, 18)
    assert out["y"].shape == (1, 19, 3)


@pytest.mark.parametrize("grid", [(15, 11), (8, 6), (4, 3)])
def test_ablation_resolutions_and_seven_keypoints_run_through_the_paper_network(grid):
    model = InsolePoseCNN(data_spec=spec(grid, 40, keypoints=7), preset="paper", **NARROW).eval()
    with torch.no_grad():
        out = model({"x": torch.rand(2, 2, 40, *grid)})
    assert model.encode(torch.rand(2, 2, 40, *grid)).shape[-2:] == (7, 10)  # resized to 30 x 22 first
    assert out["heatmap"].shape == (2, 7, 20, 20, 18)
    assert out["y"].shape == (2, 7, 3)
    assert torch.isfinite(out["y"]).all()


def test_lifted_volume_carries_the_height_index_as_its_last_channel():
    features = torch.randn(2, 5, 7, 10)
    volume = lift(features, 9)
    assert volume.shape == (2, 6, 7, 10, 9)
    for k in range(9):
        assert torch.equal(volume[:, :5, ..., k], features)
        assert torch.all(volume[:, 5, ..., k] == k / 8)


@pytest.mark.parametrize("kernel, padding, grid, depth", [
    ((3, 5, 5), 2, (7, 10), 9),   # the paper's first decoder layer (its channels cut down)
    ((3, 5, 5), 2, (4, 4), 2),    # depth shorter than the kernel: every output depth has its own taps
    ((3, 4, 3), (1, 1, 1), (3, 5), 4),  # even kernel, padding 1
    ((1, 3, 4), (0, 1, 0), (2, 3), 6),  # no depth padding: a narrower output, every tap valid
])
def test_lifted_first_layer_equals_the_3d_convolution_of_the_repeated_volume(kernel, padding, grid, depth):
    torch.manual_seed(0)
    conv = LiftedConv3d(6, 5, kernel, padding=padding)
    features = torch.randn(3, 5, *grid, requires_grad=True)
    reference = conv(lift(features, depth))
    lifted = conv.forward_lifted(features, depth)
    assert lifted.shape == reference.shape
    assert torch.allclose(lifted, reference, atol=1e-5, rtol=0)
    grads = [torch.autograd.grad((out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum(),
                                 (features, conv.weight, conv.bias)) for out in (reference, lifted)]
    for g_ref, g_lifted in zip(*grads):
        assert torch.allclose(g_lifted, g_ref, atol=1e-4, rtol=1e-5)


def test_lifted_paper_network_matches_the_reference_form():
    torch.manual_seed(0)
    model = InsolePoseCNN(data_spec=spec((30, 22), 4), preset="paper", decoder_widths=[24, 16, 8],
                          encoder_widths=[8, 8, 16, 32]).eval()
    x = torch.rand(2, 2, 4, 30, 22)
    with torch.no_grad():
        fast = model.net.heatmaps(x)
        model.net.lifted_conv = False
        reference = model.net.heatmaps(x)
    assert torch.allclose(fast, reference, atol=1e-5, rtol=0)
    with pytest.raises(zoo.ZooError, match="stride 1"):
        LiftedConv3d(3, 2, 3, stride=2).forward_lifted(torch.rand(1, 2, 4, 4), 4)


def test_soft_argmax_of_a_one_hot_heatmap_is_that_voxels_position():
    lo, hi = torch.tensor([-0.5, -0.3, 0.0]), torch.tensor([0.5, 0.3, 1.8])
    heatmap = torch.zeros(1, 2, 20, 20, 18)
    heatmap[0, 0, 3, 19, 5] = 1.0
    heatmap[0, 1, 0, 10, 17] = 0.4  # the scale of a lone peak does not matter
    coords = soft_argmax(heatmap, lo, hi)
    expected = torch.tensor([[-0.5 + 3 / 19, 0.3, 5 / 17 * 1.8], [-0.5, -0.3 + 10 / 19 * 0.6, 1.8]])
    torch.testing.assert_close(coords[0], expected, atol=1e-5, rtol=0)


def test_model_maps_volume_dims_to_pose_axes_in_the_statistics_box():
    model = small_model(keypoints=2)
    model.set_target_stats(torch.tensor([[0.0, 0.0, 0.1], [0.2, -0.1, 1.5]]),
                           torch.tensor([0.1, 0.05, 0.2]).expand(2, 3))
    lo, hi = model.volume_box()  # volume dims hold (y, x, z); margin 3 std around every keypoint's mean
    torch.testing.assert_close(lo, torch.tensor([-0.25, -0.3, -0.5]))
    torch.testing.assert_close(hi, torch.tensor([0.15, 0.5, 2.1]))
    one_hot = torch.zeros(1, 2, 10, 10, 9)
    one_hot[0, :, 9, 0, 4] = 1.0  # far end along the insoles, leftmost, half height
    model.heatmaps = lambda x: one_hot
    keypoints = model.denormalise(model({"x": torch.zeros(1, 2, 6, 16, 8)})["y"])
    torch.testing.assert_close(keypoints[0], torch.tensor([[-0.3, 0.15, 0.8]] * 2), atol=1e-5, rtol=0)


def test_gaussian_target_peaks_at_the_true_keypoints_voxel():
    lo, hi = torch.tensor([0.0, 0.0, 0.0]), torch.tensor([1.9, 1.9, 1.7])  # 0.1 m voxels
    point = torch.tensor([[[0.72, 1.26, 0.31]]])  # fractional voxel index (7.2, 12.6, 3.1)
    heatmap = gaussian_heatmaps(point, (20, 20, 18), lo, hi, sigma=1.0)
    peak = torch.nonzero(heatmap[0, 0] == heatmap.max()).squeeze(0).tolist()
    assert peak == [7, 13, 3]
    offset = torch.tensor([0.2, 0.4, 0.1])
    assert heatmap.max().item() == pytest.approx(math.exp(-0.5 * float((offset**2).sum())), rel=1e-5)
    centred = torch.tensor([[[1.0, 0.9, 0.8]]])  # on voxel (10, 9, 8), far from every border
    on_voxel = gaussian_heatmaps(centred, (20, 20, 18), lo, hi, sigma=1.0)
    assert on_voxel.max().item() == pytest.approx(1.0)
    torch.testing.assert_close(soft_argmax(on_voxel, lo, hi), centred, atol=1e-4, rtol=0)


def test_heatmaps_are_clipped_to_the_unit_interval():
    model = small_model().eval()
    with torch.no_grad():
        model.net.decoder[-1][0].weight.mul_(100.0)  # drive outputs far beyond [0, 1] both ways
        heatmap = model.heatmaps(torch.randn(4, 2, 6, 16, 8))
    assert heatmap.min().item() == 0.0 and heatmap.max().item() == 1.0
    assert ((heatmap > 0) & (heatmap < 1)).any()


def test_loss_weighs_heatmap_and_keypoint_terms():
    model = small_model(keypoints=2)
    model.set_target_stats(torch.tensor([[0.0, 0.0, 0.1], [0.2, -0.1, 1.5]]),
                           torch.tensor([0.1, 0.05, 0.2]).expand(2, 3))
    target = torch.randn(3, 2, 3) * 0.5
    lo, hi = model.volume_box()
    ideal = gaussian_heatmaps(model.denormalise(target)[..., [1, 0, 2]], (10, 10, 9), lo, hi, 1.0)
    batch: dict[str, torch.Tensor] = {}
    assert model.compute_loss({"y": target, "heatmap": ideal}, target, batch).item() == pytest.approx(0, abs=1e-9)
    shifted = model.compute_loss({"y": target + 1.0, "heatmap": ideal}, target, batch)
    assert shifted.item() == pytest.approx(1.0 * 1.0, rel=1e-5)  # keypoint_weight x MSE of a unit shift
    empty = model.compute_loss({"y": target, "heatmap": torch.zeros_like(ideal)}, target, batch)
    assert empty.item() == pytest.approx(10.0 * ideal.pow(2).mean().item(), rel=1e-5)  # heatmap_weight 10


def probe_data(n: int, seed: int, shuffle_labels: bool) -> list[dict[str, torch.Tensor]]:
    """Two classes separable by construction: pressure under the left foot (0) or the right foot (1)."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 2
    x = 0.3 * torch.randn(n, 2, 6, 16, 8, generator=g)
    x[torch.arange(n), labels] += 1.0
    if shuffle_labels:
        labels = labels[torch.randperm(n, generator=g)]
    return [{"x": x[i:i + 32], "activity": labels[i:i + 32]} for i in range(0, n, 32)]


@pytest.mark.parametrize("shuffled", [False, True])
def test_linear_probe_separates_separable_actions_and_not_shuffled_ones(shuffled):
    model = small_model().train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    datamodule = SimpleNamespace(
        data_spec={"activities": ["left_stand", "right_stand"]},
        train_dataloader=lambda: probe_data(256, 0, shuffled),
        test_dataloader=lambda: probe_data(256, 1, shuffled),
    )
    result = linear_probe(model, datamodule, epochs=30, lr=1e-2)
    assert result["n_classes"] == 2
    if shuffled:
        assert 0.35 <= result["accuracy"] <= 0.65
    else:
        assert result["accuracy"] >= 0.95
    assert model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # encoders stay frozen
