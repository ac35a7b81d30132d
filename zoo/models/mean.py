"""Mean predictor: the training targets' mean at every output position. The floor every model must beat."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from datamodules.tasks import DataSpec
from zoo.models.closed_form import ClosedFormModel
from zoo.registry import register_model


class MeanNet(nn.Module):
    """Predicts the stored mean target for every input (`mean` buffer, `[*target_shape]`)."""

    def __init__(self, target_shape: Sequence[int]) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(tuple(target_shape)))

    def forward(self, x: Tensor, body_mass: Tensor | None = None) -> Tensor:
        return self.mean.expand(x.shape[0], *self.mean.shape)


@register_model("mean")
class MeanPredictor(ClosedFormModel):
    """Predicts the mean training target per output position (per stance time and cell, per window step)."""

    families = ("*",)
    default_task = "imu2pressure"
    network = MeanNet
    paper = "baseline"
    presets = {"small": {}, "paper": {}}
    search_space: dict = {}  # nothing to tune
    statistics = ("total", "count")

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.net = self.build_net()
        self.register_buffer("total", torch.zeros(self.target_shape, dtype=torch.float64))
        self.register_buffer("count", torch.zeros((), dtype=torch.float64))

    @classmethod
    def network_shapes(cls, spec: DataSpec) -> dict[str, Any]:
        return {"target_shape": tuple(spec.target_shape)}

    def forward(self, batch: Mapping[str, Tensor]) -> Tensor:
        return self.net(batch["x"])

    def accumulate(self, batch: Mapping[str, Tensor], target: Tensor) -> None:
        self.total += target.double().sum(dim=0)
        self.count += target.shape[0]

    def solve(self, val_batches: Iterable[Mapping[str, Tensor]] = ()) -> None:
        self.net.mean.copy_((self.total / self.count.clamp(min=1)).float())
