"""Metrics of plantar pressure maps (`imu2pressure`, `landmarks2pressure`) and the quantities derived from them.

A map is `[..., H, W]` in N/cm^2: row 0 at the heel, column 0 at the medial edge. `cell_size_cm` follows the
same order, `(along the length, across the width)`. A sample is either a stance `[T, H, W]` (`imu2pressure`) or
a single frame `[H, W]` (`landmarks2pressure`, treated as a stance of one frame), so one definition of a
"loaded frame" serves both tasks. docs/metrics.md gives every definition as a formula.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torchmetrics import MeanAbsoluteError, MeanSquaredError, Metric, PearsonCorrCoef, R2Score
from torchmetrics.functional.image import structural_similarity_index_measure

from zoo.errors import ZooError

LOAD_FRACTION = 0.02  # a frame counts as loaded when its true vGRF exceeds 2 % of its stance's peak
SSIM_SIGMA = 0.9  # torchmetrics sizes the Gaussian window as 2 * int(3.5 sigma + 0.5) + 1 = 7 cells


def vgrf_from_pressure(p: Tensor, cell_size_cm: tuple[float, float]) -> Tensor:
    """Vertical force (N) of pressure maps `[..., H, W]` in N/cm^2: sum of pressure x cell area."""
    return p.sum(dim=(-2, -1)) * (cell_size_cm[0] * cell_size_cm[1])


def cop_from_pressure(p: Tensor, cell_size_cm: tuple[float, float]) -> Tensor:
    """Centre of pressure `[..., 2]` in cm: the pressure-weighted centroid of the cell centres.

    `x` runs across the width (column j at `(j + 0.5) x cell width`), `y` along the length (row i at
    `(i + 0.5) x cell length`), both from the heel-medial corner. A map without load has no COP (NaN).
    """
    height, width = p.shape[-2:]
    y = (torch.arange(height, dtype=p.dtype, device=p.device) + 0.5) * cell_size_cm[0]
    x = (torch.arange(width, dtype=p.dtype, device=p.device) + 0.5) * cell_size_cm[1]
    load = p.sum(dim=(-2, -1))
    cop_x = (p.sum(dim=-2) * x).sum(dim=-1) / load
    cop_y = (p.sum(dim=-1) * y).sum(dim=-1) / load
    return torch.stack([cop_x, cop_y], dim=-1)


def _as_stances(pred: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    """Check shapes and view single frames `[B, H, W]` as one-frame stances `[B, 1, H, W]`."""
    if pred.shape != target.shape or target.dim() not in (3, 4):
        raise ZooError(
            f"pressure metrics expect pred and target of one shape, [B, H, W] or [B, T, H, W]; "
            f"found pred {tuple(pred.shape)} and target {tuple(target.shape)}"
        )
    if target.dim() == 3:
        return pred.unsqueeze(1), target.unsqueeze(1)
    return pred, target


def loaded_frames(target: Tensor, fraction: float = LOAD_FRACTION) -> Tensor:
    """`[B, T]` mask of the frames whose true load exceeds `fraction` of the peak load of their stance.

    The cell area cancels in the ratio, so the summed pressure stands in for vGRF. A frame without any
    load is never selected (the comparison is strict).
    """
    load = target.sum(dim=(-2, -1))
    return load > fraction * load.amax(dim=1, keepdim=True)


class _Cellwise:
    """Mixin: the parent torchmetrics metric sees every cell of every frame as one flat series.

    Inputs are flattened with `reshape` (model outputs may be non-contiguous) and states are float64: R^2
    forms SS_tot as sum(y^2) - (sum y)^2 / n, which loses digits in float32 over a whole test set.
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.set_dtype(torch.float64)

    def update(self, pred: Tensor, target: Tensor) -> None:
        _as_stances(pred, target)
        super().update(pred.reshape(-1).double(), target.reshape(-1).double())


class PressureMSE(_Cellwise, MeanSquaredError):
    """MSE ((N/cm^2)^2) over every cell of every frame."""


class PressureRMSE(_Cellwise, MeanSquaredError):
    """RMSE (N/cm^2) over every cell of every frame."""

    def __init__(self, **kwargs) -> None:
        super().__init__(squared=False, **kwargs)


class PressureMAE(_Cellwise, MeanAbsoluteError):
    """MAE (N/cm^2) over every cell of every frame."""


class PressureR2Score(_Cellwise, R2Score):
    """R^2 = 1 - SS_res / SS_tot over every cell of every frame."""


