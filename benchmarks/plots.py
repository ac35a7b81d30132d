"""PNG plots of a suite: primary metric per model with error bars, and example predictions of the best
model per task (pressure maps over stance, vGRF and COP curves, GRF curves, pose skeletons)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from benchmarks.suite import ORACLE  # noqa: E402

STANCE_PHASES = (0.1, 0.3, 0.5, 0.7, 0.9)
BONES = (
    ("nose", "left_shoulder"), ("nose", "right_shoulder"), ("left_shoulder", "right_shoulder"),
    ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"),
    ("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist"),
    ("left_shoulder", "left_hip"), ("right_shoulder", "right_hip"), ("left_hip", "right_hip"),
    ("left_hip", "left_knee"), ("left_knee", "left_ankle"), ("right_hip", "right_knee"), ("right_knee", "right_ankle"),
    ("left_ankle", "left_heel"), ("left_ankle", "left_big_toe"), ("left_big_toe", "left_small_toe"),
    ("right_ankle", "right_heel"), ("right_ankle", "right_big_toe"), ("right_big_toe", "right_small_toe"),
)


def vgrf_n(p: np.ndarray, cell_cm: np.ndarray) -> np.ndarray:
    """Vertical force (N) of pressure maps `[..., H, W]` in N/cm^2."""
    return p.sum(axis=(-2, -1)) * float(cell_cm[0] * cell_cm[1])


def cop_cm(p: np.ndarray, cell_cm: np.ndarray) -> np.ndarray:
    """Pressure-weighted centroid of cell centres `[..., 2]` (across, along) in cm; NaN when unloaded."""
    h, w = p.shape[-2:]
    rows = (np.arange(h) + 0.5) * cell_cm[0]
    cols = (np.arange(w) + 0.5) * cell_cm[1]
    total = p.sum(axis=(-2, -1))
    with np.errstate(invalid="ignore", divide="ignore"):
        along = (p.sum(axis=-1) * rows).sum(-1) / total
        across = (p.sum(axis=-2) * cols).sum(-1) / total
    return np.stack([across, along], axis=-1)


def primary_bars(task: str, records: list[dict[str, Any]], path: Path) -> None:
    from zoo.metrics import PRIMARY_METRIC

    metric, higher = PRIMARY_METRIC[task]
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


def pressure_figure(y_true: np.ndarray, y_pred: np.ndarray, cell_cm: np.ndarray, title: str):
    """One stance: true vs predicted maps at 10-90 % of stance, and vGRF / COP curves."""
    steps = y_true.shape[0]
    idx = [int(round(p * (steps - 1))) for p in STANCE_PHASES]
    vmax = float(max(y_true.max(), 1e-6))
    fig = plt.figure(figsize=(12, 5.5))
    grid = fig.add_gridspec(2, len(idx) + 2)
    for row, (maps, name) in enumerate(((y_true, "true"), (y_pred, "predicted"))):
        for col, i in enumerate(idx):
            ax = fig.add_subplot(grid[row, col])
            ax.imshow(maps[i], origin="lower", cmap="magma", vmin=0, vmax=vmax)
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(f"{STANCE_PHASES[col]:.0%} stance", fontsize=9)
            if col == 0:
                ax.set_ylabel(name)
    t = np.linspace(0, 100, steps)
    ax = fig.add_subplot(grid[0, len(idx):])
    ax.plot(t, vgrf_n(y_true, cell_cm), "k", label="true")
    ax.plot(t, vgrf_n(y_pred.clip(min=0), cell_cm), "r--", label="predicted")
    ax.set_ylabel("vGRF from map (N)")
    ax.legend(frameon=False, fontsize=8)
    ax = fig.add_subplot(grid[1, len(idx):])
    ax.plot(t, cop_cm(y_true, cell_cm)[:, 1], "k")
    ax.plot(t, cop_cm(y_pred.clip(min=0), cell_cm)[:, 1], "r--")
    ax.set_ylabel("COP along foot (cm)")
    ax.set_xlabel("% stance")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def grf_figure(y_true: np.ndarray, y_pred: np.ndarray, title: str):
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.2), sharex=True)
    for ax, k, name in zip(axes, range(3), ("medial-lateral", "anterior-posterior", "vertical")):
        ax.plot(y_true[k], "k", label="true")
        ax.plot(y_pred[k], "r--", label="predicted")
        ax.set_title(f"{name} GRF", fontsize=9)
        ax.set_xlabel("sample (100 Hz)")
    axes[0].set_ylabel("body weights")
    axes[0].legend(frameon=False, fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def maps_figure(x: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray, title: str):
    n = min(len(y_true), 4)
    fig, axes = plt.subplots(3, n, figsize=(2.2 * n, 6.5), squeeze=False)
    for j in range(n):
        vmax = float(max(y_true[j].max(), 1e-6))
        for i, (img, name) in enumerate(((x[j, 1] if len(x) else y_true[j] * 0, "landmark input"),
                                         (y_true[j], "true"), (y_pred[j], "predicted"))):
            axes[i, j].imshow(img, origin="lower", cmap="magma", vmin=0 if i else None, vmax=vmax if i else None)
            axes[i, j].set_xticks([])
            axes[i, j].set_yticks([])
            if j == 0:
                axes[i, j].set_ylabel(name)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def skeleton_figure(y_true: np.ndarray, y_pred: np.ndarray, names: list[str], title: str):
    idx = {n: i for i, n in enumerate(names)}
    fig, axes = plt.subplots(1, 2, figsize=(7, 4.5))
    for ax, (a, b, label) in zip(axes, ((0, 2, "x (m)"), (1, 2, "y (m)"))):
        for pose, style in ((y_true, "k-"), (y_pred, "r--")):
            for u, v in BONES:
                if u in idx and v in idx:
                    ax.plot(pose[[idx[u], idx[v]], a], pose[[idx[u], idx[v]], b], style, lw=1.5)
            ax.plot(pose[:, a], pose[:, b], style[0] + ".", ms=4)
        ax.set_xlabel(label)
        ax.set_ylabel("z (m)")
        ax.set_aspect("equal")
    axes[0].set_title("true (black) vs predicted (red)", fontsize=9)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def example_figure(path: Path, title: str):
    """The right figure for a cell's `examples.npz`, or None."""
    if not path.exists():
        return None
    data = np.load(path)
    task = str(data["task"])
    y_true, y_pred = data["y_true"].astype(np.float32), data["y_pred"].astype(np.float32)
    if task == "imu2pressure":
        return pressure_figure(y_true[0], y_pred[0], data["cell_size_cm"], title)
    if task == "imu2grf":
        return grf_figure(y_true[0], y_pred[0], title)
    if task == "landmarks2pressure":
        return maps_figure(data["x"].astype(np.float32), y_true, y_pred, title)
    if task == "insole2pose":
        return skeleton_figure(y_true[0], y_pred[0], [str(n) for n in data["keypoint_names"]], title)
    return None


def best_cell(task: str, records: list[dict[str, Any]]) -> dict[str, Any] | None:
    from zoo.metrics import PRIMARY_METRIC

    metric, higher = PRIMARY_METRIC[task]
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
    from benchmarks import efficiency
    from zoo.metrics import PRIMARY_METRIC

    all_curves = efficiency.curves(records, lambda task: PRIMARY_METRIC[task][0])
    summary = {(r["task"], r["pretrained"]): r for r in efficiency.summary(records)}
    written = []
    for task in sorted({c.task for c in all_curves}):
        metric, higher = PRIMARY_METRIC[task]
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
    plots = out_dir / "plots"
    plots.mkdir(parents=True, exist_ok=True)
    written = efficiency_plot(records, plots)
    for task in sorted({r["task"] for r in records}):
        if task == "pretrain":
            continue
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
