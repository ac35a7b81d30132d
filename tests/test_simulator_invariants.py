"""Physical invariants and SPEC 3.3 ranges of the synthetic gait simulator.

Physics checks run on in-memory float64 trials (the recording stores float32); format, determinism
and option handling run on small generated files.
"""

from __future__ import annotations

import dataclasses
import json

import h5py
import numpy as np
import pytest

from datamodules.errors import DataError
from datamodules.naming import ACTIVITIES, FEET, GRAVITY, IMU_SEGMENTS
from datamodules.simulator import PRESETS, SimulatorConfig, generate_dataset
from datamodules.simulator import calibration as cal
from datamodules.simulator import generate as generate_module
from datamodules.simulator import noise as noise_lib
from datamodules.simulator.activities import simulate_activity
from datamodules.simulator.generate import MOTION, resolve_config, simulate_trial, subject_model
from datamodules.simulator.grf import S_GRID, verlet, walking_ap, walking_vertical
from datamodules.simulator.imu import MOUNT_LIMIT_DEG, imu_signals, random_mounting, synthesize_imu
from datamodules.simulator.kinematics import build_pose
from datamodules.simulator.population import sample_body
from datamodules.simulator.pressure import analytic_cop, pressure_centroid, pressure_maps
from datamodules.simulator.rotations import to_euler_yxz
from datamodules.sources import sim_cache_path
from datamodules.validate import validate_file

SEED = 0
CLEAN = resolve_config("tiny", noise=0.0, duration_s=8.0)
NOISY = resolve_config("tiny", noise=1.0, duration_s=8.0)
DEFAULT_SPEED = {"walk": 1.4, "run": 3.0, "backward_walk": 0.8, "side_walk": 0.5}


@pytest.fixture(scope="module")
def subjects():
    return [subject_model(SEED, i, CLEAN) for i in range(2)]


@pytest.fixture(scope="module")
def every_activity(subjects):
    """One clean trial of every activity for subject 0."""
    body, footprint = subjects[0]
    return {a: simulate_trial(SEED, body, footprint, a, 0, CLEAN, speed=DEFAULT_SPEED.get(a, 0.0)) for a in ACTIVITIES}


@pytest.fixture(scope="module")
def walks(subjects):
    """Clean walking of two subjects at slow to fast speeds: {(subject, speed): (body, footprint, trial)}."""
    return {(i, v): (body, fp, simulate_trial(SEED, body, fp, "walk", 0, CLEAN, speed=v))
            for i, (body, fp) in enumerate(subjects) for v in (0.96, 1.11, 1.43, 1.7, 1.95, 2.05)}


def stance_mask(trial, foot: str) -> np.ndarray:
    """True from each heel strike up to (not including) the next toe-off; a trial may start in stance."""
    n = trial.n_samples
    hs, to = trial.events[foot]["heel_strike"], trial.events[foot]["toe_off"]
    mask = np.zeros(n, bool)
    starts = np.concatenate([[0], hs]) if to.size and (not hs.size or to[0] < hs[0]) else hs
    for start in starts:
        later = to[to > start]
        mask[start:later[0] if later.size else n] = True
    return mask


# -- determinism, options, format -------------------------------------------------------------------


def _arrays(path) -> dict[str, np.ndarray]:
    out = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: out.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
    return out


def test_same_seed_gives_identical_arrays_and_another_seed_differs(tmp_path):
    options = dict(preset="tiny", n_subjects=1, activities=("walk", "squat"), duration_s=3.0)
    first = _arrays(generate_dataset(tmp_path / "a.h5", seed=7, **options))
    again = _arrays(generate_dataset(tmp_path / "b.h5", seed=7, **options))
    other = _arrays(generate_dataset(tmp_path / "c.h5", seed=8, **options))
    assert first.keys() == again.keys() == other.keys()
    assert all(np.array_equal(first[k], again[k]) for k in first)
    assert not np.array_equal(first["subjects/S001/trials/walk_01/imu"], other["subjects/S001/trials/walk_01/imu"])


