"""`insole2pose` (Han, smart insole): M frames of both insoles -> 3D keypoints at the centre frame.

The M frames cover a time span, not a sample count: `window_s` (default 2.73 s, the paper setting's 40
frames 7 samples apart at 100 Hz) gives each trial its own frame hop, so 8 Hz and 100 Hz insoles see the
same span; a window that cannot hold M frames at a trial's rate is refused. `grid_pool` k averages each k x k
block of insole cells (a coarser sensor of the same insole: Han et al.'s resolution ablation; a grid that k
does not divide keeps partial blocks at its edges, so 30 x 22 pools to 15 x 11, 8 x 6 and 4 x 3). Mixed rates, pose frames
without keypoints (NaN) and keypoints outside every body part are reported as notes, never silently.
"""

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

DEFAULT_FRAMES, DEFAULT_FRAME_STRIDE, DEFAULT_RATE_HZ = 40, 7, 100.0
# the default window: 40 frames 7 samples apart at 100 Hz (2.73 s; Han et al.: 40 frames at 14 Hz, 2.8 s)
DEFAULT_WINDOW_S = (DEFAULT_FRAMES - 1) * DEFAULT_FRAME_STRIDE / DEFAULT_RATE_HZ
PELVIS = ("left_hip", "right_hip")
SHOULDERS = ("left_shoulder", "right_shoulder")


