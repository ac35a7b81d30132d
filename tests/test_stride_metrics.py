"""Stride-level (clinical) metrics against numbers computed by hand, plus exact accumulation over uneven
batches and DDP, windowed stance detection, de-duplication by stance key and absent axes.

The hand stance (11 samples, dt = 0.05 s, so 0.5 s from the first to the last sample):

    i          0    1    2    3    4    5    6    7    8    9    10
    vertical   0    0.4  1.0  1.2  0.9  0.8  0.9  1.1  0.8  0.4  0      BW
    ap         0   -.05 -.20 -.15 -.10  0    .10  .20  .25  .10  0      BW

- halves of [0, 10]: 0..5 and 5..10; maxima 1.2 (i=3) and 1.1 (i=7), valley 0.8 < 1.1 - 0.05: two peaks.
- loading rate, peak 1.2: 0.8 x 1.2 = 0.96 is crossed between i=1 (0.4) and i=2 (1.0) at t80 = 1 + 0.56/0.6;
  0.24 between i=0 and i=1 at t20 = 0.24/0.4 = 0.6. Average = 0.72 / ((t80 - t20) 0.05) = 10.8 BW/s;
  instantaneous = max(0.4, 0.6) / 0.05 = 12 BW/s.
- vertical impulse (trapezoid, ends 0) = 0.05 x 7.5 = 0.375 BW s; braking 0.05 x -0.5 = -0.025,
  propulsion 0.05 x 0.65 = 0.0325 BW s; braking peak -0.2, propulsion peak 0.25 BW.
- stance time: 0.02 BW is crossed at 0 + 0.02/0.4 = 0.05 and 9 + 0.38/0.4 = 9.95: 9.9 x 50 ms = 495 ms.
"""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from zoo.errors import ZooError
from zoo.metrics.stride import (
    STRIDE_METRIC_INFO,
    StrideGRFMetrics,
    StridePressureMetrics,
    bland_altman,
    loading_rates,
    peak_windows,
    region_rows,
    stance_values,
    trapezoid,
    write_stride_table,
)

DT = 0.05
VERTICAL = [0.0, 0.4, 1.0, 1.2, 0.9, 0.8, 0.9, 1.1, 0.8, 0.4, 0.0]
AP = [0.0, -0.05, -0.2, -0.15, -0.1, 0.0, 0.1, 0.2, 0.25, 0.1, 0.0]
EXPECTED = {  # the hand numbers of the module docstring
    "vgrf_peak1": 1.2, "vgrf_peak2": 1.1, "loading_rate_avg": 10.8, "loading_rate_inst": 12.0,
    "impulse_vertical": 0.375, "stance_time": 495.0, "peak_braking": -0.2, "peak_propulsion": 0.25,
    "impulse_braking": -0.025, "impulse_propulsion": 0.0325,
}


def stance(n: int = 1) -> torch.Tensor:
    """`[n, 3, 11]` copies of the hand stance (ml, ap, vertical) in BW."""
    row = torch.tensor([[0.0] * 11, AP, VERTICAL], dtype=torch.float64)
    return row.expand(n, -1, -1).clone()


def dts(n: int) -> torch.Tensor:
    return torch.full((n,), DT, dtype=torch.float64)


def result(metric) -> dict[str, float]:
    return {k: float(v) for k, v in metric.compute().items()}


def same(a: dict[str, float], b: dict[str, float]) -> bool:
    """Equal dicts, NaN equal to NaN."""
    return a.keys() == b.keys() and all(
        (math.isnan(a[k]) and math.isnan(b[k])) or a[k] == pytest.approx(b[k], rel=1e-12, abs=1e-12) for k in a)


# -- pure definitions ------------------------------------------------------------------------------------------
def test_hand_stance_pure_functions():
    v = np.array(VERTICAL)
    first, second = peak_windows(v, 0, 10)
    assert (first, second) == (slice(0, 6), slice(5, 11))
    average, instantaneous = loading_rates(v, 3, DT)
    assert average == pytest.approx(0.72 / ((1 + 0.56 / 0.6 - 0.6) * DT)) == pytest.approx(10.8)
    assert instantaneous == pytest.approx(12.0)
    assert trapezoid(v, DT) == pytest.approx(0.375)
    assert trapezoid(np.array([1.0, 1.0, 1.0]), 0.5) == pytest.approx(1.0)  # a rectangle sum would give 1.5
    true, pred = stance_values(stance()[0].numpy(), stance()[0].numpy(), 0, 10, DT, vertical=2, ap=1,
                               threshold=0.02, whole_stance=True)
    assert true == pytest.approx(list(EXPECTED.values())) and pred == true


