"""Measured realism of the synthetic gait simulator against the targets of SPEC 3.3.

    python -m benchmarks.simulator_calibration [--subjects 10] [--seconds 20] [--skip-generation]

Simulates noise-free walking at the pressure-plate speeds (1.11 / 1.43 / 1.95 m/s) and running, measures
every SPEC 3.3 realism figure the way the real studies did (stances time-normalised, curves as
multiples of the stance mean, region shares by fraction of footprint length), compares the walking
GRF shape with the OpenSim force-plate recording in ../shared/data when present, and times the
`quick` preset. The README quotes the table this prints.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from datamodules.naming import GRAVITY
from datamodules.simulator import calibration as cal
from datamodules.simulator import generate_dataset
from datamodules.simulator.timing import walking_duty, walking_stance_s

SPEEDS = {"slow": 1.11, "normal": 1.43, "fast": 1.95}
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
REAL_GRF = SHARED_DATA / "opensim_grf" / "subject01_walk1_grf.mot"
REAL_STRIDES = SHARED_DATA / "gaitmap_example" / "stride_events_sample.csv"
GAITMAP_RATE_HZ = 204.8
SHARE_PHASES = (10, 30, 50, 70, 90)
SHARE_TARGETS = {10: (0.98, 0.00, 0.02), 30: (0.70, 0.06, 0.24), 50: (0.23, 0.07, 0.70), 70: (None, None, 0.97),
                 90: (None, None, 1.00)}
PRESSURE_RATIO_TARGETS = {"slow": (1.10, 0.32), "normal": (0.96, 0.23), "fast": (0.81, 0.15)}
STANCE_TARGETS = {"slow": 0.75, "normal": 0.64, "fast": 0.54}


def measure_walking(speed: float, n_subjects: int, seconds: float) -> dict[str, np.ndarray]:
    """Per-stance figures of the right foot, pooled over subjects."""
    rows: dict[str, list] = {k: [] for k in ("vert", "ap", "bw", "stance", "duty", "stride", "shares", "cop",
                                             "peaks", "total")}
    for body, footprint, trial in cal.simulated_trials("walk", speed, n_subjects, seconds):
        rate = trial.sample_rate_hz
        grf, pressure = trial.clean["grf"]["right"], trial.clean["pressure"]["right"]
        segments = cal.stances(trial)
        vert, ap = cal.stance_curves(grf[:, 2], grf[:, 1], segments)
        rows["vert"] += list(vert)
        rows["ap"] += list(ap)
        hs = trial.events["right"]["heel_strike"]
        for a, b in segments:
            rows["bw"].append(cal.time_normalise(grf[a:b, 2]) / (body.mass_kg * GRAVITY))
            rows["stance"].append((b - a) / rate)
            after = hs[hs > a]
            if after.size:
                rows["stride"].append((after[0] - a) / rate)
                rows["duty"].append((b - a) / (after[0] - a))
            stance_p = pressure[a:b]
            rows["shares"].append(cal.time_normalise(cal.load_shares(stance_p, footprint)))
            cop = cal.cop_fraction(stance_p, footprint)
            rows["cop"].append((cop[0], cop[-1]))
            peaks = cal.regional_peaks(stance_p, footprint)
            rows["peaks"].append((peaks["heel"], peaks["midfoot"], peaks["forefoot"]))
            rows["total"].append(grf[a:b, 2].max() / (body.mass_kg * GRAVITY))
    return {k: np.asarray(v) for k, v in rows.items()}


def real_curves() -> tuple[np.ndarray, np.ndarray] | None:
    if not REAL_GRF.exists():
        return None
    mot = cal.read_mot(REAL_GRF)
    vert, ap = [], []
    for prefix in ("", "1_"):
        v, x = mot[f"{prefix}ground_force_vy"], mot[f"{prefix}ground_force_vx"]
        cv, cx = cal.stance_curves(v, x, cal.contact_segments(v, 20.0))
        vert += list(cv)
        ap += list(cx)
    return np.mean(vert, axis=0), np.mean(ap, axis=0)


def real_stride_timing() -> tuple[float, float] | None:
    """Mean stride time and stance fraction of the foot-IMU recording's optical reference events."""
    if not REAL_STRIDES.exists():
        return None
    events = np.genfromtxt(REAL_STRIDES, delimiter=",", names=True, dtype=None, encoding=None)
    stride = (events["ic"] - events["pre_ic"]) / GAITMAP_RATE_HZ  # heel strike to heel strike
    stance = (events["tc"] - events["pre_ic"]) / GAITMAP_RATE_HZ  # heel strike to toe-off
    return float(stride.mean()), float((stance / stride).mean())


