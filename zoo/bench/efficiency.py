"""Label efficiency (Tan 2024, figure 3): the primary metric against the share of labeled training data,
and the share at which a pretrained model matches its random-initialisation twin trained on all labels.

Twins are told apart by label: `<name>-pretrained` vs `<name>-scratch`.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np

PRETRAINED, SCRATCH = "-pretrained", "-scratch"


@dataclass(frozen=True)
class Curve:
    task: str
    model: str
    fractions: np.ndarray  # sorted label fractions
    mean: np.ndarray
    sd: np.ndarray
    n: np.ndarray


def curves(records: list[dict[str, Any]], metric_of) -> list[Curve]:
    """One curve per (task, model) that was run at more than one label fraction."""
    values: dict[tuple[str, str], dict[float, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in records:
        if r.get("status") != "ok":
            continue
        metric = metric_of(r["task"])
        value = r["metrics"].get(metric)
        if value is not None and math.isfinite(value):
            values[(r["task"], r["label"])][float(r.get("label_fraction", 1.0))].append(value)
    out = []
    for (task, model), by_fraction in sorted(values.items()):
        if len(by_fraction) < 2:
            continue
        f = np.array(sorted(by_fraction))
        v = [np.asarray(by_fraction[x]) for x in f]
        out.append(Curve(task, model, f, np.array([a.mean() for a in v]),
                         np.array([a.std(ddof=1) if len(a) > 1 else 0.0 for a in v]), np.array([len(a) for a in v])))
    return out


def matching_fraction(pretrained: Curve, target: float, higher_is_better: bool) -> float | None:
    """Smallest label fraction where the pretrained curve reaches `target` (log-linear interpolation
    between measured fractions); None if it never does."""
    reached = pretrained.mean >= target if higher_is_better else pretrained.mean <= target
    if not reached.any():
        return None
    i = int(np.argmax(reached))
    if i == 0:
        return float(pretrained.fractions[0])
    x0, x1 = np.log10(pretrained.fractions[i - 1]), np.log10(pretrained.fractions[i])
    y0, y1 = pretrained.mean[i - 1], pretrained.mean[i]
    t = (target - y0) / (y1 - y0) if y1 != y0 else 1.0
    return float(10 ** (x0 + t * (x1 - x0)))


def twins(all_curves: list[Curve]) -> list[tuple[Curve, Curve]]:
    by_name = {(c.task, c.model): c for c in all_curves}
    pairs = []
    for (task, model), c in sorted(by_name.items()):
        if model.endswith(PRETRAINED):
            scratch = by_name.get((task, model[: -len(PRETRAINED)] + SCRATCH))
            if scratch is not None:
                pairs.append((c, scratch))
    return pairs


def summary(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per twin pair: scratch at 100 % labels, and the fraction at which pretrained matches it."""
    from zoo.bench.plots import primary_metric

    rows = []
    for pre, scratch in twins(curves(records, lambda task: primary_metric(task)[0])):
        metric, higher = primary_metric(pre.task)
        if 1.0 not in scratch.fractions:
            continue
        target = float(scratch.mean[list(scratch.fractions).index(1.0)])
        match = matching_fraction(pre, target, higher)
        common = [f for f in pre.fractions if f in set(scratch.fractions)]
        gains = {f: float(pre.mean[list(pre.fractions).index(f)] - scratch.mean[list(scratch.fractions).index(f)])
                 for f in common}
        rows.append({"task": pre.task, "pretrained": pre.model, "scratch": scratch.model, "metric": metric,
                     "scratch_at_100": target, "matching_fraction": match, "gain_by_fraction": gains})
    return rows


def markdown(records: list[dict[str, Any]]) -> str:
    rows = summary(records)
    if not rows:
        return ""
    lines = ["## Label efficiency", ""]
    for r in rows:
        match = (f"{100 * r['matching_fraction']:.3g} % of the labels" if r["matching_fraction"] is not None
                 else "no measured fraction")
        lines.append(f"- `{r['task']}`: `{r['scratch']}` with 100 % of the labels reaches {r['metric']} = "
                     f"{r['scratch_at_100']:.4f}; `{r['pretrained']}` matches it with {match}.")
        gains = ", ".join(f"{100 * f:.3g} %: {g:+.4f}" for f, g in sorted(r["gain_by_fraction"].items()))
        lines.append(f"  Pretrained minus scratch at each fraction ({r['metric']}): {gains}.")
    return "\n".join(lines) + "\n"