def test_single_hump_has_no_second_peak_and_a_flat_valley_is_not_a_valley():
    running = np.array([0.0, 0.8, 1.6, 2.2, 2.5, 2.3, 1.8, 1.0, 0.3, 0.0])  # max in the first half
    first, second = peak_windows(running, 0, 9)
    assert second is None and first == slice(0, 10)
    shallow = np.array([0.0, 0.5, 1.0, 0.98, 0.97, 0.99, 1.0, 0.5, 0.0])  # dip 0.03 BW < 0.05 BW prominence
    assert peak_windows(shallow, 0, 8)[1] is None


def test_loading_rate_is_undefined_without_a_rise():
    assert all(math.isnan(x) for x in loading_rates(np.array([1.0, 1.1, 1.2, 1.0]), 2, DT))


def test_bland_altman_by_hand():
    bias, low, high = bland_altman(torch.tensor([0.1, 0.2, 0.3], dtype=torch.float64))
    assert (float(bias), float(low), float(high)) == pytest.approx((0.2, 0.2 - 0.196, 0.2 + 0.196))
    assert math.isnan(float(bland_altman(torch.tensor([0.1]))[1]))


# -- the GRF metric, whole stances -------------------------------------------------------------------------------
def test_perfect_prediction_has_zero_error():
    metric = StrideGRFMetrics(whole_stance=True)
    y = stance(3)
    metric.update(y.clone(), y, dts(3))
    out = result(metric)
    assert out["strides"] == 3
    for name in EXPECTED:
        assert out[f"{name}_mae"] == 0 and out[f"{name}_mre"] == 0 and out[f"{name}_n"] == 3
        assert out[f"{name}_excluded"] == 0
    assert out["vgrf_peak1_bias"] == out["vgrf_peak1_loa_lower"] == out["vgrf_peak1_loa_upper"] == 0


def test_a_ten_percent_overestimate_by_hand():
    metric = StrideGRFMetrics(whole_stance=True)
    y = stance(1)
    metric.update(1.1 * y, y, dts(1))
    out = result(metric)
    for name, value in EXPECTED.items():
        if name != "stance_time":  # scale-invariant crossings: every amplitude and rate is 10 % larger
            assert out[f"{name}_mae"] == pytest.approx(0.1 * abs(value)), name
            assert out[f"{name}_mre"] == pytest.approx(10.0), name
    # predicted 0.02 BW crossings: 0.02/0.44 and 9 + 0.42/0.44 -> 9 + 0.4/0.44 samples vs 9.9
    assert out["stance_time_mae"] == pytest.approx((9 + 0.4 / 0.44 - 9.9) * 50.0)
    assert out["vgrf_peak1_bias"] == pytest.approx(0.12)
    assert out["peak_braking_bias"] == pytest.approx(-0.02)  # more braking = more negative


def test_offsets_give_the_hand_bland_altman_limits():
    y = stance(3)
    offsets = torch.tensor([0.1, 0.2, 0.3], dtype=torch.float64)
    metric = StrideGRFMetrics(whole_stance=True)
    metric.update(y + offsets[:, None, None], y, dts(3))
    out = result(metric)
    assert out["vgrf_peak1_bias"] == pytest.approx(0.2)
    assert (out["vgrf_peak1_loa_lower"], out["vgrf_peak1_loa_upper"]) == pytest.approx((0.2 - 0.196, 0.2 + 0.196))
    # trapezoid of a constant c over 0.5 s adds 0.5 c: differences 0.05, 0.10, 0.15 BW s
    assert out["impulse_vertical_bias"] == pytest.approx(0.1)
    assert (out["impulse_vertical_loa_lower"], out["impulse_vertical_loa_upper"]) == pytest.approx(
        (0.1 - 0.098, 0.1 + 0.098))
    assert out["impulse_vertical_mre"] == pytest.approx(100 * 0.1 / 0.375)
    # the prediction is above 0.02 BW over the whole row: contact from sample 0 to 10 = 500 ms vs 495 ms
    assert out["stance_time_mae"] == pytest.approx(5.0)


