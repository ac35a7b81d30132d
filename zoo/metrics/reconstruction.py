"""Masked reconstruction error of `pretrain` (Tan 2024): how well hidden IMU steps are filled in."""

from __future__ import annotations

import torch
from torch import Tensor
from torchmetrics import Metric

from zoo.errors import ZooError


class MaskedMSE(Metric):
    """MSE over the masked time steps of every channel, in the (normalised) units of the input.

    `update(pred, target, mask)` takes `[B, C, T]` windows and a boolean `mask` of the hidden steps, `[B, T]`
    (shared by all channels) or `[B, C, T]`. Without a mask every step counts (plain reconstruction MSE).
    """

    higher_is_better = False
    full_state_update = False

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.add_state("squared_error_sum", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("values", torch.tensor(0), dist_reduce_fx="sum")

    def update(self, pred: Tensor, target: Tensor, mask: Tensor | None = None) -> None:
        if pred.shape != target.shape or target.dim() != 3:
            raise ZooError(
                f"masked_mse expects pred and target of shape [B, C, T]; "
                f"found pred {tuple(pred.shape)} and target {tuple(target.shape)}"
            )
        if mask is None:
            mask = torch.ones_like(target, dtype=torch.bool)
        elif mask.shape == (target.shape[0], target.shape[2]):
            mask = mask.unsqueeze(1).expand_as(target)
        elif mask.shape != target.shape:
            raise ZooError(
                f"masked_mse expects mask of shape [B, T] {(target.shape[0], target.shape[2])} or [B, C, T]; "
                f"found {tuple(mask.shape)}"
            )
        mask = mask.bool()
        self.squared_error_sum += (pred.double() - target.double())[mask].pow(2).sum()
        self.values += int(mask.sum())

    def compute(self) -> Tensor:
        return self.squared_error_sum / self.values
