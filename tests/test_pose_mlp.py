"""Pose MLP baseline: it sees only block averages of the insole window, capped at the input size."""

from __future__ import annotations

import torch
import torch.nn.functional as F

import zoo
from zoo.specs import default_data_spec


def build(grid, frames, **kw):
    torch.manual_seed(0)
    spec = default_data_spec("insole2pose", grid=list(grid), frames=frames)
    return zoo.create_model("pose_mlp", data_spec=spec, preset="small", **kw).eval()


def test_prediction_depends_only_on_the_pooled_block_averages():
    model = build((16, 8), 8)  # small preset pools to (4, 8, 4): blocks of 2 x 2 x 2
    x = torch.randn(3, 2, 8, 16, 8)
    wiggle = torch.randn_like(x)
    wiggle -= F.interpolate(F.avg_pool3d(wiggle, 2), scale_factor=2, mode="nearest")  # zero mean per block
    with torch.no_grad():
        torch.testing.assert_close(model({"x": x + wiggle}), model({"x": x}), atol=1e-5, rtol=1e-5)
        assert not torch.allclose(model({"x": x + 0.5 * torch.randn_like(x)}), model({"x": x}), atol=1e-3)


def test_pooling_is_capped_by_the_input_and_output_is_one_pose_per_sample():
    model = build((4, 3), 2)
    assert model.net.pooled == (2, 4, 3)
    assert model.net.mlp[0].in_features == 2 * 2 * 4 * 3
    with torch.no_grad():
        assert model({"x": torch.randn(5, 2, 2, 4, 3)}).shape == (5, 19, 3)
