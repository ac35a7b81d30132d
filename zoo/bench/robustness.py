"""Robustness of trained cells: the best checkpoint re-tested, without retraining, under every perturbation of
its task's input kind (`datamodules.perturbations`: a missing IMU, re-mounted IMUs, more noise, another sample
rate, a time offset between sensors; lost or slipped landmark sensors; lost insole frames).

    zoo bench SUITE.yaml --out runs/x --robustness      # or `robustness: true` in the suite

Each finished cell gets `cells/<key>/robustness.json` (clean and perturbed test scores of the task's primary
metric); the suite gets `robustness.csv`, `robustness.md` and `plots/<task>_robustness.png`. A rerun skips
cells whose robustness file matches their fingerprint. Perturbations are reproducible: every test sample gets
its own generator seeded by (seed, trial, start, foot).
"""

from __future__ import annotations

import csv
import io
import math
import time
import traceback
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from zoo.bench.io import read_json, write_atomic, write_json_atomic
from zoo.bench.suite import ORACLE, Cell

FILE = "robustness.json"
COLUMNS = ("task", "model", "fold", "seed", "perturbation", "severity", "unit", "metric", "value")


def pending(cells: list[Cell], out_dir: Path) -> list[Cell]:
    """Cells with a finished training run and no robustness result for their current fingerprint."""
    todo = []
    for cell in cells:
        if cell.model.name == ORACLE or cell.is_pretraining or cell.label_fraction != 1.0:
            continue
        here = out_dir / "cells" / cell.key
        record = read_json(here / "metrics.json")
        if not record or record.get("status") != "ok" or record.get("fingerprint") != cell.fingerprint:
            continue
        done = read_json(here / FILE)
        if not done or done.get("fingerprint") != cell.fingerprint:
            todo.append(cell)
    return todo


def run_robustness(cell: Cell, out_dir: Path, threads: int | None = None, seed: int = 0) -> dict[str, Any]:
    """Re-test one trained cell under every perturbation of its input kind; never raises for the cell."""
    import torch

    from datamodules.perturbations import perturbations_for, severities_for
    from zoo.bench.cell import cell_config, quiet_lightning
    from zoo.lightning_cli import build_cli

    quiet_lightning()
    here = out_dir / "cells" / cell.key
    record: dict[str, Any] = {"key": cell.key, "fingerprint": cell.fingerprint, "task": cell.task,
                              "label": cell.model.label, "fold": cell.fold, "seed": cell.seed, "seed_perturb": seed}
    start = time.time()
    try:
        config = cell_config(cell, out_dir, threads)
        cli = build_cli({**config, "trainer": {**config["trainer"], "logger": False}})
        trainer, model, dm = cli.trainer, cli.model, cli.datamodule
        dm.setup()
        state = torch.load(here / "checkpoints" / "best.ckpt", map_location="cpu", weights_only=False)
        model.load_state_dict(state["state_dict"])
        model.test_metrics = model.task.build_metrics(model.spec, primary_only=True)  # the primary metric only
        primary = model.task.primary_metric

        def score(loader) -> float:
            return float(trainer.test(model, dataloaders=loader, verbose=False)[0][f"test/{primary}"])

        record["metric"] = primary
        record["clean"] = score(dm.test_dataloader())
        rows = []
        kind = dm.task.perturbation_kind
        context = {"channels": list(dm.spec.input_channels)}
        for name, perturbation in perturbations_for(kind or "").items():
            for severity in severities_for(name, **context) if kind == "imu" else perturbation.severities:
                rows.append({"perturbation": name, "severity": severity, "unit": perturbation.unit,
                             "value": score(dm.perturbed_test_dataloader(name, severity, seed))})
        record.update(status="ok", perturbed=rows)
    except Exception as exc:  # recorded, the suite goes on
        record.update(status="failed", error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc())
    record["wall_time_s"] = round(time.time() - start, 2)
    write_json_atomic(here / FILE, record)
    return record


def load(out_dir: Path, cells: list[Cell]) -> list[dict[str, Any]]:
    records = []
    for cell in cells:
        r = read_json(out_dir / "cells" / cell.key / FILE)
        if r and r.get("fingerprint") == cell.fingerprint and r.get("status") == "ok":
            records.append(r)
    return records


