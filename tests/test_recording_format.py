"""The recording format: `zoo data validate` finds each kind of broken file, and the writer/reader
round-trip any grid size, IMU subset, keypoint count and missing modality."""

from __future__ import annotations

import argparse
import re
import shutil
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pytest

from datamodules.naming import IMU_CHANNELS_48, IMU_UNITS, KEYPOINTS_19, SCHEMA_VERSION
from datamodules.recording import Recording, RecordingWriter, Signals, SubjectInfo, TrialData, write_recording
from datamodules.validate import SCAN_BLOCK_BYTES, Problem, register, validate_file

from fake_recordings import make_fake_recording

S = "/subjects/S01"
T = f"{S}/trials/T01"
N = 200  # samples in the template trial (2 s at 100 Hz)
Mutation = Callable[[h5py.File], None]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One valid subject with one 200-sample trial holding every modality, clean targets and events."""
    path = tmp_path_factory.mktemp("template") / "valid.h5"
    return make_fake_recording(path, n_subjects=1, trials=("walk",), seconds=N / 100.0, rate=100.0)


def broken(template: Path, tmp_path: Path, *mutations: Mutation) -> Path:
    path = tmp_path / "broken.h5"
    shutil.copy(template, path)
    with h5py.File(path, "r+") as f:
        for mutate in mutations:
            mutate(f)
    return path


# -- mutations -------------------------------------------------------------------------------


def set_attr(path: str, key: str, value) -> Mutation:
    return lambda f: f[path].attrs.__setitem__(key, value)


def del_attr(path: str, key: str) -> Mutation:
    return lambda f: f[path].attrs.__delitem__(key)


def delete(path: str) -> Mutation:
    return lambda f: f.__delitem__(path)


def set_values(path: str, index, value) -> Mutation:
    def mutate(f: h5py.File) -> None:
        f[path][index] = value

    return mutate


def replace(path: str, transform: Callable[[np.ndarray], np.ndarray], **attrs) -> Mutation:
    """Rewrite a dataset with `transform(data)`, keeping its attributes unless overridden."""

    def mutate(f: h5py.File) -> None:
        old = f[path]
        data, kept = transform(old[()]), dict(old.attrs)
        del f[path]
        ds = f.create_dataset(path, data=data)
        for key, value in {**kept, **attrs}.items():
            ds.attrs[key] = value

    return mutate


def create(path: str, data, **attrs) -> Mutation:
    def mutate(f: h5py.File) -> None:
        ds = f.create_dataset(path, data=data)
        for key, value in attrs.items():
            ds.attrs[key] = value

    return mutate


STR = h5py.string_dtype()
IMU_DEG = np.array([IMU_UNITS["acc"] if "_acc_" in c else "deg/s" for c in IMU_CHANNELS_48], dtype=STR)

# (mutation, every problem the validator must report, as printed)
CASES: dict[str, tuple[Mutation, list[str]]] = {
    "schema_version missing": (
        del_attr("/", "schema_version"),
        [f"/: expected attribute schema_version = '1.x' (this reader: {SCHEMA_VERSION}), found nothing"]),
    "schema_version other major": (
        set_attr("/", "schema_version", "2.0"),
        [f"/: expected attribute schema_version = '1.x' (this reader: {SCHEMA_VERSION}), found '2.0'"]),
    "dataset_name missing": (
        del_attr("/", "dataset_name"), ["/: expected attribute dataset_name = a non-empty string, found nothing"]),
    "synthetic not boolean": (
        set_attr("/", "synthetic", "yes"), ["/: expected attribute synthetic = a boolean, found 'yes'"]),
    "no subjects group": (delete("/subjects"), ["/subjects: expected a group of subjects, found nothing"]),
    "no subject": (delete(S), ["/subjects: expected at least one subject, found an empty group"]),
    "body mass implausible": (
        set_attr(S, "body_mass_kg", 5.0), [f"{S}: expected attribute body_mass_kg = a number in [20, 300] kg, found 5"]),
    "body mass missing": (
        del_attr(S, "body_mass_kg"),
        [f"{S}: expected attribute body_mass_kg = a number in [20, 300] kg, found nothing"]),
    "height in cm": (
        set_attr(S, "height_m", 172.0), [f"{S}: expected attribute height_m = a number in [0.5, 2.5] m, found 172"]),
    "sex spelled out": (
        set_attr(S, "sex", "female"), [f"{S}: expected attribute sex = one of 'F', 'M', 'unknown', found 'female'"]),
    "arch type unknown word": (
        set_attr(S, "arch_type", "flat"),
        [f"{S}: expected attribute arch_type = one of 'low', 'normal', 'high', 'unknown', found 'flat'"]),
    "foot length in mm": (
        set_attr(S, "foot_length_m", 250.0),
        [f"{S}: expected attribute foot_length_m = a number in [0.1, 0.4] m, found 250"]),
    "geometry 3-D": (
        replace(f"{S}/geometry/left", lambda a: a[None]),
        [f"{S}/geometry/left: expected shape [H, W], found [1, 12, 6]"]),
    "geometry units": (
        set_attr(f"{S}/geometry/right", "units", "cm"), [f"{S}/geometry/right: expected units 'mm', found 'cm'"]),
    "no trials group": (delete(f"{S}/trials"), [f"{S}/trials: expected a group of trials, found nothing"]),
    "no trial": (delete(T), [f"{S}/trials: expected at least one trial, found an empty group"]),
    "sample rate zero": (
        set_attr(T, "sample_rate_hz", 0.0), [f"{T}: expected attribute sample_rate_hz = a number > 0 (Hz), found 0"]),
    "activity not a string": (set_attr(T, "activity", 3), [f"{T}: expected attribute activity = a string, found 3"]),
    "n_samples missing": (
        del_attr(T, "n_samples"),
        [f"{T}: expected attribute n_samples = an integer >= 0 (length of every time axis), found nothing"]),
    "imu integer dtype": (
        replace(f"{T}/imu", lambda a: a.astype(np.int32)), [f"{T}/imu: expected dtype float32 or float64, found int32"]),
    "pressure NaN in a late chunk": (
        set_values(f"{T}/pressure/right", (150, 3, 2), np.nan),
        [f"{T}/pressure/right: expected finite values, found 1 NaN and 0 Inf (first at sample 150)"]),
    "grf NaN and Inf": (
        set_values(f"{T}/grf/left", (slice(10, 21, 10), 2), [np.inf, np.nan]),
        [f"{T}/grf/left: expected finite values, found 1 NaN and 1 Inf (first at sample 10)"]),
    "keypoint units missing": (
        del_attr(f"{T}/keypoints", "units"), [f"{T}/keypoints: expected attribute units = 'm', found nothing"]),
    "imu units missing": (del_attr(f"{T}/imu", "units"), [f"{T}/imu: expected attribute units, found nothing"]),
    "imu channel count": (
        set_attr(f"{T}/imu", "channels", np.array(IMU_CHANNELS_48[:47], dtype=STR)),
        [f"{T}/imu: expected attribute channels = 48 strings (one per channel), found 47 strings"]),
    "imu channel duplicated": (
        set_attr(f"{T}/imu", "channels", np.array(("TRUNK_acc_y",) + IMU_CHANNELS_48[1:], dtype=STR)),
        [f"{T}/imu: expected unique channel names, found duplicates 'TRUNK_acc_y'"]),
    "gyroscope in deg/s": (
        set_attr(f"{T}/imu", "units", IMU_DEG),
        [f"{T}/imu: expected units 'rad/s', found 'deg/s' for TRUNK_gyr_x, TRUNK_gyr_y, TRUNK_gyr_z and 21 more"]),
    "one imu unit for every channel": (
        set_attr(f"{T}/imu", "units", "m/s^2"),
        [f"{T}/imu: expected units 'rad/s', found 'm/s^2' for TRUNK_gyr_x, TRUNK_gyr_y, TRUNK_gyr_z and 21 more"]),
    "imu units count": (
        set_attr(f"{T}/imu", "units", np.array(["m/s^2", "rad/s"], dtype=STR)),
        [f"{T}/imu: expected attribute units = a string or 48 strings (one per channel), found ['m/s^2', 'rad/s']"]),
    "joint angles in rad": (
        set_attr(f"{T}/joint_angles", "units", "rad"), [f"{T}/joint_angles: expected units 'deg', found 'rad'"]),
    "grf two axes": (
        replace(f"{T}/grf/left", lambda a: a[:, :2]), [f"{T}/grf/left: expected shape [T, 3], found [200, 2]"]),
    "grf in kN": (set_attr(f"{T}/grf/right", "units", "kN"), [f"{T}/grf/right: expected units 'N', found 'kN'"]),
    "grf foot name": (
        create(f"{T}/grf/middle", np.zeros((N, 3), np.float32), units="N"),
        [f"{T}/grf/middle: expected a member named one of 'left', 'right', 'total', found 'middle'"]),
    "pressure negative": (
        set_values(f"{T}/pressure/left", (slice(40, 42), 0, 0), [-0.5, -0.25]),
        [f"{T}/pressure/left: expected values >= 0, found 2 negative (min -0.5)"]),
    "pressure without time axis": (
        replace(f"{T}/pressure/left", lambda a: a[:, :, 0]),
        [f"{T}/pressure/left: expected shape [T, H, W], found [200, 12]"]),
    "pressure empty grid": (
        replace(f"{T}/pressure/left", lambda a: a[:, :, :0]),
        [f"{T}/pressure/left: expected shape [T, H, W], found [200, 12, 0]"]),
    "pressure in kPa": (
        set_attr(f"{T}/pressure/left", "units", "kPa"), [f"{T}/pressure/left: expected units 'N/cm^2', found 'kPa'"]),
    "pressure cell size missing": (
        del_attr(f"{T}/pressure/left", "cell_size_m"),
        [f"{T}/pressure/left: expected attribute cell_size_m = 2 positive numbers (row and column pitch, m), "
         "found nothing"]),
    "pressure cell size zero": (
        set_attr(f"{T}/pressure/right", "cell_size_m", np.array([0.01, 0.0])),
        [f"{T}/pressure/right: expected attribute cell_size_m = 2 positive numbers (row and column pitch, m), "
         "found [0.01, 0]"]),
    "pressure grids differ": (
        replace(f"{T}/pressure/right", lambda a: a[:, :10]),
        [f"{T}/pressure: expected the same H x W grid for every foot, found left 12x6, right 10x6",
         f"{T}/clean/pressure/right: expected shape [200, 10, 6] as {T}/pressure/right, found [200, 12, 6]"]),
    "pressure a dataset": (
        lambda f: (f.__delitem__(f"{T}/pressure"), f.create_dataset(f"{T}/pressure", data=np.zeros(3))),
        [f"{T}/pressure: expected a pressure group with one member per foot, found a dataset"]),
    "keypoint names short": (
        set_attr(f"{T}/keypoints", "names", np.array(KEYPOINTS_19[:18], dtype=STR)),
        [f"{T}/keypoints: expected attribute names = 19 strings (one per keypoint), found 18 strings"]),
    "keypoints 2-D coordinates": (
        replace(f"{T}/keypoints", lambda a: a[..., :2]), [f"{T}/keypoints: expected shape [T, K, 3], found [200, 19, 2]"]),
    "com in mm": (
        create(f"{T}/com", np.zeros((N, 3), np.float32), units="mm"), [f"{T}/com: expected units 'm', found 'mm'"]),
    "events unsorted": (
        replace(f"{T}/events/right/heel_strike", lambda a: np.array([10, 50, 30])),
        [f"{T}/events/right/heel_strike: expected strictly increasing sample indices, found 30 after 50 at position 2"]),
    "event at n_samples": (
        replace(f"{T}/events/left/toe_off", lambda a: np.array([10, N])),
        [f"{T}/events/left/toe_off: expected indices within [0, 200), found 1 outside, first 200"]),
    "event negative": (
        replace(f"{T}/events/left/heel_strike", lambda a: np.array([-1, 10])),
        [f"{T}/events/left/heel_strike: expected indices within [0, 200), found 1 outside, first -1"]),
    "events in seconds": (
        replace(f"{T}/events/left/heel_strike", lambda a: a / 100.0),
        [f"{T}/events/left/heel_strike: expected a 1-D integer array of sample indices, found float64 [2]"]),
    "events foot name": (
        lambda f: f.create_group(f"{T}/events/both"),
        [f"{T}/events/both: expected a member named one of 'left', 'right', found 'both'"]),
    "clean Inf": (
        set_values(f"{T}/clean/pressure/left", (7, 0, 0), np.inf),
        [f"{T}/clean/pressure/left: expected finite values, found 0 NaN and 1 Inf (first at sample 7)"]),
    "clean shorter": (
        replace(f"{T}/clean/grf/left", lambda a: a[:100]),
        [f"{T}/clean/grf/left: expected 200 samples along axis 0 (trial n_samples), found 100"]),
    "clean keypoint set differs": (
        replace(f"{T}/clean/keypoints", lambda a: a[:, :7]),
        [f"{T}/clean/keypoints: expected attribute names = 7 strings (one per keypoint), found 19 strings",
         f"{T}/clean/keypoints: expected shape [200, 19, 3] as {T}/keypoints, found [200, 7, 3]"]),
    # -- missing datasets: each required member reported where it should be ---------------------------
    "trial without any modality": (
        lambda f: [f.__delitem__(f"{T}/{m}") for m in ("imu", "joint_angles", "grf", "pressure", "keypoints", "clean")],
        [f"{T}: expected at least one modality (imu, joint_angles, grf/<foot>, pressure/<foot>, keypoints, com, "
         "cop/<foot>, insole/<foot>), "
         "found only events"]),
    "trial with nothing at all": (
        lambda f: [f.__delitem__(f"{T}/{m}") for m in list(f[T])],
        [f"{T}: expected at least one modality (imu, joint_angles, grf/<foot>, pressure/<foot>, keypoints, com, "
         "cop/<foot>, insole/<foot>), "
         "found nothing"]),
    "clean pressure without the measured one": (
        delete(f"{T}/pressure/right"),
        [f"{T}/pressure/right: expected a dataset (the measured counterpart of {T}/clean/pressure/right), "
         "found nothing"]),
    "clean keypoints without the measured ones": (
        delete(f"{T}/keypoints"),
        [f"{T}/keypoints: expected a dataset (the measured counterpart of {T}/clean/keypoints), found nothing"]),
    "grf group without a foot": (
        lambda f: (f.__delitem__(f"{T}/grf/left"), f.__delitem__(f"{T}/grf/right")),
        [f"{T}/grf: expected a grf member for at least one foot (one of 'left', 'right', 'total'), found an empty group",
         f"{T}/grf/left: expected a dataset (the measured counterpart of {T}/clean/grf/left), found nothing",
         f"{T}/grf/right: expected a dataset (the measured counterpart of {T}/clean/grf/right), found nothing"]),
    "pressure group with only a stray member": (
        lambda f: [f.__delitem__(f"{T}/{m}") for m in ("pressure/left", "pressure/right", "clean/pressure")]
        + [f.create_dataset(f"{T}/pressure/middle", data=np.zeros((N, 12, 6), np.float32))],
        [f"{T}/pressure/middle: expected a member named one of 'left', 'right', found 'middle'",
         f"{T}/pressure: expected a pressure member for at least one foot (one of 'left', 'right'), found only "
         "'middle'"]),
    "events foot without events": (
        lambda f: (f.__delitem__(f"{T}/events/right/heel_strike"), f.__delitem__(f"{T}/events/right/toe_off")),
        [f"{T}/events/right: expected at least one of 'heel_strike', 'toe_off', found an empty group"]),
    "geometry group without a foot": (
        lambda f: (f.__delitem__(f"{S}/geometry/left"), f.__delitem__(f"{S}/geometry/right")),
        [f"{S}/geometry: expected a geometry member for at least one foot (one of 'left', 'right'), "
         "found an empty group"]),
    "clean group empty": (
        lambda f: [f.__delitem__(f"{T}/clean/{m}") for m in ("grf", "pressure", "keypoints")],
        [f"{T}/clean: expected at least one noise-free modality (imu, joint_angles, grf/<foot>, pressure/<foot>, "
         "keypoints, com, cop/<foot>, insole/<foot>), found an empty group"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_broken_file_reports_exactly_its_problems(template: Path, tmp_path: Path, case: str) -> None:
    mutation, expected = CASES[case]
    assert [str(p) for p in validate_file(broken(template, tmp_path, mutation))] == expected


def test_template_is_valid(template: Path) -> None:
    assert validate_file(template) == []


def test_every_problem_is_listed_not_just_the_first(template: Path, tmp_path: Path) -> None:
    path = broken(template, tmp_path, del_attr("/", "dataset_name"), set_attr(S, "sex", "x"),
                  set_values(f"{T}/grf/right", (0, 0), np.nan))
    assert [p.path for p in validate_file(path)] == ["/", S, f"{T}/grf/right"]


def test_time_misalignment_is_reported_for_every_array(template: Path, tmp_path: Path) -> None:
    problems = validate_file(broken(template, tmp_path, set_attr(T, "n_samples", 150)))
    misaligned = {p.path for p in problems if p.expected == "150 samples along axis 0 (trial n_samples)"}
    arrays = {"imu", "joint_angles", "grf/left", "grf/right", "pressure/left", "pressure/right", "keypoints"}
    clean = {"grf/left", "grf/right", "pressure/left", "pressure/right", "keypoints"}
    assert misaligned == {f"{T}/{a}" for a in arrays} | {f"{T}/clean/{a}" for a in clean}
    # The template's events after sample 150 now fall outside the trial too.
    assert {p.path for p in problems} - misaligned == {f"{T}/events/right/toe_off", f"{T}/events/left/heel_strike"}


def test_unknown_groups_datasets_and_attributes_are_allowed(template: Path, tmp_path: Path) -> None:
    path = broken(
        template, tmp_path,
        set_attr("/", "lab", "Erlangen"), set_attr(S, "shoe_size_eu", 42),
        create(f"{T}/emg", np.full((N, 2), np.nan)), create(f"{T}/annotations/notes", np.array([b"fall"])),
        create(f"{T}/events/left/mid_stance", np.array([3.5])), create(f"{T}/clean/emg", np.zeros(3)),
        lambda f: f.create_group("calibration"),
    )
    assert validate_file(path) == []


def test_every_missing_dataset_is_reported_in_one_run(template: Path, tmp_path: Path) -> None:
    path = broken(template, tmp_path, delete(f"{T}/keypoints"), delete(f"{T}/grf/left"),
                  lambda f: [f.__delitem__(f"{T}/events/left/{k}") for k in ("heel_strike", "toe_off")])
    assert [(p.path, p.found) for p in validate_file(path)] == [
        (f"{T}/events/left", "an empty group"),
        (f"{T}/keypoints", "nothing"),
        (f"{T}/grf/left", "nothing"),
    ]


def test_writer_leaves_out_a_clean_group_with_nothing_in_it(tmp_path: Path) -> None:
    trial = make_trial(grid=None)
    trial.clean = {"grf": {}, "pressure": {}, "keypoints": None}  # what a converter without clean data passes
    with round_trip(tmp_path, trial) as rec:
        assert not rec.trial_info("S01", "T01").has_clean
        assert "clean" not in rec.file[T]


def test_problem_prints_path_expected_found() -> None:
    assert str(Problem("/subjects", "a group of subjects", "nothing")) == \
        "/subjects: expected a group of subjects, found nothing"


# -- unreadable files ------------------------------------------------------------------------


def test_missing_file_and_directory(tmp_path: Path) -> None:
    missing = tmp_path / "nope.h5"
    assert validate_file(missing) == [Problem("/", "a recording file", f"no such file ({missing})")]
    assert validate_file(tmp_path) == [Problem("/", "a recording file", f"a directory ({tmp_path})")]


def test_non_hdf5_file(tmp_path: Path) -> None:
    path = tmp_path / "trial.csv"
    path.write_text("time,fz\n0,1\n")
    assert validate_file(path) == [Problem("/", "an HDF5 file", "no HDF5 signature in 12 bytes")]


def test_truncated_file(template: Path, tmp_path: Path) -> None:
    path = tmp_path / "cut.h5"
    data = template.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    assert validate_file(path) == [
        Problem("/", "a readable HDF5 file", f"a truncated file ({len(data) // 2} of {len(data)} bytes)")
    ]


def test_corrupt_chunk_is_reported_and_the_rest_still_checked(template: Path, tmp_path: Path) -> None:
    path = broken(template, tmp_path, set_attr(S, "sex", "x"))
    with h5py.File(path, "r") as f:
        offset = f[f"{T}/pressure/left"].id.get_chunk_info(1).byte_offset
    with open(path, "r+b") as fh:
        fh.seek(offset)
        fh.write(b"\xff" * 64)
    problems = validate_file(path)
    assert [(p.path, p.expected) for p in problems] == [
        (S, "attribute sex = one of 'F', 'M', 'unknown'"), (f"{T}/pressure/left", "readable data")]
    assert problems[1].found.startswith("a read error")


# -- any grid, IMU subset, keypoint set ------------------------------------------------------


def make_trial(
    n: int = 150,
    *,
    grid: tuple[int, int] | None = (31, 11),
    imu_channels: tuple[str, ...] = IMU_CHANNELS_48,
    keypoint_names: tuple[str, ...] = (),
    clean: bool = False,
    seed: int = 0,
) -> TrialData:
    rng = np.random.default_rng(seed)
    units = tuple(IMU_UNITS["acc" if "_acc_" in c else "gyr"] for c in imu_channels)
    pressure = {f: rng.gamma(2.0, 1.0, (n, *grid)).astype(np.float32) for f in ("left", "right")} if grid else {}
    grf = {f: rng.normal(size=(n, 3)).astype(np.float32) for f in ("left", "right")}
    keypoints = rng.normal(size=(n, len(keypoint_names), 3)).astype(np.float32) if keypoint_names else None
    targets = {"grf": grf, "pressure": pressure, "keypoints": keypoints}
    return TrialData(
        "T01", sample_rate_hz=100.0, activity="walk",
        imu=Signals(rng.normal(size=(n, len(imu_channels))), imu_channels, units) if imu_channels else None,
        grf=grf, pressure=pressure, pressure_cell_size_m=(0.008, 0.01) if grid else None,
        keypoints=keypoints, keypoint_names=keypoint_names,
        events={"left": {"heel_strike": np.array([5, 105]), "toe_off": np.array([70])}},
        clean={k: {f: v + 1 for f, v in d.items()} if isinstance(d, dict) else d for k, d in targets.items()}
        if clean else {},
    )


def round_trip(tmp_path: Path, trial: TrialData) -> Recording:
    subject = SubjectInfo("S01", body_mass_kg=70.0, height_m=1.75)
    path = write_recording(tmp_path / "rt.h5", [(subject, [trial])], dataset_name="round-trip", synthetic=True)
    assert validate_file(path) == []
    return Recording(path)


def assert_same_trial(read: TrialData, written: TrialData) -> None:
    for name in ("imu", "joint_angles"):
        a, b = getattr(read, name), getattr(written, name)
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_array_equal(a.data, b.data)
            assert (a.channels, a.units) == (b.channels, b.units)
    for name in ("grf", "pressure"):
        assert getattr(read, name).keys() == getattr(written, name).keys()
        for foot, arr in getattr(written, name).items():
            np.testing.assert_array_equal(getattr(read, name)[foot], arr)
    if written.keypoints is None:
        assert read.keypoints is None
    else:
        np.testing.assert_array_equal(read.keypoints, written.keypoints)
    assert read.keypoint_names == written.keypoint_names
    for foot, events in written.events.items():
        for kind, idx in events.items():
            np.testing.assert_array_equal(read.events[foot][kind], idx)


@pytest.mark.parametrize("grid", [(20, 10), (64, 64), (1, 1)])
def test_any_pressure_grid_round_trips(tmp_path: Path, grid: tuple[int, int]) -> None:
    trial = make_trial(grid=grid)
    with round_trip(tmp_path, trial) as rec:
        assert rec.trial_info("S01", "T01").pressure_shape == grid
        assert rec.trial_info("S01", "T01").pressure_cell_size_m == (0.008, 0.01)
        assert_same_trial(rec.read_trial("S01", "T01"), trial)


def test_two_imu_subset_round_trips(tmp_path: Path) -> None:
    feet_only = tuple(c for c in IMU_CHANNELS_48 if "_FOOT_" in c)
    assert len(feet_only) == 12
    trial = make_trial(imu_channels=feet_only)
    with round_trip(tmp_path, trial) as rec:
        assert rec.trial_info("S01", "T01").imu_channels == feet_only
        assert_same_trial(rec.read_trial("S01", "T01"), trial)


def test_seven_keypoint_set_round_trips(tmp_path: Path) -> None:
    names = ("pelvis", "left_knee", "right_knee", "left_ankle", "right_ankle", "left_toe", "right_toe")
    trial = make_trial(keypoint_names=names)
    with round_trip(tmp_path, trial) as rec:
        assert rec.dataset("S01", "T01", "keypoints").shape == (150, 7, 3)
        assert_same_trial(rec.read_trial("S01", "T01"), trial)


def test_pressure_only_file_round_trips(tmp_path: Path) -> None:
    trial = make_trial(imu_channels=())
    trial.grf = {}
    with round_trip(tmp_path, trial) as rec:
        info = rec.trial_info("S01", "T01")
        assert (info.imu_channels, info.grf_feet, info.pressure_feet) == ((), (), ("left", "right"))
        assert_same_trial(rec.read_trial("S01", "T01"), trial)


def test_clean_group_round_trips(tmp_path: Path) -> None:
    trial = make_trial(keypoint_names=KEYPOINTS_19, clean=True)
    with round_trip(tmp_path, trial) as rec:
        read = rec.read_trial("S01", "T01")
        for foot in ("left", "right"):
            np.testing.assert_array_equal(read.clean["pressure"][foot], trial.pressure[foot] + 1)
            np.testing.assert_array_equal(read.clean["grf"][foot], trial.grf[foot] + 1)
        np.testing.assert_array_equal(read.clean["keypoints"], trial.keypoints)


def test_window_is_read_by_slicing_a_chunked_dataset(tmp_path: Path) -> None:
    trial = make_trial(n=1000, grid=(31, 11), clean=True)
    with round_trip(tmp_path, trial) as rec:
        ds = rec.dataset("S01", "T01", "pressure/right")
        assert isinstance(ds, h5py.Dataset)
        assert (ds.chunks, ds.compression) == ((32, 31, 11), "gzip")
        np.testing.assert_array_equal(ds[480:544], trial.pressure["right"][480:544])
        clean = rec.dataset("S01", "T01", "pressure/right", clean=True)
        np.testing.assert_array_equal(clean[990:], trial.pressure["right"][990:] + 1)


def test_validation_memory_is_bounded_by_the_scan_block(tmp_path: Path) -> None:
    frames, grid = 4096, (64, 64)  # 64 MiB per foot, 8x the scan block
    path = tmp_path / "big.h5"
    with RecordingWriter(path, dataset_name="big", synthetic=True) as writer:
        writer.add_subject(SubjectInfo("S01", body_mass_kg=70.0, height_m=1.75))
        writer.add_trial("S01", TrialData("T01", 100.0, pressure={"right": np.ones((frames, *grid), np.float32)},
                                          pressure_cell_size_m=(0.005, 0.005)))
    data_bytes = frames * grid[0] * grid[1] * 4
    tracemalloc.start()
    problems = validate_file(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert problems == []
    assert peak < 2 * SCAN_BLOCK_BYTES < data_bytes / 2


# -- real recording --------------------------------------------------------------------------


def gaitmap_trial(data_dir: Path, gyro_unit: str) -> TrialData:
    """The gaitmap example (two foot IMUs, 204.8 Hz) in our channel names and units."""
    folder = data_dir / "gaitmap_example"
    with open(folder / "imu_sample.csv") as fh:
        sensors, axes = (next(fh).strip().split(",")[1:] for _ in range(2))
    raw = np.loadtxt(folder / "imu_sample.csv", delimiter=",", skiprows=2)[:, 1:]
    channels = tuple(f"{s[0].upper()}_FOOT_{a}" for s, a in zip(sensors, axes))
    gyro = np.array(["_gyr_" in c for c in channels])
    if gyro_unit == "rad/s":
        raw[:, gyro] = np.deg2rad(raw[:, gyro])
    units = tuple(gyro_unit if g else "m/s^2" for g in gyro)
    strides = np.genfromtxt(folder / "stride_events_sample.csv", delimiter=",", names=True, dtype=None,
                            encoding="utf-8")
    events = {
        foot: {kind: np.unique(strides[col][strides["foot"] == foot].astype(np.int64))
               for kind, col in (("heel_strike", "ic"), ("toe_off", "tc"))}
        for foot in ("left", "right")
    }
    return TrialData("T01", sample_rate_hz=204.8, activity="walk",
                     imu=Signals(raw, channels, units), events=events)


def test_real_two_foot_imu_recording_round_trips(tmp_path: Path, shared_data: Path) -> None:
    trial = gaitmap_trial(shared_data, "rad/s")
    assert trial.imu.data.shape == (7928, 12)
    assert [len(trial.events[f]["heel_strike"]) for f in ("left", "right")] == [28, 29]
    with round_trip(tmp_path, trial) as rec:
        assert_same_trial(rec.read_trial("S01", "T01"), trial)
        assert rec.trial_info("S01", "T01").sample_rate_hz == 204.8


def test_real_recording_with_gyro_in_deg_per_s_is_rejected(tmp_path: Path, shared_data: Path) -> None:
    subject = SubjectInfo("S01", body_mass_kg=70.0, height_m=1.75)
    path = write_recording(tmp_path / "deg.h5", [(subject, [gaitmap_trial(shared_data, "deg/s")])],
                           dataset_name="gaitmap", synthetic=False)
    assert [str(p) for p in validate_file(path)] == [
        f"{T}/imu: expected units 'rad/s', found 'deg/s' for L_FOOT_gyr_x, R_FOOT_gyr_x, L_FOOT_gyr_y and 3 more"
    ]


# -- schema page -----------------------------------------------------------------------------

SCHEMA_PAGE = Path(__file__).resolve().parents[1] / "docs" / "recording_format.md"


def test_schema_page_examples_write_valid_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The h5py example (no zoo code) and the Python API example both produce files that validate."""
    blocks = re.findall(r"```python\n(.*?)```", SCHEMA_PAGE.read_text(), flags=re.S)
    assert len(blocks) == 2
    monkeypatch.chdir(tmp_path)
    for block in blocks:
        exec(compile(block, str(SCHEMA_PAGE), "exec"), {})
    assert validate_file("my_lab.h5") == [] and validate_file("lab.h5") == []
    with Recording("my_lab.h5") as rec:
        info = rec.trial_info("S01", "T01")
    assert (info.pressure_shape, info.imu_channels) == ((20, 10), ("R_FOOT_gyr_y", "L_FOOT_gyr_y"))


