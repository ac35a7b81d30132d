"""Ground-reaction-force metrics of `imu2grf` (Tan 2024): per test subject, on stance samples only.

Swing samples (true vGRF at or below 0.02 BW) are excluded because predicting zero force there is easy and
would inflate r and deflate RMSE. Scores are computed per subject and reported as the mean and the sd across
subjects, so a subject with many windows does not dominate.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torchmetrics import Metric
from torchmetrics.functional import pearson_corrcoef
from torchmetrics.utilities import dim_zero_cat

from datamodules.naming import GRF_AXES
from zoo.errors import ZooError

STANCE_THRESHOLD_BW = 0.02
VERTICAL = GRF_AXES.index("vertical")

GRF_SCORES = (
    *(f"r_{axis}" for axis in GRF_AXES),
    *(f"rmse_{axis}" for axis in GRF_AXES),
    "rrmse_vertical",
    "peak_vgrf_r",
    "peak_vgrf_rmse",
)


class SubjectGRFMetrics(Metric):
    """Pearson r and RMSE per axis, rRMSE of vGRF, and peak-vGRF r and RMSE, as mean and sd across subjects.

    `update(pred, target, subject)` takes `[B, 3, T]` GRF in body weights (ml, ap, vertical) and the subject
    index `[B]` of each window. The peak of a window is the largest vGRF over its stance samples (true and
    predicted taken over the same samples); peak r and RMSE are computed across the windows of a subject.
    `compute()` returns `{score: mean, score_sd: sd}` for every name in `GRF_SCORES`.
    """

    full_state_update = False

    def __init__(self, stance_threshold_bw: float = STANCE_THRESHOLD_BW, **kwargs) -> None:
        super().__init__(**kwargs)
        self.stance_threshold_bw = stance_threshold_bw
        for name in ("sample_subject", "sample_pred", "sample_true", "window_subject", "peak_pred", "peak_true"):
            self.add_state(name, [], dist_reduce_fx="cat")

    def update(self, pred: Tensor, target: Tensor, subject: Tensor) -> None:
        if pred.shape != target.shape or target.dim() != 3 or target.shape[1] != len(GRF_AXES):
            raise ZooError(
                f"GRF metrics expect pred and target of shape [B, 3, T]; "
                f"found pred {tuple(pred.shape)} and target {tuple(target.shape)}"
            )
        stance = target[:, VERTICAL] > self.stance_threshold_bw  # [B, T]
        self.sample_subject.append(subject.repeat_interleave(stance.sum(dim=1)))
        self.sample_pred.append(pred.transpose(1, 2)[stance].double())
        self.sample_true.append(target.transpose(1, 2)[stance].double())
        has_stance = stance.any(dim=1)
        self.window_subject.append(subject[has_stance])
        self.peak_pred.append(pred[:, VERTICAL].masked_fill(~stance, -torch.inf).amax(dim=1)[has_stance].double())
        self.peak_true.append(target[:, VERTICAL].masked_fill(~stance, -torch.inf).amax(dim=1)[has_stance].double())

    def compute(self) -> dict[str, Tensor]:
        sample_subject = dim_zero_cat(self.sample_subject)
        sample_pred, sample_true = dim_zero_cat(self.sample_pred), dim_zero_cat(self.sample_true)
        window_subject = dim_zero_cat(self.window_subject)
        peak_pred, peak_true = dim_zero_cat(self.peak_pred), dim_zero_cat(self.peak_true)
        per_subject = torch.stack([
            subject_scores(
                sample_pred[sample_subject == s], sample_true[sample_subject == s],
                peak_pred[window_subject == s], peak_true[window_subject == s],
            )
            for s in sample_subject.unique()
        ])  # [subjects, scores]
        result = {}
        for name, values in zip(GRF_SCORES, per_subject.T):
            mean, sd = mean_and_sd(values)
            result[name], result[f"{name}_sd"] = mean, sd
        return result


def subject_scores(pred: Tensor, true: Tensor, peak_pred: Tensor, peak_true: Tensor) -> Tensor:
    """One subject's scores in the order of `GRF_SCORES`, from its stance samples `[n, 3]` and window peaks
    `[w]`; a score that is undefined for this subject (fewer than two values, constant signal) is NaN."""
    nan = pred.new_tensor(float("nan"))
    r = pearson_corrcoef(pred, true) if len(true) > 1 else nan.expand(len(GRF_AXES))
    rmse = (pred - true).pow(2).mean(dim=0).sqrt()
    vertical_range = true[:, VERTICAL].max() - true[:, VERTICAL].min()
    rrmse = 100.0 * rmse[VERTICAL] / vertical_range if vertical_range > 0 else nan
    peak_r = pearson_corrcoef(peak_pred, peak_true) if len(peak_true) > 1 else nan
    peak_rmse = (peak_pred - peak_true).pow(2).mean().sqrt()
    return torch.cat([r, rmse, torch.stack([rrmse, peak_r, peak_rmse])])


def mean_and_sd(values: Tensor) -> tuple[Tensor, Tensor]:
    """Mean and population sd (ddof 0, defined for a single subject) over the subjects where a score is
    defined; NaN when it is defined for none."""
    values = values[values.isfinite()]
    if values.numel() == 0:
        nan = values.new_tensor(float("nan"))
        return nan, nan
    return values.mean(), values.std(correction=0)
