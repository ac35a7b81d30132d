"""Stride-level (clinical) metrics, one import for the runner:

    >>> grf = StrideGRFMetrics(("ml", "ap", "vertical"))            # windows of a continuous signal
    >>> grf.update(pred, target, dt, stance_keys=keys)               # [B, 3, T] BW, [B] s, [B, 2] int64
    >>> grf.compute()                                                # {"vgrf_peak1_mae": ..., ...}
    >>> write_stride_table(grf.stride_table(), cell_dir / "strides.csv")

`STRIDE_METRIC_INFO[key] = (higher_is_better, unit)` for every key either metric can report; None marks keys
that do not rank models (Bland-Altman bias and limits, counts). Definitions: docs/metrics.md.
"""

from __future__ import annotations

from zoo.metrics.stride_base import (
    LOA_Z,
    Quantity,
    StrideMetric,
    bland_altman,
    summary_info,
    write_stride_table,
)
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

__all__ = [
    "AP_QUANTITIES", "COP_QUANTITIES", "LOA_Z", "Quantity", "REGION_QUANTITIES", "STRIDE_GRF_INFO",
    "STRIDE_METRIC_INFO", "STRIDE_PRESSURE_INFO", "StrideGRFMetrics", "StrideMetric", "StridePressureMetrics",
    "VERTICAL_QUANTITIES", "bland_altman", "contact_runs", "cop_path", "loading_rates", "peak_windows",
    "region_rows", "stance_values", "summary_info", "trapezoid", "write_stride_table",
]