class PressureSSIM(Metric):
    """SSIM (Wang et al. 2004) per loaded frame, averaged over loaded frames.

    Each frame is divided by its true peak, so the dynamic range L of the SSIM constants is the true peak of
    that frame: the score judges the shape of the map, magnitude errors are left to RMSE and PPE. The
    Gaussian window (sigma 0.9, 7 x 7 cells) keeps Wang's window radius / sigma ratio (5 / 1.5) on grids
    as small as 32 x 16. As in Wang's reference code, the SSIM map is averaged over the windows that lie
    inside the map; torchmetrics would also average the reflection-padded border windows.
    """

    higher_is_better = True
    full_state_update = False

    def __init__(self, sigma: float = SSIM_SIGMA, load_fraction: float = LOAD_FRACTION, **kwargs) -> None:
        super().__init__(**kwargs)
        self.sigma = sigma
        self.radius = int(3.5 * sigma + 0.5)  # the window torchmetrics builds for this sigma
        self.window = 2 * self.radius + 1
        self.load_fraction = load_fraction
        self.add_state("ssim_sum", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("frames", torch.tensor(0), dist_reduce_fx="sum")

    def update(self, pred: Tensor, target: Tensor) -> None:
        pred, target = _as_stances(pred, target)
        if min(target.shape[-2:]) < self.window:
            raise ZooError(
                f"ssim: the {self.window} x {self.window} window (sigma {self.sigma}) needs a grid of at least "
                f"that size; found {tuple(target.shape[-2:])}; pass a smaller sigma"
            )
        loaded = loaded_frames(target, self.load_fraction)
        if not loaded.any():
            return
        # float32: on CPU the five SSIM convolutions run ~8x faster than in float64. Frames go in as the
        # channels of one image: torchmetrics filters each channel separately (a grouped convolution), which
        # on CPU runs ~5x faster than a batch of one-channel images and gives the same per-frame maps.
        true_frames = target[loaded].unsqueeze(0).float()
        peak = true_frames.amax(dim=(-2, -1), keepdim=True)
        _, ssim_map = structural_similarity_index_measure(
            pred[loaded].unsqueeze(0).float() / peak, true_frames / peak, sigma=self.sigma, data_range=1.0,
            return_full_image=True,
        )
        r, (height, width) = self.radius, target.shape[-2:]
        scores = ssim_map[0, :, r:height - r, r:width - r].mean(dim=(-2, -1))
        self.ssim_sum += scores.sum()
        self.frames += scores.numel()

    def compute(self) -> Tensor:
        return self.ssim_sum / self.frames


class PeakPressureError(Metric):
    """PPE (N/cm^2): |max(y) - max(y_hat)| per sample (a stance: max over all cells and frames), averaged."""

    higher_is_better = False
    full_state_update = False

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.add_state("error_sum", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("stances", torch.tensor(0), dist_reduce_fx="sum")

    def update(self, pred: Tensor, target: Tensor) -> None:
        pred, target = _as_stances(pred, target)
        error = (target.flatten(1).amax(dim=1) - pred.flatten(1).amax(dim=1)).abs()
        self.error_sum += error.sum()
        self.stances += error.numel()

    def compute(self) -> Tensor:
        return self.error_sum / self.stances


class PeakPressureAccuracy(Metric):
    """Peak-pressure accuracy (%): 100 (1 - |PP_pred - PP_true| / PP_true) per frame, averaged over the
    frames whose true peak reaches `min_peak` N/cm^2 (default 1 N/cm^2 = 10 kPa): at the edges of stance the
    true peak tends to zero and the ratio would explode, so barely loaded frames are not scored."""

    higher_is_better = True
    full_state_update = False

    def __init__(self, min_peak: float = 1.0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.min_peak = float(min_peak)
        self.add_state("accuracy_sum", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("frames", torch.tensor(0), dist_reduce_fx="sum")

    def update(self, pred: Tensor, target: Tensor) -> None:
        pred, target = _as_stances(pred, target)
        true_peak = target.amax(dim=(-2, -1))
        pred_peak = pred.amax(dim=(-2, -1))
        keep = true_peak >= self.min_peak
        accuracy = 100.0 * (1.0 - (pred_peak[keep] - true_peak[keep]).abs() / true_peak[keep])
        self.accuracy_sum += accuracy.sum()
        self.frames += accuracy.numel()

    def compute(self) -> Tensor:
        return self.accuracy_sum / self.frames


class _DerivedVGRF:
    """Mixin: feeds the parent metric the per-frame vGRF (N) of predicted and true maps.

    Negative predicted pressures are set to zero first, as a pressure sensor would read them.
    """

    def __init__(self, cell_size_cm: tuple[float, float], **kwargs) -> None:
        super().__init__(**kwargs)
        self.cell_size_cm = tuple(cell_size_cm)
        self.set_dtype(torch.float64)

    def update(self, pred: Tensor, target: Tensor) -> None:
        pred, target = _as_stances(pred, target)
        super().update(
            vgrf_from_pressure(pred.clamp_min(0).double(), self.cell_size_cm).flatten(),
            vgrf_from_pressure(target.double(), self.cell_size_cm).flatten(),
        )


class VGRFPearson(_DerivedVGRF, PearsonCorrCoef):
    """Pearson r between derived vGRF of predicted and true maps over all frames (torchmetrics' streaming r)."""


class VGRFRMSE(_DerivedVGRF, MeanSquaredError):
    """RMSE (N) between derived vGRF of predicted and true maps over all frames."""

    def __init__(self, cell_size_cm: tuple[float, float], **kwargs) -> None:
        super().__init__(cell_size_cm, squared=False, **kwargs)


class VGRFAccuracy(Metric):
    """vGRF accuracy (%): 100 (1 - sum|vGRF_pred - vGRF_true| / sum vGRF_true) over every frame seen."""

    higher_is_better = True
    full_state_update = False

    def __init__(self, cell_size_cm: tuple[float, float], **kwargs) -> None:
        super().__init__(**kwargs)
        self.cell_size_cm = tuple(cell_size_cm)
        self.add_state("abs_error_sum", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("true_sum", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, pred: Tensor, target: Tensor) -> None:
        pred, target = _as_stances(pred, target)
        vgrf_pred = vgrf_from_pressure(pred.clamp_min(0).double(), self.cell_size_cm)
        vgrf_true = vgrf_from_pressure(target.double(), self.cell_size_cm)
        self.abs_error_sum += (vgrf_pred - vgrf_true).abs().sum()
        self.true_sum += vgrf_true.sum()

    def compute(self) -> Tensor:
        return 100.0 * (1.0 - self.abs_error_sum / self.true_sum)


class COPError(Metric):
    """Mean Euclidean distance (cm) between predicted and true COP over loaded frames.

    Negative predicted pressures are set to zero; a frame where the prediction carries no load at all is
    given the COP of the grid centre, so an empty prediction is penalised rather than skipped.
    """

    higher_is_better = False
    full_state_update = False

    def __init__(self, cell_size_cm: tuple[float, float], load_fraction: float = LOAD_FRACTION,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.cell_size_cm = tuple(cell_size_cm)
        self.load_fraction = load_fraction
        self.add_state("distance_sum", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("frames", torch.tensor(0), dist_reduce_fx="sum")

    def update(self, pred: Tensor, target: Tensor) -> None:
        pred, target = _as_stances(pred, target)
        loaded = loaded_frames(target, self.load_fraction)
        pred_maps = pred[loaded].clamp_min(0).double()
        true_cop = cop_from_pressure(target[loaded].double(), self.cell_size_cm)
        pred_cop = cop_from_pressure(pred_maps, self.cell_size_cm)
        height, width = target.shape[-2:]
        centre = pred_cop.new_tensor([width * self.cell_size_cm[1] / 2, height * self.cell_size_cm[0] / 2])
        pred_cop = torch.where(pred_maps.sum(dim=(-2, -1)).unsqueeze(-1) > 0, pred_cop, centre)
        distance = (pred_cop - true_cop).norm(dim=-1)
        self.distance_sum += distance.sum()
        self.frames += distance.numel()

    def compute(self) -> Tensor:
        return self.distance_sum / self.frames


class NormalisedRMSE(Metric):
    """NRMSE (%): RMSE over every cell and frame / (max - min of every true value seen) x 100."""

    higher_is_better = False
    full_state_update = False

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.add_state("squared_error_sum", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("values", torch.tensor(0), dist_reduce_fx="sum")
        self.add_state("true_max", torch.tensor(-torch.inf, dtype=torch.float64), dist_reduce_fx="max")
        self.add_state("true_min", torch.tensor(torch.inf, dtype=torch.float64), dist_reduce_fx="min")

    def update(self, pred: Tensor, target: Tensor) -> None:
        pred, target = _as_stances(pred, target)
        self.squared_error_sum += (pred.double() - target.double()).pow(2).sum()
        self.values += target.numel()
        self.true_max = torch.maximum(self.true_max, target.max().double())
        self.true_min = torch.minimum(self.true_min, target.min().double())

    def compute(self) -> Tensor:
        rmse = (self.squared_error_sum / self.values).sqrt()
        return 100.0 * rmse / (self.true_max - self.true_min)
