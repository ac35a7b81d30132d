"""Stride-level plantar-pressure metrics: regional peak pressure (heel, midfoot, forefoot) and COP path.

Peak pressure under the heel and the forefoot, and how far and how straight the COP travels, are what a
clinician reads off a pressure-plate stance; a model can have a small RMSE over all cells and still miss the
heel peak. docs/metrics.md ("Stride-level (clinical) metrics") defines every quantity.

Maps are `[..., H, W]` in N/cm^2 with row 0 at the heel and column 0 at the medial edge (docs/metrics.md,
docs/recording_format.md); the rows run along the foot, so regions are bands of rows.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from datamodules.simulator.footprint import REGION_BOUNDS
from datamodules.tasks.stride_info import COP_QUANTITIES, REGION_QUANTITIES, STRIDE_PRESSURE_INFO
from zoo.errors import ZooError
from zoo.metrics.pressure import LOAD_FRACTION, cop_from_pressure, loaded_frames
from zoo.metrics.stride_base import NO_KEY, StrideMetric

__all__ = ["COP_QUANTITIES", "REGION_QUANTITIES", "STRIDE_PRESSURE_INFO", "StridePressureMetrics"]

MIN_REGION_PEAK = 1.0  # N/cm^2 (10 kPa): a region whose true peak is lower is not scored (relative error)



def footprint_rows(loaded_rows: Tensor) -> tuple[int, int] | None:
    """First and last row (inclusive) of a boolean `[H]` row mask; None when no row is set."""
    rows = torch.nonzero(loaded_rows).flatten()
    return (int(rows[0]), int(rows[-1])) if len(rows) else None


def region_rows(height: int, first: int, last: int) -> dict[str, Tensor]:
    """Boolean `[H]` row mask per region: a row belongs to the region holding its centre's fraction of the
    footprint length, `(i + 0.5 - first) / (last - first + 1)`: heel [0, 0.30), midfoot [0.30, 0.55),
    forefoot [0.55, 1] (rows outside the footprint belong to none). The same rule as the simulator's
    `Footprint.region_masks`."""
    fraction = (torch.arange(height, dtype=torch.float64) + 0.5 - first) / (last - first + 1)
    return {name: (fraction >= lo) & ((fraction < hi) | ((hi >= 1.0) & (fraction <= 1.0)))
            for name, (lo, hi) in REGION_BOUNDS.items()}


def cop_path(cop: Tensor) -> tuple[float, float, float]:
    """Path length (sum of the distances between consecutive COPs), AP excursion (range of the along-foot
    coordinate y) and ML excursion (range of the across-foot coordinate x) of a `[F, 2]` (x, y) COP track."""
    length = (cop[1:] - cop[:-1]).norm(dim=-1).sum()
    extent = cop.amax(dim=0) - cop.amin(dim=0)
    return float(length), float(extent[1]), float(extent[0])


class StridePressureMetrics(StrideMetric):
    """Regional peak pressure and (for stances) COP path per sample, compared sample by sample.

    `update(pred, target, *, footprint=None, keys=None)`: `pred`, `target` `[B, T, H, W]` (one stance per row,
    `sequences=True`) or `[B, H, W]` (one frame per row, `sequences=False`: no COP path), N/cm^2.
    The footprint (the foot's extent along the rows) is the set of rows loaded in any TRUE frame of the
    stance, or of `footprint` `[B, H, W]` (bool, the foot outline, e.g. plantar geometry >= 0) when given.
    Frames need the outline: one frame loads only part of the foot (only the heel at heel strike), and
    regions measured on that part would be wrong.
    `keys` `[B, 2]` int64 (trial id >= 0, e.g. the heel-strike sample) only label the rows of the per-stride
    table, and rows with equal keys count once.
    """

    def __init__(self, cell_size_cm: tuple[float, float], *, sequences: bool = True,
                 min_region_peak: float = MIN_REGION_PEAK, load_fraction: float = LOAD_FRACTION,
                 **kwargs) -> None:
        super().__init__(REGION_QUANTITIES + (COP_QUANTITIES if sequences else ()), **kwargs)
        self.cell_size_cm = tuple(float(c) for c in cell_size_cm)
        self.sequences = sequences
        self.min_region_peak = float(min_region_peak)
        self.load_fraction = load_fraction

    def update(self, pred: Tensor, target: Tensor, *, footprint: Tensor | None = None,
               keys: Tensor | None = None) -> None:
        dims = 4 if self.sequences else 3
        if pred.shape != target.shape or target.dim() != dims:
            raise ZooError(f"stride pressure metrics expect pred and target of shape "
                           f"{'[B, T, H, W]' if self.sequences else '[B, H, W]'}; "
                           f"found {tuple(pred.shape)} and {tuple(target.shape)}")
        true = target.detach().to("cpu", torch.float64)
        predicted = pred.detach().to("cpu", torch.float64)
        if not self.sequences:
            true, predicted = true.unsqueeze(1), predicted.unsqueeze(1)
        if footprint is None and not self.sequences:
            raise ZooError("stride pressure metrics on single frames need footprint=[B, H, W] (the foot "
                           "outline, e.g. plantar geometry >= 0): one frame loads only part of the foot")
        if footprint is not None and footprint.shape != (len(true), *true.shape[-2:]):
            raise ZooError(f"stride pressure metrics: footprint must be [B, H, W] = "
                           f"{[len(true), *true.shape[-2:]]}; found {list(footprint.shape)}")
        rows = [self._sample(predicted[i], true[i], None if footprint is None else footprint[i].cpu())
                for i in range(len(true))]
        q = len(self.quantities)
        t = torch.tensor([r[0] for r in rows], dtype=torch.float64).reshape(-1, q)
        p = torch.tensor([r[1] for r in rows], dtype=torch.float64).reshape(-1, q)
        k = torch.full((len(true), 3), float(NO_KEY), dtype=torch.float64)
        if keys is not None:
            k[:, :2] = torch.as_tensor(keys).to("cpu", torch.float64).reshape(-1, 2)
            k[:, 2] = 0
        self._add_strides(t, p, k)

    def _sample(self, pred: Tensor, true: Tensor, outline: Tensor | None) -> tuple[list[float], list[float]]:
        """True and predicted values of one sample `[T, H, W]`, NaN where not scored."""
        nan = math.nan
        loaded_rows = (outline.bool() if outline is not None else (true > 0).any(dim=0)).any(dim=-1)
        extent = footprint_rows(loaded_rows)
        t_out, p_out = [], []
        for mask in (region_rows(true.shape[-2], *extent).values() if extent else [None] * 3):
            if mask is None or not mask.any():
                t_out.append(nan), p_out.append(nan)
                continue
            true_peak, pred_peak = float(true[:, mask].max()), float(pred[:, mask].max())
            ok = true_peak >= self.min_region_peak
            t_out.append(true_peak if ok else nan), p_out.append(pred_peak if ok else nan)
        if self.sequences:
            t_cop, p_cop = self._cop(pred, true)
            t_out.extend(t_cop), p_out.extend(p_cop)
        return t_out, p_out

    def _cop(self, pred: Tensor, true: Tensor) -> tuple[list[float], list[float]]:
        """COP path and excursions over the loaded frames (>= 2 needed); the prediction's are NaN when it
        carries no load on one of them (its COP is undefined there)."""
        loaded = loaded_frames(true.unsqueeze(0), self.load_fraction)[0]
        if int(loaded.sum()) < 2:
            return [math.nan] * 3, [math.nan] * 3
        true_cop = cop_from_pressure(true[loaded], self.cell_size_cm)
        pred_maps = pred[loaded].clamp_min(0)
        if not bool((pred_maps.sum(dim=(-2, -1)) > 0).all()):
            return list(cop_path(true_cop)), [math.nan] * 3
        return list(cop_path(true_cop)), list(cop_path(cop_from_pressure(pred_maps, self.cell_size_cm)))
