"""Temporal convolutional network: the simple neural baseline for sequence tasks.

Dilated residual 1D convolutions (Bai et al. 2018) over channels-first IMU windows, non-causal
(offline estimation sees the whole window), then the shared per-step task head.
"""

from __future__ import annotations

from torch import Tensor, nn

from zoo.models.heads import apply_head, sequence_head
from zoo.registry import register_model
from zoo.task import BaseTask


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


@register_model("tcn")
class TemporalCNN(BaseTask):
    """Dilated residual temporal CNN; serves every IMU task through the shared heads."""

    supported_tasks = ("imu2grf", "imu2pressure")
    paper = "baseline (Bai et al. 2018)"
    presets = {
        "small": {"hidden": 64, "levels": 4, "kernel": 5, "dropout": 0.1, "lr": 2e-3},
        "paper": {"hidden": 128, "levels": 6, "kernel": 5, "dropout": 0.1, "lr": 1e-3},
    }

    def __init__(self, hidden: int | None = None, levels: int | None = None, kernel: int | None = None,
                 dropout: float | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        cfg = self.resolve(hidden=hidden, levels=levels, kernel=kernel, dropout=dropout)
        self.stem = nn.Conv1d(self.in_channels, cfg.hidden, 1)
        self.blocks = nn.Sequential(
            *[ResidualBlock(cfg.hidden, cfg.kernel, 2**i, cfg.dropout) for i in range(cfg.levels)]
        )
        self.head = sequence_head(self.spec, cfg.hidden, hidden=cfg.hidden, dropout=cfg.dropout)

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        return apply_head(self.head, self.spec, self.blocks(self.stem(batch["x"])), batch)
