"""The noise-floor row: how far the measured targets are from the clean ones.

On synthetic data the simulator knows the noise-free target; scoring it against the measured
(noisy) target gives the best any model can hope for. A model "beating" this row is fitting noise.
"""

from __future__ import annotations

from torch import Tensor

from zoo.task import BaseTask


class NoiseFloor(BaseTask):
    """Predicts the clean target exactly; needs batches with `y_clean` (DataModule `include_clean=True`)."""

    supported_tasks = ("imu2pressure", "imu2grf", "landmarks2pressure", "insole2pose")
    paper = "noise floor (oracle)"
    model_name = "noise-floor"

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        return self.normalise(batch["y_clean"])
