"""Gait-event detection (datamodules.events): synthetic strides with known events, the CLI, and the
accuracy on the real gaitmap recording and on the simulator."""

from __future__ import annotations

import csv
import runpy
import sys
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest

from datamodules import events as events_module
from datamodules.cli import build_parser
from datamodules.cli import main as data_main
from datamodules.errors import DataError
from datamodules.events import PRESETS, DetectorParams, detect_gait_events, smoothed_rate
from datamodules.importers import read_events_csv

REPO = Path(__file__).resolve().parents[1]

STRIDE_S = 1.1
# One stride in the detector's convention (rad/s), as half-sine lobes starting at t0:
#   pre-toe-off peak +3 over [0, 0.2] s (peak 0.1, crossing into swing 0.2),
#   swing trough -5 over [0.2, 0.6] s, heel-strike peak +2 over [0.6, 0.7] s (peak 0.65), stance 0.
# Expected: toe-off = 0.1 + 0.49 x (0.2 - 0.1) = 0.149 s; heel strike 0.65 s (peak) or 0.6 s (crossing).
LOBES = ((0.0, 0.2, 3.0), (0.2, 0.6, -5.0), (0.6, 0.7, 2.0))
TO_S, HS_PEAK_S, HS_CROSSING_S = 0.149, 0.65, 0.6


