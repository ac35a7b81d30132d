"""`leaderboard_clinical.md`: the stride-level (clinical) metrics of a suite, per task.

The main leaderboard ranks models by each task's primary metric; clinicians and sports scientists read
stride quantities instead (vGRF peaks, loading rate, impulses, stance time, regional peak pressure, COP
path). Per task, one table gives each model's mean absolute error per quantity (`mean ± sd` over folds and
seeds), and one gives the Bland-Altman bias and 95 % limits of agreement (mean over folds and seeds) for the
quantities that have them. Definitions: docs/metrics.md. Every number comes from the cells' metrics.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from datamodules.tasks import get_task
from zoo.bench.suite import ORACLE


def _fmt(value: float) -> str:
    if not math.isfinite(value):
        return "-"
    return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"


def clinical_markdown(rows: list[dict[str, Any]], records: list[dict[str, Any]], *, suite_name: str,
                      dataset: str) -> str:
    """The clinical leaderboard, or "" when no task of the suite reports stride metrics."""
    full = [r for r in rows if float(r["label_fraction"]) == 1.0]
    by_task: dict[str, dict[str, dict[str, dict[str, Any]]]] = defaultdict(lambda: defaultdict(dict))
    for r in full:
        if r["metric"] in get_task(r["task"]).clinical_metrics:
            by_task[r["task"]][r["model"]][r["metric"]] = r
    if not by_task:
        return ""
    synthetic = any(r.get("synthetic") for r in records)
    lines = [f"# Clinical (stride-level) leaderboard: {suite_name}", "",
             f"Dataset: `{dataset}`" + (" — **synthetic data from the zoo's gait simulator**" if synthetic else ""),
             "Per stride: true and predicted quantity; MAE = mean |pred - true| (`mean ± sd` over folds x seeds), "
             "bias and limits of agreement = Bland-Altman (pred - true; bias ± 1.96 sd of the differences), "
             "averaged over folds x seeds. Definitions: docs/metrics.md.", ""]
    for task, table in by_task.items():
        cls = get_task(task)
        maes = sorted({m for model in table.values() for m in model if m.endswith("_mae")})
        models = sorted(table, key=lambda m: (m == ORACLE, m))
        lines += [f"## {task} ({cls.paper})", "", "Mean absolute error per stride (lower is better):", ""]
        header = ["model"] + [f"{m.removesuffix('_mae')} ({cls.metric_description(m)[1]})" for m in maes] + ["strides"]
        lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for model in models:
            cells = [f"{model} (oracle)" if model == ORACLE else model]
            for m in maes:
                row = table[model].get(m)
                cells.append("-" if row is None else _fmt(float(row["mean"])) +
                             (f" ± {_fmt(float(row['sd']))}" if math.isfinite(float(row["sd"])) else ""))
            strides = [k for k in table[model] if k.endswith("strides") and k.removesuffix("strides") in ("", "map_")]
            cells.append(" / ".join(_fmt(float(table[model][k]["mean"])) for k in sorted(strides)) or "-")
            lines.append("| " + " | ".join(cells) + " |")
        biases = sorted(m.removesuffix("_bias") for m in {k for model in table.values() for k in model}
                        if m.endswith("_bias"))
        if biases:
            lines += ["", "Bland-Altman bias [95 % limits of agreement] (pred - true):", ""]
            header = ["model"] + [f"{q} ({cls.metric_description(q + '_bias')[1]})" for q in biases]
            lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            for model in models:
                cells = [f"{model} (oracle)" if model == ORACLE else model]
                for q in biases:
                    bias, lo, hi = (table[model].get(f"{q}_{s}") for s in ("bias", "loa_lower", "loa_upper"))
                    cells.append("-" if bias is None else f"{_fmt(float(bias['mean']))} "
                                 f"[{_fmt(float(lo['mean'])) if lo else '-'}, {_fmt(float(hi['mean'])) if hi else '-'}]")
                lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)
