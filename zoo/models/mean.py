"""Mean predictor: the training targets' mean at every output position. The floor every model must beat."""

from __future__ import annotations

import torch
from torch import Tensor

from zoo.models.closed_form import ClosedFormTask
from zoo.registry import register_model

ALL_TASKS = ("imu2pressure", "imu2grf", "landmarks2pressure", "insole2pose", "pretrain")


@register_model("mean")
class MeanPredictor(ClosedFormTask):
    """Predicts the mean training target per output position (per stance time and cell, per window step)."""

    supported_tasks = ALL_TASKS
    paper = "baseline"
    presets = {"small": {}, "paper": {}}

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.register_buffer("total", torch.zeros(self.target_shape, dtype=torch.float64))
        self.register_buffer("count", torch.zeros((), dtype=torch.float64))

    def accumulate(self, batch: dict[str, Tensor], target: Tensor) -> None:
        self.total += target.double().sum(dim=0)
        self.count += target.shape[0]

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        mean = (self.total / self.count.clamp(min=1)).float()
        return mean.expand(batch["x"].shape[0], *mean.shape)