def strides(
    fs: float, n_strides: int = 10, lead_s: float = 1.0, scale: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Angular rate of `n_strides` strides after `lead_s` of standing, and the stride start times."""
    t = np.arange(int((lead_s + n_strides * STRIDE_S + 1.0) * fs)) / fs
    starts = lead_s + STRIDE_S * np.arange(n_strides)
    g = np.zeros_like(t)
    for t0 in starts:
        for a, b, amp in LOBES:
            inside = (t >= t0 + a) & (t < t0 + b)
            g[inside] = scale * amp * np.sin(np.pi * (t[inside] - t0 - a) / (b - a))
    return g, starts


@pytest.mark.parametrize("fs", [100.0, 204.8])
@pytest.mark.parametrize(("preset", "hs_offset_s"), [("shank", HS_PEAK_S), ("foot", HS_CROSSING_S)])
def test_events_of_synthetic_strides_within_one_sample(fs, preset, hs_offset_s):
    gyro, starts = strides(fs)
    events = detect_gait_events(gyro, fs, preset)
    np.testing.assert_allclose(events.toe_off / fs, starts + TO_S, atol=1.0 / fs)
    np.testing.assert_allclose(events.heel_strike / fs, starts + hs_offset_s, atol=1.0 / fs)
    np.testing.assert_allclose(events.mid_swing / fs, starts + 0.4, atol=1.0 / fs)


def test_the_toe_off_coefficient_moves_toe_off_between_peak_and_crossing():
    gyro, starts = strides(100.0)
    at_peak = detect_gait_events(gyro, 100.0, "shank", to_coefficient=0.0).toe_off
    at_crossing = detect_gait_events(gyro, 100.0, "shank", to_coefficient=1.0).toe_off
    np.testing.assert_allclose(at_peak / 100.0, starts + 0.1, atol=0.01)
    np.testing.assert_allclose(at_crossing / 100.0, starts + 0.2, atol=0.01)


def test_inverted_axis_needs_sign_minus_one():
    gyro, _ = strides(100.0)
    expected = detect_gait_events(gyro, 100.0, "shank")
    flipped = detect_gait_events(-gyro, 100.0, "shank", sign=-1.0)
    np.testing.assert_array_equal(flipped.heel_strike, expected.heel_strike)
    np.testing.assert_array_equal(flipped.toe_off, expected.toe_off)


def test_standing_and_shuffling_give_no_events():
    rng = np.random.default_rng(0)
    standing = 0.05 * rng.standard_normal(3000)  # 30 s of sensor noise
    events = detect_gait_events(standing, 100.0, "shank")
    assert len(events.heel_strike) == len(events.toe_off) == 0
    # a walk with shuffling steps of 30 % depth in between: only the real strides count
    walk, starts = strides(100.0, n_strides=6)
    shuffle, _ = strides(100.0, n_strides=3, lead_s=0.0, scale=0.3)
    gyro = np.concatenate([walk, shuffle, walk])
    events = detect_gait_events(gyro, 100.0, "shank")
    assert len(events.heel_strike) == len(events.toe_off) == 12


def test_detector_params_reject_unknown_rules():
    with pytest.raises(ValueError, match="heel_strike"):
        DetectorParams(heel_strike="valley")
    with pytest.raises(ValueError, match="sign"):
        DetectorParams(sign=2.0)
    assert PRESETS["shank"].to_coefficient == 0.49 and PRESETS["shank"].cutoff_ratio == 0.2
    with pytest.raises(ValueError, match="NaN"):
        detect_gait_events(np.array([0.0, np.nan] * 100), 100.0)


def write_gyro_csv(path, columns: dict[str, np.ndarray], header_rows: int = 1) -> None:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        names = list(columns)
        if header_rows == 2:
            w.writerow([n.split("/")[0] for n in names])
            w.writerow([n.split("/")[1] for n in names])
        else:
            w.writerow(names)
        w.writerows(np.stack(list(columns.values()), axis=1).tolist())


def test_cli_writes_the_events_of_each_foot(tmp_path, capsys):
    right, _ = strides(100.0)
    left = np.roll(right, 55)
    path = tmp_path / "walk.csv"
    write_gyro_csv(
        path,
        {
            "time": np.arange(len(right)) / 100.0,
            "R_SHANK_gyr_y": np.degrees(right),
            "L_SHANK_gyr_y": np.degrees(left),
        },
    )
    out = tmp_path / "events.csv"
    code = data_main(
        [
            "events",
            str(path),
            "--gyro-column",
            "R_SHANK_gyr_y",
            "--gyro-column",
            "L_SHANK_gyr_y",
            "--unit",
            "deg/s",
            "--rate",
            "100",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    found = read_events_csv(out)
    for foot, gyro in (("right", right), ("left", left)):
        expected = detect_gait_events(gyro, 100.0, "shank")
        np.testing.assert_array_equal(found[foot]["heel_strike"], expected.heel_strike)
        np.testing.assert_array_equal(found[foot]["toe_off"], expected.toe_off)
    report = capsys.readouterr().out
    assert "right (R_SHANK_gyr_y, shank): 10 heel strikes, 10 toe-offs; median stride 1.10 s" in report


def test_cli_reads_two_header_rows_and_needs_a_sensor_for_ambiguous_names(tmp_path, capsys):
    gyro, _ = strides(204.8)
    path = tmp_path / "imu.csv"
    write_gyro_csv(path, {"sensor/axis": np.arange(len(gyro)), "right_sensor/gyr_y": np.degrees(gyro)}, 2)
    args = [
        "events",
        str(path),
        "--header-rows",
        "2",
        "--gyro-column",
        "right_sensor/gyr_y",
        "--unit",
        "deg/s",
        "--rate",
        "204.8",
    ]
    with pytest.raises(DataError, match="pass --sensor"):
        data_main(args)
    assert data_main([*args, "--sensor", "foot"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows[0] == "foot,event,sample" and len(rows) == 1 + 20
    with pytest.raises(DataError, match=r"missing: left_sensor/gyr_y; found: sensor/axis, right_sensor/gyr_y"):
        data_main([*args[:5], "left_sensor/gyr_y", *args[6:], "--sensor", "foot"])
    with pytest.raises(DataError, match="one foot per --gyro-column"):
        data_main([*args, "--sensor", "foot", "--foot", "right", "--foot", "left"])


def test_benchmark_matching_counts_misses_and_spurious_events_inside_bouts_only():
    from benchmarks.gait_events_accuracy import ReferenceStrides, match_events

    strides = ReferenceStrides(start=np.array([0, 100, 300]), end=np.array([100, 200, 400]),
                               heel_strike=np.array([50, 150, 350]), toe_off=np.array([20, 120, 320]))
    assert strides.bouts() == [(0, 200), (300, 400)]
    # 52 and 148 match; 60 is a second event in stride 0; 250 lies between bouts (not judged);
    # 390 is in stride 2 but 40 samples (400 ms at 100 Hz) from its reference: spurious, stride missed
    acc = match_events(np.array([52, 60, 148, 250, 390]), strides.heel_strike, strides, 100.0, tolerance_s=0.15)
    np.testing.assert_array_equal(acc.matched, [True, True, False])
    np.testing.assert_allclose(acc.errors_ms, [20.0, -20.0])
    assert acc.spurious == 2


@pytest.mark.realdata
def test_gaitmap_accuracy_against_motion_capture(shared_data):
    from benchmarks.gait_events_accuracy import evaluate

    results = evaluate(shared_data / "gaitmap_example", heel_strike_rules=("zero_crossing",))
    assert [r.foot for r in results] == ["left", "right"]
    for r in results:
        assert r.detected_share >= 0.95, r.row()
        assert r.heel_strike.spurious == r.toe_off.spurious == 0, r.row()
        assert r.heel_strike.abs_percentile(50) <= 50.0, r.row()
        assert r.toe_off.abs_percentile(50) <= 50.0, r.row()


@pytest.fixture(scope="module")
def simulated_walk(tmp_path_factory):
    from datamodules.simulator import generate_dataset

    return generate_dataset(tmp_path_factory.mktemp("sim") / "sim.h5", preset="tiny", seed=0,
                            activities=["walk"], duration_s=10.0)


# Median |detected - true| bound (ms) per (preset, event): issue 6 asks for < 20 ms on the simulator. At
# 100 Hz errors come in 10 ms steps, so this holds each median at one sample (measured: shank toe-off
# -10 ms, the rest 0-10 ms; `python -m benchmarks.gait_events_accuracy`).
SIMULATOR_BOUNDS_MS = {("shank", "heel_strike"): 20.0, ("shank", "toe_off"): 20.0,
                       ("foot", "heel_strike"): 20.0, ("foot", "toe_off"): 20.0}


@pytest.mark.parametrize(("channel", "preset"), [("R_SHANK_gyr_y", "shank"), ("R_FOOT_gyr_y", "foot")])
def test_simulator_events_match_the_true_events(simulated_walk, channel, preset):
    """Median error over every true event (a miss counts as infinitely wrong), both events, both sensors."""
    from benchmarks.gait_events_accuracy import simulator_accuracy

    result = simulator_accuracy(simulated_walk, channel, preset)
    for kind in ("heel_strike", "toe_off"):
        assert result.n_true[kind] > 0, f"no walking trial with {channel} and right-foot events"
        assert result.missed(kind) <= 0.1 * result.n_true[kind], result.row()
        assert result.abs_percentile(kind, 50) < SIMULATOR_BOUNDS_MS[(preset, kind)], (kind, result.row())


def test_benchmark_percentiles_count_misses_as_infinite_errors():
    from benchmarks.gait_events_accuracy import abs_percentile_with_misses

    errors = np.array([-30.0, 10.0, 20.0])
    assert abs_percentile_with_misses(errors, 0, 50) == pytest.approx(np.percentile(np.abs(errors), 50))
    assert abs_percentile_with_misses(errors, 1, 50) == pytest.approx(25.0)  # median of 10, 20, 30, inf
    assert abs_percentile_with_misses(errors, 1, 95) == float("inf")
    assert abs_percentile_with_misses(errors, 3, 50) == float("inf")  # half missed: no median
    assert np.isnan(abs_percentile_with_misses(np.zeros(0), 0, 50))


# -- every detector parameter from the CLI; the low-pass it designs ----------------------------------
def _events_parser():
    return build_parser()._subparsers._group_actions[0].choices["events"]


def test_cli_exposes_every_detector_parameter_typed():
    options = {s: a for a in _events_parser()._actions for s in a.option_strings}
    for f in fields(DetectorParams):
        default = getattr(DetectorParams(), f.name)
        action = options[f"--{f.name.replace('_', '-')}"]
        assert action.dest == f.name
        if isinstance(default, str):
            assert tuple(action.choices) == events_module.HEEL_STRIKE_RULES
        else:
            assert action.type is type(default), f.name  # int stays int (filter_order), floats are floats
    args = _events_parser().parse_args(["x.csv", "--gyro-column", "g", "--unit", "rad/s", "--rate", "100",
                                        "--filter-order", "5", "--sign", "-1", "--to-coefficient", "0.5"])
    assert (args.filter_order, args.sign, args.to_coefficient) == (5, -1.0, 0.5)
    assert type(args.filter_order) is int
    with pytest.raises(SystemExit):
        _events_parser().parse_args(["x.csv", "--gyro-column", "g", "--unit", "rad/s", "--rate", "1",
                                     "--filter-order", "2.5"])


def test_cli_detector_options_reach_the_detector(tmp_path, monkeypatch):
    gyro, _ = strides(100.0)
    path = tmp_path / "walk.csv"
    write_gyro_csv(path, {"R_SHANK_gyr_y": gyro})
    seen = {}

    def spy(g, fs, params, **overrides):
        seen.update(params=params, **overrides)
        return detect_gait_events(g, fs, params, **overrides)

    monkeypatch.setattr(events_module, "detect_gait_events", spy)
    argv = ["events", str(path), "--gyro-column", "R_SHANK_gyr_y", "--unit", "rad/s", "--rate", "100",
            "--filter-order", "4", "--cutoff-ratio", "0.15", "--invert", "--heel-strike", "zero_crossing",
            "--out", str(tmp_path / "ev.csv")]
    assert data_main(argv) == 0
    p = events_module.resolve_params(seen.pop("params"), **seen)
    assert (p.filter_order, p.cutoff_ratio, p.sign, p.heel_strike) == (4, 0.15, -1.0, "zero_crossing")
    assert p.min_stride_s == PRESETS["shank"].min_stride_s  # options not given keep the preset


def _gain(fs: float, freq: float, **overrides) -> float:
    """Amplitude the detector's low-pass leaves of a unit sine (middle of a 20 s signal, no edges)."""
    t = np.arange(int(20 * fs)) / fs
    out = smoothed_rate(np.sin(2 * np.pi * freq * t), fs, DetectorParams(**overrides))
    middle = out[len(t) // 4: 3 * len(t) // 4]
    return float(np.sqrt(2.0) * middle.std())


def _butterworth_gain(fs: float, freq: float, cutoff_hz: float, order: int) -> float:
    """|H|^2 of a digital (bilinear) Butterworth low-pass: its gain after a forward-backward pass."""
    ratio = np.tan(np.pi * freq / fs) / np.tan(np.pi * cutoff_hz / fs)
    return float(1.0 / (1.0 + ratio ** (2 * order)))


@pytest.mark.parametrize(("fs", "cutoff_hz"), [(100.0, 20.0), (204.8, 40.96), (120.0, 24.0)])
def test_lowpass_cutoff_scales_with_the_sample_rate(fs, cutoff_hz):
    # run forward and backward, the gain is |H|^2: 1/2 at the cutoff, and the order sets the slope
    assert _gain(fs, cutoff_hz) == pytest.approx(0.5, abs=0.01)
    for freq in (0.5 * cutoff_hz, 0.8 * cutoff_hz, 1.25 * cutoff_hz, 2.0 * cutoff_hz):
        for order in (3, 5):
            expected = _butterworth_gain(fs, freq, cutoff_hz, order)
            assert _gain(fs, freq, filter_order=order) == pytest.approx(expected, rel=0.02, abs=1e-4)
    # a fixed 20 Hz cutoff would halve 20 Hz at every rate: at 204.8 Hz it is barely touched
    if fs == 204.8:
        assert _gain(fs, 20.0) > 0.98


# -- README worked example, step 4: imu2grf-style windows from the imported gaitmap recording ---------
@pytest.mark.realdata
def test_readme_gaitmap_example_cuts_windows(shared_data, tmp_path, capsys):
    """The README's commands in order (events -> import -> validate -> cut windows), on the real file."""
    events_csv, h5 = tmp_path / "gaitmap_events.csv", tmp_path / "gaitmap.h5"
    assert data_main(["events", str(shared_data / "gaitmap_example" / "imu_sample.csv"), "--header-rows", "2",
                      "--rate", "204.8", "--unit", "deg/s", "--sensor", "foot", "--gyro-column",
                      "left_sensor/gyr_y", "--gyro-column", "right_sensor/gyr_y", "--out", str(events_csv)]) == 0
    assert data_main(["import", str(REPO / "examples" / "gaitmap_import"), "--resample-hz", "100",
                      "--events", f"walk={events_csv}", "--out", str(h5)]) == 0
    assert data_main(["validate", str(h5)]) == 0
    capsys.readouterr()
    script = REPO / "examples" / "gaitmap_import" / "cut_windows.py"
    monkey_argv = [str(script), str(h5)]
    saved, sys.argv = sys.argv, monkey_argv
    try:
        with pytest.raises(SystemExit) as done:
            runpy.run_path(str(script), run_name="__main__")
    finally:
        sys.argv = saved
    assert done.value.code == 0
    assert capsys.readouterr().out.splitlines() == [
        "59 windows (128, 12), kept 57, dropped 2 static",
        "29 right stances -> (29, 101, 12), dropped {'no_toe_off': 1}",
    ]
    out = runpy.run_path(str(script))["cut"](h5)  # the same figures from the function
    assert out["windows"].shape == (59, 128, 12) and out["moving"].shape == (57, 128, 12)
    assert out["channels"][:3] == ("R_FOOT_acc_x", "R_FOOT_acc_y", "R_FOOT_acc_z")
    assert len(out["stances"]) == 29 and dict(out["stances"].dropped) == {"no_toe_off": 1}
