"""Example-prediction figures the tasks draw (pressure over a stance, GRF curves, maps, skeletons).

matplotlib is imported on the first figure, not with the tasks: importing the zoo must not pay for it.
"""

from __future__ import annotations

import numpy as np


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


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


def pressure_figure(y_true: np.ndarray, y_pred: np.ndarray, cell_cm: np.ndarray, title: str):
    """One stance: true vs predicted maps at 10-90 % of stance, and vGRF / COP curves."""
    steps = y_true.shape[0]
    idx = [int(round(p * (steps - 1))) for p in STANCE_PHASES]
    vmax = float(max(y_true.max(), 1e-6))
    plt = pyplot()
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


AXIS_TITLES = {"ml": "medial-lateral", "ap": "anterior-posterior", "vertical": "vertical",
               "total_vertical": "total vertical"}


def grf_figure(y_true: np.ndarray, y_pred: np.ndarray, names: list[str], title: str, unit: str = "body weights",
               rate_hz: float = 100.0):
    """One window: true vs predicted force per axis (`[A, T]` each)."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(names), figsize=(3.7 * len(names), 3.2), sharex=True, squeeze=False)
    for ax, k, name in zip(axes[0], range(len(names)), names):
        ax.plot(y_true[k], "k", label="true")
        ax.plot(y_pred[k], "r--", label="predicted")
        ax.set_title(f"{AXIS_TITLES.get(name, name)} GRF", fontsize=9)
        ax.set_xlabel(f"sample ({rate_hz:g} Hz)")
    axes[0, 0].set_ylabel(unit)
    axes[0, 0].legend(frameon=False, fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def maps_figure(x: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray, title: str):
    n = min(len(y_true), 4)
    plt = pyplot()
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
    plt = pyplot()
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


def kinetics_figure(true: dict[str, np.ndarray], pred: dict[str, np.ndarray], cell_cm: np.ndarray, title: str):
    """One window of the joint task: maps at the loaded steps' 10-90 %, vGRF and COP (along the foot)."""
    plt = pyplot()
    vertical = true["grf"][2]
    loaded = np.flatnonzero(vertical > 0.02)
    steps = loaded if len(loaded) else np.arange(vertical.shape[0])
    idx = [int(steps[int(round(p * (len(steps) - 1)))]) for p in STANCE_PHASES]
    vmax = float(max(true["pressure"].max(), 1e-6))
    fig = plt.figure(figsize=(12, 5.5))
    grid = fig.add_gridspec(2, len(idx) + 2)
    for row, (maps, name) in enumerate(((true["pressure"], "true"), (pred["pressure"], "predicted"))):
        for col, i in enumerate(idx):
            ax = fig.add_subplot(grid[row, col])
            ax.imshow(maps[i], origin="lower", cmap="magma", vmin=0, vmax=vmax)
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(f"step {i}", fontsize=9)
            if col == 0:
                ax.set_ylabel(name)
    ax = fig.add_subplot(grid[0, len(idx):])
    ax.plot(true["grf"][2], "k", label="true")
    ax.plot(pred["grf"][2], "r--", label="predicted (GRF head)")
    ax.set_ylabel("vGRF (BW)")
    ax.legend(frameon=False, fontsize=8)
    ax = fig.add_subplot(grid[1, len(idx):])
    along_true = np.where(vertical > 0.02, true["cop"][1], np.nan)
    along_pred = np.where(vertical > 0.02, pred["cop"][1], np.nan)
    ax.plot(along_true, "k")
    ax.plot(along_pred, "r--")
    ax.set_ylabel("COP along foot (cm)")
    ax.set_xlabel("step (100 Hz)")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
