"""Readers (datamodules.readers) through `zoo data import` / `zoo data events`: vendor text exports with a
preamble, tabs, packet-counter gaps and a flipped gyroscope; MATLAB, C3D and OpenSim files on the real
recordings in ../shared/data; the gyroscope-sign check on gaitmap."""

from __future__ import annotations

import builtins
import re
import shlex
from pathlib import Path

import numpy as np
import pytest

from datamodules.cli import main as data_main
from datamodules.errors import DataError
from datamodules.importers import read_events_csv
from datamodules.readers import read_tables
from datamodules.readers.counters import fill_counter_gaps
from datamodules.readers.delimited import read_delimited
from datamodules.readers.table import Table
from datamodules.recording import Recording
from datamodules.validate import validate_file

REPO = Path(__file__).resolve().parents[1]


# -- delimited text -------------------------------------------------------------------------------------
def test_preamble_delimiter_and_header_are_detected_or_forced(tmp_path):
    path = tmp_path / "export.txt"
    path.write_text("// MT Manager export, 2026-01-01\nPacketCounter\tGyr_Y\n0\t1.5\n1\t2.5\n2\t3.5\n")
    table = read_delimited(path)
    assert list(table.columns) == ["PacketCounter", "Gyr_Y"]
    np.testing.assert_allclose(table.columns["Gyr_Y"], [1.5, 2.5, 3.5])
    assert table.notes == ["read as tab-delimited, 1 preamble line(s), 1 header row(s), 2 columns"]
    assert table.line_of_row(2) == 5
    forced = read_delimited(path, delimiter="\t", skip_rows=1, header_rows=1)
    np.testing.assert_array_equal(forced.columns["Gyr_Y"], table.columns["Gyr_Y"])
    with pytest.raises(DataError, match=r"export.txt, line 1: expected 2 header cells \(as many as data columns\), found 1"):
        read_delimited(path, delimiter="\t", skip_rows=0, header_rows=1)


def test_semicolons_whitespace_and_headerless_files(tmp_path):
    (tmp_path / "a.csv").write_text("info line\n\na;b\n1;2\n3;4\n")
    assert read_delimited(tmp_path / "a.csv").columns["b"].tolist() == [2.0, 4.0]
    (tmp_path / "b.txt").write_text("0.00  1  2\n0.01  3  4\n")
    table = read_delimited(tmp_path / "b.txt")
    assert list(table.columns) == ["col1", "col2", "col3"] and table.columns["col3"].tolist() == [2.0, 4.0]
    named = read_delimited(tmp_path / "b.txt", column_names=["time", "x", "y"])
    assert list(named.columns) == ["time", "x", "y"]


def counter_table(counter: list[int], values: np.ndarray) -> Table:
    return Table("rec.txt", {"PacketCounter": np.asarray(counter, float), "g": values},
                 line_of_row=lambda row: row + 3)


def test_counter_gaps_are_filled_up_to_the_limit_then_split():
    t = np.arange(40)
    g = np.sin(t / 5.0)
    keep = np.ones(40, bool)
    keep[[5, 6]] = False  # 2 missing: filled
    keep[20:30] = False  # 10 missing: split
    filled, report = fill_counter_gaps(counter_table(t[keep].tolist(), g[keep]), "PacketCounter", 5)
    assert (report.gaps, report.missing, report.filled, report.splits) == (2, 12, 2, 1)
    assert filled.segments == [(0, 20), (20, 30)]
    np.testing.assert_allclose(filled.columns["g"][:20], g[:20], atol=2e-3)  # cubic through the gap
    assert report.describe(5) == ("counter 'PacketCounter': 2 gap(s), 12 missing sample(s); 2 sample(s) in 1 "
                                  "gap(s) of <= 5 filled by cubic interpolation; split at 1 longer gap(s) into "
                                  "2 parts")


def test_counter_wraps_at_16_bits_and_repeats_are_errors():
    counter = [65533, 65534, 65535, 0, 2, 3]  # wrap, then one packet lost
    filled, report = fill_counter_gaps(counter_table(counter, np.arange(6.0)), "PacketCounter", 5)
    assert report.missing == 1 and len(filled.columns["g"]) == 7
    with pytest.raises(DataError, match=r"rec.txt, line 6, column 'PacketCounter': expected a counter rising by 1 "
                       r"per sample, found 2 after 2"):
        fill_counter_gaps(counter_table([0, 1, 2, 2], np.zeros(4)), "PacketCounter", 5)


