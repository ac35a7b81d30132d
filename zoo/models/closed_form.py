"""What the closed-form baselines share: they fit from sufficient statistics gathered in one pass
over the training data, with no optimiser, inside the same Lightning loop as every other model."""

from __future__ import annotations

from typing import Any

from torch import Tensor

from zoo.task import BaseTask


class ClosedFormTask(BaseTask):
    """One epoch collects statistics (`accumulate`); `solve` turns them into the fitted model."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.automatic_optimization = False

    def configure_optimizers(self) -> None:
        return None

    def accumulate(self, batch: dict[str, Tensor], target: Tensor) -> None:
        """Add a training batch (normalised targets) to the sufficient statistics."""
        raise NotImplementedError

    def solve(self) -> None:
        """Fit from the statistics gathered so far (a no-op where prediction reads them directly)."""

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        if self.current_epoch == 0:  # one pass is all a closed form needs; later epochs change nothing
            self.accumulate(batch, self.normalise(self.target(batch)))

    def on_train_epoch_end(self) -> None:
        # One pass gathers every statistic. Without an optimiser `global_step` never advances, so a
        # `max_steps` limit would never fire; stop explicitly instead of looping over empty epochs.
        self.trainer.should_stop = True
