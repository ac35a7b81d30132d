"""Cell records -> `results.csv` (long), `leaderboard.csv` (scriptable) and `leaderboard.md` (readable)."""

from __future__ import annotations

import csv
import io
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from datamodules.tasks import get_task
from zoo.bench.io import read_json, write_atomic
from zoo.bench.suite import ORACLE, Cell

RESULT_COLUMNS = ("task", "model", "fold", "seed", "label_fraction", "metric", "value")
LEADERBOARD_COLUMNS = ("task", "model", "metric", "mean", "sd", "n", "higher_is_better", "is_primary",
                       "label_fraction", "unit")
HIDDEN_IN_MARKDOWN = ("loss",)  # kept in the CSV files, left out of the readable tables


def load_records(out_dir: Path, cells: list[Cell] | None = None) -> list[dict[str, Any]]:
    """Records of `cells` (current fingerprint only), or of every cell folder under `out_dir`."""
    if cells is None:
        paths = sorted((out_dir / "cells").glob("*/metrics.json"))
        return [r for r in (read_json(p) for p in paths) if r]
    records = []
    for cell in cells:
        r = read_json(out_dir / "cells" / cell.key / "metrics.json")
        if r and r.get("fingerprint") == cell.fingerprint:
            records.append(r)
    return records


def _csv(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def result_rows(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for r in sorted(records, key=lambda r: (r["task"], r["label"], r.get("label_fraction", 1.0), r["fold"], r["seed"])):
        if r.get("status") != "ok":
            continue
        for metric, value in sorted(r["metrics"].items()):
            rows.append({"task": r["task"], "model": r["label"], "fold": r["fold"], "seed": r["seed"],
                         "label_fraction": r.get("label_fraction", 1.0), "metric": metric, "value": repr(float(value))})
    return rows


def metric_info(task: str, metric: str) -> tuple[bool, str]:
    """(higher_is_better, unit) of a task's metric; `*_sd` spreads and unknown metrics count as lower-is-better."""
    return get_task(task).metric_description(metric)


def leaderboard_rows(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    groups: dict[tuple[str, str, float, str], list[float]] = defaultdict(list)
    for r in records:
        if r.get("status") == "ok":
            for metric, value in r["metrics"].items():
                if math.isfinite(value):  # an undefined metric (e.g. r of a constant) is left out, n says so
                    groups[(r["task"], r["label"], float(r.get("label_fraction", 1.0)), metric)].append(float(value))
    rows = []
    for (task, model, frac, metric), values in sorted(groups.items()):
        higher, unit = metric_info(task, metric)
        arr = np.asarray(values)
        rows.append({
            "task": task, "model": model, "metric": metric, "mean": repr(float(arr.mean())),
            "sd": repr(float(arr.std(ddof=1))) if len(arr) > 1 else "nan", "n": len(arr),
            "higher_is_better": higher, "is_primary": metric == get_task(task).primary_metric,
            "label_fraction": frac, "unit": unit,
        })
    return rows


def _fmt(value: float) -> str:
    if not math.isfinite(value):
        return "-"
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.3f}"
    return f"{value:.4f}"


def leaderboard_markdown(rows: list[dict[str, Any]], records: list[dict[str, Any]], *, suite_name: str,
                         dataset: str, command: str) -> str:
    """One table per task: models (best primary first) x metrics as `mean ± sd`, best value in bold."""
    synthetic = any(r.get("synthetic") for r in records)
    names = sorted({r.get("dataset_name", "") for r in records} - {""})
    lines = [f"# Leaderboard: {suite_name}", ""]
    lines.append(f"Dataset: `{dataset}` ({', '.join(names) or 'unknown'})"
                 + (" — **synthetic data from the zoo's gait simulator, not real recordings**" if synthetic else ""))
    folds = sorted({(r["fold"]) for r in records})
    seeds = sorted({(r["seed"]) for r in records})
    lines += [f"Subject-wise cross-validation: folds {folds}, seeds {seeds}; `mean ± sd` over folds x seeds.",
              f"Command: `{command}`", ""]
    by_task: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_task[row["task"]].append(row)
    for task, task_rows in by_task.items():
        primary = get_task(task).primary_metric
        higher = metric_info(task, primary)[0]
        fractions = sorted({row["label_fraction"] for row in task_rows})
        for frac in fractions:
            cells = [row for row in task_rows if row["label_fraction"] == frac]
            metrics = [primary] + sorted({r["metric"] for r in cells} - {primary} - set(HIDDEN_IN_MARKDOWN)
                                         - {m for m in {r["metric"] for r in cells} if m.endswith("_sd")}
                                         - get_task(task).clinical_metrics)  # in leaderboard_clinical.md
            table: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
            for row in cells:
                table[row["model"]][row["metric"]] = row
            models = sorted(table, key=lambda m: (m == ORACLE, _sort_key(table[m].get(primary), higher)))
            best = {}
            for metric in metrics:
                hib = metric_info(task, metric)[0]
                candidates = [float(table[m][metric]["mean"]) for m in models if m != ORACLE and metric in table[m]]
                if candidates:
                    best[metric] = max(candidates) if hib else min(candidates)
            title = f"## {task} ({get_task(task).paper})"
            if len(fractions) > 1 or frac != 1.0:
                title += f", label fraction {frac:g}"
            lines += [title, "", f"Primary metric: `{primary}` ({'higher' if higher else 'lower'} is better).", ""]
            header = ["model"] + [metric_header(task, m) for m in metrics] + ["n"]
            lines.append("| " + " | ".join(header) + " |")
            lines.append("|" + "---|" * len(header))
            for model in models:
                cells_out = [f"{model} (oracle)" if model == ORACLE else model]
                n = 0
                for metric in metrics:
                    row = table[model].get(metric)
                    if row is None:
                        cells_out.append("-")
                        continue
                    mean, sd = float(row["mean"]), float(row["sd"])
                    n = row["n"]
                    text = _fmt(mean) + (f" ± {_fmt(sd)}" if math.isfinite(sd) else "")
                    if model != ORACLE and best.get(metric) == mean:
                        text = f"**{text}**"
                    cells_out.append(text)
                cells_out.append(str(n))
                lines.append("| " + " | ".join(cells_out) + " |")
            lines.append("")
    lines += notes_markdown(records)
    from zoo.bench.efficiency import markdown as efficiency_markdown

    efficiency = efficiency_markdown(records)
    if efficiency:
        lines += [efficiency]
    failed = [r for r in records if r.get("status") != "ok"]
    if failed:
        lines += ["## Failed cells", ""]
        lines += [f"- `{r['key']}`: {r.get('error', 'unknown error')}" for r in failed]
        lines.append("")
    return "\n".join(lines)


def notes_markdown(records: list[dict[str, Any]]) -> list[str]:
    """`## Data notes`: the documented fallbacks the cells' data took (e.g. stance from pressure), per task."""
    seen: dict[tuple[str, str], int] = defaultdict(int)
    for r in records:
        for note in r.get("notes") or []:
            seen[(r["task"], note)] += 1
    if not seen:
        return []
    lines = ["## Data notes", "", "Fallbacks the data needed (docs/tasks.md), as each cell's DataModule reported them:", ""]
    lines += [f"- `{task}` ({n} cell{'s' if n > 1 else ''}): {note}" for (task, note), n in seen.items()]
    return lines + [""]


def metric_header(task: str, metric: str) -> str:
    """`name (unit) ↑`: the column header of a metric, with its unit as the README renders it."""
    higher, unit = metric_info(task, metric)
    unit = unit.replace("^2", "²")
    return f"{metric} ({unit}) {'↑' if higher else '↓'}" if unit else f"{metric} {'↑' if higher else '↓'}"


def _sort_key(row: dict[str, Any] | None, higher: bool) -> float:
    if row is None:
        return math.inf
    value = float(row["mean"])
    return -value if higher else value


def write_reports(out_dir: Path, records: list[dict[str, Any]], *, suite_name: str, dataset: str,
                  command: str) -> dict[str, Path]:
    """Write the three result files atomically; returns their paths."""
    rows = leaderboard_rows(records)
    paths = {
        "results": out_dir / "results.csv",
        "leaderboard_csv": out_dir / "leaderboard.csv",
        "leaderboard_md": out_dir / "leaderboard.md",
        "leaderboard_clinical_md": out_dir / "leaderboard_clinical.md",
    }
    write_atomic(paths["results"], _csv(result_rows(records), RESULT_COLUMNS))
    write_atomic(paths["leaderboard_csv"], _csv(rows, LEADERBOARD_COLUMNS))
    write_atomic(paths["leaderboard_md"], leaderboard_markdown(rows, records, suite_name=suite_name,
                                                               dataset=dataset, command=command))
    from zoo.bench.clinical import clinical_markdown

    clinical = clinical_markdown(rows, records, suite_name=suite_name, dataset=dataset)
    if clinical:
        write_atomic(paths["leaderboard_clinical_md"], clinical)
    else:
        paths.pop("leaderboard_clinical_md")
    return paths
