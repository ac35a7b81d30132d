"""Write a simulated walk as an Xsens-MT-Manager-like text export, the layout of issue 12's vendor files:
one info line, a tab-separated header with a PacketCounter (16-bit, wrapping), gyroscope in deg/s with
the sagittal axis pointing right (the detector's sign flipped), and dropped packets: 15 short gaps of
1-3 samples and one of 30. Beside it, `<name>.true_events.csv` holds the simulator's true events of the
right foot on the counter's timeline (what `zoo data events` numbers its samples by).

    zoo data generate --preset tiny --activities walk --subjects 1 --duration 20 --out sim_walk.h5
    python examples/vendor_export/to_vendor_text.py sim_walk.h5 walk_xsens.txt
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from datamodules.importers import write_events_csv
from datamodules.recording import Recording

AXES = ("R_SHANK_gyr_x", "R_SHANK_gyr_y", "R_SHANK_gyr_z")


def write_vendor_text(recording: Path, out: Path, seed: int = 0) -> tuple[int, int]:
    """Write the export and the true events; returns (samples kept, samples dropped)."""
    with Recording(recording) as rec:
        info = next(t for t in rec.trials() if t.activity == "walk" and "right" in t.event_feet)
        imu = rec.dataset(info.subject_id, info.trial_id, "imu")[()]
        gyro = np.degrees(imu[:, [info.imu_channels.index(c) for c in AXES]].astype(np.float64))
        events = rec.events(info.subject_id, info.trial_id, "right")
    n = len(gyro)
    rng = np.random.default_rng(seed)
    keep = np.ones(n, bool)
    for start in rng.choice(np.arange(100, n - 100), size=15, replace=False):
        keep[start:start + rng.integers(1, 4)] = False
    keep[n // 2:n // 2 + 30] = False
    counter = (65000 + np.arange(n)) % 65536
    with out.open("w") as f:
        f.write(f"// Simulated export like MT Manager's: {info.subject_id}/{info.trial_id}, "
                f"{info.sample_rate_hz:g} Hz, right shank\n")
        f.write("PacketCounter\tSampleTimeFine\tGyr_X\tGyr_Y\tGyr_Z\n")
        for i in np.flatnonzero(keep):
            x, y, z = gyro[i]
            f.write(f"{counter[i]}\t{i * 10000}\t{x:.4f}\t{-y:.4f}\t{z:.4f}\n")  # y flipped: axis points right
    write_events_csv(out.with_name(out.stem + ".true_events.csv"), {"right": events})
    return int(keep.sum()), int((~keep).sum())


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__)
        raise SystemExit(2)
    kept, dropped = write_vendor_text(Path(sys.argv[1]), Path(sys.argv[2]))
    print(f"wrote {sys.argv[2]}: {kept} samples, {dropped} dropped")
