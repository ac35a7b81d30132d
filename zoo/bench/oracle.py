"""The noise-floor row: how far the measured targets are from the clean ones.

On synthetic data the simulator knows the noise-free target; scoring it against the measured
(noisy) target gives the best any model can hope for. A model "beating" this row is fitting noise.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from torch import Tensor

from datamodules.tasks import INSOLE_TO_POSE, LANDMARKS_TO_MAP, SEQUENCE_TO_STEPS
from zoo.models.closed_form import ClosedFormModel


class NoiseFloor(ClosedFormModel):
    """Predicts the clean target exactly; needs batches with `y_clean` (DataModule `include_clean=True`).
    Nothing to fit: the runner tests it without a fit."""

    families = (SEQUENCE_TO_STEPS, LANDMARKS_TO_MAP, INSOLE_TO_POSE)
    paper = "noise floor (oracle)"
    model_name = "noise-floor"
    presets = {"small": {}}

    def forward(self, batch: Mapping[str, Tensor]) -> Tensor:
        if "y_clean" not in batch:
            from zoo.errors import ZooError

            raise ZooError("noise-floor: the batch has no y_clean; build the DataModule with include_clean=True "
                           "(needs a recording with clean/ targets, e.g. the simulator's)")
        return self.normalise(batch["y_clean"])

    def accumulate(self, batch: Mapping[str, Tensor], target: Tensor) -> None:
        pass

    def solve(self, val_batches: Iterable[Mapping[str, Tensor]] = ()) -> None:
        pass