# -- simulated walking written as a vendor export --------------------------------------------------------
@pytest.fixture(scope="module")
def simulated_gyro(tmp_path_factory):
    from datamodules.simulator import generate_dataset

    path = generate_dataset(tmp_path_factory.mktemp("sim") / "sim.h5", preset="tiny", seed=3,
                            activities=["walk"], duration_s=12.0)
    with Recording(path) as rec:
        info = next(t for t in rec.trials() if "R_SHANK_gyr_y" in t.imu_channels)
        imu = rec.dataset(info.subject_id, info.trial_id, "imu")[()]
        cols = [info.imu_channels.index(c) for c in ("R_SHANK_gyr_y", "L_SHANK_gyr_y")]
        return imu[:, cols].astype(np.float64), info.sample_rate_hz


def test_vendor_like_export_gives_the_clean_events_within_one_sample(simulated_gyro, tmp_path, capsys):
    gyro, fs = simulated_gyro
    n = len(gyro)
    clean = tmp_path / "clean.csv"
    np.savetxt(clean, gyro, delimiter=",", header="R_SHANK_gyr_y,L_SHANK_gyr_y", comments="", fmt="%.6f")
    # Xsens-like: one info line, tabs, PacketCounter from 65500 (wraps), deg/s, sign flipped, dropped packets
    rng = np.random.default_rng(0)
    keep = np.ones(n, bool)
    for start in rng.choice(np.arange(50, n - 50), size=12, replace=False):
        keep[start:start + rng.integers(1, 4)] = False
    counter = (65500 + np.arange(n)) % 65536
    vendor = tmp_path / "vendor.txt"
    with vendor.open("w") as f:
        f.write("// General information: MT Manager 2022.0, update rate 100 Hz\n")
        f.write("PacketCounter\tSampleTimeFine\tGyr_Y_right\tGyr_Y_left\t\n")
        for i in np.flatnonzero(keep):
            f.write(f"{counter[i]}\t{i * 100}\t{-np.degrees(gyro[i, 0]):.4f}\t{-np.degrees(gyro[i, 1]):.4f}\t\n")
    common = ["--rate", str(fs), "--sensor", "shank"]
    assert data_main(["events", str(clean), "--gyro-column", "R_SHANK_gyr_y", "--gyro-column", "L_SHANK_gyr_y",
                      "--unit", "rad/s", *common, "--out", str(tmp_path / "out" / "clean.csv")]) == 0
    assert data_main(["events", str(vendor), "--gyro-column", "Gyr_Y_right", "--gyro-column", "Gyr_Y_left",
                      "--foot", "right", "--foot", "left", "--unit", "deg/s", *common,
                      "--out", str(tmp_path / "out" / "vendor.csv")]) == 0
    report = capsys.readouterr().out
    assert "counter 'PacketCounter': 12 gap(s)" in report and "sign flipped, inverted" in report
    want, got = read_events_csv(tmp_path / "out" / "clean.csv"), read_events_csv(tmp_path / "out" / "vendor.csv")
    for foot in ("left", "right"):
        for kind in ("heel_strike", "toe_off"):
            assert len(want[foot][kind]) >= 8
            assert len(got[foot][kind]) == len(want[foot][kind]), (foot, kind)
            assert np.abs(got[foot][kind] - want[foot][kind]).max() <= 1, (foot, kind)
    assert b"\r" not in (tmp_path / "out" / "vendor.csv").read_bytes()


