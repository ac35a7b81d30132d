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


BLAND_ALTMAN_QUANTITIES = ("vgrf_peak1", "vgrf_peak2", "impulse_vertical", "peak_braking", "peak_propulsion",
                           "impulse_braking", "impulse_propulsion", "peak_pressure_heel", "peak_pressure_forefoot")


def read_strides(paths: list[Path]) -> dict[str, np.ndarray]:
    """Pooled `<quantity>_true` / `_pred` columns of per-stride CSV files (NaN where a stride is unscored)."""
    import csv

    columns: dict[str, list[float]] = defaultdict(list)
    for path in paths:
        with open(path, newline="") as fh:
            for row in csv.DictReader(fh):
                for key, value in row.items():
                    if key.endswith(("_true", "_pred")):
                        columns[key].append(float(value) if value else np.nan)
    return {k: np.asarray(v) for k, v in columns.items()}


def bland_altman_figure(strides: dict[str, np.ndarray], title: str):
    """One Bland-Altman panel per quantity: difference (pred - true) against the mean of the two, with the
    bias and the 95 % limits of agreement (bias ± 1.96 sd of the differences)."""
    plt = pyplot()
    names = [q for q in BLAND_ALTMAN_QUANTITIES
             if f"{q}_true" in strides and np.isfinite(strides[f"{q}_true"] - strides[f"{q}_pred"]).sum() >= 2]
    if not names:
        return None
    cols = min(3, len(names))
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.8 * cols, 3.2 * rows), squeeze=False)
    for ax, q in zip(axes.flat, names):
        true, pred = strides[f"{q}_true"], strides[f"{q}_pred"]
        ok = np.isfinite(true) & np.isfinite(pred)
        mean, diff = (true[ok] + pred[ok]) / 2, pred[ok] - true[ok]
        bias, sd = diff.mean(), diff.std(ddof=1)
        ax.scatter(mean, diff, s=6, alpha=0.5, color="#4477aa")
        for level, style in ((bias, "-"), (bias - 1.96 * sd, "--"), (bias + 1.96 * sd, "--")):
            ax.axhline(level, color="k", ls=style, lw=1)
        ax.set_title(f"{q}: bias {bias:.3g}, LoA [{bias - 1.96 * sd:.3g}, {bias + 1.96 * sd:.3g}]", fontsize=8)
        ax.set_xlabel("mean of true and predicted")
        ax.set_ylabel("predicted - true")
    for ax in list(axes.flat)[len(names):]:
        ax.set_visible(False)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


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
        folds = [r for r in records if r.get("status") == "ok" and r["task"] == task and r["label"] == best["label"]
                 and r.get("label_fraction", 1.0) == 1.0]
        tables = sorted(p for r in folds for p in (out_dir / "cells" / r["key"]).glob("*strides.csv"))
        fig = bland_altman_figure(read_strides(tables), f"{task}: {best['label']} (best), every test stride of "
                                  f"{len(folds)} fold(s) — synthetic data") if tables else None
        if fig is not None:
            path = plots / f"{task}_bland_altman.png"
            fig.savefig(path, dpi=100)
            plt.close(fig)
            written.append(path)
    return [p for p in written if p.exists()]
