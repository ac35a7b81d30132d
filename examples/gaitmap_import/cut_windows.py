"""Step 4 of the gaitmap worked example (README, docs/real_recordings.md): cut windows from the import.

    python examples/gaitmap_import/cut_windows.py gaitmap.h5

`imu2grf`-style windows (Tan 2024): the foot IMUs in the 48-channel order, 128 samples at 100 Hz with
50 % overlap, static windows (mean accelerometer std under 0.2 m/s^2) dropped. Then Qian-style stances of
the right foot: heel strike to toe-off, cubic spline to 101 samples, rejected stances counted by reason.
The recording has no GRF, so these are the model inputs only (the `imu2grf` task itself needs `grf/right`).
"""

from __future__ import annotations

import sys
from pathlib import Path

from datamodules.preprocessing import cut_stances, imu_limits, sliding_windows, static_mask
from datamodules.recording import Recording
from datamodules.tasks.imu2grf import imu_subset_channels

WINDOW, STRIDE = 128, 64  # Tan 2024: 1.28 s at 100 Hz, 50 % overlap


def cut(path: str | Path, subject: str = "gaitmap01", trial_id: str = "walk") -> dict:
    """Windows and right-foot stances of one imported trial, with what was dropped."""
    with Recording(path) as rec:
        trial = rec.read_trial(subject, trial_id)
    channels = imu_subset_channels(["R_FOOT", "L_FOOT"])  # the 48-channel order, foot IMUs only
    x = trial.imu.select(channels)  # [T, 12] in m/s^2 and rad/s
    windows = sliding_windows(x, window=WINDOW, stride=STRIDE)
    acc = [i for i, c in enumerate(channels) if "_acc_" in c]
    moving = windows[~static_mask(windows[..., acc])]
    events = trial.events["right"]
    stances = cut_stances({"imu": x}, events["heel_strike"], events["toe_off"], trial.sample_rate_hz,
                          n_out=101, limits={"imu": imu_limits(channels)})
    return {"windows": windows, "moving": moving, "stances": stances, "channels": channels}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    out = cut(args[0] if args else "gaitmap.h5")
    windows, moving, stances = out["windows"], out["moving"], out["stances"]
    print(f"{len(windows)} windows {windows.shape[1:]}, kept {len(moving)}, "
          f"dropped {len(windows) - len(moving)} static")
    print(f"{len(stances)} right stances -> {stances.data['imu'].shape}, dropped {dict(stances.dropped)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
