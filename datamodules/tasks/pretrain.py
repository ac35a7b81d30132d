"""`pretrain` (Tan 2024): unlabeled IMU windows for masked-reconstruction pretraining."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from datamodules.naming import IMU_CHANNELS_48
from datamodules.recording import SubjectInfo, TrialInfo
from datamodules.tasks import register_task
from datamodules.tasks.base import MASKED_RECONSTRUCTION, missing_channels, read_channels
from datamodules.tasks.imu2grf import STATIC_ACC_STD, Imu2Grf
from datamodules.tasks.spec import DataSpec


@register_task
class Pretrain(Imu2Grf):
    """Unlabeled IMU windows for masked reconstruction; static windows are dropped.

    Channels are those of `imu2grf` (`channels=`, else the 48-channel order restricted to `imus=`): the data
    serves only the IMUs a task keeps, and the SSL encoder places them in their slots of the 48-channel
    layout, filling every absent IMU from its trainable embedding.
    """

    name = "pretrain"
    paper = "Tan 2024"
    description = "unlabeled IMU windows (as imu2grf) -> themselves, one contiguous masked block per window"
    family = MASKED_RECONSTRUCTION
    default_activities = None
    self_supervised = True
    perturbation_kind = None  # robustness is measured on the downstream tasks
    metric_info = {"masked_mse": (False, "(normalised units)^2")}
    primary_metric = "masked_mse"
    primary_entry = "masked_mse"
    readme_metrics = ()
    reference = None

    @classmethod
    def default_spec(cls, **overrides: Any) -> DataSpec:
        return DataSpec(task=cls.name, input_channels=IMU_CHANNELS_48, input_shape=(48, 128),
                        target_shape=(48, 128)).replace(**overrides)

    @classmethod
    def metrics(cls, spec: DataSpec) -> dict[str, Any]:
        from zoo.metrics.reconstruction import MaskedMSE

        return {"masked_mse": MaskedMSE()}

    @classmethod
    def update_metrics(cls, metrics, pred, target, batch, extras) -> None:
        metrics.update(pred, target, mask=extras.get("mask"))  # scored on the masked steps only

    @classmethod
    def example_figure(cls, examples: Mapping[str, np.ndarray], title: str):
        return None  # a reconstruction of unlabeled windows has nothing to show a reader of the leaderboard

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
        shape = [len(self.channels), self.window]  # no GRF: the target is the input
        return {"input_channels": list(self.channels), "input_shape": shape, "target_shape": shape}
