"""PNG plots of a suite: primary metric per model with error bars, and example predictions of the best
model per task (each task draws its own: `Task.example_figure`)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from datamodules.tasks.figures import pyplot
from zoo.bench.suite import ORACLE


def primary_metric(task: str) -> tuple[str, bool]:
    """The task's primary metric and whether higher is better."""
    from datamodules.tasks import get_task

    cls = get_task(task)
    return cls.primary_metric, cls.metric_description(cls.primary_metric)[0]


def primary_bars(task: str, records: list[dict[str, Any]], path: Path) -> None:
    plt = pyplot()
    metric, higher = primary_metric(task)
    values: dict[str, list[float]] = defaultdict(list)
    for r in records:
        if r.get("status") == "ok" and r["task"] == task and r.get("label_fraction", 1.0) == 1.0 and metric in r["metrics"]:
            values[r["label"]].append(r["metrics"][metric])
    if not values:
        return
    oracle = values.pop(ORACLE, None)
    models = sorted(values, key=lambda m: -np.mean(values[m]) if higher else np.mean(values[m]))
    means = [np.mean(values[m]) for m in models]
    sds = [np.std(values[m], ddof=1) if len(values[m]) > 1 else 0.0 for m in models]
    fig, ax = plt.subplots(figsize=(1.2 * len(models) + 2.5, 3.6))
    ax.bar(range(len(models)), means, yerr=sds, capsize=4, color="#4477aa")
    if oracle:
        ax.axhline(np.mean(oracle), color="k", ls="--", lw=1, label="noise floor")
        ax.legend(frameon=False)
    ax.set_xticks(range(len(models)), models, rotation=30, ha="right")
    ax.set_ylabel(f"{metric} ({'higher' if higher else 'lower'} is better)")
    ax.set_title(f"{task}: mean ± sd over folds x seeds")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def example_figure(path: Path, title: str):
    """The task's figure for a cell's `examples.npz`, or None."""
    from datamodules.tasks import get_task

    if not path.exists():
        return None
    data = dict(np.load(path))
    data["y_true"], data["y_pred"] = data["y_true"].astype(np.float32), data["y_pred"].astype(np.float32)
    data["x"] = data["x"].astype(np.float32)
    return get_task(str(data["task"])).example_figure(data, title)


def best_cell(task: str, records: list[dict[str, Any]]) -> dict[str, Any] | None:
    metric, higher = primary_metric(task)
    ok = [r for r in records if r.get("status") == "ok" and r["task"] == task and r["label"] != ORACLE
          and metric in r["metrics"] and r.get("label_fraction", 1.0) == 1.0]
    if not ok:
        return None
    by_model: dict[str, list[dict]] = defaultdict(list)
    for r in ok:
        by_model[r["label"]].append(r)
    score = {m: np.mean([r["metrics"][metric] for r in rs]) for m, rs in by_model.items()}
    winner = max(score, key=score.get) if higher else min(score, key=score.get)
    return sorted(by_model[winner], key=lambda r: (r["fold"], r["seed"]))[0]


def efficiency_plot(records: list[dict[str, Any]], plots: Path) -> list[Path]:
    """Primary metric against label fraction (log x), one curve per model, band = sd over folds x seeds."""
    plt = pyplot()
    from zoo.bench import efficiency

    all_curves = efficiency.curves(records, lambda task: primary_metric(task)[0])
    summary = {(r["task"], r["pretrained"]): r for r in efficiency.summary(records)}
    written = []
    for task in sorted({c.task for c in all_curves}):
        metric, higher = primary_metric(task)
        fig, ax = plt.subplots(figsize=(6, 4))
        for c in (c for c in all_curves if c.task == task):
            line, = ax.plot(c.fractions * 100, c.mean, "o-", label=c.model)
            ax.fill_between(c.fractions * 100, c.mean - c.sd, c.mean + c.sd, color=line.get_color(), alpha=0.2)
            match = summary.get((task, c.model))
            if not match:
                continue
            ax.axhline(match["scratch_at_100"], color="grey", ls=":", lw=1)  # the bar: scratch, every label
            if match["matching_fraction"] is None:
                ax.annotate("scratch@100%: not reached by pretrained at any measured fraction", (0.02, 0.02),
                            xycoords="axes fraction", fontsize=8, color="grey")
            else:
                ax.axvline(100 * match["matching_fraction"], color=line.get_color(), ls=":", lw=1)
                ax.annotate(f"matches scratch@100% at {100 * match['matching_fraction']:.2g} %",
                            (100 * match["matching_fraction"], match["scratch_at_100"]), fontsize=8,
                            xytext=(5, -12), textcoords="offset points")
        ax.set_xscale("log")
        ax.set_xlabel("labeled training data (% of windows)")
        ax.set_ylabel(f"{metric} ({'higher' if higher else 'lower'} is better)")
        ax.set_title(f"{task}: label efficiency (mean ± sd over folds) — synthetic data", fontsize=10)
        ax.legend(frameon=False, fontsize=8)
        fig.tight_layout()
        path = plots / f"{task}_label_efficiency.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written


def write_plots(out_dir: Path, records: list[dict[str, Any]]) -> list[Path]:
    plt = pyplot()
    plots = out_dir / "plots"
    plots.mkdir(parents=True, exist_ok=True)
    written = efficiency_plot(records, plots)
    from datamodules.tasks import get_task

    for task in sorted({r["task"] for r in records}):
        if get_task(task).self_supervised:
            continue  # a reconstruction score of unlabeled windows is not a leaderboard
        path = plots / f"{task}_primary.png"
        primary_bars(task, records, path)
        written.append(path)
        best = best_cell(task, records)
        if best is None:
            continue
        fig = example_figure(out_dir / "cells" / best["key"] / "examples.npz",
                             f"{task}: {best['label']} (best), fold {best['fold']}, seed {best['seed']} — synthetic data")
        if fig is not None:
            path = plots / f"{task}_examples.png"
            fig.savefig(path, dpi=100)
            plt.close(fig)
            written.append(path)
    return [p for p in written if p.exists()]