def test_subset_options_do_not_shift_other_data(tmp_path):
    big = _arrays(generate_dataset(tmp_path / "big.h5", "tiny", seed=3, n_subjects=2, activities=("walk", "stand"),
                                   duration_s=3.0))
    small = _arrays(generate_dataset(tmp_path / "small.h5", "tiny", seed=3, n_subjects=1, activities=("stand",),
                                     duration_s=3.0))
    shared = [k for k in small if k.startswith("subjects/S001")]
    assert shared and all(np.array_equal(small[k], big[k]) for k in shared)


def test_written_file_passes_the_recording_validator(tmp_path):
    path = generate_dataset(tmp_path / "tiny.h5", "tiny", seed=SEED, n_subjects=1)
    assert [str(p) for p in validate_file(path)] == []
    with h5py.File(path, "r") as f:
        assert f.attrs["synthetic"] and len(f["subjects/S001/trials"]) == len(ACTIVITIES)
        trial = f["subjects/S001/trials/walk_01"]
        assert trial["pressure/right"].shape[1:] == (32, 16) and "clean/pressure/right" in trial


def test_presets_cover_the_sizes_the_zoo_needs():
    assert {"tiny", "quick", "standard", "large"} <= set(PRESETS)
    assert all(isinstance(c, SimulatorConfig) for c in PRESETS.values())
    assert PRESETS["tiny"].n_subjects == 4 and PRESETS["quick"].n_subjects >= 3 * 6  # 3 folds with 6+ test subjects each
    assert PRESETS["standard"].n_subjects == 25 and PRESETS["large"].n_subjects >= 100
    assert set(PRESETS["quick"].activities) == set(ACTIVITIES)
    assert PRESETS["pretrain"].imu_only and PRESETS["pretrain"].n_subjects > PRESETS["quick"].n_subjects


@pytest.mark.parametrize("options, named", [
    (dict(grid=(4, 16)), "grid"), (dict(activities=("walk", "fly")), "activities"), (dict(noise=-1.0), "noise"),
    (dict(n_subjects=0), "n_subjects"), (dict(trials_per_activity=1.5), "trials"), (dict(seed=-2), "seed"),
    (dict(preset="huge"), "preset"), (dict(duration_s=1.0), "duration"),
])
def test_bad_options_raise_a_data_error_naming_the_option(tmp_path, options, named):
    with pytest.raises(DataError, match=named):
        generate_dataset(tmp_path / "x.h5", **{"preset": "tiny", **options})
    assert not (tmp_path / "x.h5").exists()


def test_generate_dataset_keeps_the_preset_values_unless_an_option_overrides_them(tmp_path, monkeypatch):
    odd = dataclasses.replace(PRESETS["tiny"], noise=0.0, grid=(16, 8), sample_rate_hz=50.0)
    monkeypatch.setattr(generate_module, "PRESETS", {**PRESETS, "odd": odd})
    options = dict(n_subjects=1, activities=("stand",), duration_s=3.0)
    with h5py.File(generate_dataset(tmp_path / "preset.h5", "odd", **options), "r") as f:
        trial = f["subjects/S001/trials/stand_01"]
        assert trial.attrs["sample_rate_hz"] == 50.0 and trial.attrs["noise"] == 0.0
        assert trial["pressure/left"].shape == (150, 16, 8)  # 3 s at 50 Hz on the preset's grid
        np.testing.assert_array_equal(trial["pressure/left"][()], trial["clean/pressure/left"][()])
        assert json.loads(f.attrs["simulator_config"])["grid"] == [16, 8]
    path = generate_dataset(tmp_path / "override.h5", "odd", noise=1.0, grid=(12, 8), sample_rate_hz=100.0, **options)
    with h5py.File(path, "r") as f:
        trial = f["subjects/S001/trials/stand_01"]
        assert trial.attrs["sample_rate_hz"] == 100.0 and trial.attrs["noise"] == 1.0
        assert trial["pressure/left"].shape == (300, 12, 8)


