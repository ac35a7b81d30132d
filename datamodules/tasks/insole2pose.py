"""`insole2pose` (Han, smart insole): M frames of both insoles -> 3D keypoints at the centre frame."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from datamodules.errors import DataError
from datamodules.naming import BODY_PARTS, KEYPOINTS_19
from datamodules.recording import SubjectInfo, TrialInfo
from datamodules.tasks import register_task
from datamodules.tasks.base import DEFAULT_GRID, INSOLE_TO_POSE, PaperReference, Task, make_samples
from datamodules.tasks.spec import DataSpec

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


@register_task
class Insole2Pose(Task):
    """M frames of both insoles -> 3D keypoints at the centre frame (Han, smart insole)."""

    name = "insole2pose"
    paper = "Han (smart insole)"
    description = "left + right insole pressure, M frames -> 19 keypoints in 3D at the centre frame"
    family = INSOLE_TO_POSE
    default_activities = None
    metric_info = {"mpjpe_cm": (False, "cm"), **{f"mpjpe_cm_{part}": (False, "cm") for part in BODY_PARTS}}
    primary_metric = "mpjpe_cm"
    primary_entry = "mpjpe"
    readme_metrics = ("mpjpe_cm", "mpjpe_cm_legs", "mpjpe_cm_arms")
    reference = PaperReference(
        model="insole_pose_cnn",
        reported={"mpjpe_cm": "7.43"},
        protocol="5 people, 30 x 22 insoles at 14 Hz, 63k / 21k / 21k frames for train / val / test",
    )

    # -- definition ---------------------------------------------------------------------------------
    @classmethod
    def default_spec(cls, **overrides: Any) -> DataSpec:
        grid = tuple(overrides.pop("grid", DEFAULT_GRID))
        frames = int(overrides.pop("frames", 40))
        return DataSpec(task=cls.name, input_channels=("left", "right"), input_shape=(2, frames, *grid),
                        target_shape=(len(KEYPOINTS_19), 3), grid=grid, keypoint_names=KEYPOINTS_19,
                        frames=frames).replace(**overrides)

    @classmethod
    def metrics(cls, spec: DataSpec) -> dict[str, Any]:
        from zoo.metrics.pose import MPJPE

        return {"mpjpe": MPJPE(tuple(spec.keypoint_names or KEYPOINTS_19))}

    @classmethod
    def example_figure(cls, examples: Mapping[str, np.ndarray], title: str):
        from datamodules.tasks.figures import skeleton_figure

        names = [str(n) for n in examples["keypoint_names"]]
        return skeleton_figure(examples["y_true"][0], examples["y_pred"][0], names, title)

    @classmethod
    def planned_samples(cls, trial_seconds: list[float], sample_rate_hz: float, options: Mapping[str, Any]) -> int:
        stride = int(options.get("frame_stride", 7))
        span = (int(options.get("frames", 40)) - 1) * stride + 1
        step = int(options.get("pose_stride") or stride)
        return sum(max(0, int((d * sample_rate_hz - span) // step) + 1) for d in trial_seconds)

    @classmethod
    def input_channel_count(cls, options: Mapping[str, Any]) -> int:
        return 2

    # -- windowing ----------------------------------------------------------------------------------
    perturbation_kind = "insole"

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
