"""The metrics of every task (SPEC section 5) as torchmetrics `Metric`s. Each task picks its own
(`datamodules.tasks.get_task(name).build_metrics(spec)`); `task_metrics` builds them by task name.

    >>> metrics = task_metrics("imu2pressure", cell_size_cm=(0.9, 0.8), prefix="val/")
    >>> metrics.update(pred, target)          # [B, T, H, W] in N/cm^2, any number of batches
    >>> metrics.compute()                     # {"val/rmse": ..., "val/ssim": ..., ...}

Every metric accumulates sums (or concatenated samples) registered with `add_state`, so values are exact
across batches and under DDP. Definitions, units and the choices made where the papers give no code are in
docs/metrics.md.
"""

from __future__ import annotations

from torchmetrics import MetricCollection

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
    "COPError", "MPJPE", "MaskedMSE", "NormalisedRMSE", "PeakPressureAccuracy", "PeakPressureError", "PressureMAE",
    "PressureMSE", "PressureR2Score", "PressureRMSE", "PressureSSIM", "SubjectGRFMetrics", "VGRFAccuracy",
    "VGRFPearson", "VGRFRMSE", "cop_from_pressure", "loaded_frames", "task_metrics", "vgrf_from_pressure",
]



def task_metrics(task: str, *, cell_size_cm: tuple[float, float] | None = None, body_parts: dict | None = None,
                 keypoint_names: tuple[str, ...] | None = None, prefix: str = "test/",
                 primary_only: bool = False, clinical: bool = True) -> MetricCollection:
    """The metrics of `task` as one collection whose keys start with `prefix` (`val/`, `test/`).

    The task owns its metrics (`datamodules.tasks.get_task(task).build_metrics(spec)`); this builds them
    for the task's default spec with the given cell size and keypoints.
    """
    from datamodules.tasks import get_task

    cls = get_task(task)
    overrides: dict = {"cell_size_cm": cell_size_cm}
    if keypoint_names is not None:
        overrides["keypoint_names"] = tuple(keypoint_names)
    spec = cls.default_spec(**overrides)
    if body_parts is not None:
        metrics = cls.metrics(spec)
        metrics = {k: MPJPE(tuple(spec.keypoint_names), body_parts) if isinstance(v, MPJPE) else v
                   for k, v in metrics.items()}
        if primary_only:
            metrics = {k: v for k, v in metrics.items() if k == cls.primary_entry}
        if not clinical:
            metrics = {k: v for k, v in metrics.items() if k not in cls.clinical_entries}
        return MetricCollection(metrics, prefix=prefix, compute_groups=False)
    return cls.build_metrics(spec, prefix=prefix, primary_only=primary_only, clinical=clinical)


def __getattr__(name: str):
    """`PRIMARY_METRIC`, `METRIC_INFO` and `TASKS` now come from the task registry (kept for one release)."""
    from datamodules.tasks import TASKS as TASK_CLASSES
    from datamodules.tasks import list_tasks

    if name == "TASKS":
        return tuple(list_tasks())
    if name == "PRIMARY_METRIC":
        return {n: (c.primary_metric, c.metric_description(c.primary_metric)[0]) for n, c in TASK_CLASSES.items()}
    if name == "METRIC_INFO":
        return {m: info for c in TASK_CLASSES.values() for m, info in c.metric_info.items()}
    raise AttributeError(f"module 'zoo.metrics' has no attribute '{name}'")