def test_sim_cache_name_hashes_exactly_the_config_that_is_generated(monkeypatch):
    """`sim:PRESET` files are named by a hash of the simulator version and the preset, and `resolve_source`
    generates them with `generate_dataset(path, preset)`: with every option left at None that is exactly the
    preset, so the name always describes the arrays in the file."""
    assert all(resolve_config(name) == config for name, config in PRESETS.items())
    name = sim_cache_path("quick", 0).name
    assert name.startswith("quick-seed0-") and sim_cache_path("quick", 0) == sim_cache_path("quick", 0)
    monkeypatch.setattr(generate_module, "SIMULATOR_VERSION", "other")
    assert sim_cache_path("quick", 0).name != name


def test_cli_generate_writes_and_reports(tmp_path, capsys):
    from datamodules.cli import main

    out = tmp_path / "cli.h5"
    assert main(["generate", "--out", str(out), "--preset", "tiny", "--subjects", "1", "--activities", "stand",
                 "--duration", "3", "--grid", "16x8", "--noise", "0"]) == 0
    report = capsys.readouterr().out
    assert "1 subjects, 1 trials" in report and "MB" in report
    with h5py.File(out, "r") as f:
        assert f["subjects/S001/trials/stand_01/pressure/left"].shape == (300, 16, 8)
    with pytest.raises(DataError, match="--grid"):
        main(["generate", "--out", str(out), "--grid", "32by16"])


# -- noise ------------------------------------------------------------------------------------------


def test_noise_zero_equals_clean_and_noise_one_has_the_stated_size(subjects):
    body, fp = subjects[0]
    clean = simulate_trial(SEED, body, fp, "walk", 0, CLEAN, speed=1.3)
    noisy = simulate_trial(SEED, body, fp, "walk", 0, NOISY, speed=1.3)
    for foot in FEET:
        assert np.array_equal(clean.grf[foot], clean.clean["grf"][foot])
        assert np.array_equal(clean.pressure[foot], clean.clean["pressure"][foot])
        assert np.array_equal(noisy.clean["grf"][foot], clean.clean["grf"][foot])  # noise never moves targets
    assert np.array_equal(clean.keypoints, clean.clean["keypoints"])
    swing = ~stance_mask(noisy, "right")
    grf_error = (noisy.grf["right"] - noisy.clean["grf"]["right"])[swing] / body.weight_n
    assert 0.007 < grf_error.std(axis=0).mean() < 0.013  # ~1 % BW white (plus a constant offset)
    assert 0.007 < (noisy.keypoints - noisy.clean["keypoints"]).std() < 0.013  # ~1 cm
    assert np.all(noisy.pressure["right"][swing] == 0) and np.all(noisy.pressure["right"] >= 0)
    loaded = noisy.clean["pressure"]["right"] > 5.0
    ratio = noisy.pressure["right"][loaded] / noisy.clean["pressure"]["right"][loaded]
    assert 0.04 < ratio.std() < 0.06  # 5 % per-cell multiplicative


# -- forces, COM and pressure -----------------------------------------------------------------------


def test_verlet_central_second_difference_equals_the_acceleration():
    acc = np.random.default_rng(0).standard_normal((200, 3))
    x = verlet(acc, 0.01, np.array([0.02, 0.0, -0.01]))
    assert np.allclose(x[1] - x[0], [0.02, 0.0, -0.01])
    assert np.abs((x[2:] - 2 * x[1:-1] + x[:-2]) / 1e-4 - acc[1:-1]).max() < 1e-9


