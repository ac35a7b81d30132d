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

import torch.nn.functional as F
from torch import Tensor, nn

from zoo.registry import register_model
from zoo.task import BaseTask


@register_model("pose_mlp")
class PoseMLP(BaseTask):
    """Average-pooled insole window -> MLP -> K x 3 keypoints.

    Args:
        pool: (frames, rows, columns) each foot's window is average-pooled to (capped by the input size).
        hidden: width of every hidden layer.
        depth: number of hidden layers.
        dropout: dropout after every hidden layer.
    """

    supported_tasks = ("insole2pose",)
    paper = "baseline"
    presets = {
        "small": {"pool": [4, 8, 4], "hidden": 128, "depth": 2, "dropout": 0.1, "lr": 2e-3},
        "paper": {"pool": [8, 16, 12], "hidden": 512, "depth": 3, "dropout": 0.1, "lr": 1e-3},
    }

    def __init__(self, pool: Sequence[int] | None = None, hidden: int | None = None, depth: int | None = None,
                 dropout: float | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        cfg = self.resolve(pool=pool, hidden=hidden, depth=depth, dropout=dropout)
        self.pooled = tuple(min(p, n) for p, n in zip(cfg.pool, self.input_shape[1:]))
        width = self.in_channels * math.prod(self.pooled)
        layers: list[nn.Module] = []
        for _ in range(cfg.depth):
            layers += [nn.Linear(width, cfg.hidden), nn.LayerNorm(cfg.hidden), nn.ReLU(), nn.Dropout(cfg.dropout)]
            width = cfg.hidden
        layers.append(nn.Linear(width, math.prod(self.target_shape)))
        self.mlp = nn.Sequential(*layers)

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        x = F.adaptive_avg_pool3d(batch["x"], self.pooled).flatten(1)
        return self.mlp(x).unflatten(1, self.target_shape)