def test_single_hump_stances_are_counted_as_excluded_for_the_second_peak():
    y = stance(2)
    y[1, 2] = torch.tensor([0.0, 0.8, 1.6, 2.2, 2.5, 2.3, 1.8, 1.2, 0.7, 0.3, 0.0])  # running
    metric = StrideGRFMetrics(whole_stance=True)
    metric.update(y.clone(), y, dts(2))
    out = result(metric)
    assert out["vgrf_peak2_n"] == 1 and out["vgrf_peak2_excluded"] == 1
    assert out["vgrf_peak1_n"] == 2
    table = metric.stride_table()
    assert table["vgrf_peak1_true"] == pytest.approx([1.2, 2.5])
    assert table["vgrf_peak2_true"] == [pytest.approx(1.1), None]


def test_missing_predicted_contact_scores_zero_stance_time_and_no_braking_is_excluded():
    y = stance(1)
    y[0, 1] = y[0, 1].clamp_min(0)  # no braking phase
    metric = StrideGRFMetrics(whole_stance=True)
    metric.update(torch.zeros_like(y), y, dts(1))
    out = result(metric)
    assert out["stance_time_mae"] == pytest.approx(495.0) and out["stance_time_mre"] == pytest.approx(100.0)
    assert out["peak_braking_n"] == 0 and out["peak_braking_excluded"] == 1
    assert out["impulse_braking_excluded"] == 1 and out["peak_propulsion_n"] == 1
    assert out["loading_rate_avg_excluded"] == 1  # a flat zero prediction has no rise


def test_vertical_only_reports_no_ap_quantities():
    metric = StrideGRFMetrics(("vertical",), whole_stance=True)
    y = stance(2)[:, 2:]
    metric.update(y * 1.1, y, dts(2))
    out = result(metric)
    assert not any("braking" in k or "propulsion" in k for k in out)
    assert not any("braking" in k or "propulsion" in k for k in metric.stride_table())
    assert not any("braking" in k for k in metric.info())
    assert out["vgrf_peak1_mre"] == pytest.approx(10.0)


def test_bad_axes_and_shapes_are_refused():
    with pytest.raises(ZooError, match="vertical"):
        StrideGRFMetrics(("ml", "ap"))
    with pytest.raises(ZooError, match=r"\[B, 3, T\]"):
        StrideGRFMetrics().update(torch.zeros(2, 1, 5), torch.zeros(2, 1, 5), dts(2))


def varied_stances(n: int = 7) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Hand stances with different amplitudes, rates and prediction errors (one single-humped)."""
    g = torch.Generator().manual_seed(3)
    y = stance(n) * (0.8 + 0.4 * torch.rand(n, 1, 1, generator=g, dtype=torch.float64))
    y[2, 2] = torch.tensor([0.0, 0.8, 1.6, 2.2, 2.5, 2.3, 1.8, 1.2, 0.7, 0.3, 0.0], dtype=torch.float64)
    pred = y * (0.9 + 0.2 * torch.rand(n, 1, 1, generator=g, dtype=torch.float64))
    pred = pred + 0.03 * torch.randn(y.shape, generator=g, dtype=torch.float64)
    dt = 0.004 + 0.003 * torch.rand(n, generator=g, dtype=torch.float64)
    return pred, y, dt


def test_uneven_batches_equal_one_batch():
    pred, y, dt = varied_stances(7)
    whole = StrideGRFMetrics(whole_stance=True)
    whole.update(pred, y, dt)
    pieces = StrideGRFMetrics(whole_stance=True)
    for a, b in ((0, 1), (1, 5), (5, 7)):
        pieces.update(pred[a:b], y[a:b], dt[a:b])
    assert same(result(whole), result(pieces))
    assert whole.stride_table() == pieces.stride_table()


# -- windows of a continuous signal --------------------------------------------------------------------------------
def window_signal(length: int, onset: int) -> torch.Tensor:
    """`[3, length]` zeros with the hand stance's samples 0..10 placed at `onset`."""
    y = torch.zeros(3, length, dtype=torch.float64)
    y[:, onset:onset + 11] = stance(1)[0]
    return y