@pytest.mark.parametrize("activity", ACTIVITIES)
def test_newton_summed_grf_equals_mass_times_com_acceleration_minus_gravity(every_activity, subjects, activity):
    body, _ = subjects[0]
    trial = every_activity[activity]
    dt = 1.0 / trial.sample_rate_hz
    acc = (trial.com[2:] - 2 * trial.com[1:-1] + trial.com[:-2]) / dt**2
    required = body.mass_kg * (acc - [0.0, 0.0, -GRAVITY])  # m (a - g), g = (0, 0, -9.81)
    ml_ap_v = sum(trial.clean["grf"][f] for f in FEET)[1:-1]
    world = ml_ap_v[:, [1, 0, 2]]  # (ml, ap, vertical) = world (y, x, z)
    assert np.abs(required - world).max() / body.weight_n < 1e-6  # float64 in memory; 1e-3 BW after float32


@pytest.mark.parametrize("activity", ACTIVITIES)
def test_pressure_integrates_to_the_vertical_grf_of_each_foot(every_activity, subjects, activity):
    body, fp = subjects[0]
    trial = every_activity[activity]
    for foot in FEET:
        vertical = trial.clean["grf"][foot][:, 2]
        force = trial.clean["pressure"][foot].sum(axis=(1, 2)) * fp.cell_area_m2 * 1e4  # N/cm^2 x cm^2
        loaded = vertical > 0.01 * body.weight_n
        assert loaded.any()
        assert np.abs(force[loaded] / vertical[loaded] - 1).max() < 0.01


@pytest.mark.parametrize("activity", ["walk", "run", "walk_in_place", "backward_walk", "side_walk", "lunge"])
def test_cop_is_the_pressure_centroid(subjects, activity):
    body, fp = subjects[1]
    motion = simulate_activity(activity, body, fp, DEFAULT_SPEED.get(activity, 0.0), 6.0, 100.0,
                               np.random.default_rng(1))
    for foot in FEET:
        loaded = motion.grf[foot][:, 2] > 0.02 * body.weight_n  # the stance threshold of the imu2grf task
        maps = pressure_maps(motion.grf[foot][loaded, 2], motion.loads[foot][loaded], fp)
        error = pressure_centroid(maps, fp.cell_size_m) - analytic_cop(motion.loads[foot][loaded], fp)
        assert np.abs(error).max() < 1e-4  # 0.1 mm (stored resolution 0.001 N/cm^2), a 9 x 8 mm cell


def test_cop_travels_heel_to_toe_over_most_of_the_footprint(walks):
    for _, fp, trial in walks.values():
        for a, b in cal.stances(trial):
            cop = cal.cop_fraction(trial.clean["pressure"]["right"][a:b], fp)
            assert cop[0] < 0.12 and cop[-1] > 0.85
            assert 0.80 <= cop.max() - cop.min() <= 0.95


@pytest.mark.parametrize("activity", ["walk", "run", "walk_in_place", "backward_walk", "side_walk"])
def test_swing_grf_and_pressure_are_exactly_zero(every_activity, activity):
    trial = every_activity[activity]
    for foot in FEET:
        stance = stance_mask(trial, foot)
        assert (~stance).sum() > 0.2 * trial.n_samples
        assert np.all(trial.clean["grf"][foot][~stance] == 0.0)
        assert np.all(trial.clean["pressure"][foot][~stance] == 0.0)
        assert np.all(trial.clean["grf"][foot][stance, 2] > 0.0)


@pytest.mark.parametrize("activity", ["walk", "run", "walk_in_place", "backward_walk", "side_walk"])
def test_events_are_where_the_vertical_force_starts_and_ends(every_activity, activity):
    trial = every_activity[activity]
    for foot in FEET:
        on = trial.clean["grf"][foot][:, 2] > 0
        rises = np.flatnonzero(~on[:-1] & on[1:]) + 1
        falls = np.flatnonzero(on[:-1] & ~on[1:]) + 1
        ev = trial.events[foot]
        assert len(rises) == len(ev["heel_strike"]) and len(falls) == len(ev["toe_off"])
        assert np.abs(rises - ev["heel_strike"]).max() <= 1 and np.abs(falls - ev["toe_off"]).max() <= 1


