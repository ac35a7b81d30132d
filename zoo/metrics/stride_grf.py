"""Stride-level GRF metrics: vGRF peaks, loading rate, impulses, braking/propulsion peaks and stance time.

A clinician reads a GRF curve as a handful of per-stance numbers, not as a correlation over samples; these
are those numbers, computed on the true and the predicted curve of each stance and compared stance by
stance. One foot's GRF in body weights (BW), axes named at construction. docs/metrics.md ("Stride-level
(clinical) metrics") defines every quantity; the pure functions below are the definitions.

Stance samples `[lo, hi]` (both included) are the row itself when a row is one stance (`whole_stance=True`),
or, in a window of a continuous signal, a run of TRUE vGRF above the contact threshold plus the swing sample
on each side. Every quantity of the prediction is read over the same samples as the truth (as the
project's window peak is), except stance time, which comes from the predicted contact itself.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from datamodules.naming import GRF_AXES
from datamodules.preprocessing import MIN_STANCE_S
from datamodules.tasks.stride_info import AP_QUANTITIES, GRF_COUNTS_INFO, STRIDE_GRF_INFO, VERTICAL_QUANTITIES
from zoo.errors import ZooError
from zoo.metrics.grf import STANCE_THRESHOLD_BW
from zoo.metrics.stride_base import NO_KEY, StrideMetric

__all__ = ["AP_QUANTITIES", "STRIDE_GRF_INFO", "VERTICAL_QUANTITIES", "StrideGRFMetrics"]

PEAK_PROMINENCE_BW = 0.05  # a valley this far below both peaks makes a stance double-humped
AP_THRESHOLD_BW = 0.02  # braking / propulsion is scored when the true AP force goes this far past zero
LOADING_RANGE = (0.2, 0.8)  # loading rate over 20-80 % of the rise to the first peak



# -- pure per-stance definitions (1-D float64 numpy arrays, sample indices) -------------------------------
def contact_runs(force: np.ndarray, threshold: float) -> np.ndarray:
    """`[n, 2]` first and last sample (inclusive) of every run of samples strictly above `threshold`."""
    above = np.concatenate([[0], (force > threshold).astype(np.int8), [0]])
    edges = np.diff(above)
    return np.stack([np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1], axis=1)


def up_crossing(f: np.ndarray, level: float, before: int) -> tuple[int, float] | None:
    """The last upward crossing of `level` before sample `before` (where `f > level`): the last sample
    `j < before` with `f[j] <= level` and the crossing time `j + (level - f[j]) / (f[j+1] - f[j])` in samples
    (linear interpolation). None when `f` stays above `level` back to the first sample."""
    below = np.flatnonzero(f[:before] <= level)
    if not len(below):
        return None
    j = int(below[-1])
    return j, j + (level - f[j]) / (f[j + 1] - f[j])


def peak_windows(vertical: np.ndarray, lo: int, hi: int,
                 prominence: float = PEAK_PROMINENCE_BW) -> tuple[slice, slice | None]:
    """Sample windows where the first and second vGRF peaks are searched, decided on the TRUE curve.

    The stance `[lo, hi]` is split at its middle `m = (lo + hi) / 2`: first half `lo..floor(m)`, second half
    `ceil(m)..hi`. The stance is double-humped when the lowest value between the two halves' maxima lies at
    least `prominence` below both; then the peaks are the maxima of the two halves. Otherwise (running's
    single hump, a flat walking curve) the first peak is the maximum of the whole stance and there is no
    second peak (None).
    """
    mid = (lo + hi) / 2
    first, second = slice(lo, math.floor(mid) + 1), slice(math.ceil(mid), hi + 1)
    p1 = first.start + int(np.argmax(vertical[first]))
    p2 = second.start + int(np.argmax(vertical[second]))
    valley = vertical[p1:p2 + 1].min() if p2 > p1 else math.inf
    if valley < min(vertical[p1], vertical[p2]) - prominence:
        return first, second
    return slice(lo, hi + 1), None


def loading_rates(f: np.ndarray, peak: int, dt: float,
                  fractions: tuple[float, float] = LOADING_RANGE) -> tuple[float, float]:
    """Average and instantaneous loading rate (BW/s) over 20-80 % of the rise to the peak at sample `peak`.

    Scanning back from the peak, `t80` is the last upward crossing of 0.8 x peak and `t20` the last upward
    crossing of 0.2 x peak before it (linear interpolation between samples). Average = 0.6 x peak /
    (t80 - t20); instantaneous = the largest forward difference `(f[i+1] - f[i]) / dt` over the sample
    intervals that overlap `(t20, t80)`. NaN when the peak is not positive or a crossing is not found.
    """
    low, high = fractions
    height = f[peak]
    if not height > 0:
        return math.nan, math.nan
    c_high = up_crossing(f, high * height, peak)
    if c_high is None:
        return math.nan, math.nan
    c_low = up_crossing(f, low * height, c_high[0] + 1)
    if c_low is None:
        return math.nan, math.nan
    (j_low, t_low), (j_high, t_high) = c_low, c_high
    average = (high - low) * height / ((t_high - t_low) * dt)
    instantaneous = float(np.diff(f[j_low:j_high + 2]).max()) / dt
    return average, instantaneous


def trapezoid(f: np.ndarray, dt: float) -> float:
    """Trapezoid-rule integral of samples `f` spaced `dt` apart: dt (sum f - (f[0] + f[-1]) / 2)."""
    return float(dt * (f.sum() - 0.5 * (f[0] + f[-1]))) if len(f) > 1 else 0.0


def contact_interval(f: np.ndarray, threshold: float, runs: np.ndarray, clip: bool) -> float | None:
    """Duration (samples) from the upward threshold crossing that starts `runs[0]` to the downward one that
    ends `runs[-1]` (linear interpolation; gaps between the runs are bridged).

    A run that touches the row's edge has no crossing there: with `clip` (the row is the stance) the edge
    is the crossing; without (a window) the duration is unknown: None.
    """
    (a, _), (_, b) = runs[0], runs[-1]
    last = len(f) - 1
    if (a == 0 or b == last) and not clip:
        return None
    t_on = 0.0 if a == 0 else a - 1 + (threshold - f[a - 1]) / (f[a] - f[a - 1])
    t_off = float(last) if b == last else b + (f[b] - threshold) / (f[b] - f[b + 1])
    return t_off - t_on


def stance_values(true: np.ndarray, pred: np.ndarray, lo: int, hi: int, dt: float, *, vertical: int,
                  ap: int | None, threshold: float, whole_stance: bool,
                  prominence: float = PEAK_PROMINENCE_BW,
                  ap_threshold: float = AP_THRESHOLD_BW) -> tuple[list[float], list[float]]:
    """True and predicted values of one stance in the order VERTICAL_QUANTITIES (+ AP_QUANTITIES when `ap`
    is given) from `[A, T]` rows; NaN where the quantity cannot be scored on this stance."""
    nan = math.nan
    tv, pv = true[vertical], pred[vertical]
    if not (tv[lo:hi + 1] > threshold).any():  # a "stance" row without contact: nothing to score
        n = len(VERTICAL_QUANTITIES) + (len(AP_QUANTITIES) if ap is not None else 0)
        return [nan] * n, [nan] * n
    first, second = peak_windows(tv, lo, hi, prominence)
    t_out, p_out = [float(tv[first].max())], [float(pv[first].max())]
    if second is None:
        t_out.append(nan), p_out.append(nan)
    else:
        t_out.append(float(tv[second].max())), p_out.append(float(pv[second].max()))
    for f, out in ((tv, t_out), (pv, p_out)):  # each curve's own rise to its own first peak
        out.extend(loading_rates(f, first.start + int(np.argmax(f[first])), dt))
    t_out.append(trapezoid(tv[lo:hi + 1], dt)), p_out.append(trapezoid(pv[lo:hi + 1], dt))
    t_out.append(_stance_ms(tv, lo, hi, dt, threshold, whole_stance, true_curve=True))
    p_out.append(_stance_ms(pv, lo, hi, dt, threshold, whole_stance, true_curve=False, truth=tv))
    if ap is not None:
        ta, pa = true[ap, lo:hi + 1], pred[ap, lo:hi + 1]
        braking, propulsion = ta.min() < -ap_threshold, ta.max() > ap_threshold
        for f, out in ((ta, t_out), (pa, p_out)):
            out.extend([
                float(f.min()) if braking else nan,
                float(f.max()) if propulsion else nan,
                trapezoid(np.minimum(f, 0.0), dt) if braking else nan,
                trapezoid(np.maximum(f, 0.0), dt) if propulsion else nan,
            ])
    return t_out, p_out


def _stance_ms(f: np.ndarray, lo: int, hi: int, dt: float, threshold: float, whole_stance: bool, *,
               true_curve: bool, truth: np.ndarray | None = None) -> float:
    """Stance time (ms) of one curve: true contact = every run of the row (whole stance) or the run
    `[lo + 1, hi - 1]` (window); predicted contact = the predicted runs overlapping the true contact samples,
    0 ms when there is none. NaN when a window's predicted contact runs into the window's edge."""
    runs = contact_runs(f, threshold)
    if true_curve and not whole_stance:
        runs = np.array([[lo + 1, hi - 1]])
    elif not true_curve:
        contact = contact_runs(truth, threshold)
        first, last = (contact[0, 0], contact[-1, 1]) if whole_stance else (lo + 1, hi - 1)
        runs = runs[(runs[:, 1] >= first) & (runs[:, 0] <= last)]
    if not len(runs):
        return 0.0
    samples = contact_interval(f, threshold, runs, clip=whole_stance)
    return math.nan if samples is None else 1000.0 * samples * dt


# -- the metric ---------------------------------------------------------------------------------------------
class StrideGRFMetrics(StrideMetric):
    """Per-stance GRF quantities of one foot, compared stance by stance (MAE, relative error, Bland-Altman).

    `update(pred, target, dt, *, stance_keys=None)`: `pred`, `target` `[B, A, T]` in BW with the axes
    `axes` (must include "vertical"; AP quantities exist only when "ap" is one of them), `dt` `[B]` seconds
    per sample. `whole_stance=True`: each row is one stance (heel strike to toe-off, e.g. time-normalised to
    101 samples with dt = duration / 100). Otherwise each row is a window of a continuous signal: stances are
    the runs of TRUE vGRF above `threshold_bw` lasting at least `min_stance_s`; only complete ones (a swing
    sample on both sides inside the window) are scored, the others are counted as `strides_partial`.
    `stance_keys` `[B, 2]` int64 (trial id >= 0, window start sample) count a stance seen in two overlapping
    windows once (the earliest window's prediction is kept); without them it is scored in each window where
    it is complete.
    """

    def __init__(self, axes: tuple[str, ...] = GRF_AXES, *, whole_stance: bool = False,
                 threshold_bw: float = STANCE_THRESHOLD_BW, min_stance_s: float = MIN_STANCE_S,
                 peak_prominence_bw: float = PEAK_PROMINENCE_BW, ap_threshold_bw: float = AP_THRESHOLD_BW,
                 **kwargs) -> None:
        axes = tuple(axes)
        if "vertical" not in axes or any(a not in GRF_AXES for a in axes) or len(set(axes)) != len(axes):
            raise ZooError(f"stride GRF metrics: axes must be distinct names from {list(GRF_AXES)} including "
                           f"'vertical'; found {list(axes)}")
        self.axes = axes
        self.has_ap = "ap" in axes
        super().__init__(VERTICAL_QUANTITIES + (AP_QUANTITIES if self.has_ap else ()), **kwargs)
        self.whole_stance = whole_stance
        self.threshold_bw = threshold_bw
        self.min_stance_s = min_stance_s
        self.peak_prominence_bw = peak_prominence_bw
        self.ap_threshold_bw = ap_threshold_bw
        for name in ("partial", "too_short"):
            self.add_state(name, torch.tensor(0), dist_reduce_fx="sum")

    def update(self, pred: Tensor, target: Tensor, dt: Tensor, *, stance_keys: Tensor | None = None) -> None:
        if pred.shape != target.shape or target.dim() != 3 or target.shape[1] != len(self.axes):
            raise ZooError(f"stride GRF metrics expect pred and target [B, {len(self.axes)}, T] (axes "
                           f"{list(self.axes)}); found {tuple(pred.shape)} and {tuple(target.shape)}")
        dt = torch.as_tensor(dt, dtype=torch.float64).reshape(-1).expand(len(target)).cpu().numpy()
        true = target.detach().to("cpu", torch.float64).numpy()
        predicted = pred.detach().to("cpu", torch.float64).numpy()
        keys = None if stance_keys is None else torch.as_tensor(stance_keys).to("cpu", torch.int64).numpy()
        t_rows, p_rows, k_rows = [], [], []
        for i in range(len(true)):
            for lo, hi in self._stances(true[i], float(dt[i])):
                t, p = stance_values(
                    true[i], predicted[i], lo, hi, float(dt[i]), vertical=self.axes.index("vertical"),
                    ap=self.axes.index("ap") if self.has_ap else None, threshold=self.threshold_bw,
                    whole_stance=self.whole_stance, prominence=self.peak_prominence_bw,
                    ap_threshold=self.ap_threshold_bw)
                t_rows.append(t), p_rows.append(p)
                k_rows.append([NO_KEY, NO_KEY, NO_KEY] if keys is None
                              else [keys[i, 0], keys[i, 1] + lo + 1, keys[i, 1]])
        q = len(self.quantities)
        self._add_strides(torch.tensor(t_rows).reshape(-1, q), torch.tensor(p_rows).reshape(-1, q),
                          torch.tensor(k_rows, dtype=torch.float64).reshape(-1, 3))

    def _stances(self, row: np.ndarray, dt: float) -> list[tuple[int, int]]:
        """`(lo, hi)` stance samples of one `[A, T]` row (see the module docstring); counts what is left out."""
        vertical = row[self.axes.index("vertical")]
        if self.whole_stance:
            return [(0, len(vertical) - 1)]
        stances = []
        for a, b in contact_runs(vertical, self.threshold_bw):
            if a == 0 or b == len(vertical) - 1:
                self.partial += 1
            elif (b - a + 1) * dt < self.min_stance_s:
                self.too_short += 1
            else:
                stances.append((int(a) - 1, int(b) + 1))
        return stances

    def _counts(self, duplicates: int) -> dict[str, Tensor]:
        if self.whole_stance:
            return {}
        return {"strides_partial": self.partial.clone(), "strides_duplicate": torch.tensor(duplicates),
                "contacts_too_short": self.too_short.clone()}

    def _count_info(self) -> dict[str, tuple[bool | None, str]]:
        return {} if self.whole_stance else dict(GRF_COUNTS_INFO)
