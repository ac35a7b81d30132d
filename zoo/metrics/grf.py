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



def grf_scores(axes: tuple[str, ...] = GRF_AXES) -> tuple[str, ...]:
    """The score names for GRF with these axes: r and RMSE per axis present (never for an axis the data
    lack), then the vertical-only scores."""
    return (*(f"r_{axis}" for axis in axes), *(f"rmse_{axis}" for axis in axes),
            "rrmse_vertical", "peak_vgrf_r", "peak_vgrf_rmse")


GRF_SCORES = grf_scores()


class SubjectGRFMetrics(Metric):
    """Pearson r and RMSE per axis, rRMSE of vGRF, and peak-vGRF r and RMSE, as mean and sd across subjects.

    `update(pred, target, subject)` takes `[B, A, T]` GRF in body weights with the axes `axes` (any subset of
    ml, ap, vertical that holds vertical: stance samples are found on it) and the subject index `[B]` of each
    window. The peak of a window is the largest vGRF over its stance samples (true and
    predicted taken over the same samples); peak r and RMSE are computed across the windows of a subject.
    `compute()` returns `{score: mean, score_sd: sd}` for every name in `grf_scores(axes)`.
    """

    full_state_update = False

    def __init__(self, axes: tuple[str, ...] = GRF_AXES, stance_threshold_bw: float = STANCE_THRESHOLD_BW,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        axes = tuple(axes)
        if "vertical" not in axes or any(a not in GRF_AXES for a in axes) or len(set(axes)) != len(axes):
            raise ZooError(f"GRF metrics: axes must be distinct names from {list(GRF_AXES)} including 'vertical' "
                           f"(stance samples are found on it); found {list(axes)}")
        self.axes = axes
        self.vertical = axes.index("vertical")
        self.scores = grf_scores(axes)
        self.stance_threshold_bw = stance_threshold_bw
        for name in ("sample_subject", "sample_pred", "sample_true", "window_subject", "peak_pred", "peak_true"):
            self.add_state(name, [], dist_reduce_fx="cat")

    def update(self, pred: Tensor, target: Tensor, subject: Tensor) -> None:
        if pred.shape != target.shape or target.dim() != 3 or target.shape[1] != len(self.axes):
            raise ZooError(
                f"GRF metrics expect pred and target of shape [B, {len(self.axes)}, T] (axes {list(self.axes)}); "
                f"found pred {tuple(pred.shape)} and target {tuple(target.shape)}"
            )
        vertical = self.vertical
        stance = target[:, vertical] > self.stance_threshold_bw  # [B, T]
        self.sample_subject.append(subject.repeat_interleave(stance.sum(dim=1)))
        self.sample_pred.append(pred.transpose(1, 2)[stance].double())
        self.sample_true.append(target.transpose(1, 2)[stance].double())
        has_stance = stance.any(dim=1)
        self.window_subject.append(subject[has_stance])
        self.peak_pred.append(pred[:, vertical].masked_fill(~stance, -torch.inf).amax(dim=1)[has_stance].double())
        self.peak_true.append(target[:, vertical].masked_fill(~stance, -torch.inf).amax(dim=1)[has_stance].double())

    def compute(self) -> dict[str, Tensor]:
        sample_subject = dim_zero_cat(self.sample_subject)
        sample_pred, sample_true = dim_zero_cat(self.sample_pred), dim_zero_cat(self.sample_true)
        window_subject = dim_zero_cat(self.window_subject)
        peak_pred, peak_true = dim_zero_cat(self.peak_pred), dim_zero_cat(self.peak_true)
        per_subject = torch.stack([
            subject_scores(
                sample_pred[sample_subject == s], sample_true[sample_subject == s],
                peak_pred[window_subject == s], peak_true[window_subject == s], vertical=self.vertical,
            )
            for s in sample_subject.unique()
        ])  # [subjects, scores]
        result = {}
        for name, values in zip(self.scores, per_subject.T):
            mean, sd = mean_and_sd(values)
            result[name], result[f"{name}_sd"] = mean, sd
        return result


def subject_scores(pred: Tensor, true: Tensor, peak_pred: Tensor, peak_true: Tensor,
                   vertical: int = VERTICAL) -> Tensor:
    """One subject's scores in the order of `grf_scores(axes)`, from its stance samples `[n, A]` (vertical
    force in column `vertical`) and window peaks `[w]`; a score that is undefined for this subject (fewer than
    two values, constant signal) is NaN."""
    nan = pred.new_tensor(float("nan"))
    n_axes = true.shape[1]
    if len(true) > 1:
        r = pearson_corrcoef(pred, true) if n_axes > 1 else pearson_corrcoef(pred[:, 0], true[:, 0]).reshape(1)
    else:
        r = nan.expand(n_axes)
    rmse = (pred - true).pow(2).mean(dim=0).sqrt()
    vertical_range = true[:, vertical].max() - true[:, vertical].min()
    rrmse = 100.0 * rmse[vertical] / vertical_range if vertical_range > 0 else nan
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
