"""Pose MLP: the simple neural baseline for `insole2pose`.

The insole window `[B, 2, M, H, W]` is average-pooled to at most `pool` (frames, rows, columns) per foot,
flattened and mapped to all keypoints at once by an MLP (Linear, LayerNorm, ReLU, Dropout blocks).
Plain MSE on normalised keypoints; no heatmaps, so a comparison with `insole_pose_cnn` measures what the
spatial encoders and the 3D heatmap decoder add over a flat regressor.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from datamodules.tasks import INSOLE_TO_POSE, DataSpec
from zoo.model import ZooModel
from zoo.registry import register_model


def adaptive_bins(n: int, p: int) -> Tensor:
    """`[p, n]` averaging matrix of adaptive pooling along one axis: bin i averages [floor(i n / p), ceil((i + 1) n / p))."""
    weights = torch.zeros(p, n)
    for i in range(p):
        lo, hi = (i * n) // p, -((-(i + 1) * n) // p)
        weights[i, lo:hi] = 1.0 / (hi - lo)
    return weights


class PoseMLPNet(nn.Module):
    """`[B, C, M, H, W]` -> `[B, *target_shape]`: average-pool to `pool`, flatten, MLP."""

    def __init__(self, input_shape: Sequence[int], target_shape: Sequence[int], *, pool: Sequence[int] = (4, 8, 4),
                 hidden: int = 128, depth: int = 2, dropout: float = 0.1) -> None:
        super().__init__()
        self.pooled = tuple(min(p, n) for p, n in zip(pool, input_shape[1:]))
        # Adaptive average pooling written so it exports to ONNX (the dynamo exporter has no translation of
        # aten._adaptive_avg_pool3d): plain average pooling when every bin is even, else the same bins as
        # separable averaging matrices (non-persistent buffers: checkpoints are unchanged).
        sizes = tuple(input_shape[1:])
        self.kernel = tuple(n // p for p, n in zip(self.pooled, sizes)) \
            if all(n % p == 0 for p, n in zip(self.pooled, sizes)) else None
        for axis, (p, n) in enumerate(zip(self.pooled, sizes)):
            self.register_buffer(f"bins{axis}", adaptive_bins(n, p), persistent=False)
        self.target_shape = tuple(target_shape)
        width = input_shape[0] * math.prod(self.pooled)
        layers: list[nn.Module] = []
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.LayerNorm(hidden), nn.ReLU(), nn.Dropout(dropout)]
            width = hidden
        layers.append(nn.Linear(width, math.prod(self.target_shape)))
        self.mlp = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        if self.kernel:
            pooled = F.avg_pool3d(x, self.kernel)
        else:
            pooled = torch.einsum("bcmhw,pm,qh,rw->bcpqr", x, self.bins0, self.bins1, self.bins2)
        return self.mlp(pooled.flatten(1)).unflatten(1, self.target_shape)


@register_model("pose_mlp")
class PoseMLP(ZooModel):
    """Average-pooled insole window -> MLP -> K x 3 keypoints.

    Args:
        pool: (frames, rows, columns) each foot's window is average-pooled to (capped by the input size).
        hidden: width of every hidden layer.
        depth: number of hidden layers.
        dropout: dropout after every hidden layer.
    """

    families = (INSOLE_TO_POSE,)
    network = PoseMLPNet
    paper = "baseline"
    presets = {
        "small": {"net": {"pool": [4, 8, 4], "hidden": 128, "depth": 2, "dropout": 0.1}, "optim": {"lr": 2e-3}},
        "paper": {"net": {"pool": [8, 16, 12], "hidden": 512, "depth": 3, "dropout": 0.1}, "optim": {"lr": 1e-3}},
    }
    search_space = {
        "lr": {"type": "float", "low": 3e-4, "high": 1e-2, "log": True},
        "hidden": {"type": "categorical", "choices": [64, 128, 256, 512]},
        "depth": {"type": "int", "low": 1, "high": 3},
        "dropout": {"type": "float", "low": 0.0, "high": 0.3},
    }

    def __init__(self, pool: Sequence[int] | None = None, hidden: int | None = None, depth: int | None = None,
                 dropout: float | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.net = self.build_net(pool=pool, hidden=hidden, depth=depth, dropout=dropout)

    @classmethod
    def network_shapes(cls, spec: DataSpec) -> dict[str, Any]:
        return {"input_shape": tuple(spec.input_shape), "target_shape": tuple(spec.target_shape)}