def test_ap_impulse_cancels_per_stance_and_com_keeps_the_activity_velocity(every_activity, walks):
    _, _, trial = walks[(0, 1.43)]
    for a, b in cal.stances(trial):
        ap = trial.clean["grf"]["right"][a:b, 1]
        assert abs(ap.sum()) < 1e-9 * np.abs(ap).sum()
    expected = {"walk": (1.4, 0.0), "run": (3.0, 0.0), "backward_walk": (-0.8, 0.0), "walk_in_place": (0.0, 0.0),
                "squat": (0.0, 0.0), "stand": (0.0, 0.0)}
    for activity, (vx, vy) in expected.items():
        t = every_activity[activity]
        velocity = (t.com[-1, :2] - t.com[0, :2]) * t.sample_rate_hz / (t.n_samples - 1)
        assert np.allclose(velocity, [vx, vy], atol=0.01), activity
    side = every_activity["side_walk"]
    assert abs(abs(side.com[-1, 1] - side.com[0, 1]) * 100 / (side.n_samples - 1) - 0.5) < 0.01


# -- inertial sensors -------------------------------------------------------------------------------


def test_resting_accelerometer_reads_gravity_and_gyroscope_zero(every_activity):
    stand = every_activity["stand"]
    for segment in IMU_SEGMENTS:
        acc = stand.imu.select([f"{segment}_acc_{a}" for a in "xyz"])
        gyr = stand.imu.select([f"{segment}_gyr_{a}" for a in "xyz"])
        assert np.abs(np.linalg.norm(acc, axis=1) - GRAVITY).max() < 0.01, segment
        assert np.abs(gyr).max() < 0.03, segment  # postural sway: under 2 deg/s


def _noise_free_imu(body, fp, activity, repetition, speed, mounting_deg):
    """The trial's IMU readings recomputed from its own motion stream with the given mounting, noise-free."""
    key = [SEED, body.index, ACTIVITIES.index(activity), repetition, MOTION]
    motion = simulate_activity(activity, body, fp, speed, CLEAN.duration_s[activity], CLEAN.sample_rate_hz,
                               np.random.default_rng(key))
    return imu_signals(*synthesize_imu(body, build_pose(body, motion), motion.dt, mounting_deg))


def _fitted_rotation(unmounted: np.ndarray, mounted: np.ndarray) -> np.ndarray:
    """The rotation R with mounted = unmounted @ R (rows are readings), by least squares (Kabsch)."""
    u, _, vt = np.linalg.svd(unmounted.T @ mounted)
    return u @ np.diag([1.0, 1.0, np.linalg.det(u @ vt)]) @ vt


