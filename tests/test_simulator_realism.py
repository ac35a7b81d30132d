"""The simulator's walking GRF against a real force-plate recording (../shared/data/opensim_grf).

Both sides are treated alike: complete stances, time-normalised to 101 points, divided by the stance
mean (vertical) or by the stance-mean vertical force (anterior-posterior), then averaged.
"""

from __future__ import annotations

import numpy as np
import pytest

from datamodules.simulator import calibration as cal

pytestmark = pytest.mark.realdata
CONTACT_N = 20.0  # force-plate contact threshold
SPEEDS = (1.2, 1.3, 1.4)  # the recording's 0.78 s stances: a walk a little slower than 1.43 m/s


@pytest.fixture(scope="module")
def real(shared_data):
    path = shared_data / "opensim_grf" / "subject01_walk1_grf.mot"
    if not path.exists():
        pytest.skip(f"force-plate recording not found at {path}")
    mot = cal.read_mot(path)
    vertical, ap = [], []
    for plate in ("", "1_"):  # plate 1 and plate 2; vertical is `vy`, anterior-posterior `vx`
        v, x = mot[f"{plate}ground_force_vy"], mot[f"{plate}ground_force_vx"]
        segments = cal.contact_segments(v, CONTACT_N)
        rate = 1.0 / np.median(np.diff(mot["time"]))
        assert all(0.55 <= (b - a) / rate <= 0.85 for a, b in segments)
        cv, cx = cal.stance_curves(v, x, segments)
        vertical += list(cv)
        ap += list(cx)
    assert len(vertical) >= 2
    return np.mean(vertical, axis=0), np.mean(ap, axis=0)


@pytest.fixture(scope="module")
def simulated():
    vertical, ap = [], []
    for speed in SPEEDS:
        for _, _, trial in cal.simulated_trials("walk", speed, n_subjects=3, seconds=8.0):
            grf = trial.clean["grf"]["right"]
            cv, cx = cal.stance_curves(grf[:, 2], grf[:, 1], cal.stances(trial))
            vertical += list(cv)
            ap += list(cx)
    return np.mean(vertical, axis=0), np.mean(ap, axis=0)


def test_vertical_grf_shape_correlates_with_the_force_plate(real, simulated):
    r = cal.pearson(simulated[0], real[0])
    print(f"vertical GRF: Pearson r = {r:.3f} (simulated vs OpenSim force plates)")
    assert r >= 0.95
    sim, meas = cal.double_hump(simulated[0]), cal.double_hump(real[0])
    assert abs(sim.first_at - meas.first_at) <= 5 and abs(sim.second_at - meas.second_at) <= 5
    assert abs(sim.first - meas.first) < 0.1 and abs(sim.second - meas.second) < 0.1


def test_braking_then_propulsion_correlates_with_the_force_plate(real, simulated):
    r = cal.pearson(simulated[1], real[1])
    print(f"anterior-posterior GRF: Pearson r = {r:.3f} (simulated vs OpenSim force plates)")
    assert r >= 0.9
    sim, meas = cal.braking_propulsion(simulated[1]), cal.braking_propulsion(real[1])
    assert sim[0] < 0 < sim[2] and meas[0] < 0 < meas[2]
    assert abs(sim[4] - meas[4]) <= 6  # zero crossing, % of stance
