"""What the closed-form baselines share: they fit from sufficient statistics gathered in one pass over the
training data, with no optimiser, inside the same Lightning loop as every other model.

The fitting protocol (two hooks a closed-form model implements):

1. `accumulate(batch, target)`: called for every training batch of the first epoch (normalised targets);
   adds the batch to the model's sufficient statistics (buffers named in `statistics`).
2. `solve(val_batches)`: called once, right after the last training batch and before validation, with an
   iterable over the validation batches (models that choose a penalty score it there; others ignore it).
   Fits the network's buffers from the statistics.

Under DDP the statistics are summed over processes before `solve` (the samples a distributed sampler repeats to
even out the processes are left out), and `solve` sees all validation batches on every process, so every process
fits the same model as one process would.
The solve counts as the fit's one optimisation step (`trainer.global_step` becomes 1), so checkpoints of a
closed-form fit are saved like any other model's. Outside Lightning, `fit_closed_form(train_batches,
val_batches)` runs both hooks.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, ClassVar

import torch
from lightning.pytorch.utilities import move_data_to_device
from torch import Tensor, nn

from zoo.model import ZooModel


class ClosedFormModel(ZooModel):
    """One epoch collects statistics (`accumulate`); `solve` turns them into the fitted network."""

    statistics: ClassVar[tuple[str, ...]] = ()  # buffers summed over DDP processes before `solve`

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.automatic_optimization = False
        self.register_load_state_dict_pre_hook(self._drop_unsaved_statistics)

    def _drop_unsaved_statistics(self, module: nn.Module, state_dict: dict[str, Tensor], prefix: str,
                                 *args: Any) -> None:
        """Checkpoints written before a statistic stopped being saved (ridge's X^T Y) still load: the stored
        statistic is ignored, as a freshly fitted model would not have saved it."""
        for name in self.statistics:
            if name in self._non_persistent_buffers_set:
                state_dict.pop(prefix + name, None)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        # Nothing to optimise: a zero-rate optimiser over a placeholder lets the solve count as one step.
        return torch.optim.SGD([torch.zeros((), requires_grad=True)], lr=0.0)

    # -- the two hooks ---------------------------------------------------------------------------
    def accumulate(self, batch: Mapping[str, Tensor], target: Tensor) -> None:
        """Add a training batch (normalised targets) to the sufficient statistics."""
        raise NotImplementedError

    def solve(self, val_batches: Iterable[Mapping[str, Tensor]] = ()) -> None:
        """Fit the network from the statistics gathered so far."""
        raise NotImplementedError

    # -- outside Lightning -----------------------------------------------------------------------
    def finish_accumulation(self) -> None:
        """Fold anything `accumulate` held back into the statistics (before they are summed over processes or
        solved); models that update their statistics in place need nothing here."""

    def fit_closed_form(self, train_batches: Iterable[Mapping[str, Tensor]],
                        val_batches: Iterable[Mapping[str, Tensor]] = ()) -> None:
        for batch in train_batches:
            self.accumulate(batch, self.normalise(self.target(batch)))
        self.finish_accumulation()
        self.solve(val_batches)

    # -- inside Lightning ------------------------------------------------------------------------
    def training_step(self, batch: Mapping[str, Tensor], batch_idx: int) -> None:
        if self.current_epoch != 0:  # one pass is all a closed form needs; later epochs change nothing
            return
        batch = self._without_padding(batch, batch_idx)
        if len(batch["x"]):
            self.accumulate(batch, self.normalise(self.target(batch)))
        if batch_idx == self.trainer.num_training_batches - 1:  # the last batch: fit before validation
            self.finish_accumulation()
            self._sum_statistics_over_processes()
            self.solve(self._validation_batches())
            self.optimizers().step()  # the fit's one step (see the module docstring)

    def on_train_epoch_end(self) -> None:
        # One pass gathers every statistic. Without an optimiser `global_step` never advances, so a
        # `max_steps` limit would never fire; stop explicitly instead of looping over empty epochs.
        self.trainer.should_stop = True

    def _without_padding(self, batch: Mapping[str, Tensor], batch_idx: int) -> Mapping[str, Tensor]:
        """The batch less the samples a distributed sampler repeated to even out the processes, so the summed
        statistics count every training sample exactly once (as on one process)."""
        from datamodules.datamodule import padding_mask

        loader = self.trainer.train_dataloader
        sampler = getattr(loader, "sampler", None)
        n = len(batch["x"])
        keep = padding_mask(sampler, batch_idx * int(getattr(loader, "batch_size", None) or n), n)
        if keep is None or bool(keep.all()):
            return batch
        keep = keep.to(batch["x"].device)
        return {k: v[keep] if isinstance(v, Tensor) and v.ndim and len(v) == n else v for k, v in batch.items()}

    def _sum_statistics_over_processes(self) -> None:
        if self.trainer.world_size <= 1:
            return
        for name in self.statistics:
            buffer = getattr(self, name)
            buffer.copy_(self.trainer.strategy.reduce(buffer.clone(), reduce_op="sum"))

    def _validation_batches(self) -> Iterator[Mapping[str, Tensor]]:
        """The validation data (all of it, or `limit_val_batches` of it), on this model's device."""
        datamodule = getattr(self.trainer, "datamodule", None)
        if datamodule is None:
            return iter(())
        # all of it on every process (not this process's share), so every process chooses the same penalty
        loader = datamodule.full_dataloader("val") if hasattr(datamodule, "full_dataloader") else datamodule.val_dataloader()
        limit = self.trainer.limit_val_batches
        if isinstance(limit, int):
            batches = itertools.islice(loader, limit)
        elif limit < 1.0:
            batches = itertools.islice(loader, max(1, int(len(loader) * limit)))
        else:
            batches = iter(loader)
        return (move_data_to_device(b, self.device) for b in batches)


ClosedFormTask = ClosedFormModel  # the pre-0.2 name
