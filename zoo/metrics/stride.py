"""Stride-level (clinical) metrics, one import for the runner:

    >>> grf = StrideGRFMetrics(("ml", "ap", "vertical"))            # windows of a continuous signal
    >>> grf.update(pred, target, dt, stance_keys=keys)               # [B, 3, T] BW, [B] s, [B, 2] int64
    >>> grf.compute()                                                # {"vgrf_peak1_mae": ..., ...}
    >>> write_stride_table(grf.stride_table(), cell_dir / "strides.csv")

`STRIDE_METRIC_INFO[key] = (higher_is_better, unit)` for every key either metric can report; None marks keys
that do not rank models (Bland-Altman bias and limits, counts). Definitions: docs/metrics.md.
"""

from __future__ import annotations

from datamodules.tasks.stride_info import MAP_PREFIX, MAP_STRIDE_GRF_INFO, Quantity, summary_info
from zoo.metrics.stride_base import LOA_Z, StrideMetric, bland_altman, write_stride_table
from zoo.metrics.stride_grf import (
    AP_QUANTITIES,
    STRIDE_GRF_INFO,
    VERTICAL_QUANTITIES,
    StrideGRFMetrics,
    contact_runs,
    loading_rates,
    peak_windows,
    stance_values,
    trapezoid,
)
from zoo.metrics.stride_pressure import (
    COP_QUANTITIES,
    REGION_QUANTITIES,
    STRIDE_PRESSURE_INFO,
    StridePressureMetrics,
    cop_path,
    region_rows,
)

STRIDE_METRIC_INFO: dict[str, tuple[bool | None, str]] = STRIDE_GRF_INFO | STRIDE_PRESSURE_INFO


class MapStrideGRFMetrics(StrideGRFMetrics):
    """The vGRF stride quantities of the force a pressure-map sequence implies (sum x cell area / body
    weight), one stance per row (e.g. `imu2pressure`'s time-normalised stances). Keys are prefixed `map_`.

    `update(pred, target, weight_n, dt, *, stance_keys=None)`: maps `[B, T, H, W]` in N/cm^2, body weight `[B]`
    in N, `dt` `[B]` seconds per sample (stance duration / (T - 1) for time-normalised stances).
    """

    def __init__(self, cell_size_cm: tuple[float, float], **kwargs) -> None:
        super().__init__(("vertical",), whole_stance=True, **kwargs)
        self.cell_area = float(cell_size_cm[0]) * float(cell_size_cm[1])

    def update(self, pred, target, weight_n, dt, *, stance_keys=None) -> None:  # type: ignore[override]
        def bw(maps):
            return (maps.clamp(min=0).sum(dim=(-2, -1)) * self.cell_area / weight_n[:, None])[:, None, :]

        super().update(bw(pred), bw(target), dt, stance_keys=stance_keys)

    def compute(self):
        return {f"{MAP_PREFIX}{k}": v for k, v in super().compute().items()}

    def info(self):
        return {f"{MAP_PREFIX}{k}": v for k, v in super().info().items()}

__all__ = [
    "MAP_STRIDE_GRF_INFO", "MapStrideGRFMetrics", "AP_QUANTITIES", "COP_QUANTITIES", "LOA_Z", "Quantity", "REGION_QUANTITIES", "STRIDE_GRF_INFO",
    "STRIDE_METRIC_INFO", "STRIDE_PRESSURE_INFO", "StrideGRFMetrics", "StrideMetric", "StridePressureMetrics",
    "VERTICAL_QUANTITIES", "bland_altman", "contact_runs", "cop_path", "loading_rates", "peak_windows",
    "region_rows", "stance_values", "summary_info", "trapezoid", "write_stride_table",
]
