"""`imu2grf` and `pretrain` (Tan 2024): 128-sample IMU windows, 50 % overlap -> right-foot GRF in BW."""

from __future__ import annotations

from typing import Any

import numpy as np

from datamodules.errors import DataError
from datamodules.naming import AXES, IMU_CHANNELS_48, IMU_SEGMENTS, imu_channel
from datamodules.recording import SubjectInfo, TrialInfo
from datamodules.tasks.base import Task, channel_arrays, make_samples, missing_channels, read_channels

FOOT = "right"
STATIC_ACC_STD = 0.2  # m/s^2: Tan 2024 drops windows whose mean accelerometer std is below this


def imu_subset_channels(imus: list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    """48-channel order (all accelerometers, then all gyroscopes), restricted to `imus`."""
    if not imus:
        return IMU_CHANNELS_48
    unknown = [i for i in imus if i not in IMU_SEGMENTS]
    if unknown:
        raise DataError(f"imus: expected names from {list(IMU_SEGMENTS)}, found {unknown}")
    keep = [s for s in IMU_SEGMENTS if s in imus]
    return tuple(imu_channel(s, sensor, a) for sensor in ("acc", "gyr") for s in keep for a in AXES)


def window_starts(n_samples: int, window: int, stride: int) -> np.ndarray:
    return np.arange(0, n_samples - window + 1, stride, dtype=np.int64) if n_samples >= window else np.zeros(0, int)


class Imu2Grf(Task):
    name = "imu2grf"
    paper = "Tan 2024"
    default_activities = ("walk",)
    x_mean_axes, x_std_axes = (1,), (1,)  # per channel
    y_mean_axes, y_std_axes = (1,), (1,)  # per GRF axis

    @property
    def channels(self) -> tuple[str, ...]:
        return tuple(self.options.get("channels") or imu_subset_channels(self.options.get("imus")))

    @property
    def window(self) -> int:
        return int(self.options["window"])

    @property
    def stride(self) -> int:
        return int(self.options.get("window_stride") or self.window // 2)

    def needs(self) -> str:
        return f"grf/{FOOT} and channels {list(self.channels)}"

    def missing(self, trial: TrialInfo, subject: SubjectInfo) -> list[str]:
        miss = [] if FOOT in trial.grf_feet else [f"grf/{FOOT}"]
        return miss + [f"channel {c}" for c in missing_channels(trial, self.channels)]

    def input_arrays(self, trial: TrialInfo) -> list[str]:
        return channel_arrays(trial, self.channels)

    def target_arrays(self, trial: TrialInfo) -> list[str]:
        return [f"grf/{FOOT}"]

    def index(self, trial_index: int, subject_index: int) -> np.ndarray:
        starts = window_starts(self.ctx.trials[trial_index].n_samples, self.window, self.stride)
        return make_samples(subject_index, trial_index, starts, starts + self.window, FOOT)

    def load(self, row: np.void, clean: bool = False) -> dict[str, np.ndarray]:
        start, stop = int(row["start"]), int(row["stop"])
        x = read_channels(self, row, self.channels, start, stop)
        grf = self.read(row, f"grf/{FOOT}", start, stop, clean=clean) / self.body_weight(row)
        return {"x": x.T.copy(), "y": grf.T.astype(np.float32)}

    def spec(self) -> dict[str, Any]:
        return {
            "input_channels": list(self.channels),
            "input_shape": [len(self.channels), self.window],
            "target_shape": [3, self.window],
            "target_names": ["ml", "ap", "vertical"],
        }


class Pretrain(Imu2Grf):
    """Unlabeled IMU windows for masked reconstruction; static windows are dropped.

    Channels are those of `imu2grf` (`channels=`, else the 48-channel order restricted to `imus=`): the data
    serves only the IMUs a task keeps, and the SSL encoder places them in their slots of the 48-channel
    layout, filling every absent IMU from its trainable embedding.
    """

    name = "pretrain"
    paper = "Tan 2024"
    default_activities = None

    def needs(self) -> str:
        return f"channels {list(self.channels)}"

    def missing(self, trial: TrialInfo, subject: SubjectInfo) -> list[str]:
        return [f"channel {c}" for c in missing_channels(trial, self.channels)]

    def target_arrays(self, trial: TrialInfo) -> list[str]:
        return []  # the target is the input itself

    def index(self, trial_index: int, subject_index: int) -> np.ndarray:
        rows = super().index(trial_index, subject_index)
        if not len(rows):
            return rows
        acc = [c for c in self.channels if "_acc_" in c]
        if not acc:
            return rows
        block = read_channels(self, rows[0], tuple(acc), 0, int(rows["stop"].max()))
        moving = [block[r["start"]:r["stop"]].std(axis=0).mean() >= STATIC_ACC_STD for r in rows]
        return rows[np.asarray(moving, dtype=bool)]

    def load(self, row: np.void, clean: bool = False) -> dict[str, np.ndarray]:
        return {"x": read_channels(self, row, self.channels, int(row["start"]), int(row["stop"])).T.copy()}

    def spec(self) -> dict[str, Any]:
        spec = super().spec()
        spec["target_shape"] = spec["input_shape"]
        spec.pop("target_names")
        return spec