def test_windows_score_only_complete_stances():
    y = window_signal(40, 12)
    y[2, :4] = torch.tensor([0.9, 0.6, 0.3, 0.1])  # the end of a stance cut by the window start
    y[2, 36:] = torch.tensor([0.2, 0.5, 0.8, 1.0])  # the start of one cut by the window end
    y[2, 28:30] = 0.05  # a 20 ms blip above 0.02 BW: no stance
    metric = StrideGRFMetrics()
    metric.update(y[None].clone(), y[None], dts(1))
    out = result(metric)
    assert out["strides"] == 1 and out["strides_partial"] == 2 and out["contacts_too_short"] == 1
    assert out["strides_duplicate"] == 0
    table = metric.stride_table()
    for name, value in EXPECTED.items():  # the same numbers as the whole-stance row
        assert table[f"{name}_true"] == [pytest.approx(value)], name


def test_windowed_stance_time_needs_the_predicted_contact_inside_the_window():
    y = window_signal(30, 5)[None]
    pred = y.clone()
    pred[0, 2, :6] = 0.5  # predicted contact runs from the window start into the stance
    metric = StrideGRFMetrics()
    metric.update(pred, y, dts(1))
    out = result(metric)
    assert out["stance_time_excluded"] == 1 and out["vgrf_peak1_n"] == 1


def test_stance_keys_count_a_stance_in_two_windows_once():
    signal = window_signal(60, 20)  # true contact 21..29, complete in windows starting at 0 and 20
    windows = torch.stack([signal[:, 0:40], signal[:, 20:60]])
    pred = windows.clone()
    pred[1] *= 1.1  # the second window predicts differently: the earliest window's prediction is kept
    keys = torch.tensor([[4, 0], [4, 20]])
    keyed, reverse, plain = StrideGRFMetrics(), StrideGRFMetrics(), StrideGRFMetrics()
    keyed.update(pred, windows, dts(2), stance_keys=keys)
    reverse.update(pred[[1]], windows[[1]], dts(1), stance_keys=keys[[1]])  # arrival order does not matter
    reverse.update(pred[[0]], windows[[0]], dts(1), stance_keys=keys[[0]])
    plain.update(pred, windows, dts(2))
    out = result(keyed)
    assert out["strides"] == 1 and out["strides_duplicate"] == 1 and out["vgrf_peak1_mae"] == 0
    assert same(out, result(reverse))
    table = keyed.stride_table()
    assert (table["trial"], table["onset_sample"], table["window_start"]) == ([4], [21], [0])
    out = result(plain)
    assert out["strides"] == 2 and out["vgrf_peak1_mae"] == pytest.approx(0.06)  # (0 + 0.12) / 2


# -- pressure ---------------------------------------------------------------------------------------------------------
CELL = (1.0, 2.0)  # cm along the rows, across the columns


def pressure_stance() -> torch.Tensor:
    """`[3, 10, 2]` stance: a faint 0.5 N/cm^2 footprint on rows 0-9 and one 10 N/cm^2 cell per frame,
    (row 1, col 0), (row 4, col 1), (row 8, col 0). Footprint rows 0..9: row centres at (i + 0.5)/10 of its
    length: heel rows 0-2, midfoot 3-4, forefoot 5-9."""
    p = torch.full((3, 10, 2), 0.5, dtype=torch.float64)
    p[0, 1, 0], p[1, 4, 1], p[2, 8, 0] = 10.0, 10.0, 10.0
    p[0, 2, 1] = 6.0
    return p


def test_regions_follow_the_footprint_fractions():
    masks = region_rows(12, 1, 10)  # footprint rows 1..10 of 12
    assert torch.nonzero(masks["heel"]).flatten().tolist() == [1, 2, 3]
    assert torch.nonzero(masks["midfoot"]).flatten().tolist() == [4, 5]
    assert torch.nonzero(masks["forefoot"]).flatten().tolist() == [6, 7, 8, 9, 10]