def test_imu_mounting_rotation_is_per_session_nontrivial_and_within_ten_degrees(subjects):
    """SPEC 3.3: every session (trial) mounts each sensor with its own random rotation of up to 10 degrees
    per axis; the stored angles are the rotation the readings really carry."""
    body, fp = subjects[0]
    sessions = [("walk", r, 1.3) for r in range(3)] + [("run", 0, 3.0)]  # moving: every axis observable
    mountings = []
    for activity, repetition, speed in sessions:
        trial = simulate_trial(SEED, body, fp, activity, repetition, CLEAN, speed=speed)
        assert trial.attrs["imu_mounting_segments"] == ",".join(IMU_SEGMENTS)
        assert trial.attrs["imu_mounting_axes"] == "yxz"
        stored = trial.attrs["imu_mounting_deg"]
        assert stored.shape == (len(IMU_SEGMENTS), 3) and np.abs(stored).max() <= 10.0
        mountings.append(stored)
        # noise=0: the readings are exactly the noise-free kinematics seen through the stored mounting
        same = _noise_free_imu(body, fp, activity, repetition, speed, dict(zip(IMU_SEGMENTS, stored)))
        np.testing.assert_array_equal(trial.imu.data, same.data)
        # ... and against an ideally aligned sensor, the rotation recovered from the signals is the stored one
        aligned = _noise_free_imu(body, fp, activity, repetition, speed, {s: np.zeros(3) for s in IMU_SEGMENTS})
        for i, segment in enumerate(IMU_SEGMENTS):
            names = [f"{segment}_{sensor}_{a}" for sensor in ("acc", "gyr") for a in "xyz"]
            ideal, real = aligned.select(names), trial.imu.select(names)
            rows = np.concatenate([ideal[:, :3], ideal[:, 3:]]), np.concatenate([real[:, :3], real[:, 3:]])
            rotation = _fitted_rotation(*(r.astype(np.float64) for r in rows))
            recovered = np.degrees(to_euler_yxz(rotation[None])[0])
            assert np.abs(recovered - stored[i]).max() < 1e-3, (activity, segment)
            angle = np.degrees(np.arccos(np.clip((np.trace(rotation) - 1) / 2, -1, 1)))
            assert angle > 1.0, segment  # a real misalignment, not the identity
    mountings = np.stack(mountings)
    assert all(not np.allclose(mountings[0], m) for m in mountings[1:])  # a new mounting every session
    draws = np.stack([random_mounting(np.random.default_rng(k))[s] for k in range(200) for s in IMU_SEGMENTS])
    assert np.abs(draws).max() <= MOUNT_LIMIT_DEG == 10.0 and np.abs(draws).max() > 9.9  # the whole +-10 deg range
    assert abs(draws.mean()) < 0.5 and 5.0 < draws.std() < 6.5  # uniform on +-10: sd 10 / sqrt(3) = 5.77


@pytest.mark.parametrize("level", [1.0, 2.0])
def test_imu_white_noise_and_bias_have_the_configured_size(subjects, level):
    body, fp = subjects[0]
    clean = simulate_trial(SEED, body, fp, "walk", 0, CLEAN, speed=1.3)
    noisy = simulate_trial(SEED, body, fp, "walk", 0, resolve_config("tiny", noise=level, duration_s=8.0), speed=1.3)
    for sensor, white, bias in (("acc", noise_lib.ACC_WHITE, noise_lib.ACC_BIAS),
                                ("gyr", noise_lib.GYR_WHITE, noise_lib.GYR_BIAS)):
        names = [f"{s}_{sensor}_{a}" for s in IMU_SEGMENTS for a in "xyz"]
        error = noisy.imu.select(names).astype(np.float64) - clean.imu.select(names)
        offsets = error.mean(axis=0)  # one constant bias per channel ...
        half = len(error) // 2
        drift = error[:half].mean(axis=0) - error[half:].mean(axis=0)
        assert np.abs(drift).max() < 5 * level * white * np.sqrt(2 / half)  # ... that stays put over the trial
        assert 0.6 < offsets.std() / (level * bias) < 1.4, sensor  # 24 draws of sd `bias`
        residual = error - offsets
        assert abs(residual.std() / (level * white) - 1) < 0.03, sensor  # white noise of sd `white`
        lag1 = np.mean([np.corrcoef(r[:-1], r[1:])[0, 1] for r in residual.T])
        assert abs(lag1) < 0.05, sensor  # white: uncorrelated from sample to sample
    # noise=0 adds nothing at all: the clean trial's readings equal the noise-free kinematics
    again = _noise_free_imu(body, fp, "walk", 0, 1.3, dict(zip(IMU_SEGMENTS, clean.attrs["imu_mounting_deg"])))
    np.testing.assert_array_equal(clean.imu.data, again.data)
    assert clean.attrs["noise"] == 0.0 and noisy.attrs["noise"] == level


def test_pelvis_accelerometer_carries_the_ground_reaction_force(every_activity, subjects):
    """|specific force| of the pelvis sensor = |summed GRF| / m, up to the pelvis's own rotation."""
    body, _ = subjects[0]
    trial = every_activity["walk"]
    acc = np.linalg.norm(trial.imu.select([f"PELVIS_acc_{a}" for a in "xyz"]), axis=1)
    grf = np.linalg.norm(sum(trial.clean["grf"][f] for f in FEET), axis=1) / body.mass_kg
    assert np.corrcoef(acc, grf)[0, 1] > 0.97
    assert np.abs(acc - grf).mean() < 0.3


