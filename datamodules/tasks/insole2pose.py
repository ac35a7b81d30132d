"""`insole2pose` (Han, smart insole): M frames of both insoles -> 3D keypoints at the centre frame."""

from __future__ import annotations

from typing import Any

import numpy as np

from datamodules.errors import DataError
from datamodules.recording import SubjectInfo, TrialInfo
from datamodules.tasks.base import Task, make_samples

PELVIS = ("left_hip", "right_hip")
SHOULDERS = ("left_shoulder", "right_shoulder")


def normalise_pose(kp: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    """Han et al.: x, y relative to the pelvis, rotated about z so the shoulders lie on the x axis; z absolute."""
    idx = {n: i for i, n in enumerate(names)}
    pelvis = kp[[idx[PELVIS[0]], idx[PELVIS[1]]]].mean(axis=0)
    across = kp[idx[SHOULDERS[1]]] - kp[idx[SHOULDERS[0]]]  # left -> right shoulder
    angle = np.arctan2(across[1], across[0])
    c, s = np.cos(-angle), np.sin(-angle)
    out = kp.copy()
    dx, dy = kp[:, 0] - pelvis[0], kp[:, 1] - pelvis[1]
    out[:, 0], out[:, 1] = c * dx - s * dy, s * dx + c * dy
    return out


class Insole2Pose(Task):
    name = "insole2pose"
    paper = "Han (smart insole)"
    default_activities = None
    x_mean_axes, x_std_axes = None, (0, 1, 2, 3)  # one pressure scale, zero stays zero
    y_mean_axes, y_std_axes = (), (0,)            # mean pose; one scale per axis

    @property
    def frames(self) -> int:
        return int(self.options["frames"])

    @property
    def frame_stride(self) -> int:
        return int(self.options["frame_stride"])

    @property
    def span(self) -> int:
        return (self.frames - 1) * self.frame_stride + 1

    def needs(self) -> str:
        return "pressure/left, pressure/right and keypoints (with hips and shoulders)"

    def missing(self, trial: TrialInfo, subject: SubjectInfo) -> list[str]:
        miss = [f"pressure/{f}" for f in ("left", "right") if f not in trial.pressure_feet]
        if not trial.keypoint_names:
            miss.append("keypoints")
        else:
            lacking = [k for k in PELVIS + SHOULDERS if k not in trial.keypoint_names]
            if lacking:
                raise DataError(
                    f"{self.ctx.file}: {trial.path}/keypoints: insole2pose normalises poses by the hips and "
                    f"shoulders; expected keypoints {list(PELVIS + SHOULDERS)}, missing {lacking}"
                )
        return miss

    def input_arrays(self, trial: TrialInfo) -> list[str]:
        return ["pressure/left", "pressure/right"]

    def target_arrays(self, trial: TrialInfo) -> list[str]:
        return ["keypoints"]

    def index(self, trial_index: int, subject_index: int) -> np.ndarray:
        n = self.ctx.trials[trial_index].n_samples
        step = int(self.options.get("pose_stride") or self.frame_stride)
        starts = np.arange(0, n - self.span + 1, step, dtype=np.int64) if n >= self.span else np.zeros(0, int)
        return make_samples(subject_index, trial_index, starts, starts + self.span, "right")

    def load(self, row: np.void, clean: bool = False) -> dict[str, np.ndarray]:
        start, stop = int(row["start"]), int(row["stop"])
        feet = [self.read(row, f"pressure/{f}", start, stop)[:: self.frame_stride] for f in ("left", "right")]
        centre = start + (self.frames // 2) * self.frame_stride
        kp = self.read(row, "keypoints", centre, centre + 1, clean=clean)[0]
        activities = self.options["activity_names"]
        return {
            "x": np.stack(feet).astype(np.float32),
            "y": normalise_pose(kp, self.trial(row).keypoint_names).astype(np.float32),
            "activity": np.int64(activities.index(self.trial(row).activity)),
        }

    def spec(self) -> dict[str, Any]:
        t = self.ctx.trials[self.usable_trials()[0]]
        return {
            "input_channels": ["left", "right"],
            "input_shape": [2, self.frames, *t.pressure_shape],
            "target_shape": [len(t.keypoint_names), 3],
            "keypoint_names": list(t.keypoint_names),
            "frames": self.frames,
        }
