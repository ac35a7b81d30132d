"""Importers (datamodules.importers): arrays and CSV folders into the recording format."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest

from datamodules.cli import main as data_main
from datamodules.errors import DataError
from datamodules.importers import (
    import_csv,
    read_csv_table,
    read_events_csv,
    read_pressure_frames,
    resample_trial,
    trial_from_arrays,
    write_events_csv,
)
from datamodules.naming import GRAVITY
from datamodules.recording import Recording

REPO = Path(__file__).resolve().parents[1]


def write_csv(path: Path, rows: list[list], header: list[str] | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        if header is not None:
            w.writerow(header)
        w.writerows(rows)
    return path


# -- arrays ---------------------------------------------------------------------------------------------
def test_trial_from_arrays_converts_units_and_builds_every_modality():
    n = 4
    cols = {
        "R_FOOT_gyr_y": np.full(n, 180.0),
        "R_FOOT_acc_z": np.full(n, 1.0),
        "TRUNK_acc_x": np.zeros(n),
        "R_KNEE_flex": np.full(n, math.pi / 2),
        "grf_right_vertical": np.full(n, 0.7),
        "grf_right_ap": np.zeros(n),
        "grf_right_ml": np.zeros(n),
        "kp_right_heel_x": np.full(n, 100.0),
        "kp_right_heel_y": np.zeros(n),
        "kp_right_heel_z": np.zeros(n),
    }
    cols.update({f"p_right_r{r}_c{c}": np.full(n, 10.0 * r + c) for r in range(3) for c in range(2)})
    units = {
        "*_gyr_*": "deg/s",
        "R_FOOT_acc_z": "g",
        "R_KNEE_flex": "rad",
        "grf_*": "kN",
        "kp_*": "mm",
        "p_*": "kPa",
    }
    trial = trial_from_arrays(
        "t1",
        100.0,
        cols,
        units=units,
        activity="walk",
        pressure_cell_size_m=(0.01, 0.01),
        events={"right": {"heel_strike": [0], "toe_off": [2]}},
    )
    # 48-channel order: accelerometers first, segments as IMU_SEGMENTS (TRUNK before R_FOOT)
    assert trial.imu.channels == ("TRUNK_acc_x", "R_FOOT_acc_z", "R_FOOT_gyr_y")
    assert trial.imu.units == ("m/s^2", "m/s^2", "rad/s")
    np.testing.assert_allclose(
        trial.imu.select(["R_FOOT_gyr_y", "R_FOOT_acc_z"])[0], [math.pi, GRAVITY], rtol=1e-6
    )
    np.testing.assert_allclose(trial.joint_angles.data[:, 0], 90.0, rtol=1e-6)
    np.testing.assert_allclose(trial.grf["right"][0], [0.0, 0.0, 700.0])  # ml, ap, vertical in N
    assert trial.keypoint_names == ("right_heel",)
    np.testing.assert_allclose(trial.keypoints[0, 0], [0.1, 0.0, 0.0])
    # cell (r, c) holds 10 r + c kPa = r + c / 10 N/cm^2
    assert trial.pressure["right"].shape == (n, 3, 2)
    np.testing.assert_allclose(trial.pressure["right"][0], [[0.0, 0.1], [1.0, 1.1], [2.0, 2.1]])
    assert trial.n_samples == n and trial.events["right"]["toe_off"].tolist() == [2]


@pytest.mark.parametrize(
    ("cols", "message"),
    [
        ({"R_FOOT_gyr_y": np.zeros(3), "foo": np.zeros(3)}, "column 'foo': expected a name of the form"),
        (
            {"p_right_r0_c0": np.zeros(3), "p_right_r1_c1": np.zeros(3)},
            r"2 x 2: expected every cell column, missing",
        ),
        (
            {"R_FOOT_gyr_y": np.zeros(3), "R_FOOT_gyr_x": np.zeros(4)},
            "expected every column as 1-D array of 3 samples",
        ),
        ({"kp_nose_x": np.zeros(3), "kp_nose_y": np.zeros(3)}, "keypoint 'nose': expected the axes"),
        (
            {"p_left_r0_c0": np.zeros(3)},
            r"pressure: expected pressure_cell_size_m = \[row pitch, column pitch\]",
        ),
    ],
)
def test_trial_from_arrays_names_what_is_wrong(cols, message):
    with pytest.raises(DataError, match=message):
        trial_from_arrays("t1", 100.0, cols, source="walk.csv")


def test_trial_from_arrays_checks_rates_units_and_events():
    time = np.arange(5) / 120.0
    assert trial_from_arrays(
        "t", None, {"time": time, "R_FOOT_gyr_y": np.zeros(5)}
    ).sample_rate_hz == pytest.approx(120)
    with pytest.raises(DataError, match="declared 100 Hz, found 120 Hz"):
        trial_from_arrays("t", 100.0, {"time": time})
    with pytest.raises(DataError, match=r"unit: expected one of \['rad/s', 'deg/s'\] for gyr, found 'rpm'"):
        trial_from_arrays("t", 100.0, {"R_FOOT_gyr_y": np.zeros(5)}, units={"R_FOOT_gyr_y": "rpm"})
    with pytest.raises(
        DataError, match=r"events/right/toe_off: expected sample indices in \[0, 5\), found 2..9"
    ):
        trial_from_arrays("t", 100.0, {"R_FOOT_gyr_y": np.zeros(5)}, events={"right": {"toe_off": [2, 9]}})


def test_resample_trial_120_to_100_hz_moves_events_and_keeps_pressure_non_negative():
    n = 1200
    t = np.arange(n) / 120.0
    pressure = np.zeros((n, 2, 2))
    pressure[300:800] = 5.0  # a box: the anti-aliasing filter rings below 0 at its edges
    trial = trial_from_arrays(
        "t",
        120.0,
        {"R_FOOT_gyr_y": np.sin(2 * np.pi * t)},
        pressure={"right": pressure},
        pressure_cell_size_m=(0.01, 0.01),
        events={"right": {"heel_strike": [300, 1199], "toe_off": [800]}},
    )
    out = resample_trial(trial, 100.0)
    assert out.sample_rate_hz == 100.0 and out.n_samples == 1000
    assert out.pressure["right"].shape == (1000, 2, 2) and out.pressure["right"].min() >= 0.0
    np.testing.assert_array_equal(
        out.events["right"]["heel_strike"], [250, 999]
    )  # 300 * 5/6, 1199 * 5/6 -> 999
    np.testing.assert_array_equal(out.events["right"]["toe_off"], [667])  # 800 * 5/6 = 666.7
    np.testing.assert_allclose(
        out.imu.data[50:-50, 0], np.sin(2 * np.pi * np.arange(1000) / 100.0)[50:-50], atol=1e-3
    )
    assert out.attrs["source_sample_rate_hz"] == 120.0


# -- CSV pieces -----------------------------------------------------------------------------------------
def test_read_csv_table_joins_header_rows_and_reads_blanks_as_nan(tmp_path):
    path = write_csv(
        tmp_path / "a.csv",
        [["sensor", "left", "right"], ["axis", "gyr_y", "gyr_y"], [0, 1.5, ""], [1, "nan", 2.5]],
    )
    table = read_csv_table(path, header_rows=2)
    assert list(table) == ["sensor/axis", "left/gyr_y", "right/gyr_y"]
    np.testing.assert_array_equal(table["left/gyr_y"], [1.5, np.nan])
    np.testing.assert_array_equal(table["right/gyr_y"], [np.nan, 2.5])


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([["a", "b"], [1, 2], [3, "x"]], r"line 3, column 'b': expected a number .* found 'x'"),
        ([["a", "b"], [1, 2], [3, 4, 5]], "line 3: expected 2 comma-separated values"),
        ([["a", "a"], [1, 2]], r"header: expected unique, non-empty column names, found duplicates \['a'\]"),
    ],
)
def test_read_csv_table_errors_name_line_and_column(tmp_path, rows, message):
    path = write_csv(tmp_path / "bad.csv", rows)
    with pytest.raises(DataError, match=message) as info:
        read_csv_table(path)
    assert str(path) in str(info.value)


def test_pressure_frames_in_natural_order_and_same_grid(tmp_path):
    folder = tmp_path / "walk_pressure_right"
    for k in (1, 2, 10):  # natural order: 1, 2, 10 (not 1, 10, 2)
        write_csv(folder / f"frame_{k}.csv", [[k, 0, 0], [0, 0, k]])
    frames = read_pressure_frames(folder)
    assert frames.shape == (3, 2, 3)
    np.testing.assert_array_equal(frames[:, 0, 0], [1, 2, 10])
    write_csv(folder / "frame_11.csv", [[1, 2], [3, 4]])
    with pytest.raises(
        DataError, match=r"frame_11.csv: expected a 2 x 3 grid as in frame_1.csv, found 2 x 2"
    ):
        read_pressure_frames(folder)


def test_events_csv_round_trip_and_errors(tmp_path):
    events = {"right": {"heel_strike": np.array([30, 10]), "toe_off": np.array([20])}}
    write_events_csv(tmp_path / "ev.csv", events)
    assert (tmp_path / "ev.csv").read_text().splitlines() == [
        "foot,event,sample",
        "right,heel_strike,10",
        "right,heel_strike,30",
        "right,toe_off,20",
    ]
    back = read_events_csv(tmp_path / "ev.csv")
    np.testing.assert_array_equal(back["right"]["heel_strike"], [10, 30])
    write_csv(
        tmp_path / "bad.csv",
        [["right", "heel_strike", 5], ["middle", "toe_off", 3]],
        ["foot", "event", "sample"],
    )
    with pytest.raises(DataError, match=r"bad.csv, line 3: expected foot in \['left', 'right'\]"):
        read_events_csv(tmp_path / "bad.csv")


# -- a study folder through `zoo data import` ---------------------------------------------------------------
def make_study(root: Path) -> Path:
    """S01: IMU, GRF and pressure-cell columns in deg/s and kPa; S02 (id P2): per-frame pressure only."""
    n = 50
    t = np.arange(n) / 100.0
    s01 = root / "S01"
    header = [
        "time",
        "R_FOOT_gyr_y",
        "R_FOOT_acc_z",
        "grf_right_ml",
        "grf_right_ap",
        "grf_right_vertical",
        "p_right_r0_c0",
        "p_right_r0_c1",
        "p_right_r1_c0",
        "p_right_r1_c1",
        "frame",
    ]
    rows = [
        [f"{ti:.2f}", 90.0, 9.81, 0, 0, 600.0, 10.0, 20.0, 30.0, "" if i == 7 else 40.0, i]
        for i, ti in enumerate(t)
    ]
    write_csv(s01 / "walk_01.csv", rows, header)
    write_events_csv(s01 / "walk_01.events.csv", {"right": {"heel_strike": [5, 30], "toe_off": [20]}})
    (s01 / "subject.yaml").write_text(
        "body_mass_kg: 61.2\nheight_m: 1.68\nsex: F\nfoot_length_m: 0.245\narch_type: high\n"
        "activity: walk\npressure_cell_size_m: [0.01, 0.01]\nignore_columns: [frame]\n"
        "units:\n  R_FOOT_gyr_y: deg/s\n  'p_*': kPa\n"
        "trials:\n  walk_01:\n    events: walk_01.events.csv\n    speed_m_s: 1.3\n"
    )
    s02 = root / "S02"
    for k in range(n):
        write_csv(s02 / "run_01_pressure_left" / f"{k:04d}.csv", [[k, 0, 0]] * 4)
    (s02 / "subject.json").write_text(
        '{"subject_id": "P2", "body_mass_kg": 80, "height_m": 1.8, "sample_rate_hz": 120,'
        ' "trials": {"run_01": {"activity": "run"}}, "pressure_cell_size_m": [0.01, 0.02]}'
    )
    return root


def test_zoo_data_import_writes_a_valid_recording(tmp_path, capsys):
    study = make_study(tmp_path / "study")
    out = tmp_path / "study.h5"
    assert data_main(["import", str(study), "--out", str(out), "--name", "my-lab"]) == 0
    report = capsys.readouterr().out
    assert (
        "S01/walk_01: 50 samples at 100 Hz; imu 2 ch; grf right; pressure right 2x2; events right 2 HS/1 TO"
        in report
    )
    assert "P2/run_01: 50 samples at 120 Hz; pressure left 4x3" in report
    with Recording(out) as rec:
        assert rec.dataset_name == "my-lab" and not rec.synthetic
        assert rec.subject_ids == ["P2", "S01"]
        s01 = rec.subject("S01")
        assert (s01.body_mass_kg, s01.height_m, s01.sex, s01.foot_length_m, s01.arch_type) == (
            61.2,
            1.68,
            "F",
            0.245,
            "high",
        )
        trial = rec.read_trial("S01", "walk_01")
        assert trial.activity == "walk" and trial.speed_m_s == pytest.approx(1.3)
        np.testing.assert_allclose(trial.imu.select(["R_FOOT_gyr_y"])[:, 0], math.pi / 2, rtol=1e-6)
        np.testing.assert_allclose(trial.grf["right"][:, 2], 600.0)
        np.testing.assert_allclose(trial.pressure["right"][0], [[1.0, 2.0], [3.0, 4.0]])
        assert np.isnan(trial.pressure["right"][7, 1, 1])  # the empty cell stays missing
        np.testing.assert_array_equal(trial.events["right"]["heel_strike"], [5, 30])
        run = rec.read_trial("P2", "run_01")
        assert run.activity == "run" and run.pressure_cell_size_m == (0.01, 0.02)
        np.testing.assert_array_equal(run.pressure["left"][:, 0, 0], np.arange(50))
    assert data_main(["validate", str(out)]) == 1  # the empty pressure cell is reported as a NaN
    assert "1 NaN" in capsys.readouterr().out


def test_import_events_option_and_resampling(tmp_path, capsys):
    study = make_study(tmp_path / "study")
    write_events_csv(tmp_path / "other.csv", {"left": {"heel_strike": [10], "toe_off": [40]}})
    out = tmp_path / "s.h5"
    import_csv(study / "S01", out, resample_hz=50.0, events={"walk_01": tmp_path / "other.csv"})
    with Recording(out) as rec:
        info = rec.trial_info("S01", "walk_01")
        assert (info.sample_rate_hz, info.n_samples, info.event_feet) == (50.0, 25, ("left",))
        np.testing.assert_array_equal(rec.events("S01", "walk_01", "left")["toe_off"], [20])
    with pytest.raises(
        DataError, match=r"--events: expected TRIAL or SUBJECT/TRIAL of an imported trial, found \['nope'\]"
    ):
        import_csv(study / "S01", out, events={"nope": tmp_path / "other.csv"})


@pytest.mark.parametrize(
    ("sidecar", "message"),
    [
        ("body_mass_kg: 70\nheight_m: 1.7\nweight: 3\n", r"key\(s\) \['weight'\]: expected only"),
        (
            "body_mass_kg: 70\nheight_m: 1.7\nsex: X\n",
            r"key 'sex': expected one of \['F', 'M', 'unknown'\], found 'X'",
        ),
        ("height_m: 1.7\n", "key 'body_mass_kg': expected a positive number, found None"),
        ("body_mass_kg: 70\nheight_m: [1.7\n", "line 3: expected YAML or JSON, found a syntax error"),
        ("body_mass_kg: 70\nheight_m: 1.7\nactivity: jog\n", r"key 'activity': expected one of \['walk'"),
        (
            "body_mass_kg: 70\nheight_m: 1.7\ntrials:\n  t: {file: missing.csv}\n",
            "trials/t/file: expected an existing",
        ),
    ],
)
def test_sidecar_errors_name_the_file_and_key(tmp_path, sidecar, message):
    write_csv(tmp_path / "S01" / "t1.csv", [[0.0, 1.0]], ["time", "R_FOOT_gyr_y"])
    (tmp_path / "S01" / "subject.yaml").write_text(sidecar)
    with pytest.raises(DataError, match=message) as info:
        import_csv(tmp_path, tmp_path / "out.h5")
    assert "subject.yaml" in str(info.value)
    assert not (tmp_path / "out.h5").exists()  # nothing half-written


@pytest.mark.parametrize(
    ("header_rows", "blank_line", "times", "sample", "line", "message"),
    [
        # header on line 1, samples from line 2: sample 3 (0.02 s after 0.02 s) sits on line 5
        (1, False, [0.0, 0.01, 0.02, 0.02, 0.04], 3, 5, "expected strictly increasing times, found 0.02 s after 0.02 s"),
        # two header rows and a blank line before the data: the same sample is on line 7
        (2, True, [0.0, 0.01, 0.02, 0.01, 0.04], 3, 7, "expected strictly increasing times, found 0.01 s after 0.02 s"),
        # an empty time cell (a missing value) in sample 1
        (1, False, [0.0, "", 0.02, 0.03, 0.04], 1, 3, "expected a time in every row, found nan"),
    ],
)
def test_time_column_errors_name_the_file_line(tmp_path, header_rows, blank_line, times, sample, line, message):
    folder = tmp_path / "S01"
    folder.mkdir()
    lines = ["time,R_FOOT_gyr_y"] if header_rows == 1 else ["sensor,foot", "time,R_FOOT_gyr_y"]
    lines += [""] if blank_line else []
    lines += [f"{t},0.5" for t in times]
    (folder / "walk.csv").write_text("\n".join(lines) + "\n")
    (folder / "subject.yaml").write_text(
        "body_mass_kg: 70\nheight_m: 1.7\nsample_rate_hz: 100\n"
        + ("header_rows: 2\ncolumns: {sensor/time: time, foot/R_FOOT_gyr_y: R_FOOT_gyr_y}\n"
           if header_rows == 2 else ""))
    with pytest.raises(DataError) as info:
        import_csv(tmp_path, tmp_path / "out.h5")
    assert str(info.value) == f"{folder / 'walk.csv'}, line {line}, column 'time': {message}"
    # the named line (1-based, header rows and blank lines counted) is the one holding the bad sample
    assert lines[line - 1] == f"{times[sample]},0.5"
    # from arrays there is no file: the error names the sample index
    with pytest.raises(DataError, match=r"^arrays, sample 3, column 'time': expected strictly increasing"):
        trial_from_arrays("t", 100.0, {"time": np.array([0.0, 0.01, 0.02, 0.02])})


@pytest.mark.realdata
def test_gaitmap_example_imports_with_its_sidecar(shared_data, tmp_path):
    events = tmp_path / "events.csv"
    write_events_csv(events, {"right": {"heel_strike": [549, 764], "toe_off": [475, 692]}})
    out = tmp_path / "gaitmap.h5"
    written = import_csv(
        REPO / "examples" / "gaitmap_import", out, resample_hz=100.0, events={"walk": events}
    )
    assert [w.trial_id for w in written] == ["walk"]
    raw = read_csv_table(shared_data / "gaitmap_example" / "imu_sample.csv", header_rows=2)
    with Recording(out) as rec:
        trial = rec.read_trial("gaitmap01", "walk")
    assert trial.sample_rate_hz == 100.0 and trial.n_samples == math.ceil(7928 * 125 / 256)
    assert len(trial.imu.channels) == 12 and trial.imu.channels[0] == "R_FOOT_acc_x"
    # deg/s -> rad/s, 204.8 -> 100 Hz: the mean (a slow quantity) is preserved
    gyr = trial.imu.select(["R_FOOT_gyr_y"])[:, 0]
    assert gyr.mean() == pytest.approx(np.radians(raw["right_sensor/gyr_y"]).mean(), abs=2e-3)
    np.testing.assert_array_equal(
        trial.events["right"]["heel_strike"], [268, 373]
    )  # 549 / 2.048, 764 / 2.048