def test_pressure_stance_by_hand():
    y = pressure_stance()[None]
    pred = y.clone()
    pred[0, 0, 1, 0] = 12.0  # heel peak +2
    pred[0, 2, 8, 0] = 7.0  # forefoot peak -3
    metric = StridePressureMetrics(CELL)
    metric.update(pred, y)
    table = metric.stride_table()
    assert table["peak_pressure_heel_true"] == [10.0] and table["peak_pressure_heel_error"] == [2.0]
    assert table["peak_pressure_midfoot_true"] == [10.0] and table["peak_pressure_midfoot_error"] == [0.0]
    assert table["peak_pressure_forefoot_error"] == [-3.0]
    out = result(metric)
    assert out["peak_pressure_forefoot_mre"] == pytest.approx(30.0)
    # COP of the true frames (x across, y along, cm): each frame's centroid of the faint footprint + peaks
    cop = []
    for frame in pressure_stance():
        load = frame.sum()
        ys = (torch.arange(10, dtype=torch.float64) + 0.5) * CELL[0]
        xs = (torch.arange(2, dtype=torch.float64) + 0.5) * CELL[1]
        cop.append(((frame.sum(0) * xs).sum() / load, (frame.sum(1) * ys).sum() / load))
    cop = torch.tensor(cop)
    path = float((cop[1:] - cop[:-1]).norm(dim=1).sum())
    assert table["cop_path_length_true"] == [pytest.approx(path)]
    assert table["cop_excursion_ap_true"] == [pytest.approx(float(cop[:, 1].max() - cop[:, 1].min()))]
    assert table["cop_excursion_ml_true"] == [pytest.approx(float(cop[:, 0].max() - cop[:, 0].min()))]


def test_pressure_single_cell_cop_path_by_hand():
    y = torch.zeros(1, 3, 10, 2, dtype=torch.float64)
    y[0, 0, 1, 0], y[0, 1, 4, 1], y[0, 2, 8, 0] = 10.0, 10.0, 10.0
    metric = StridePressureMetrics(CELL)
    metric.update(1.2 * y, y)  # a 20 % overestimate: peaks 20 % off, COP unchanged
    table = metric.stride_table()
    # COPs (x, y) = (1, 1.5), (3, 4.5), (1, 8.5) cm: path sqrt(4 + 9) + sqrt(4 + 16)
    assert table["cop_path_length_true"] == [pytest.approx(math.sqrt(13) + math.sqrt(20))]
    assert table["cop_excursion_ap_true"] == [pytest.approx(7.0)]
    assert table["cop_excursion_ml_true"] == [pytest.approx(2.0)]
    assert table["cop_path_length_error"] == [pytest.approx(0.0)]
    out = result(metric)
    assert out["peak_pressure_heel_mre"] == pytest.approx(20.0)
    assert out["peak_pressure_heel_bias"] == pytest.approx(2.0)


def test_pressure_perfect_prediction_and_empty_prediction():
    y = pressure_stance()[None].expand(2, -1, -1, -1).clone()
    metric = StridePressureMetrics(CELL)
    metric.update(y.clone(), y)
    out = result(metric)
    assert all(out[k] == 0 for k in out if k.endswith(("_mae", "_mre", "_bias", "_loa_lower", "_loa_upper")))
    empty = StridePressureMetrics(CELL)
    empty.update(torch.zeros_like(y), y)
    out = result(empty)
    assert out["peak_pressure_heel_mre"] == pytest.approx(100.0)
    assert out["cop_path_length_n"] == 0 and out["cop_path_length_excluded"] == 2  # no predicted COP


def test_pressure_frames_report_no_cop_and_use_the_outline():
    frame = torch.zeros(1, 10, 2, dtype=torch.float64)
    frame[0, 1, 0] = 10.0  # heel strike: only the heel is loaded
    outline = torch.ones(1, 10, 2, dtype=torch.bool)
    metric = StridePressureMetrics(CELL, sequences=False)
    metric.update(frame.clone(), frame, footprint=outline)
    out = result(metric)
    assert not any(k.startswith("cop") for k in out)
    assert out["peak_pressure_heel_n"] == 1
    assert out["peak_pressure_midfoot_excluded"] == 1 and out["peak_pressure_forefoot_excluded"] == 1
    with pytest.raises(ZooError, match="outline"):  # the loaded row alone would put the heel at mid-foot
        metric.update(frame.clone(), frame)