def result_rows(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for r in records:
        base = {"task": r["task"], "model": r["label"], "fold": r["fold"], "seed": r["seed"], "metric": r["metric"]}
        rows.append({**base, "perturbation": "none", "severity": "", "unit": "", "value": repr(r["clean"])})
        rows += [{**base, "perturbation": p["perturbation"], "severity": p["severity"], "unit": p["unit"],
                  "value": repr(p["value"])} for p in r["perturbed"]]
    return rows


def markdown(records: list[dict[str, Any]], suite_name: str) -> str:
    """Per task: model rows, one column per perturbation and severity, the primary metric as the mean over
    folds x seeds, and the worst relative change from the clean score."""
    from datamodules.tasks import get_task

    if not records:
        return ""
    lines = [f"# Robustness: {suite_name}", "",
             "Each trained cell's best checkpoint re-tested, without retraining, with the test inputs perturbed "
             "(docs/robustness.md). Values: the task's primary metric, mean over folds x seeds; "
             "**worst change** = the largest degradation relative to the clean score.", ""]
    by_task: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        by_task[r["task"]].append(r)
    for task, task_records in sorted(by_task.items()):
        cls = get_task(task)
        metric = cls.primary_metric
        higher, unit = cls.metric_description(metric)
        columns = list(dict.fromkeys((p["perturbation"], p["severity"], p["unit"])
                                     for r in task_records for p in r["perturbed"]))
        lines += [f"## {task}: `{metric}`{f' ({unit})' if unit else ''}, {'higher' if higher else 'lower'} is better", ""]
        header = ["model", "clean"] + [f"{n} {s:g} {u}" if isinstance(s, (int, float)) else f"{n} {s}"
                                       for n, s, u in columns] + ["worst change"]
        lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for model in sorted({r["label"] for r in task_records}):
            mine = [r for r in task_records if r["label"] == model]
            clean = float(np.mean([r["clean"] for r in mine]))
            values = []
            for n, s, _ in columns:
                found = [p["value"] for r in mine for p in r["perturbed"] if (p["perturbation"], p["severity"]) == (n, s)]
                values.append(float(np.mean(found)) if found else math.nan)
            changes = [(v - clean) / abs(clean) * (1 if higher else -1) for v in values if math.isfinite(v) and clean]
            worst = min(changes) if changes else math.nan
            lines.append("| " + " | ".join([model, f"{clean:.4g}"] + [f"{v:.4g}" if math.isfinite(v) else "-"
                                                                     for v in values]
                                           + [f"{100 * worst:+.1f} %" if math.isfinite(worst) else "-"]) + " |")
        lines.append("")
    return "\n".join(lines)


def write_reports(out_dir: Path, records: list[dict[str, Any]], suite_name: str) -> list[Path]:
    if not records:
        return []
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(result_rows(records))
    write_atomic(out_dir / "robustness.csv", buf.getvalue())
    write_atomic(out_dir / "robustness.md", markdown(records, suite_name))
    return [out_dir / "robustness.csv", out_dir / "robustness.md", *plot(out_dir, records)]


def plot(out_dir: Path, records: list[dict[str, Any]]) -> list[Path]:
    """Per task: one panel per perturbation, the primary metric against severity, one line per model (mean over
    folds x seeds; the clean score as a dashed line of the model's colour)."""
    from datamodules.tasks import get_task
    from datamodules.tasks.figures import pyplot

    plt = pyplot()
    written = []
    (out_dir / "plots").mkdir(parents=True, exist_ok=True)
    for task in sorted({r["task"] for r in records}):
        mine = [r for r in records if r["task"] == task]
        names = list(dict.fromkeys(p["perturbation"] for r in mine for p in r["perturbed"]))
        if not names:
            continue
        fig, axes = plt.subplots(1, len(names), figsize=(3.3 * len(names), 3.2), squeeze=False)
        for ax, name in zip(axes[0], names):
            for model in sorted({r["label"] for r in mine}):
                runs = [r for r in mine if r["label"] == model]
                severities = list(dict.fromkeys(p["severity"] for r in runs for p in r["perturbed"]
                                                if p["perturbation"] == name))
                numeric = all(isinstance(s, (int, float)) for s in severities)
                xs = [float(s) for s in severities] if numeric else list(range(len(severities)))
                ys = [float(np.mean([p["value"] for r in runs for p in r["perturbed"]
                                     if p["perturbation"] == name and p["severity"] == s])) for s in severities]
                line, = ax.plot(xs, ys, "o-", label=model)
                # the clean score as a dashed level: "no perturbation" has no place on every severity axis
                # (noise is 1x nominal, the sample rate the model's own)
                ax.axhline(float(np.mean([r["clean"] for r in runs])), ls="--", lw=1, color=line.get_color(),
                           label=f"{model}, clean")
                if not numeric:
                    ax.set_xticks(xs, [str(s) for s in severities], rotation=45, fontsize=7)
            unit = next(p["unit"] for r in mine for p in r["perturbed"] if p["perturbation"] == name)
            ax.set_title(name, fontsize=9)
            ax.set_xlabel(unit)
        cls = get_task(task)
        axes[0, 0].set_ylabel(cls.primary_metric)
        axes[0, 0].legend(frameon=False, fontsize=7)
        fig.suptitle(f"{task}: robustness of trained models (synthetic data)", fontsize=10)
        fig.tight_layout()
        path = out_dir / "plots" / f"{task}_robustness.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)
    return written
