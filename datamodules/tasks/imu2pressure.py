"""`imu2pressure` (Qian 2025): right-leg kinematics over one stance -> right-foot pressure maps."""

from __future__ import annotations

from typing import Any

import numpy as np

from datamodules.naming import QIAN_CHANNELS_18
from datamodules.preprocessing import time_normalise
from datamodules.recording import SubjectInfo, TrialInfo
from datamodules.tasks.base import (
    Task,
    channel_arrays,
    make_samples,
    missing_channels,
    read_channels,
    stance_pairs,
)

FOOT = "right"
MIN_STANCE_S, MAX_STANCE_S = 0.15, 2.5


class Imu2Pressure(Task):
    name = "imu2pressure"
    paper = "Qian 2025"
    default_activities = ("walk",)
    x_mean_axes, x_std_axes = (1,), (1,)      # per channel
    # Centred on the training mean map per step and cell: a model's zero output is the mean predictor, so
    # networks learn residuals instead of re-learning (and over-fitting) each training subject's footprint.
    y_mean_axes, y_std_axes = (), (0, 1, 2)

    @property
    def channels(self) -> tuple[str, ...]:
        return tuple(self.options.get("channels") or QIAN_CHANNELS_18)

    @property
    def length(self) -> int:
        return int(self.options["stance_length"])

    def needs(self) -> str:
        return f"pressure/{FOOT}, events/{FOOT} and channels {list(self.channels)}"

    def missing(self, trial: TrialInfo, subject: SubjectInfo) -> list[str]:
        miss = [] if FOOT in trial.pressure_feet else [f"pressure/{FOOT}"]
        miss += [] if FOOT in trial.event_feet else [f"events/{FOOT}"]
        miss += [f"channel {c}" for c in missing_channels(trial, self.channels)]
        return miss

    def input_arrays(self, trial: TrialInfo) -> list[str]:
        return channel_arrays(trial, self.channels)

    def target_arrays(self, trial: TrialInfo) -> list[str]:
        return [f"pressure/{FOOT}"]

    def index(self, trial_index: int, subject_index: int) -> np.ndarray:
        t = self.ctx.trials[trial_index]
        ev = self.ctx.store.recording.events(t.subject_id, t.trial_id, FOOT)
        pairs = [
            (h, o) for h, o in stance_pairs(ev.get("heel_strike", np.zeros(0)), ev.get("toe_off", np.zeros(0)))
            if MIN_STANCE_S <= (o - h) / t.sample_rate_hz <= MAX_STANCE_S and o < t.n_samples
        ]
        starts = [h for h, _ in pairs]
        stops = [o + 1 for _, o in pairs]  # inclusive of the toe-off sample: 0 % .. 100 % of stance
        return make_samples(subject_index, trial_index, starts, stops, FOOT)

    def load(self, row: np.void, clean: bool = False) -> dict[str, np.ndarray]:
        start, stop = int(row["start"]), int(row["stop"])
        x = read_channels(self, row, self.channels, start, stop)
        y = self.read(row, f"pressure/{FOOT}", start, stop, clean=clean)
        return {
            "x": time_normalise(x, self.length, axis=0).T.copy(),
            "y": np.clip(time_normalise(y, self.length, axis=0), 0.0, None),
            "body_mass": np.float32([self.subject(row).body_mass_kg]),
        }

    def spec(self) -> dict[str, Any]:
        grid = self.ctx.trials[self.usable_trials()[0]].pressure_shape
        return {
            "input_channels": list(self.channels),
            "input_shape": [len(self.channels), self.length],
            "target_shape": [self.length, *grid],
            "has_body_mass": True,
        }
