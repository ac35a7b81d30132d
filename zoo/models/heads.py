"""Task heads shared by every sequence encoder, so leaderboards compare encoders, not heads.

An encoder turns `[B, C, T]` into per-step features `[B, F, T]`; a head turns those into the task's
target: a pressure map per step (`imu2pressure`) or a GRF vector per step (`imu2grf`). When the task
provides body mass (Qian 2025's personalisation), the head fuses it for every encoder alike.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class MassEmbedding(nn.Module):
    """Body mass (z-scored) through fully connected layers, as in Qian 2025."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(1, dim), nn.ReLU(), nn.Linear(dim, dim), nn.ReLU())

    def forward(self, mass: Tensor) -> Tensor:
        return self.net(mass)


class PerStepHead(nn.Module):
    """Per-step features (+ optional mass embedding) -> `out_dim` values per step, resampled to `steps`."""

    def __init__(self, features: int, out_dim: int, steps: int, *, mass_dim: int = 0, hidden: int = 0,
                 dropout: float = 0.0) -> None:
        super().__init__()
        self.steps = steps
        self.mass = MassEmbedding(mass_dim) if mass_dim else None
        width = features + mass_dim
        layers: list[nn.Module] = []
        if hidden:
            layers += [nn.Conv1d(width, hidden, 1), nn.ReLU(), nn.Dropout(dropout)]
            width = hidden
        layers.append(nn.Conv1d(width, out_dim, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, features: Tensor, mass: Tensor | None = None) -> Tensor:
        if features.shape[-1] != self.steps:
            features = F.interpolate(features, size=self.steps, mode="linear", align_corners=True)
        if self.mass is not None:
            if mass is None:
                raise ValueError("this head fuses body mass: the batch must carry `body_mass`")
            m = self.mass(mass)[:, :, None].expand(-1, -1, features.shape[-1])
            features = torch.cat([features, m], dim=1)
        return self.net(features)


def sequence_head(spec: dict, features: int, *, hidden: int = 0, dropout: float = 0.0,
                  mass_dim: int = 16) -> PerStepHead:
    """The head for `spec['task']`: a `[T, H, W]` map decoder or a `[C_out, T]` per-step regressor."""
    target = list(spec["target_shape"])
    use_mass = mass_dim if spec.get("has_body_mass") else 0
    if spec["task"] == "imu2pressure":
        steps, h, w = target
        return PerStepHead(features, h * w, steps, mass_dim=use_mass, hidden=hidden, dropout=dropout)
    out_dim, steps = target
    return PerStepHead(features, out_dim, steps, mass_dim=use_mass, hidden=hidden, dropout=dropout)


def apply_head(head: PerStepHead, spec: dict, features: Tensor, batch: dict[str, Tensor]) -> Tensor:
    """Run the head and lay its output out as the task's target (`[B, T, H, W]` maps or `[B, C, T]`)."""
    out = head(features, batch.get("body_mass"))
    if spec["task"] == "imu2pressure":
        steps, h, w = spec["target_shape"]
        return out.transpose(1, 2).reshape(-1, steps, h, w).contiguous()  # metrics call .view()
    return out
