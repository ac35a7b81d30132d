"""Every metric against hand arithmetic or an independent numpy/scipy implementation, plus the properties a
metric must have in training: exact accumulation across batches and under DDP, ideal values for a perfect
prediction, and the masking rules (stance samples, loaded frames, masked steps)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from scipy.signal import correlate2d, resample_poly
from scipy.stats import pearsonr

from datamodules.errors import DataError
from datamodules.naming import GRF_AXES, KEYPOINTS_19
from datamodules.tasks import get_task
from zoo.errors import ZooError
from zoo.metrics import (
    MPJPE,
    VGRFRMSE,
    COPError,
    MaskedMSE,
    NormalisedRMSE,
    PeakPressureAccuracy,
    PeakPressureError,
    PressureSSIM,
    SubjectGRFMetrics,
    VGRFAccuracy,
    VGRFPearson,
    cop_from_pressure,
    task_metrics,
    vgrf_from_pressure,
)
from zoo.metrics.grf import GRF_SCORES

CELL = (2.0, 1.0)  # cm along the length (rows), across the width (columns): a cell is 2 cm^2
GRID_CELL = (0.9, 0.8)


def values(metrics) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.compute().items()}


# -- synthetic data shaped like real batches ---------------------------------------------------------------
def pressure_stances(n: int, frames: int = 5, grid: tuple[int, int] = (32, 16), seed: int = 0) -> torch.Tensor:
    """Non-negative maps whose load rises and falls over the stance, last frame unloaded."""
    g = torch.Generator().manual_seed(seed)
    maps = torch.rand(n, frames, *grid, generator=g) * 8.0
    envelope = torch.sin(torch.linspace(0.2, math.pi, frames)).clamp_min(0.0)
    envelope[-1] = 0.0
    return maps * envelope[:, None, None]


def grf_windows(subjects: list[int], length: int = 32, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """`[B, 3, T]` windows in BW: one half-sine stance (random amplitude) between swing samples."""
    g = torch.Generator().manual_seed(seed)
    n = len(subjects)
    stance = torch.zeros(length)
    stance[6:26] = torch.sin(torch.linspace(0.1, math.pi - 0.1, 20))
    amplitude = 0.8 + 0.4 * torch.rand(n, 1, generator=g)
    vertical = amplitude * stance
    ml = 0.05 * torch.randn(n, length, generator=g) * (stance > 0)
    ap = 0.2 * torch.sin(torch.linspace(0, 2 * math.pi, length)) * stance + 0.02 * torch.randn(n, length, generator=g)
    return torch.stack([ml, ap, vertical], dim=1), torch.tensor(subjects)


def noisy(y: torch.Tensor, scale: float, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return y + scale * torch.randn(y.shape, generator=g)


# -- vGRF and COP ------------------------------------------------------------------------------------------
def test_vgrf_and_cop_of_a_2x2_map_by_hand():
    p = torch.tensor([[1.0, 0.0], [0.0, 3.0]])  # N/cm^2; row 0 at the heel, column 0 medial
    # vGRF = (1 + 3) N/cm^2 x (2 x 1) cm^2 = 8 N
    assert vgrf_from_pressure(p, CELL).item() == pytest.approx(8.0)
    # cell centres: x (width) 0.5, 1.5 cm; y (length) 1, 3 cm
    # COP x = (1 x 0.5 + 3 x 1.5) / 4 = 1.25; COP y = (1 x 1 + 3 x 3) / 4 = 2.5
    assert cop_from_pressure(p, CELL).tolist() == pytest.approx([1.25, 2.5])
    batch = torch.stack([p, p.flip(0)]).reshape(1, 2, 2, 2)
    assert cop_from_pressure(batch, CELL).shape == (1, 2, 2)
    assert cop_from_pressure(batch, CELL)[0, 1].tolist() == pytest.approx([1.25, 1.5])  # load now in row 0
    assert cop_from_pressure(torch.zeros(2, 2), CELL).isnan().all()  # no load, no COP


# -- imu2pressure: errors on a 1-stance, 2-frame, 2x2 example -----------------------------------------------
TARGET = torch.tensor([[[[1.0, 0.0], [0.0, 3.0]], [[2.0, 2.0], [0.0, 0.0]]]])  # [1, T=2, 2, 2]
PRED = torch.tensor([[[[1.0, 1.0], [0.0, 2.0]], [[2.0, 2.0], [1.0, 0.0]]]])
# pred - target: frame 0 (0, 1, 0, -1), frame 1 (0, 0, 1, 0) -> squared sum 3, absolute sum 3, n = 8


def test_cell_errors_by_hand():
    metrics = task_metrics("imu2pressure", cell_size_cm=CELL)
    for name in ("mse", "mae", "rmse", "r2"):
        metrics[f"test/{name}"].update(PRED, TARGET)
    assert float(metrics["test/mse"].compute()) == pytest.approx(3 / 8)
    assert float(metrics["test/mae"].compute()) == pytest.approx(3 / 8)
    assert float(metrics["test/rmse"].compute()) == pytest.approx(math.sqrt(3 / 8))
    # target values 1,0,0,3,2,2,0,0: mean 1, SS_tot = 0+1+1+4+1+1+1+1 = 10, SS_res = 3
    assert float(metrics["test/r2"].compute()) == pytest.approx(1 - 3 / 10)


def test_peak_pressure_error_by_hand():
    ppe = PeakPressureError()
    ppe.update(PRED, TARGET)  # stance 1: |3 - 2| = 1
    second = torch.zeros(1, 2, 2, 2)
    second[0, 1, 0, 0] = 4.0
    ppe.update(second * 0.5, second)  # stance 2: |4 - 2| = 2
    assert float(ppe.compute()) == pytest.approx((1 + 2) / 2)


def test_derived_vgrf_and_cop_error_by_hand():
    # vGRF (cell area 2 cm^2): target frames 8 N, 8 N; pred frames 8 N, 10 N -> RMSE = sqrt((0 + 4) / 2)
    rmse = VGRFRMSE(CELL)
    rmse.update(PRED, TARGET)
    assert float(rmse.compute()) == pytest.approx(math.sqrt(2))
    # COP, frame 0: target (1.25, 2.5), pred x = (0.5 + 1.5 + 2 x 1.5) / 4 = 1.25, y = (1 + 1 + 2 x 3) / 4 = 2
    #   -> 0.5 cm. Frame 1: target (1, 1), pred x = (1 + 3 + 0.5) / 5 = 0.9, y = (2 + 2 + 3) / 5 = 1.4
    #   -> sqrt(0.1^2 + 0.4^2) = sqrt(0.17)
    cop = COPError(CELL)
    cop.update(PRED, TARGET)
    assert float(cop.compute()) == pytest.approx((0.5 + math.sqrt(0.17)) / 2)


def test_cop_error_clamps_negative_pressure_and_centres_an_empty_prediction():
    cop = COPError(CELL)
    cop.update(-torch.ones(1, 2, 2), TARGET[:, 0])  # no predicted load: COP at the grid centre (1, 2) cm
    assert float(cop.compute()) == pytest.approx(math.hypot(1.25 - 1.0, 2.5 - 2.0))
    cop.reset()
    pred = TARGET[:, 0].clone()
    pred[0, 0, 1] = -5.0  # a negative cell would drag the centroid; clamped it is ignored
    cop.update(pred, TARGET[:, 0])
    assert float(cop.compute()) == pytest.approx(0.0)


def test_vgrf_pearson_matches_scipy():
    target = pressure_stances(3, frames=6, grid=(4, 3))
    pred = noisy(target, 1.0)
    metric = VGRFPearson(CELL)
    metric.update(pred, target)
    area = CELL[0] * CELL[1]
    pred_vgrf = pred.double().clamp_min(0).sum((-2, -1)).flatten() * area
    expected = pearsonr(pred_vgrf, target.double().sum((-2, -1)).flatten() * area)
    assert float(metric.compute()) == pytest.approx(expected.statistic, abs=1e-9)


def test_loaded_frames_rule_ignores_frames_below_two_percent_of_the_stance_peak():
    target = pressure_stances(2, frames=4)  # frame 3 carries no load
    target[:, 2] *= 0.01 * target[:, 1].sum() / target[:, 2].sum()  # frame 2: 1 % of frame 1's load
    pred = noisy(target, 0.5)
    wild = pred.clone()
    wild[:, 2:] = noisy(torch.zeros_like(target[:, 2:]), 50.0, seed=7)
    for metric in (COPError(GRID_CELL), PressureSSIM()):
        metric.update(pred, target)
        reference = float(metric.compute())
        metric.reset()
        metric.update(wild, target)
        assert float(metric.compute()) == pytest.approx(reference, abs=1e-12)
        assert int(metric.frames) == 2 * 2  # frames 0 and 1 of each stance


# -- SSIM against a direct numpy implementation of Wang et al. 2004 ---------------------------------------
def wang2004_ssim(x: np.ndarray, y: np.ndarray, data_range: float, sigma: float = 0.9, radius: int = 3) -> float:
    """Mean SSIM over every position where the Gaussian window lies inside the map."""
    g = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    window = np.outer(g, g) / np.outer(g, g).sum()

    def local_mean(a: np.ndarray) -> np.ndarray:
        return correlate2d(a, window, mode="valid")

    mu_x, mu_y = local_mean(x), local_mean(y)
    var_x, var_y = local_mean(x * x) - mu_x**2, local_mean(y * y) - mu_y**2
    cov = local_mean(x * y) - mu_x * mu_y
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    return float(ssim_map.mean())


def test_ssim_matches_wang2004_with_the_true_frame_peak_as_dynamic_range():
    target = pressure_stances(2, frames=4)  # the unloaded last frame is skipped
    pred = noisy(target, 1.5).clamp_min(0)
    metric = PressureSSIM()
    metric.update(pred, target)
    expected = np.mean([
        wang2004_ssim(pred[b, t].double().numpy(), target[b, t].double().numpy(), float(target[b, t].max()))
        for b in range(2) for t in range(3)
    ])
    assert 0.2 < expected < 0.95  # a discriminating example, not a saturated one
    assert float(metric.compute()) == pytest.approx(expected, abs=1e-5)


def test_ssim_refuses_a_grid_smaller_than_its_window():
    with pytest.raises(ZooError, match="7 x 7 window"):
        PressureSSIM().update(torch.ones(1, 6, 16), torch.ones(1, 6, 16))


# -- landmarks2pressure: a two-frame 2x2 example (cell 1 cm^2) ----------------------------------------------
def test_landmark_task_metrics_by_hand():
    target = torch.tensor([[[4.0, 3.0], [2.0, 1.0]], [[20.0, 5.0], [3.0, 2.0]]])  # loads 10, 30; peaks 4, 20
    pred = torch.tensor([[[5.0, 5.0], [1.0, 1.0]], [[16.0, 11.0], [-4.0, 0.0]]])  # loads 12, 27 (clamped); peaks 5, 16
    unit = (1.0, 1.0)
    vgrf = VGRFAccuracy(unit)
    vgrf.update(pred, target)
    assert float(vgrf.compute()) == pytest.approx(100 * (1 - (2 + 3) / (10 + 30)))  # 87.5 %
    peak = PeakPressureAccuracy()
    peak.update(pred, target)
    assert float(peak.compute()) == pytest.approx((100 * (1 - 1 / 4) + 100 * (1 - 4 / 20)) / 2)  # 77.5 %
    nrmse = NormalisedRMSE()
    nrmse.update(pred, target)
    # squared errors: frame 0 (1, 4, 1, 0) = 6, frame 1 (16, 36, 49, 4) = 105; true range 20 - 1 = 19
    assert float(nrmse.compute()) == pytest.approx(100 * math.sqrt(111 / 8) / 19)


# -- imu2grf --------------------------------------------------------------------------------------------------
def test_grf_per_subject_mean_and_sd_by_hand():
    true_v = torch.tensor([0.0, 1.0, 2.0, 3.0, 0.0])  # stance samples 1..3
    side = torch.tensor([0.0, 0.1, 0.3, 0.2, 0.0])
    target = torch.stack([torch.stack([side, side, true_v])] * 2)  # [2, 3, 5]
    pred = target.clone()
    pred[0, 2] = torch.tensor([9.0, 1.0, 3.0, 2.0, -7.0])  # stance (1, 3, 2): r = 0.5, errors (0, 1, -1)
    pred[1, 2] = torch.tensor([5.0, 3.0, 2.0, 1.0, 5.0])  # stance (3, 2, 1): r = -1, errors (2, 0, -2)
    metric = SubjectGRFMetrics()
    metric.update(pred, target, subject=torch.tensor([0, 1]))
    out = {k: float(v) for k, v in metric.compute().items()}
    assert out["r_vertical"] == pytest.approx((0.5 - 1.0) / 2)
    assert out["r_vertical_sd"] == pytest.approx(0.75)  # population sd of (0.5, -1)
    rmse_0, rmse_1 = math.sqrt(2 / 3), math.sqrt(8 / 3)
    assert out["rmse_vertical"] == pytest.approx((rmse_0 + rmse_1) / 2)
    assert out["rmse_vertical_sd"] == pytest.approx((rmse_1 - rmse_0) / 2)
    assert out["rrmse_vertical"] == pytest.approx(100 * (rmse_0 + rmse_1) / 2 / (3 - 1))
    assert out["r_ml"] == pytest.approx(1.0) and out["rmse_ap"] == pytest.approx(0.0)
    # the window peak uses stance samples only: predicted peaks 3 and 3 (not 9 and 5) for true peaks 3 and 3
    assert out["peak_vgrf_rmse"] == pytest.approx(0.0)
    assert math.isnan(out["peak_vgrf_r"])  # one window per subject: r undefined for every subject


def reference_grf_scores(pred: np.ndarray, true: np.ndarray, subject: np.ndarray) -> dict[str, float]:
    """Straight numpy/scipy loops over subjects, axes and windows."""
    per_subject: dict[str, list[float]] = {name: [] for name in GRF_SCORES}
    for s in np.unique(subject):
        p, t = pred[subject == s], true[subject == s]
        stance = t[:, 2] > 0.02
        p_samples, t_samples = np.moveaxis(p, 1, 2)[stance], np.moveaxis(t, 1, 2)[stance]
        for i, axis in enumerate(GRF_AXES):
            per_subject[f"r_{axis}"].append(pearsonr(p_samples[:, i], t_samples[:, i]).statistic)
            per_subject[f"rmse_{axis}"].append(np.sqrt(np.mean((p_samples[:, i] - t_samples[:, i]) ** 2)))
        vertical = t_samples[:, 2]
        per_subject["rrmse_vertical"].append(100 * per_subject["rmse_vertical"][-1] / np.ptp(vertical))
        peaks_p = [p[w, 2][stance[w]].max() for w in range(len(t)) if stance[w].any()]
        peaks_t = [t[w, 2][stance[w]].max() for w in range(len(t)) if stance[w].any()]
        per_subject["peak_vgrf_r"].append(pearsonr(peaks_p, peaks_t).statistic)
        per_subject["peak_vgrf_rmse"].append(np.sqrt(np.mean((np.array(peaks_p) - np.array(peaks_t)) ** 2)))
    out = {}
    for name, scores in per_subject.items():
        out[name], out[f"{name}_sd"] = float(np.mean(scores)), float(np.std(scores))
    return out


def test_grf_metrics_match_an_independent_numpy_implementation():
    target, subject = grf_windows([0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 2, 2])
    pred = noisy(target, 0.08)
    metric = SubjectGRFMetrics()
    metric.update(pred, target, subject=subject)
    got = {k: float(v) for k, v in metric.compute().items()}
    expected = reference_grf_scores(pred.double().numpy(), target.double().numpy(), subject.numpy())
    assert got.keys() == expected.keys()
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, abs=1e-9), name


def test_grf_metrics_ignore_swing_samples():
    target, subject = grf_windows([0, 0, 1, 1])
    pred = noisy(target, 0.05)
    swing = (target[:, 2] <= 0.02).unsqueeze(1).expand_as(target)
    wild = torch.where(swing, noisy(torch.zeros_like(target), 10.0, seed=3), pred)
    results = []
    for prediction in (pred, wild):
        metric = SubjectGRFMetrics()
        metric.update(prediction, target, subject=subject)
        results.append({k: float(v) for k, v in metric.compute().items()})
    assert results[0] == pytest.approx(results[1], abs=1e-12)


@pytest.mark.realdata
def test_grf_metrics_on_a_real_force_plate_recording(shared_data):
    """Plate 1 of the OpenSim walking trial (two stances with a swing between), resampled to 100 Hz: a
    prediction offset by 0.05 BW on stance and absurd on swing gives r = 1 and RMSE = 0.05 BW on every axis."""
    rows = np.loadtxt(shared_data / "opensim_grf" / "subject01_walk1_grf.mot", skiprows=7)
    nominal_body_weight_n = 700.0  # only the 0.02 BW stance threshold depends on it
    ap, vertical, ml = (resample_poly(rows[:, c], 1, 6) / nominal_body_weight_n for c in (1, 2, 3))
    grf = torch.tensor(np.stack([ml, ap, vertical]), dtype=torch.float64)
    target = torch.stack([grf[:, :128], grf[:, 100:228]])  # two windows, each with stance and swing
    stance = target[:, 2] > 0.02
    assert (~stance).any(dim=1).all() and stance.any(dim=1).all()
    pred = torch.where(stance.unsqueeze(1), target + 0.05, torch.full_like(target, 4.0))
    metric = SubjectGRFMetrics()
    metric.update(pred, target, subject=torch.tensor([0, 0]))
    out = {k: float(v) for k, v in metric.compute().items()}
    for axis in GRF_AXES:
        assert out[f"r_{axis}"] == pytest.approx(1.0)
        assert out[f"rmse_{axis}"] == pytest.approx(0.05)
    vertical_stance = target[:, 2][stance]
    assert out["rrmse_vertical"] == pytest.approx(5.0 / float(vertical_stance.max() - vertical_stance.min()))
    assert out["peak_vgrf_rmse"] == pytest.approx(0.05)


# -- insole2pose and pretrain ----------------------------------------------------------------------------------
def test_mpjpe_overall_and_per_present_body_part_by_hand():
    names = ("nose", "left_hip", "right_hip")
    target = torch.zeros(1, 3, 3)
    pred = torch.tensor([[[0.03, 0.04, 0.0], [0.0, 0.0, 0.01], [0.06, 0.0, 0.08]]])  # 5, 1, 10 cm
    metric = MPJPE(names)
    metric.update(pred, target)
    out = {k: float(v) for k, v in metric.compute().items()}
    assert out == pytest.approx({"mpjpe_cm": 16 / 3, "mpjpe_cm_head": 5.0, "mpjpe_cm_hips": 5.5})
    with pytest.raises(ZooError, match=r"\[B, 3, 3\]"):
        metric.update(torch.zeros(1, 19, 3), torch.zeros(1, 19, 3))


def test_masked_mse_by_hand():
    target = torch.zeros(1, 2, 3)
    pred = torch.tensor([[[1.0, 2.0, 3.0], [0.0, 2.0, 4.0]]])
    metric = MaskedMSE()
    metric.update(pred, target, mask=torch.tensor([[False, True, True]]))
    assert float(metric.compute()) == pytest.approx((4 + 9 + 4 + 16) / 4)
    metric.reset()
    metric.update(pred, target, mask=torch.tensor([[[False, True, True], [True, False, False]]]))
    assert float(metric.compute()) == pytest.approx((4 + 9 + 0) / 3)
    metric.reset()
    metric.update(pred, target)  # no mask: every step
    assert float(metric.compute()) == pytest.approx((1 + 4 + 9 + 0 + 4 + 16) / 6)


# -- properties of every task's collection ---------------------------------------------------------------------
def task_batch(task: str, n: int = 7) -> dict[str, torch.Tensor]:
    """pred, target and the extra fields the LightningModule passes (`subject` always, `mask` for pretrain)."""
    if task == "imu2pressure":
        target = pressure_stances(n, frames=5)
    elif task == "landmarks2pressure":
        target = pressure_stances(n, frames=3)[:, 1]
    elif task == "imu2grf":
        target, _ = grf_windows([0] * n)
    elif task == "insole2pose":
        target = 0.5 * torch.randn(n, len(KEYPOINTS_19), 3, generator=torch.Generator().manual_seed(0))
    else:
        target = torch.randn(n, 48, 32, generator=torch.Generator().manual_seed(0))
    pred = noisy(target, {"imu2grf": 0.08, "insole2pose": 0.05}.get(task, 0.5)).clamp_min(
        0 if "pressure" in task else -math.inf)
    batch = {"pred": pred, "target": target, "subject": torch.arange(n) % 3}
    if task == "pretrain":
        batch["mask"] = torch.rand(n, 32, generator=torch.Generator().manual_seed(1)) < 0.3
    return batch


# the tasks whose metrics these generic properties are checked on; the stride-level entries (synthetic stances
# needed) are checked by tests/test_stride_metrics.py, and imu2kinetics's by tests/test_tasks.py
TASKS = ("imu2pressure", "imu2grf", "landmarks2pressure", "insole2pose", "pretrain")


def collection(task: str):
    return task_metrics(task, cell_size_cm=GRID_CELL, clinical=False)


def feed(metrics, batch: dict[str, torch.Tensor]) -> None:
    extras = {k: v for k, v in batch.items() if k not in ("pred", "target")}
    metrics.update(batch["pred"], batch["target"], mask=extras.pop("mask", None), **extras)


@pytest.mark.parametrize("task", TASKS)
def test_two_updates_equal_one_update_on_the_concatenation(task):
    batch = task_batch(task)
    whole, parts = collection(task), collection(task)
    feed(whole, batch)
    feed(parts, {k: v[:3] for k, v in batch.items()})
    feed(parts, {k: v[3:] for k, v in batch.items()})
    expected = values(whole)
    assert values(parts) == pytest.approx(expected, rel=1e-6, abs=1e-9)
    assert all(math.isfinite(v) for v in expected.values())


IDEAL = {"r": 1.0, "r2": 1.0, "ssim": 1.0, "accuracy": 100.0}


def ideal_value(name: str) -> float:
    if name.endswith("_sd"):
        return 0.0
    for marker, value in IDEAL.items():
        if name == marker or name.startswith(f"{marker}_") or name.endswith(f"_{marker}"):
            return value
    return 0.0


@pytest.mark.parametrize("task", TASKS)
def test_perfect_prediction_gives_the_ideal_value_of_every_metric(task):
    batch = task_batch(task)
    batch["pred"] = batch["target"].clone()
    metrics = collection(task)
    feed(metrics, batch)
    out = values(metrics)
    assert out == pytest.approx({name: ideal_value(name.removeprefix("test/")) for name in out}, abs=1e-6)


@pytest.mark.parametrize("task", TASKS)
def test_every_reported_metric_is_described_and_the_primary_one_is_reported(task):
    metrics = task_metrics(task, cell_size_cm=GRID_CELL, prefix="val/", clinical=False)
    feed(metrics, task_batch(task))
    names = {name.removeprefix("val/") for name in metrics.compute()}
    cls = get_task(task)
    assert names <= cls.metric_info.keys()
    assert cls.primary_metric in names
    assert cls.metric_info[cls.primary_metric][0] is cls.metric_description(cls.primary_metric)[0]


def test_collection_keys_per_task():
    expected = {
        "imu2pressure": {"mse", "mae", "rmse", "r2", "ssim", "ppe", "vgrf_r", "vgrf_rmse", "cop_error_cm"},
        "landmarks2pressure": {"vgrf_accuracy", "peak_pressure_accuracy", "cop_error_cm", "ssim", "nrmse"},
        "imu2grf": set(GRF_SCORES) | {f"{name}_sd" for name in GRF_SCORES},
        "insole2pose": {"mpjpe_cm", "mpjpe_cm_head", "mpjpe_cm_arms", "mpjpe_cm_hips", "mpjpe_cm_legs",
                        "mpjpe_cm_feet"},
        "pretrain": {"masked_mse"},
    }
    for task, names in expected.items():
        metrics = collection(task)
        feed(metrics, task_batch(task))
        assert {k.removeprefix("test/") for k in metrics.compute()} == names


def test_factory_rejects_unknown_tasks_and_pressure_tasks_without_a_cell_size():
    with pytest.raises(DataError, match="imu2pressure"):
        task_metrics("imu2presure")
    with pytest.raises(DataError, match="missing: cell_size_cm"):
        task_metrics("landmarks2pressure")


# -- DDP: two gloo processes, each with every other sample (uneven shards) ----------------------------------------
def _ddp_worker(rank: int, world_size: int, init_file: str, out_file: str) -> None:
    torch.set_num_threads(1)  # a forked child must not enter the parent's OpenMP pool
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world_size)
    results = {}
    for task in TASKS:
        metrics = collection(task)
        feed(metrics, {k: v[rank::world_size] for k, v in task_batch(task).items()})
        results[task] = values(metrics)
    if rank == 0:
        torch.save(results, out_file)
    dist.destroy_process_group()


def test_ddp_sync_equals_a_single_process_run(tmp_path):
    out_file = tmp_path / "ddp.pt"
    # fork: the children inherit the imported modules instead of spending seconds re-importing lightning
    mp.start_processes(_ddp_worker, args=(2, str(tmp_path / "init"), str(out_file)), nprocs=2, join=True,
                       start_method="fork")
    distributed = torch.load(out_file)
    for task in TASKS:
        single = collection(task)
        feed(single, task_batch(task))
        assert distributed[task] == pytest.approx(values(single), rel=1e-6, abs=1e-9), task


def test_peak_pressure_accuracy_ignores_barely_loaded_frames():
    from zoo.metrics import PeakPressureAccuracy

    metric = PeakPressureAccuracy()
    target = torch.zeros(2, 1, 2, 2)
    target[0, 0, 0, 0] = 20.0    # a loaded frame: peak 20 N/cm^2
    target[1, 0, 0, 0] = 0.01    # heel strike edge: a 0.01 N/cm^2 peak would give -99,900 % for a 10 N/cm^2 guess
    pred = torch.zeros_like(target)
    pred[:, 0, 0, 0] = torch.tensor([18.0, 10.0])
    metric.update(pred, target)
    assert metric.compute().item() == pytest.approx(90.0)  # 100 (1 - 2/20) from the loaded frame only