# -- command line ----------------------------------------------------------------------------


def run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="zoo data")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_reports_a_valid_file(template: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["validate", str(template)]) == 0
    assert capsys.readouterr().out == (
        f"{template}: OK (1 subject, 1 trial, modalities imu (48 ch), joint_angles (18 ch), grf (left, right), "
        "pressure (12x6), keypoints (19), events, clean)\n"
    )


def test_cli_lists_problems_and_fails(template: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = broken(template, tmp_path, set_attr(S, "height_m", 0.1), set_attr(f"{T}/grf/left", "units", "kN"),
                  set_attr(f"{T}/grf/right", "units", "kN"))
    missing = tmp_path / "missing.h5"
    assert run_cli(["validate", str(template), str(path), str(missing), "--max-problems", "2"]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"{template}: OK (1 subject, 1 trial, modalities imu (48 ch), joint_angles (18 ch), grf (left, right), "
        "pressure (12x6), keypoints (19), events, clean)",
        f"{path}:{S}: expected attribute height_m = a number in [0.5, 2.5] m, found 0.1",
        f"{path}:{T}/grf/left: expected units 'N', found 'kN'",
        f"{path}: 3 problems (first 2 shown)",
        f"{missing}:/: expected a recording file, found no such file ({missing})",
        f"{missing}: 1 problem",
    ]


def test_cli_rejects_a_non_positive_problem_limit(template: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        run_cli(["validate", str(template), "--max-problems", "0"])
    assert exc.value.code == 2


def test_zoo_data_validate_is_registered(template: Path, tmp_path: Path) -> None:
    from datamodules.cli import main

    assert main(["validate", str(template)]) == 0
    assert main(["validate", str(broken(template, tmp_path, delete(S)))]) == 1


def test_zoo_data_fails_loudly_when_a_subcommand_module_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    """A missing subcommand module is an import error, not a subcommand silently absent from `zoo data`."""
    import importlib
    import sys

    import datamodules
    from datamodules import cli

    with monkeypatch.context() as m:
        m.setitem(sys.modules, "datamodules.events", None)  # as if datamodules/events.py were not there
        m.delattr(datamodules, "events")
        with pytest.raises(ImportError, match="datamodules.events"):
            importlib.reload(cli)
            cli.build_parser()
    importlib.reload(cli)
    commands = cli.build_parser()._subparsers._group_actions[0].choices
    assert sorted(commands) == ["events", "generate", "import", "strip", "validate"]