def test_shank_gyroscope_peaks_in_mid_swing(walks):
    _, _, trial = walks[(0, 1.43)]
    gyr = trial.imu.select(["R_SHANK_gyr_y"])[:, 0]
    to, hs = trial.events["right"]["toe_off"], trial.events["right"]["heel_strike"]
    swings = [(o, hs[hs > o][0]) for o in to if (hs > o).any()]
    assert len(swings) >= 4
    stance_peak = np.abs(gyr[stance_mask(trial, "right")]).max()
    for o, h in swings:
        peak = o + int(np.argmax(np.abs(gyr[o:h])))
        assert 0.3 < (peak - o) / (h - o) < 0.8  # a mid-swing peak ...
        assert np.abs(gyr[peak]) > max(stance_peak, 4.0)  # ... the largest rate of the whole cycle


def test_stance_foot_stays_planted(walks):
    _, _, trial = walks[(1, 1.43)]
    heel = trial.clean["keypoints"][:, trial.keypoint_names.index("right_heel")]
    for a, b in cal.stances(trial):
        flat = slice(a + int(0.2 * (b - a)), a + int(0.5 * (b - a)))
        assert np.ptp(heel[flat], axis=0).max() < 1e-6


# -- SPEC 3.3 ranges --------------------------------------------------------------------------------


def _per_trial(trial, body):
    segments = cal.stances(trial)
    bw = np.mean([cal.time_normalise(trial.clean["grf"]["right"][a:b, 2]) for a, b in segments], axis=0)
    return np.mean([(b - a) / trial.sample_rate_hz for a, b in segments]), cal.double_hump(bw / body.weight_n)


def test_walking_stance_time_duty_and_vertical_grf_in_range(walks):
    for (_, speed), (body, _, trial) in walks.items():
        stance, peaks = _per_trial(trial, body)
        assert 0.5 <= stance <= 0.83, speed  # "about 0.5-0.8 s": the 0.75 s @ 1.11 m/s law gives 0.816 s @ 0.96
        assert 1.0 <= peaks.first <= 1.3 and 1.0 <= peaks.second <= 1.3, speed
        assert 0.6 <= peaks.valley <= 0.85, speed
    _, _, normal = walks[(0, 1.43)]
    hs, to = normal.events["right"]["heel_strike"], normal.events["right"]["toe_off"]
    duty = [(to[to > h][0] - h) / (hs[hs > h][0] - h) for h in hs[:-1] if (to > h).any()]
    assert abs(np.mean(duty) - 0.62) < 0.015


def test_running_has_a_single_peak_of_two_to_three_body_weights(subjects):
    for body, fp in subjects:
        for speed in (2.5, 4.0):
            trial = simulate_trial(SEED, body, fp, "run", 0, CLEAN, speed=speed)
            peaks = [trial.clean["grf"]["right"][a:b, 2].max() / body.weight_n for a, b in cal.stances(trial)]
            assert 2.0 <= np.mean(peaks) <= 3.0


def test_peaks_rise_with_walking_speed(walks):
    for subject in (0, 1):
        (body, _, slow), (_, _, fast) = walks[(subject, 0.96)], walks[(subject, 1.95)]
        slow_stance, slow_peaks = _per_trial(slow, body)
        fast_stance, fast_peaks = _per_trial(fast, body)
        assert fast_stance < slow_stance and fast_peaks.first > slow_peaks.first + 0.1

        def pressure_peak(trial):
            return np.mean([trial.clean["pressure"]["right"][a:b].max() for a, b in cal.stances(trial)])

        assert pressure_peak(fast) > 1.1 * pressure_peak(slow)