def pool_grid(x: np.ndarray, k: int) -> np.ndarray:
    """Mean of each k x k block of the last two axes (`[..., H, W]` -> `[..., ceil(H/k), ceil(W/k)]`); edge
    blocks that k does not fill average the cells they hold, as a larger sensor at the edge would."""
    if k == 1:
        return x
    h, w = x.shape[-2:]
    rows, cols = -(-h // k), -(-w // k)
    pad = [(0, 0)] * (x.ndim - 2) + [(0, rows * k - h), (0, cols * k - w)]
    sums = np.pad(x, pad).reshape(*x.shape[:-2], rows, k, cols, k).sum(axis=(-3, -1))
    counts = np.pad(np.ones((h, w)), pad[-2:]).reshape(rows, k, cols, k).sum(axis=(1, 3))
    return (sums / counts).astype(x.dtype, copy=False)


def pooled_shape(grid: tuple[int, int], k: int) -> tuple[int, int]:
    return (-(-grid[0] // k), -(-grid[1] // k))


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
    sample_unit = "frames"
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

        parts = spec.get("body_parts")
        return {"mpjpe": MPJPE(tuple(spec.keypoint_names or KEYPOINTS_19),
                               {k: tuple(v) for k, v in parts.items()} if parts is not None else None)}

    @classmethod
    def example_figure(cls, examples: Mapping[str, np.ndarray], title: str):
        from datamodules.tasks.figures import skeleton_figure

        names = [str(n) for n in examples["keypoint_names"]]
        return skeleton_figure(examples["y_true"][0], examples["y_pred"][0], names, title)

    @classmethod
    def planned_samples(cls, trial_seconds: list[float], sample_rate_hz: float, options: Mapping[str, Any]) -> int:
        stride = frame_stride_at(options, sample_rate_hz)
        span = (int(options.get("frames", DEFAULT_FRAMES)) - 1) * stride + 1
        step = int(options.get("pose_stride") or stride)
        return sum(max(0, int((d * sample_rate_hz - span) // step) + 1) for d in trial_seconds)

    @classmethod
    def input_channel_count(cls, options: Mapping[str, Any]) -> int:
        return 2

    # -- windowing ----------------------------------------------------------------------------------
    perturbation_kind = "insole"
    pools_grid = True

    x_mean_axes, x_std_axes = None, (0, 1, 2, 3)  # one pressure scale, zero stays zero
    y_mean_axes, y_std_axes = (), (0,)            # mean pose; one scale per axis

    @property
    def grid_pool(self) -> int:
        return int(self.options.get("grid_pool") or 1)

    @property
    def frames(self) -> int:
        return int(self.options["frames"])

    def frame_stride(self, trial: TrialInfo) -> int:
        """Samples between two input frames in `trial` (from `window_s` and its rate, or `frame_stride`)."""
        return frame_stride_at(self.options, trial.sample_rate_hz, self.ctx.file)

    def span(self, trial: TrialInfo) -> int:
        return (self.frames - 1) * self.frame_stride(trial) + 1

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

    def usable_trials(self) -> list[int]:
        usable = super().usable_trials()
        if not getattr(self, "_reported", False):
            self._reported = True
            self._report_rates([self.ctx.trials[i] for i in usable])
        return usable

    def _report_rates(self, trials: list[TrialInfo]) -> None:
        """Say what window each rate gets, and name trials at another rate than the rest."""
        by_rate: dict[float, list[str]] = {}
        for t in trials:
            by_rate.setdefault(t.sample_rate_hz, []).append(f"{t.subject_id}/{t.trial_id}")
        windows = []
        for rate in sorted(by_rate):
            stride = frame_stride_at(self.options, rate, self.ctx.file)
            windows.append(f"{rate:g} Hz: frame_stride {stride}, {self.frames} frames span "
                           f"{(self.frames - 1) * stride / rate:.2f} s")
        how = (f"window_s {self.options['window_s']:g} s" if self.options.get("window_s")
               else f"frame_stride {self.options['frame_stride']}" if self.options.get("frame_stride")
               else f"window_s {DEFAULT_WINDOW_S:g} s (default)")
        self.note(f"{how} -> " + "; ".join(windows))
        if len(by_rate) > 1:
            listed = "; ".join(f"{rate:g} Hz: {', '.join(ids[:4])}{' ...' if len(ids) > 4 else ''} ({len(ids)})"
                               for rate, ids in sorted(by_rate.items()))
            self.note(f"trials at mixed sample rates ({listed}); each keeps its own rate, the window "
                      "spans the same time only with window_s")

    def _missing_pose(self, trial: TrialInfo) -> np.ndarray:
        """`[T]` True where the pose has no (finite) keypoints; the runs are reported once per trial."""
        kp = np.asarray(self.ctx.store.read(trial.subject_id, trial.trial_id, "keypoints"))
        missing = ~np.isfinite(kp).reshape(len(kp), -1).all(axis=1)
        if missing.any():
            edges = np.diff(np.concatenate([[0], missing.astype(np.int8), [0]]))
            runs = np.stack([np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1], axis=1)
            longest = runs[np.argmax(runs[:, 1] - runs[:, 0])]
            self.note(f"{trial.subject_id}/{trial.trial_id}: {int(missing.sum())} of {len(kp)} pose "
                      f"frames lack keypoints (NaN) in {len(runs)} run(s), longest {int(longest[1] - longest[0] + 1)} "
                      f"frames (samples {int(longest[0])}..{int(longest[1])}); windows centred on them are left out")
        return missing

    def index(self, trial_index: int, subject_index: int) -> np.ndarray:
        trial = self.ctx.trials[trial_index]
        n, stride, span = trial.n_samples, self.frame_stride(trial), self.span(trial)
        step = int(self.options.get("pose_stride") or stride)
        starts = np.arange(0, n - span + 1, step, dtype=np.int64) if n >= span else np.zeros(0, int)
        missing = self._missing_pose(trial)
        starts = starts[~missing[starts + (self.frames // 2) * stride]] if len(starts) else starts
        return make_samples(subject_index, trial_index, starts, starts + span, "right")

    def load(self, row: np.void, clean: bool = False) -> dict[str, np.ndarray]:
        start, stop = int(row["start"]), int(row["stop"])
        stride = self.frame_stride(self.trial(row))
        feet = [self.read(row, f"pressure/{f}", start, stop)[::stride] for f in ("left", "right")]
        centre = start + (self.frames // 2) * stride
        kp = self.read(row, "keypoints", centre, centre + 1, clean=clean)[0]
        activities = self.options["activity_names"]
        return {
            "x": pool_grid(np.stack(feet).astype(np.float32), self.grid_pool),
            "y": normalise_pose(kp, self.trial(row).keypoint_names).astype(np.float32),
            "activity": np.int64(activities.index(self.trial(row).activity)),
        }

    def body_parts(self, names: tuple[str, ...]) -> dict[str, list[str]]:
        """The keypoint-to-part map of the per-part scores: `body_parts`, else the zoo's map restricted to
        these keypoints; printed as a note, with the keypoints no part holds."""
        given = self.options.get("body_parts")
        if given is not None:
            if not isinstance(given, Mapping) or not all(isinstance(v, (list, tuple)) for v in given.values()):
                raise DataError(f"body_parts: expected a mapping part -> list of keypoint names, found {given!r}")
            unknown = sorted({k for v in given.values() for k in v} - set(names))
            if unknown:
                raise DataError(f"body_parts: every keypoint must be in the file; missing: {unknown}; "
                                f"found: {list(names)}")
            parts = {str(p): [str(k) for k in v] for p, v in given.items() if v}
        else:
            parts = {p: [k for k in ks if k in names] for p, ks in BODY_PARTS.items()}
            parts = {p: ks for p, ks in parts.items() if ks}
        loose = [k for k in names if not any(k in ks for ks in parts.values())]
        text = "; ".join(f"{p}: {', '.join(ks)}" for p, ks in parts.items()) or "none"
        origin = "body_parts" if given is not None else "the zoo's default map (set --data.body_parts to change)"
        self.note(f"per-part scores from {origin}: {text}"
                  + (f"; keypoints in no part (scored in mpjpe_cm only): {', '.join(loose)}" if loose else ""))
        return parts

    def spec(self) -> dict[str, Any]:
        t = self.ctx.trials[self.usable_trials()[0]]
        k = self.grid_pool
        grid = pooled_shape(tuple(t.pressure_shape), k)
        pooled = {}
        if k > 1:
            pooled["grid"] = list(grid)
            if t.pressure_cell_size_m:
                pooled["cell_size_cm"] = [round(100 * k * c, 6) for c in t.pressure_cell_size_m]
            self.note(f"grid_pool {k}: each {k} x {k} block of insole cells averaged, "
                      f"{t.pressure_shape[0]} x {t.pressure_shape[1]} -> {grid[0]} x {grid[1]} cells")
        return {
            **pooled,
            "input_channels": ["left", "right"],
            "input_shape": [2, self.frames, *grid],
            "target_shape": [len(t.keypoint_names), 3],
            "keypoint_names": list(t.keypoint_names),
            "frames": self.frames,
            "body_parts": self.body_parts(t.keypoint_names),
        }


def frame_stride_at(options: Mapping[str, Any], rate_hz: float, where: str = "insole2pose") -> int:
    """Samples between input frames at `rate_hz`: `frame_stride` if set, else `window_s` (default
    DEFAULT_WINDOW_S) over `frames - 1` hops, rounded. A window too short for `frames` samples is refused."""
    frames = int(options.get("frames") or DEFAULT_FRAMES)
    window_s, stride = options.get("window_s"), options.get("frame_stride")
    if window_s is not None and stride is not None:
        raise DataError(f"{where}: set one of window_s and frame_stride; found window_s={window_s}, "
                        f"frame_stride={stride}")
    if stride is not None:
        return int(stride)
    seconds = float(window_s if window_s is not None else DEFAULT_WINDOW_S)
    if frames == 1:
        return 1
    need_s = (frames - 1) / rate_hz
    if seconds + 0.5 / rate_hz < need_s:
        origin = "window_s" if window_s is not None else f"the default window_s {DEFAULT_WINDOW_S:g}"
        raise DataError(f"{where}: {frames} frames at {rate_hz:g} Hz span at least {need_s:.2f} s (frame_stride 1), "
                        f"longer than {origin} ({seconds:g} s); set --data.window_s >= {need_s:.2f} or "
                        f"--data.frames <= {int(seconds * rate_hz) + 1}")
    return max(1, round(seconds * rate_hz / (frames - 1)))
