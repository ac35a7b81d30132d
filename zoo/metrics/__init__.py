"""The metrics of every task (SPEC section 5) as torchmetrics `Metric`s, and one collection per task.

    >>> metrics = task_metrics("imu2pressure", cell_size_cm=(0.9, 0.8), prefix="val/")
    >>> metrics.update(pred, target)          # [B, T, H, W] in N/cm^2, any number of batches
    >>> metrics.compute()                     # {"val/rmse": ..., "val/ssim": ..., ...}

Every metric accumulates sums (or concatenated samples) registered with `add_state`, so values are exact
across batches and under DDP. Definitions, units and the choices made where the papers give no code are in
docs/metrics.md.
"""

from __future__ import annotations

from torchmetrics import Metric, MetricCollection

from datamodules.naming import BODY_PARTS, GRF_AXES, KEYPOINTS_19
from zoo.errors import ZooError
from zoo.metrics.grf import SubjectGRFMetrics
from zoo.metrics.pose import MPJPE
from zoo.metrics.pressure import (
    VGRFRMSE,
    COPError,
    NormalisedRMSE,
    PeakPressureAccuracy,
    PeakPressureError,
    PressureMAE,
    PressureMSE,
    PressureR2Score,
    PressureRMSE,
    PressureSSIM,
    VGRFAccuracy,
    VGRFPearson,
    cop_from_pressure,
    loaded_frames,
    vgrf_from_pressure,
)
from zoo.metrics.reconstruction import MaskedMSE

__all__ = [
    "COPError", "MPJPE", "MaskedMSE", "METRIC_INFO", "NormalisedRMSE", "PRIMARY_METRIC", "PeakPressureAccuracy",
    "PeakPressureError", "PressureMAE", "PressureMSE", "PressureR2Score", "PressureRMSE", "PressureSSIM", "SubjectGRFMetrics", "TASKS", "VGRFAccuracy",
    "VGRFPearson", "VGRFRMSE", "cop_from_pressure", "loaded_frames", "task_metrics", "vgrf_from_pressure",
]

TASKS = ("imu2pressure", "imu2grf", "landmarks2pressure", "insole2pose", "pretrain")

# The single number that ranks models on a task (justified in docs/metrics.md).
PRIMARY_METRIC: dict[str, tuple[str, bool]] = {
    "imu2pressure": ("rmse", False),
    "imu2grf": ("r_vertical", True),
    "landmarks2pressure": ("cop_error_cm", False),
    "insole2pose": ("mpjpe_cm", False),
    "pretrain": ("masked_mse", False),
}

_GRF_INFO = {
    **{f"r_{axis}": (True, "") for axis in GRF_AXES},
    **{f"rmse_{axis}": (False, "BW") for axis in GRF_AXES},
    "rrmse_vertical": (False, "%"),
    "peak_vgrf_r": (True, ""),
    "peak_vgrf_rmse": (False, "BW"),
}

# metric name (without split prefix) -> (higher_is_better, unit). A spread across subjects is better small.
METRIC_INFO: dict[str, tuple[bool, str]] = {
    "mse": (False, "(N/cm^2)^2"),
    "mae": (False, "N/cm^2"),
    "rmse": (False, "N/cm^2"),
    "r2": (True, ""),
    "ssim": (True, ""),
    "ppe": (False, "N/cm^2"),
    "vgrf_r": (True, ""),
    "vgrf_rmse": (False, "N"),
    "cop_error_cm": (False, "cm"),
    "vgrf_accuracy": (True, "%"),
    "peak_pressure_accuracy": (True, "%"),
    "nrmse": (False, "%"),
    **_GRF_INFO,
    **{f"{name}_sd": (False, unit) for name, (_, unit) in _GRF_INFO.items()},
    "mpjpe_cm": (False, "cm"),
    **{f"mpjpe_cm_{part}": (False, "cm") for part in BODY_PARTS},
    "masked_mse": (False, "(normalised units)^2"),
}


# the collection entry that reports each task's primary metric
_PRIMARY_ENTRY = {"imu2pressure": "rmse", "landmarks2pressure": "cop_error_cm", "imu2grf": "grf",
                  "insole2pose": "mpjpe", "pretrain": "masked_mse"}


def task_metrics(task: str, *, cell_size_cm: tuple[float, float] | None = None, body_parts: dict | None = None,
                 keypoint_names: tuple[str, ...] | None = None, prefix: str = "test/",
                 primary_only: bool = False) -> MetricCollection:
    """The metrics of `task` as one collection whose keys start with `prefix` (`val/`, `test/`).

    Args:
        primary_only: only the entry that reports the task's primary metric (cheap per-epoch validation;
            SSIM and COP over every validation stance would cost more than the training step).
        cell_size_cm: pressure cell size `(along the length, across the width)`; needed by the pressure tasks.
        body_parts: part name -> keypoint names for `insole2pose` (default `naming.BODY_PARTS`).
        keypoint_names: the keypoints of the target rows for `insole2pose` (default `naming.KEYPOINTS_19`).
    """
    if task not in TASKS:
        raise ZooError(f"task: expected one of {list(TASKS)}, found '{task}'")
    if task in ("imu2pressure", "landmarks2pressure") and cell_size_cm is None:
        raise ZooError(
            f"task '{task}' needs cell_size_cm (the pressure cell size, from the recording's "
            "pressure cell_size_m attribute) to derive vGRF and COP; found None"
        )
    metrics: dict[str, Metric]
    if task == "imu2pressure":
        metrics = {
            "mse": PressureMSE(),
            "mae": PressureMAE(),
            "rmse": PressureRMSE(),
            "r2": PressureR2Score(),
            "ssim": PressureSSIM(),
            "ppe": PeakPressureError(),
            "vgrf_r": VGRFPearson(cell_size_cm),
            "vgrf_rmse": VGRFRMSE(cell_size_cm),
            "cop_error_cm": COPError(cell_size_cm),
        }
    elif task == "landmarks2pressure":
        metrics = {
            "vgrf_accuracy": VGRFAccuracy(cell_size_cm),
            "peak_pressure_accuracy": PeakPressureAccuracy(),
            "cop_error_cm": COPError(cell_size_cm),
            "ssim": PressureSSIM(),
            "nrmse": NormalisedRMSE(),
        }
    elif task == "imu2grf":
        metrics = {"grf": SubjectGRFMetrics()}
    elif task == "insole2pose":
        metrics = {"mpjpe": MPJPE(tuple(keypoint_names or KEYPOINTS_19), body_parts)}
    else:
        metrics = {"masked_mse": MaskedMSE()}
    if primary_only:
        metrics = {k: v for k, v in metrics.items() if k == _PRIMARY_ENTRY[task]}
    # compute_groups=False: grouping makes metrics share state when their states are equal after the first
    # update, and metrics of one class fed different inputs (cells vs vGRF) can coincide on a perfect batch.
    return MetricCollection(metrics, prefix=prefix, compute_groups=False)
