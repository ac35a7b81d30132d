"""Temporal convolutional network: the simple neural baseline for sequence tasks.

Dilated residual 1D convolutions (Bai et al. 2018) over channels-first IMU windows, non-causal
(offline estimation sees the whole window), then the shared per-step task head.
"""

from __future__ import annotations

from torch import Tensor, nn

from datamodules.tasks import SEQUENCE_TO_STEPS
from zoo.model import ZooModel
from zoo.models.heads import PerStepHead
from zoo.registry import register_model


class ResidualBlock(nn.Module):
    def __init__(self, channels: int, kernel: int, dilation: int, dropout: float) -> None:
        super().__init__()
        pad = dilation * (kernel - 1) // 2
        self.net = nn.Sequential(
            nn.Conv1d(channels, channels, kernel, padding=pad, dilation=dilation), nn.BatchNorm1d(channels), nn.ReLU(),
            nn.Dropout(dropout),
            nn.Conv1d(channels, channels, kernel, padding=pad, dilation=dilation), nn.BatchNorm1d(channels),
        )
        self.act = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        return self.act(x + self.net(x))


class TemporalCNNNet(nn.Module):
    """`[B, C, T]` -> `[B, out_features, steps]`: a 1x1 stem, `levels` residual blocks with dilations 1, 2, 4, ...,
    and the shared per-step head (fusing z-scored body mass `[B, 1]` when `with_body_mass`)."""

    def __init__(self, in_channels: int, out_features: int, steps: int, *, with_body_mass: bool = False,
                 hidden: int = 64, levels: int = 4, kernel: int = 5, dropout: float = 0.1) -> None:
        super().__init__()
        self.stem = nn.Conv1d(in_channels, hidden, 1)
        self.blocks = nn.Sequential(*[ResidualBlock(hidden, kernel, 2**i, dropout) for i in range(levels)])
        self.head = PerStepHead(hidden, out_features, steps, mass_dim=16 if with_body_mass else 0, hidden=hidden,
                                dropout=dropout)

    def forward(self, x: Tensor, body_mass: Tensor | None = None) -> Tensor:
        return self.head(self.blocks(self.stem(x)), body_mass)


@register_model("tcn")
class TemporalCNN(ZooModel):
    """Dilated residual temporal CNN; serves every sequence-to-steps task through the shared head."""

    families = (SEQUENCE_TO_STEPS,)
    network = TemporalCNNNet
    paper = "baseline (Bai et al. 2018)"
    presets = {
        "small": {"net": {"hidden": 64, "levels": 4, "kernel": 5, "dropout": 0.1}, "optim": {"lr": 2e-3}},
        "paper": {"net": {"hidden": 128, "levels": 6, "kernel": 5, "dropout": 0.1}, "optim": {"lr": 1e-3}},
    }
    search_space = {
        "lr": {"type": "float", "low": 3e-4, "high": 1e-2, "log": True},
        "hidden": {"type": "categorical", "choices": [32, 64, 128]},
        "levels": {"type": "int", "low": 3, "high": 6},
        "kernel": {"type": "categorical", "choices": [3, 5, 7]},
        "dropout": {"type": "float", "low": 0.0, "high": 0.3},
        "weight_decay": {"type": "categorical", "choices": [0.0, 1e-4, 1e-3]},
    }

    def __init__(self, hidden: int | None = None, levels: int | None = None, kernel: int | None = None,
                 dropout: float | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.net = self.build_net(hidden=hidden, levels=levels, kernel=kernel, dropout=dropout)