def row(name: str, target: str, measured: str) -> None:
    print(f"| {name:<46} | {target:>24} | {measured:>24} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--skip-generation", action="store_true", help="do not time the quick preset")
    args = parser.parse_args(argv)

    walks = {name: measure_walking(v, args.subjects, args.seconds) for name, v in SPEEDS.items()}
    normal = walks["normal"]
    counts = ", ".join(f"{k} {len(w['stance'])}" for k, w in walks.items())
    print(f"Simulator calibration: {args.subjects} subjects x {args.seconds:g} s per speed, right-foot stances "
          f"({counts})\n")
    row("figure", "target (SPEC 3.3)", "measured")
    row("-" * 46, "-" * 24, "-" * 24)
    p = cal.double_hump(normal["vert"].mean(axis=0))
    row("vGRF 1st peak x stance mean (at % stance)", "1.40 (22 %)", f"{p.first:.2f} ({p.first_at:.0f} %)")
    row("vGRF valley x stance mean (at % stance)", "0.97 (48 %)", f"{p.valley:.2f} ({p.valley_at:.0f} %)")
    row("vGRF 2nd peak x stance mean (at % stance)", "1.43 (77 %)", f"{p.second:.2f} ({p.second_at:.0f} %)")
    for name, w in walks.items():
        bw = cal.double_hump(w["bw"].mean(axis=0))
        row(f"vGRF peak / valley / peak, BW ({SPEEDS[name]} m/s)", "1.0-1.3 / 0.6-0.85",
            f"{bw.first:.2f} / {bw.valley:.2f} / {bw.second:.2f}")
    brake, brake_at, propel, propel_at, cross = cal.braking_propulsion(normal["ap"].mean(axis=0))
    row("AP braking peak x stance-mean vGRF", "-0.22 (17 %)", f"{brake:.2f} ({brake_at:.0f} %)")
    row("AP propulsion peak x stance-mean vGRF", "+0.25 (85 %)", f"{propel:+.2f} ({propel_at:.0f} %)")
    row("AP zero crossing, % stance", "55 %", f"{cross:.0f} %")
    for name, w in walks.items():
        row(f"stance time at {SPEEDS[name]} m/s (s)", f"{STANCE_TARGETS[name]:.2f}", f"{w['stance'].mean():.3f}")
    row("duty factor at 1.43 m/s", "0.62", f"{normal['duty'].mean():.3f}")
    row("stride time at 1.43 m/s (s)", "~1.1", f"{normal['stride'].mean():.2f}")
    shares = normal["shares"].mean(axis=0)
    for phase in SHARE_PHASES:
        target = "/".join("-" if t is None else f"{t:.2f}" for t in SHARE_TARGETS[phase])
        row(f"heel/midfoot/forefoot share at {phase} % stance", target,
            "/".join(f"{v:.2f}" for v in shares[phase]))
    row("forefoot share at 50 %: slow -> fast", "rises (sooner)",
        " -> ".join(f"{walks[n]['shares'].mean(axis=0)[50, 2]:.2f}" for n in ("slow", "fast")))
    cop = normal["cop"].mean(axis=0)
    row("COP start -> end, % footprint length", "6 -> 97", f"{100 * cop[0]:.0f} -> {100 * cop[1]:.0f}")
    for name, w in walks.items():
        heel, mid, fore = w["peaks"].mean(axis=0)
        tf, tm = PRESSURE_RATIO_TARGETS[name]
        row(f"peak pressure fore/heel, mid/heel ({SPEEDS[name]} m/s)", f"{tf:.2f}, {tm:.2f}",
            f"{fore / heel:.2f}, {mid / heel:.2f}")
        row(f"peak pressure heel / mid / fore ({SPEEDS[name]} m/s)", "20-60, heel & fore > mid",
            f"{heel:.0f} / {mid:.0f} / {fore:.0f}")
    row("peak total force fast / slow", "~1.3", f"{walks['fast']['total'].mean() / walks['slow']['total'].mean():.2f}")
    run_peaks = [trial.clean["grf"]["right"][:, 2].max() / (body.mass_kg * GRAVITY)
                 for v in (2.5, 3.25, 4.0) for body, _, trial in cal.simulated_trials("run", v, 3, 8.0)]
    row("running vGRF peak, BW (2.5-4 m/s)", "2-3", f"{min(run_peaks):.2f}-{max(run_peaks):.2f}")
    real = real_curves()
    if real is None:
        row("shape r vs OpenSim force plate (vert, AP)", ">= 0.95, >= 0.9", "skipped: no ../shared/data")
    else:
        sim_vert = np.concatenate([measure_walking(v, 4, args.seconds)["vert"] for v in (1.2, 1.3, 1.4)]).mean(axis=0)
        sim_ap = np.concatenate([measure_walking(v, 4, args.seconds)["ap"] for v in (1.2, 1.3, 1.4)]).mean(axis=0)
        row("shape r vs OpenSim force plate (vert, AP)", ">= 0.95, >= 0.9",
            f"{cal.pearson(sim_vert, real[0]):.3f}, {cal.pearson(sim_ap, real[1]):.3f}")
    strides = real_stride_timing()
    if strides is not None:
        speed = np.interp(strides[0], [walking_stance_s(v) / walking_duty(v) for v in (2.0, 0.8)], (2.0, 0.8))
        row("foot-IMU recording: stride s, stance fraction", "1.1, 0.62 (3,000 cycles)",
            f"{strides[0]:.2f}, {strides[1]:.2f} (sim {walking_duty(speed):.2f})")
    if not args.skip_generation:
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            path = generate_dataset(Path(tmp) / "quick.h5", preset="quick", seed=0)
            elapsed = time.perf_counter() - start
            row("quick preset generation time (s), size", "< 60 s", f"{elapsed:.1f} s, {path.stat().st_size / 1e6:.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