def test_walking_peak_pressure_in_range_and_heel_and_forefoot_above_midfoot(walks):
    for (_, speed), (_, fp, trial) in walks.items():
        if speed > 1.95:  # the pressure-plate study's fastest speed
            continue
        peaks = np.mean([list(cal.regional_peaks(trial.clean["pressure"]["right"][a:b], fp).values())
                         for a, b in cal.stances(trial)], axis=0)
        heel, midfoot, forefoot = peaks
        assert 20 <= heel <= 60 and 20 <= forefoot <= 60, speed
        assert midfoot < 0.5 * min(heel, forefoot), speed


def test_heel_midfoot_forefoot_load_shares_follow_the_pressure_plate(walks):
    targets = {10: (0.98, 0.00, 0.02), 30: (0.70, 0.06, 0.24), 50: (0.23, 0.07, 0.70)}
    shares = []
    for subject in (0, 1):
        _, fp, trial = walks[(subject, 1.43)]
        shares += [cal.time_normalise(cal.load_shares(trial.clean["pressure"]["right"][a:b], fp))
                   for a, b in cal.stances(trial)]
    mean = np.mean(shares, axis=0)
    for phase, target in targets.items():
        assert np.abs(mean[phase] - target).max() < 0.05, phase
    assert mean[70, 2] > 0.93 and mean[90, 2] > 0.98


def test_walking_templates_match_the_force_plate_figures():
    normal = walking_vertical(1.43)
    assert abs(normal.mean() - 1.0) < 1e-9  # unit stance mean: amplitude comes from impulse balance
    peaks = cal.double_hump(np.interp(np.linspace(0, 1, 101), S_GRID, normal))
    assert abs(peaks.first - 1.40) < 0.02 and abs(peaks.first_at - 22) <= 1
    assert abs(peaks.valley - 0.97) < 0.02 and abs(peaks.valley_at - 48) <= 1
    assert abs(peaks.second - 1.43) < 0.02 and abs(peaks.second_at - 77) <= 1
    brake, brake_at, propel, propel_at, crossing = cal.braking_propulsion(walking_ap())
    assert brake == -1.0 and abs(brake_at - 17) <= 1 and abs(propel_at - 85) <= 1 and abs(crossing - 55) <= 1


# -- subjects ---------------------------------------------------------------------------------------


def test_population_matches_the_qian_participants():
    bodies = [sample_body(SEED, i) for i in range(300)]
    mass, height = np.array([b.mass_kg for b in bodies]), np.array([b.height_m for b in bodies])
    assert abs(mass.mean() - 73.3) < 2.0 and 8.5 < mass.std() < 12.5
    assert abs(height.mean() - 1.742) < 0.01 and 0.04 < height.std() < 0.07
    ratio = np.array([b.foot_length_m / b.height_m for b in bodies])
    assert abs(np.median(ratio) - 0.15) < 0.003 and ratio.std() < 0.008


def test_plantar_height_map_rises_under_the_medial_arch_by_arch_type():
    config = PRESETS["tiny"]
    arches = {"low": (3, 5), "normal": (8.5, 11.5), "high": (18, 22)}
    for i in range(40):
        body, fp = subject_model(SEED, i, config)
        geometry = fp.geometry_mm
        assert geometry.shape == config.grid and set(np.unique(geometry[geometry < 0])) == {-1.0}
        lo, hi = arches[body.arch_type]
        assert lo * 0.8 <= geometry.max() <= hi  # cell centres sample just below the arch apex
        assert geometry[:5][geometry[:5] >= 0].max() == 0.0  # heel flat on the ground
        rows = np.flatnonzero((geometry >= 0).any(axis=1))
        apex_row, apex_col = np.unravel_index(np.argmax(geometry), geometry.shape)
        assert 0.3 < (apex_row - rows[0]) / len(rows) < 0.6 and apex_col <= 3  # midfoot, medial edge
        assert np.all(fp.contact == ((geometry >= 0) & (geometry <= 2.5)))