def test_many_files_by_glob_with_one_summary_table(simulated_gyro, tmp_path, capsys):
    gyro, fs = simulated_gyro
    for k in range(3):
        np.savetxt(tmp_path / f"walk{k}.csv", (-1) ** k * gyro, delimiter=",", header="R_SHANK_gyr_y,L_SHANK_gyr_y",
                   comments="", fmt="%.6f")
    out = tmp_path / "new" / "folder"
    assert data_main(["events", str(tmp_path / "walk*.csv"), "--gyro-column", "R_SHANK_gyr_y", "--gyro-column",
                      "L_SHANK_gyr_y", "--unit", "rad/s", "--rate", str(fs), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == [f"walk{k}.events.csv" for k in range(3)]
    table = capsys.readouterr().out.split("| recording |")[1].splitlines()
    assert len(table) == 2 + 6  # header rest, rule, 3 files x 2 feet
    assert sum("flipped, inverted" in row for row in table) == 2 and sum("as expected" in row for row in table) == 4
    with pytest.raises(DataError, match="expected files matching this pattern, found none"):
        data_main(["events", str(tmp_path / "nothing*.csv"), "--gyro-column", "R_SHANK_gyr_y", "--unit", "rad/s",
                   "--rate", "100"])


def test_missing_ezc3d_names_the_extra(monkeypatch, tmp_path):
    real_import = builtins.__import__

    def no_ezc3d(name, *args, **kwargs):
        if name == "ezc3d":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ezc3d)
    (tmp_path / "x.c3d").write_bytes(b"\0" * 512)
    with pytest.raises(DataError, match=r"pip install gait-zoo\[c3d\]"):
        read_tables(tmp_path / "x.c3d")


# -- real recordings ------------------------------------------------------------------------------------
@pytest.mark.realdata
def test_gaitmap_with_the_sign_flipped_is_noticed_and_corrected(shared_data):
    from benchmarks.gait_events_accuracy import evaluate

    results = evaluate(shared_data / "gaitmap_example", ("zero_crossing",), flip=-1.0)
    found = sum(round(r.detected_share * r.n_strides) for r in results) / sum(r.n_strides for r in results)
    assert found >= 0.95
    for r in results:
        assert r.heel_strike.abs_percentile(50) <= 50.0, r.row()


@pytest.mark.realdata
def test_mobgap_pelvis_sensor_sign_cannot_be_read_and_the_detector_says_so(shared_data):
    with pytest.raises(DataError, match=r"Test11.Trial1, column 'PELVIS_gyr_y': cannot tell the gyroscope's sign"):
        data_main(["events", str(shared_data / "mobgap_example/lab/HA/001/data.mat"), "--mapping",
                   str(REPO / "examples/mobgap_import/mobgap_mat.yaml"), "--gyro-column", "PELVIS_gyr_y",
                   "--foot", "right", "--unit", "deg/s", "--sensor", "shank"])


@pytest.mark.realdata
def test_c3d_plates_become_right_foot_grf_and_cop(shared_data, tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    out = tmp_path / "c3d.h5"
    assert data_main(["import", "examples/c3d_import", "--out", str(out)]) == 0
    assert validate_file(out) == []
    with Recording(out) as rec:
        trial = rec.read_trial("Eb015", "walk")
    grf = trial.grf["right"]
    assert trial.sample_rate_hz == 200.0 and grf.shape == (1800, 3) and "left" not in trial.grf
    assert 800 < grf[:, 2].max() < 840  # ~838 N peak less the ~22-31 N plate offset
    assert abs(grf[:300, 2]).max() < 1.0  # unloaded: offset removed, nothing added
    np.testing.assert_array_equal(trial.events["right"]["heel_strike"], [544, 1080])
    cop = trial.cop["right"]
    assert cop[1000, 0] > cop[700, 0] + 0.3  # second plate lies ahead along the walking direction
    # without the file's events, the foot markers nearest the COP give the same feet
    from datamodules.readers.c3d import read_c3d

    by_markers = read_c3d(shared_data / "c3d_sample" / "Eb015pi.c3d", events_from_file=False)
    assert [n for n in by_markers.notes if "->" in n] == [
        "plate 2 contact 2.72-4.97 s -> right foot (nearest foot markers (5 cm from the COP))",
        "plate 1 contact 5.39-7.33 s -> right foot (nearest foot markers (5 cm from the COP))"]


# -- README: one command and its real output per reader ------------------------------------------------
def readme_commands() -> list[tuple[str, list[str]]]:
    text = (REPO / "README.md").read_text()
    block = re.search(r"<!-- readers:start -->(.*?)<!-- readers:end -->", text, flags=re.S)
    assert block, "README has no readers block"
    commands, current = [], None
    for line in re.findall(r"```console\n(.*?)```", block.group(1), flags=re.S)[0].splitlines():
        if line.startswith("$ "):
            current = (line[2:], [])
            commands.append(current)
        elif current is not None:
            current[1].append(line)
    return commands


@pytest.mark.realdata
@pytest.mark.parametrize("index", range(5))
def test_readme_reader_commands_print_what_the_readme_shows(shared_data, index, tmp_path, monkeypatch, capsys):
    command, expected = readme_commands()[index]
    argv = shlex.split(command)
    assert argv[:2] == ["zoo", "data"], command
    monkeypatch.chdir(REPO)
    args = argv[2:]
    if "--out" in args:  # write into tmp_path; the README shows the bare name
        name = args[args.index("--out") + 1]
        args[args.index("--out") + 1] = str(tmp_path / name)
    if expected and expected[-1].startswith("zoo data: error: "):
        with pytest.raises(DataError) as info:
            data_main(args)
        lines = capsys.readouterr().out.splitlines() + [f"zoo data: error: {info.value}"]
    else:
        assert data_main(args) == 0
        lines = capsys.readouterr().out.replace(str(tmp_path / "x")[:-1], "").splitlines()
        out = tmp_path / name
        assert validate_file(out) == [], command
    assert lines == expected


def test_import_splits_a_trial_at_a_long_counter_gap_and_says_so(tmp_path, capsys):
    folder = tmp_path / "S01"
    folder.mkdir()
    counter = [c for c in range(300) if not 100 <= c < 120]  # 20 missing: more than the 5 that are filled
    lines = ["Xsens export v1", "PacketCounter;R_FOOT_gyr_y"] + [f"{c};{np.sin(c / 9):.5f}" for c in counter]
    (folder / "walk.csv").write_text("\n".join(lines) + "\n")
    (folder / "subject.yaml").write_text("body_mass_kg: 70\nheight_m: 1.7\nsample_rate_hz: 100\n"
                                         "ignore_columns: [PacketCounter]\n")
    assert data_main(["import", str(tmp_path), "--out", str(tmp_path / "out.h5")]) == 0
    report = capsys.readouterr().out.splitlines()
    assert report[0] == "S01/walk_part1: 100 samples at 100 Hz; imu 1 ch"
    assert "  - counter 'PacketCounter': 1 gap(s), 20 missing sample(s); 0 sample(s) in 0 gap(s) of <= 5 filled " \
           "by cubic interpolation; split at 1 longer gap(s) into 2 parts" in report
    assert any(line.startswith("S01/walk_part2: 180 samples") for line in report)
    assert validate_file(tmp_path / "out.h5") == []


def test_readme_vendor_export_commands(tmp_path, monkeypatch, capsys):
    """The README's vendor-export block, run in a temporary folder (generation time masked)."""
    import runpy
    import sys

    text = (REPO / "README.md").read_text()
    block = re.search(r"<!-- vendor:start -->\n```console\n(.*?)```", text, flags=re.S).group(1).splitlines()
    steps: list[tuple[str, list[str]]] = []
    for line in block:
        if line.startswith("$ "):
            steps.append((line[2:], []))
        else:
            steps[-1][1].append(line)
    monkeypatch.chdir(tmp_path)
    for command, expected in steps:
        argv = shlex.split(command)
        if argv[0] == "python":
            saved, sys.argv = sys.argv, [str(REPO / argv[1]), *argv[2:]]
            try:
                runpy.run_path(str(REPO / argv[1]), run_name="__main__")
            finally:
                sys.argv = saved
        else:
            assert data_main(argv[2:]) == 0
        lines = capsys.readouterr().out.splitlines()
        mask = re.compile(r"in \d+\.\d s$")
        assert [mask.sub("in _ s", x) for x in lines] == [mask.sub("in _ s", x) for x in expected], command
    got = read_events_csv(tmp_path / "walk_xsens.events.csv")["right"]
    true = read_events_csv(tmp_path / "walk_xsens.true_events.csv")["right"]
    near = np.abs(got["heel_strike"][:, None] - true["heel_strike"][None, :]).min(axis=0)
    assert (near <= 1).sum() >= len(true["heel_strike"]) - 1  # all but the one in the 30-sample gap
