"""Scoring detected gait events against reference events, by category of step.

Reference events of one foot are grouped into walking bouts (given, e.g. gaitmap's stride borders or
mobgap's MicroWB, else split where two heel strikes are more than `BOUT_GAP_FACTOR` median strides apart).
Each reference event gets one category:
  start / end  the first / last heel strike and toe-off of the foot in a bout;
  turn         the foot's heading changes by at least `TURN_DEG` over one median stride centred on the
               event (needs a yaw-rate column: the gyroscope axis along the vertical);
  steady       every other event.
Matching is one-to-one: pairs of (reference, detected) events of a kind closer than the tolerance are
taken nearest first. A reference event without a partner is missed (an infinite error in every
percentile); a detected event inside a bout (from its first to its last reference event, widened by
the tolerance) without a partner is spurious.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from benchmarks.gait_events_accuracy import abs_percentile_with_misses

CATEGORIES = ("steady", "start", "end", "turn")
KINDS = ("heel_strike", "toe_off")
BOUT_GAP_FACTOR = 2.0
TURN_DEG = 25.0


def bouts_from_events(heel_strike: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) heel strike of each run of strides no longer than BOUT_GAP_FACTOR median strides."""
    hs = np.sort(np.asarray(heel_strike, np.int64))
    if len(hs) < 2:
        return [(int(hs[0]), int(hs[0]))] if len(hs) else []
    gaps = np.diff(hs)
    breaks = np.flatnonzero(gaps > BOUT_GAP_FACTOR * np.median(gaps))
    firsts = np.append(0, breaks + 1)
    lasts = np.append(breaks, len(hs) - 1)
    return [(int(hs[a]), int(hs[b])) for a, b in zip(firsts, lasts)]


def categorise(reference: dict[str, np.ndarray], bouts: list[tuple[int, int]], fs: float,
               yaw_rate: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """A category per reference event of each kind (see the module docstring)."""
    hs = np.sort(reference["heel_strike"])
    stride = float(np.median(np.diff(hs))) if len(hs) >= 2 else fs
    heading = None if yaw_rate is None else np.degrees(np.concatenate([[0.0], np.cumsum(yaw_rate) / fs]))
    out = {}
    for kind in KINDS:
        events = np.sort(np.asarray(reference.get(kind, []), np.int64))
        labels = np.full(len(events), "steady", dtype=object)
        if heading is not None and len(events):
            lo = np.clip(events - int(stride / 2), 0, len(heading) - 1)
            hi = np.clip(events + int(stride / 2), 0, len(heading) - 1)
            labels[np.abs(heading[hi] - heading[lo]) >= TURN_DEG] = "turn"
        for lo_b, hi_b in bouts:
            inside = np.flatnonzero((events >= lo_b - stride / 2) & (events <= hi_b + stride / 2))
            if len(inside):
                labels[inside[0]] = "start"
                labels[inside[-1]] = "end"
        out[kind] = labels.astype(str)
    return out


def match(detected: np.ndarray, reference: np.ndarray, tolerance: int) -> tuple[np.ndarray, np.ndarray]:
    """One-to-one nearest-first matching: (partner index in detected or -1 per reference, matched mask of
    detected)."""
    detected = np.asarray(detected, np.int64)
    reference = np.asarray(reference, np.int64)
    partner = np.full(len(reference), -1)
    taken = np.zeros(len(detected), bool)
    if not len(detected) or not len(reference):
        return partner, taken
    dist = np.abs(reference[:, None] - detected[None, :])
    pairs = np.argwhere(dist <= tolerance)
    for r, d in pairs[np.argsort(dist[pairs[:, 0], pairs[:, 1]], kind="stable")]:
        if partner[r] < 0 and not taken[d]:
            partner[r] = d
            taken[d] = True
    return partner, taken


@dataclass
class CategoryScore:
    """Signed errors (ms) of the found reference events of one kind and category, and the misses."""

    errors_ms: np.ndarray
    n: int

    @property
    def found(self) -> int:
        return len(self.errors_ms)

    def percent(self) -> float:
        return 100.0 * self.found / self.n if self.n else float("nan")

    def abs_percentile(self, q: float) -> float:
        return abs_percentile_with_misses(self.errors_ms, self.n - self.found, q)


@dataclass
class FootScore:
    """Scores of one foot: per (kind, category), and spurious detections inside bouts."""

    scores: dict[tuple[str, str], CategoryScore]
    spurious: int
    n_detected: int


def score_foot(detected: dict[str, np.ndarray], reference: dict[str, np.ndarray], fs: float,
               bouts: list[tuple[int, int]] | None = None, yaw_rate: np.ndarray | None = None,
               tolerance_s: float = 0.15) -> FootScore:
    """Score one foot's detected events against its reference events, by category."""
    bouts = bouts if bouts is not None else bouts_from_events(reference["heel_strike"])
    labels = categorise(reference, bouts, fs, yaw_rate)
    tol = int(round(tolerance_s * fs))
    scores, spurious, n_detected = {}, 0, 0
    for kind in KINDS:
        ref = np.sort(np.asarray(reference.get(kind, []), np.int64))
        det = np.sort(np.asarray(detected.get(kind, []), np.int64))
        partner, taken = match(det, ref, tol)
        errors = (np.where(partner >= 0, det[np.maximum(partner, 0)] - ref, 0) / fs * 1000.0 if len(det)
                  else np.zeros(len(ref)))
        for cat in CATEGORIES:
            mine = labels[kind] == cat
            scores[(kind, cat)] = CategoryScore(errors[mine & (partner >= 0)], int(mine.sum()))
        scores[(kind, "all")] = CategoryScore(errors[partner >= 0], len(ref))
        in_bout = np.zeros(len(det), bool)
        for lo, hi in bouts:
            in_bout |= (det >= lo - tol) & (det <= hi + tol)
        spurious += int((in_bout & ~taken).sum())
        n_detected += len(det)
    return FootScore(scores, spurious, n_detected)


def merge(feet: list[FootScore]) -> FootScore:
    """Pool several feet or recordings."""
    keys = feet[0].scores.keys() if feet else []
    scores = {k: CategoryScore(np.concatenate([f.scores[k].errors_ms for f in feet]),
                               sum(f.scores[k].n for f in feet)) for k in keys}
    return FootScore(scores, sum(f.spurious for f in feet), sum(f.n_detected for f in feet))


def table(rows: list[tuple[str, FootScore]]) -> str:
    """Markdown: per label and category, found % and |error| median / p90 for heel strike and toe-off."""
    out = ["| recording | steps | HS found | HS median ms | HS p90 ms | TO found | TO median ms | TO p90 ms "
           "| spurious in bouts |", "|---|---|---|---|---|---|---|---|---|"]
    for label, fs in rows:
        for cat in ("all", *CATEGORIES):
            hs, to = fs.scores[("heel_strike", cat)], fs.scores[("toe_off", cat)]
            if not hs.n and not to.n:
                continue
            cells = [label, cat]
            for s in (hs, to):
                cells += [f"{s.found}/{s.n} ({s.percent():.1f} %)", f"{s.abs_percentile(50):.1f}",
                          f"{s.abs_percentile(90):.1f}"]
            cells.append(str(fs.spurious) if cat == "all" else "")
            out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


__all__ = ["CATEGORIES", "FootScore", "bouts_from_events", "categorise", "match", "merge", "score_foot", "table"]
