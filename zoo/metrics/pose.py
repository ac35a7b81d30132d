"""MPJPE of `insole2pose` (Han): mean per-joint position error in cm, overall and per body part."""

from __future__ import annotations

import torch
from torch import Tensor
from torchmetrics import Metric

from datamodules.naming import BODY_PARTS, KEYPOINTS_19
from zoo.errors import ZooError


class MPJPE(Metric):
    """Mean Euclidean distance (cm) between predicted and true keypoints `[B, K, 3]` given in metres.

    `compute()` returns `mpjpe_cm` over all keypoints and `mpjpe_cm_<part>` for each body part with at least one
    keypoint in `keypoint_names`, averaged over the keypoints of that part that exist. Every sample carries
    every keypoint, so a part's score is the mean of its keypoints' mean errors.
    """

    higher_is_better = False
    full_state_update = False

    def __init__(self, keypoint_names: tuple[str, ...] = KEYPOINTS_19,
                 body_parts: dict[str, tuple[str, ...]] | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.keypoint_names = tuple(keypoint_names)
        index = {name: i for i, name in enumerate(self.keypoint_names)}
        parts = BODY_PARTS if body_parts is None else body_parts
        present = {part: [index[name] for name in names if name in index] for part, names in parts.items()}
        self.part_keypoints = {part: idx for part, idx in present.items() if idx}
        self.add_state("distance_sum", torch.zeros(len(self.keypoint_names), dtype=torch.float64),
                       dist_reduce_fx="sum")
        self.add_state("samples", torch.tensor(0), dist_reduce_fx="sum")

    def update(self, pred: Tensor, target: Tensor) -> None:
        expected = (len(self.keypoint_names), 3)
        if pred.shape != target.shape or tuple(target.shape[1:]) != expected:
            raise ZooError(
                f"MPJPE expects pred and target of shape [B, {expected[0]}, 3] (one row per keypoint name); "
                f"found pred {tuple(pred.shape)} and target {tuple(target.shape)}"
            )
        distance_cm = 100.0 * (pred.double() - target.double()).norm(dim=-1)  # [B, K]
        self.distance_sum += distance_cm.sum(dim=0)
        self.samples += distance_cm.shape[0]

    def compute(self) -> dict[str, Tensor]:
        per_keypoint = self.distance_sum / self.samples
        result = {"mpjpe_cm": per_keypoint.mean()}
        for part, idx in self.part_keypoints.items():
            result[f"mpjpe_cm_{part}"] = per_keypoint[idx].mean()
        return result
