"""The stride-level (clinical) quantities and the statistics reported for each: names, units and direction.

One definition, read by the tasks (their `metric_info`, without importing torch) and by the metrics that
compute them (`zoo/metrics/stride_*.py`). docs/metrics.md defines every quantity.
"""

from __future__ import annotations

from dataclasses import dataclass

from datamodules.simulator.footprint import REGION_BOUNDS


@dataclass(frozen=True)
class Quantity:
    """One per-stride quantity: `bland_altman` says whether bias and limits of agreement are reported."""

    name: str
    unit: str
    bland_altman: bool


def summary_info(quantities: tuple[Quantity, ...]) -> dict[str, tuple[bool | None, str]]:
    """Statistic key -> (higher_is_better, unit) for every key `compute()` can return for `quantities`.

    `None` marks keys that do not rank models: Bland-Altman bias and limits (closer to zero / narrower is
    better, not larger or smaller) and the stride counts.
    """
    info: dict[str, tuple[bool | None, str]] = {"strides": (None, "strides")}
    for q in quantities:
        info[f"{q.name}_mae"] = (False, q.unit)
        info[f"{q.name}_mre"] = (False, "%")
        if q.bland_altman:
            for stat in ("bias", "loa_lower", "loa_upper"):
                info[f"{q.name}_{stat}"] = (None, q.unit)
        info[f"{q.name}_n"] = (None, "strides")
        info[f"{q.name}_excluded"] = (None, "strides")
    return info


VERTICAL_QUANTITIES = (
    Quantity("vgrf_peak1", "BW", True),
    Quantity("vgrf_peak2", "BW", True),
    Quantity("loading_rate_avg", "BW/s", False),
    Quantity("loading_rate_inst", "BW/s", False),
    Quantity("impulse_vertical", "BW*s", True),
    Quantity("stance_time", "ms", False),
)
AP_QUANTITIES = (
    Quantity("peak_braking", "BW", True),
    Quantity("peak_propulsion", "BW", True),
    Quantity("impulse_braking", "BW*s", True),
    Quantity("impulse_propulsion", "BW*s", True),
)
GRF_COUNTS_INFO: dict[str, tuple[bool | None, str]] = {
    "strides_partial": (None, "strides"), "strides_duplicate": (None, "strides"),
    "contacts_too_short": (None, "contacts"),
}
# every key a StrideGRFMetrics can report -> (higher_is_better or None, unit)
STRIDE_GRF_INFO = summary_info(VERTICAL_QUANTITIES + AP_QUANTITIES) | GRF_COUNTS_INFO

REGION_QUANTITIES = tuple(Quantity(f"peak_pressure_{region}", "N/cm^2", True) for region in REGION_BOUNDS)
COP_QUANTITIES = (
    Quantity("cop_path_length", "cm", False),
    Quantity("cop_excursion_ap", "cm", False),
    Quantity("cop_excursion_ml", "cm", False),
)
# every key a StridePressureMetrics can report -> (higher_is_better or None, unit)
STRIDE_PRESSURE_INFO = summary_info(REGION_QUANTITIES + COP_QUANTITIES)

MAP_PREFIX = "map_"  # the vGRF stride quantities of the force a pressure-map sequence implies
MAP_STRIDE_GRF_INFO = {f"{MAP_PREFIX}{k}": v for k, v in summary_info(VERTICAL_QUANTITIES).items()}
