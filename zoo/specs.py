"""Canonical data specs: the shapes a model is built for when no DataModule is at hand
(`zoo list`, `create_model(name)` in a notebook). A DataModule's `data_spec` has the same keys."""

from __future__ import annotations

from typing import Any

from datamodules.naming import IMU_CHANNELS_48, KEYPOINTS_19, QIAN_CHANNELS_18
from zoo.errors import ZooError

DEFAULT_GRID = (32, 16)
DEFAULT_CELL_CM = (0.9, 0.8)


def default_data_spec(task: str, *, grid: tuple[int, int] | list[int] = DEFAULT_GRID,
                      frames: int = 40, **extra: Any) -> dict[str, Any]:
    """The spec of the zoo's default synthetic data for `task` (override the grid or frame count)."""
    H, W = grid
    base = {"task": task, "grid": [H, W], "cell_size_cm": list(DEFAULT_CELL_CM), "has_body_mass": False,
            "activities": [], "dataset": "default", "synthetic": True, "sample_rate_hz": 100.0}
    per_task: dict[str, dict[str, Any]] = {
        "imu2pressure": {"input_channels": list(QIAN_CHANNELS_18), "input_shape": [18, 101],
                         "target_shape": [101, H, W], "has_body_mass": True},
        "imu2grf": {"input_channels": list(IMU_CHANNELS_48), "input_shape": [48, 128], "target_shape": [3, 128],
                    "target_names": ["ml", "ap", "vertical"]},
        "pretrain": {"input_channels": list(IMU_CHANNELS_48), "input_shape": [48, 128], "target_shape": [48, 128]},
        "landmarks2pressure": {"input_channels": ["geometry", "landmarks"], "input_shape": [2, H, W],
                               "target_shape": [H, W], "landmarks": 16},
        "insole2pose": {"input_channels": ["left", "right"], "input_shape": [2, frames, H, W],
                        "target_shape": [len(KEYPOINTS_19), 3], "keypoint_names": list(KEYPOINTS_19),
                        "frames": frames},
    }
    if task not in per_task:
        raise ZooError(f"task: expected one of {sorted(per_task)}, found '{task}'")
    return {**base, **per_task[task], **extra}
