"""Metrics of the joint pressure + GRF + COP task (`imu2kinetics`): COP error per loaded step, and whether a
model's three outputs agree with each other the way physics says they must.

Inputs are the task's split outputs (see `datamodules.tasks.imu2kinetics.split`): maps `[B, T, H, W]` in
N/cm^2, GRF `[B, 3, T]` in body weights, COP `[B, 2, T]` in cm (across, along the foot), the loaded-step mask
`[B, T]` (true vGRF above 0.02 BW) and each window's body weight in N `[B]`. States are sums, so values are
exact across batches and under DDP.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torchmetrics import Metric, PearsonCorrCoef

VERTICAL = 2


def map_force_bw(maps: Tensor, cell_size_cm: tuple[float, float], weight_n: Tensor) -> Tensor:
    """Vertical force of maps `[B, T, H, W]` (negative pressure clipped) in body weights `[B, T]`."""
    return maps.clamp(min=0).sum(dim=(-2, -1)) * (cell_size_cm[0] * cell_size_cm[1]) / weight_n[:, None]


def map_centroid_cm(maps: Tensor, cell_size_cm: tuple[float, float]) -> tuple[Tensor, Tensor]:
    """Centroid `[B, T, 2]` (across, along; cm) of maps with negative pressure clipped, and the load `[B, T]`."""
    maps = maps.clamp(min=0)
    height, width = maps.shape[-2:]
    along = (torch.arange(height, dtype=maps.dtype, device=maps.device) + 0.5) * cell_size_cm[0]
    across = (torch.arange(width, dtype=maps.dtype, device=maps.device) + 0.5) * cell_size_cm[1]
    load = maps.sum(dim=(-2, -1))
    safe = torch.where(load > 0, load, torch.ones_like(load))
    return torch.stack([(maps.sum(dim=-2) * across).sum(-1) / safe, (maps.sum(dim=-1) * along).sum(-1) / safe], -1), load


class COPStepError(Metric):
    """Mean Euclidean distance (cm) between predicted and true COP over loaded steps."""

    higher_is_better = False
    full_state_update = False

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.add_state("distance", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("steps", torch.tensor(0), dist_reduce_fx="sum")

    def update(self, pred: Tensor, target: Tensor, loaded: Tensor) -> None:
        gap = (pred - target).transpose(1, 2)[loaded]  # [N, 2]
        self.distance += gap.double().norm(dim=-1).sum()
        self.steps += gap.shape[0]

    def compute(self) -> Tensor:
        return self.distance / self.steps


class MapVGRFPearson(PearsonCorrCoef):
    """Pearson r between the vGRF the predicted map implies (sum x cell area / body weight) and the true
    vGRF, over loaded steps: does the map alone carry the force?"""

    def __init__(self, cell_size_cm: tuple[float, float], **kwargs) -> None:
        super().__init__(**kwargs)
        self.cell_size_cm = tuple(cell_size_cm)

    def update(self, pred: dict[str, Tensor], target: dict[str, Tensor], loaded: Tensor, weight_n: Tensor) -> None:
        implied = map_force_bw(pred["pressure"], self.cell_size_cm, weight_n)
        if loaded.any():
            super().update(implied[loaded].double(), target["grf"][:, VERTICAL][loaded].double())


class MapForceConsistency(Metric):
    """RMSE (BW) between the vGRF the predicted map implies and the predicted vGRF, over every step: zero
    for a model whose outputs obey sum(pressure x area) = vGRF, as a real foot does."""

    higher_is_better = False
    full_state_update = False

    def __init__(self, cell_size_cm: tuple[float, float], **kwargs) -> None:
        super().__init__(**kwargs)
        self.cell_size_cm = tuple(cell_size_cm)
        self.add_state("squared", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("steps", torch.tensor(0), dist_reduce_fx="sum")

    def update(self, pred: dict[str, Tensor], target: dict[str, Tensor], loaded: Tensor, weight_n: Tensor) -> None:
        gap = map_force_bw(pred["pressure"], self.cell_size_cm, weight_n) - pred["grf"][:, VERTICAL]
        self.squared += gap.double().pow(2).sum()
        self.steps += gap.numel()

    def compute(self) -> Tensor:
        return (self.squared / self.steps).sqrt()


class MapCOPConsistency(Metric):
    """Mean distance (cm) between the predicted map's centroid and the predicted COP, over loaded steps where
    the predicted map carries load: zero for outputs that obey COP = pressure centroid."""

    higher_is_better = False
    full_state_update = False

    def __init__(self, cell_size_cm: tuple[float, float], **kwargs) -> None:
        super().__init__(**kwargs)
        self.cell_size_cm = tuple(cell_size_cm)
        self.add_state("distance", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("steps", torch.tensor(0), dist_reduce_fx="sum")

    def update(self, pred: dict[str, Tensor], target: dict[str, Tensor], loaded: Tensor, weight_n: Tensor) -> None:
        centroid, load = map_centroid_cm(pred["pressure"], self.cell_size_cm)
        scored = loaded & (load > 0)
        gap = centroid[scored] - pred["cop"].transpose(1, 2)[scored]
        self.distance += gap.double().norm(dim=-1).sum()
        self.steps += gap.shape[0]

    def compute(self) -> Tensor:
        return self.distance / self.steps
