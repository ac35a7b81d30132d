"""The per-step head shared by every sequence encoder, so leaderboards compare encoders, not heads.

An encoder turns `[B, C, T]` into per-step features `[B, F, T]`; the head turns those into `out_features`
values per output step (`[B, out_features, steps]`), and the task lays them out as its target (a pressure
map per step, a GRF vector per step, or all of them at once). When the data carry body mass (Qian 2025's
personalisation), the head fuses it for every encoder alike.
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


def sequence_head(spec, features: int, *, hidden: int = 0, dropout: float = 0.0,
                  mass_dim: int = 16) -> PerStepHead:
    """Deprecated (0.2): build `PerStepHead(features, task.step_features(spec), task.output_steps(spec))`."""
    from datamodules.tasks import DataSpec, get_task

    spec = DataSpec.from_dict(spec)
    task = get_task(spec.task)
    return PerStepHead(features, task.step_features(spec), task.output_steps(spec),
                       mass_dim=mass_dim if spec.has_body_mass else 0, hidden=hidden, dropout=dropout)


def apply_head(head: PerStepHead, spec, features: Tensor, batch: dict[str, Tensor]) -> Tensor:
    """Deprecated (0.2): run the head and lay its output out as the task's target."""
    from datamodules.tasks import DataSpec, get_task

    spec = DataSpec.from_dict(spec)
    return get_task(spec.task).to_target(head(features, batch.get("body_mass")), spec)