def test_pressure_uneven_batches_equal_one_batch():
    g = torch.Generator().manual_seed(0)
    y = torch.rand(7, 5, 10, 4, generator=g, dtype=torch.float64) * 20
    y[:, 0] *= 0.01  # a barely loaded first frame
    pred = y + torch.randn(y.shape, generator=g, dtype=torch.float64)
    keys = torch.stack([torch.arange(7), 100 * torch.arange(7)], dim=1)
    whole, pieces = StridePressureMetrics(CELL), StridePressureMetrics(CELL)
    whole.update(pred, y, keys=keys)
    for a, b in ((0, 1), (1, 5), (5, 7)):
        pieces.update(pred[a:b], y[a:b], keys=keys[a:b])
    assert same(result(whole), result(pieces))
    assert whole.stride_table() == pieces.stride_table()
    assert whole.stride_table()["onset_sample"] == [0, 100, 200, 300, 400, 500, 600]


# -- table, info ---------------------------------------------------------------------------------------------------
def test_stride_table_csv_has_empty_cells_for_unscored_values(tmp_path):
    y = stance(2)
    y[1, 2] = torch.tensor([0.0, 0.8, 1.6, 2.2, 2.5, 2.3, 1.8, 1.2, 0.7, 0.3, 0.0], dtype=torch.float64)
    metric = StrideGRFMetrics(whole_stance=True)
    metric.update(y.clone(), y, dts(2))
    write_stride_table(metric.stride_table(), tmp_path / "strides.csv")
    rows = list(csv.DictReader(open(tmp_path / "strides.csv")))
    assert len(rows) == 2 and rows[1]["vgrf_peak2_true"] == "" and float(rows[0]["vgrf_peak2_true"]) == 1.1


def test_info_covers_every_reported_key():
    grf = StrideGRFMetrics()
    grf.update(stance(1), stance(1), dts(1))
    pressure = StridePressureMetrics(CELL)
    pressure.update(pressure_stance()[None], pressure_stance()[None])
    for metric in (grf, pressure):
        assert set(metric.compute()) == set(metric.info())
        assert set(metric.compute()) <= set(STRIDE_METRIC_INFO)
    assert STRIDE_METRIC_INFO["vgrf_peak1_mae"] == (False, "BW")
    assert STRIDE_METRIC_INFO["loading_rate_avg_mae"] == (False, "BW/s")
    assert STRIDE_METRIC_INFO["stance_time_mae"] == (False, "ms")
    assert STRIDE_METRIC_INFO["impulse_vertical_bias"] == (None, "BW*s")


# -- DDP: two gloo processes with uneven shards (one rank sees no complete stance) ----------------------------------
def ddp_data() -> dict[str, tuple]:
    pred, y, dt = varied_stances(7)
    signal = window_signal(60, 20)
    windows = torch.stack([signal[:, 0:40], signal[:, 20:60], signal[:, 0:40]])
    return {"grf": (pred, y, dt), "windows": (1.1 * windows, windows, dts(3), torch.tensor([[1, 0], [1, 20], [2, 0]]))}


def feed(name: str, data: tuple, rows) -> dict[str, float]:
    if name == "grf":
        pred, y, dt = data
        metric = StrideGRFMetrics(whole_stance=True)
        metric.update(pred[rows], y[rows], dt[rows])
    else:
        pred, y, dt, keys = data
        metric = StrideGRFMetrics()
        metric.update(pred[rows], y[rows], dt[rows], stance_keys=keys[rows])
    return result(metric)


def _ddp_worker(rank: int, world_size: int, init_file: str, out_file: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world_size)
    shards = {"grf": [slice(0, 2), slice(2, 7)], "windows": [slice(0, 2), slice(2, 3)]}
    results = {name: feed(name, data, shards[name][rank]) for name, data in ddp_data().items()}
    if rank == 0:
        torch.save(results, out_file)
    dist.destroy_process_group()


def test_ddp_sync_equals_a_single_process_run(tmp_path):
    out_file = tmp_path / "ddp.pt"
    mp.start_processes(_ddp_worker, args=(2, str(tmp_path / "init"), str(out_file)), nprocs=2, join=True,
                       start_method="fork")
    distributed = torch.load(out_file)
    for name, data in ddp_data().items():
        assert same(distributed[name], feed(name, data, slice(None))), name
    assert distributed["windows"]["strides"] == 2 and distributed["windows"]["strides_duplicate"] == 1
