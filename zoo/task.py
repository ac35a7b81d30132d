"""The base LightningModule of every zoo model, in the spirit of torchgeo's tasks.

It wires what all models share: the task's target normalisation, the loss, per-split metric
collections, the optimiser and scheduler chosen by hyperparameters, and logging. A subclass builds
its network in `__init__` (from `self.spec`, the data it will see) and defines `forward(batch)`; it may
override `compute_loss`. Predictions are made in normalised target units and mapped back to physical
units (N/cm^2, body weights, metres) before any metric sees them.
"""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any, ClassVar

import lightning.pytorch as pl
import torch
import torch.nn.functional as F
from torch import Tensor

from zoo.errors import ZooError
from zoo.metrics import task_metrics
from zoo.specs import default_data_spec

TRAINING_DEFAULTS: dict[str, Any] = {
    "optimizer": "adam",
    "lr": 1e-3,
    "weight_decay": 0.0,
    "betas": (0.9, 0.999),
    "scheduler": "none",
    "warmup_fraction": 0.2,
    "plateau_patience": 5,
    "plateau_factor": 0.5,
    "step_size": 20,
    "step_gamma": 0.5,
    "loss": "mse",
}
OPTIMIZERS = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}
SCHEDULERS = ("none", "plateau", "step", "warmup_cosine")
LOSSES = {"mse": F.mse_loss, "l1": F.l1_loss, "smooth_l1": F.smooth_l1_loss}


class BaseTask(pl.LightningModule):
    """Base of every zoo model.

    Args:
        data_spec: shapes and names of the data (`datamodule.data_spec`); default: the zoo's synthetic data
            for the model's first task.
        preset: a name in the class's `presets` (`small` trains in seconds on a CPU, `paper` follows the paper).
        optimizer, lr, weight_decay, betas: optimiser (`adam`, `adamw`, `sgd`) and its settings.
        scheduler: `none`, `plateau` (ReduceLROnPlateau on val/loss), `step` (StepLR every `step_size` epochs),
            `warmup_cosine` (linear warm-up over `warmup_fraction` of all steps, then cosine decay).
        loss: `mse`, `l1` or `smooth_l1` on normalised targets (subclasses may add terms).
        in_channels: optional check: the input channel count this configuration expects.
    """

    supported_tasks: ClassVar[tuple[str, ...]] = ()
    paper: ClassVar[str] = ""
    presets: ClassVar[dict[str, dict[str, Any]]] = {"small": {}}
    paper_data: ClassVar[dict[str, Any]] = {}  # data-spec overrides matching the paper's inputs
    model_name: ClassVar[str] = ""

    def __init__(
        self,
        data_spec: dict[str, Any] | None = None,
        preset: str = "small",
        optimizer: str | None = None,
        lr: float | None = None,
        weight_decay: float | None = None,
        betas: tuple[float, float] | None = None,
        scheduler: str | None = None,
        warmup_fraction: float | None = None,
        plateau_patience: int | None = None,
        plateau_factor: float | None = None,
        step_size: int | None = None,
        step_gamma: float | None = None,
        loss: str | None = None,
        in_channels: int | None = None,
    ) -> None:
        super().__init__()
        name = self.model_name or type(self).__name__
        if preset not in self.presets:
            raise ZooError(f"model '{name}': unknown preset '{preset}'; choices: {', '.join(self.presets)}")
        self._preset = self.presets[preset]
        spec = dict(data_spec) if data_spec else default_data_spec(
            self.supported_tasks[0], **(self.paper_data if preset == "paper" else {}))
        if spec["task"] not in self.supported_tasks:
            raise ZooError(
                f"model '{name}' does not support task '{spec['task']}'; it supports: "
                f"{', '.join(self.supported_tasks)}"
            )
        n_in = len(spec["input_channels"])
        if in_channels is not None and in_channels != n_in:
            raise ZooError(
                f"model '{name}': in_channels={in_channels} but the data provides {n_in} input channels "
                f"for task '{spec['task']}' ({', '.join(spec['input_channels'][:6])}{', ...' if n_in > 6 else ''})"
            )
        self.save_hyperparameters()
        self.spec = spec
        self.task = spec["task"]
        self.train_cfg = self.resolve(
            optimizer=optimizer, lr=lr, weight_decay=weight_decay, betas=betas, scheduler=scheduler,
            warmup_fraction=warmup_fraction, plateau_patience=plateau_patience, plateau_factor=plateau_factor,
            step_size=step_size, step_gamma=step_gamma, loss=loss,
        )
        if self.train_cfg.optimizer not in OPTIMIZERS:
            raise ZooError(f"optimizer: expected one of {list(OPTIMIZERS)}, found '{self.train_cfg.optimizer}'")
        if self.train_cfg.scheduler not in SCHEDULERS:
            raise ZooError(f"scheduler: expected one of {list(SCHEDULERS)}, found '{self.train_cfg.scheduler}'")
        if self.train_cfg.loss not in LOSSES:
            raise ZooError(f"loss: expected one of {list(LOSSES)}, found '{self.train_cfg.loss}'")
        target_shape = tuple(spec["target_shape"])
        self.register_buffer("target_mean", torch.zeros(target_shape))
        self.register_buffer("target_std", torch.ones(target_shape))
        self.register_buffer("stats_ready", torch.tensor(False))
        metric_args = {"cell_size_cm": spec.get("cell_size_cm"), "keypoint_names": spec.get("keypoint_names")}
        self.val_metrics = task_metrics(self.task, prefix="val/", primary_only=True, **metric_args)
        self.test_metrics = task_metrics(self.task, prefix="test/", **metric_args)

    # -- configuration -----------------------------------------------------------------------
    def resolve(self, **explicit: Any) -> SimpleNamespace:
        """Explicit arguments beat the preset, which beats the defaults; resolved values are saved as
        hyperparameters so a checkpoint rebuilds the same network even if presets change later."""
        resolved = {}
        for key, value in explicit.items():
            if value is None:
                value = self._preset.get(key, TRAINING_DEFAULTS.get(key))
            if value is None:
                raise ZooError(f"model '{self.model_name}': preset sets no value for '{key}'; pass it explicitly")
            resolved[key] = tuple(value) if isinstance(value, list) else value
        self.hparams.update(resolved)
        return SimpleNamespace(**resolved)

    @property
    def in_channels(self) -> int:
        return len(self.spec["input_channels"])

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.spec["input_shape"])

    @property
    def target_shape(self) -> tuple[int, ...]:
        return tuple(self.spec["target_shape"])

    def num_parameters(self, trainable_only: bool = True) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)

    # -- data statistics ---------------------------------------------------------------------
    def setup(self, stage: str) -> None:
        datamodule = getattr(self.trainer, "datamodule", None) if self._trainer is not None else None
        if datamodule is None or not hasattr(datamodule, "data_spec"):
            return
        theirs = datamodule.data_spec
        for key in ("task", "input_shape", "target_shape"):
            if _plain(theirs[key]) != _plain(self.spec[key]):
                raise ZooError(
                    f"model '{self.model_name}' was built for {key} {self.spec[key]} but the data provides "
                    f"{theirs[key]}; build the model from datamodule.data_spec"
                )
        if not bool(self.stats_ready):
            mean, std = datamodule.target_stats()
            self.target_mean.copy_(mean)
            self.target_std.copy_(std)
            self.stats_ready.fill_(True)

    def target(self, batch: dict[str, Tensor]) -> Tensor:
        """The physical target of a batch (the input itself for self-supervised tasks)."""
        return batch["x"] if self.task == "pretrain" else batch["y"]

    def normalise(self, y: Tensor) -> Tensor:
        return (y - self.target_mean) / self.target_std

    def denormalise(self, y: Tensor) -> Tensor:
        return y * self.target_std + self.target_mean

    # -- hooks for subclasses ----------------------------------------------------------------
    def forward(self, batch: dict[str, Tensor]) -> Tensor | dict[str, Tensor]:
        """Prediction in normalised target units, shaped like one target per sample; a dict may add
        extras for the loss (it must hold the prediction under `y`)."""
        raise NotImplementedError

    def compute_loss(self, out: dict[str, Tensor], target: Tensor, batch: dict[str, Tensor]) -> Tensor:
        """Loss on normalised units; override to add terms (consistency, heatmaps, masking)."""
        return LOSSES[self.train_cfg.loss](out["y"], target)

    # -- the loop ----------------------------------------------------------------------------
    def _outputs(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        out = self(batch)
        return out if isinstance(out, dict) else {"y": out}

    def _evaluate(self, batch: dict[str, Tensor], split: str) -> Tensor:
        """Loss of a batch; on val/test also feeds the split's metrics (physical units)."""
        out = self._outputs(batch)
        target = self.target(batch)
        loss = self.compute_loss(out, self.normalise(target), batch)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"{split} loss is {loss.item()} (non-finite)")
        if split != "train":
            metrics = self.val_metrics if split == "val" else self.test_metrics
            metrics.update(self.denormalise(out["y"]).float(), target.float(), subject=batch["subject"],
                           mask=out.get("mask"))
        return loss

    def _step(self, batch: dict[str, Tensor], split: str) -> Tensor:
        loss = self._evaluate(batch, split)
        n = batch["x"].shape[0]
        self.log(f"{split}/loss", loss, prog_bar=split != "test", on_step=False, on_epoch=True, batch_size=n)
        return loss

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        return self._step(batch, "val")

    def test_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        return self._step(batch, "test")

    def predict_step(self, batch: dict[str, Tensor], batch_idx: int) -> dict[str, Tensor]:
        out = self._outputs(batch)
        result = {"y_pred": self.denormalise(out["y"]), "subject": batch["subject"]}
        if "y" in batch:
            result["y_true"] = batch["y"]
        return result

    def _log_metrics(self, metrics) -> None:
        values = {k: v for k, v in metrics.compute().items()}
        self.log_dict({k: v.float() for k, v in values.items()})
        metrics.reset()

    def on_validation_epoch_end(self) -> None:
        self._log_metrics(self.val_metrics)

    def on_test_epoch_end(self) -> None:
        self._log_metrics(self.test_metrics)

    # -- optimisation ------------------------------------------------------------------------
    def configure_optimizers(self) -> Any:
        cfg = self.train_cfg
        params = [p for p in self.parameters() if p.requires_grad]
        kwargs: dict[str, Any] = {"lr": cfg.lr, "weight_decay": cfg.weight_decay}
        if cfg.optimizer in ("adam", "adamw"):
            kwargs["betas"] = tuple(cfg.betas)
        optimizer = OPTIMIZERS[cfg.optimizer](params, **kwargs)
        if cfg.scheduler == "none":
            return optimizer
        if cfg.scheduler == "plateau":
            scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
                optimizer, mode="min", patience=cfg.plateau_patience, factor=cfg.plateau_factor)
            return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "monitor": "val/loss"}}
        if cfg.scheduler == "step":
            scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=cfg.step_size, gamma=cfg.step_gamma)
            return {"optimizer": optimizer, "lr_scheduler": scheduler}
        total = max(1, int(self.trainer.estimated_stepping_batches))
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_cosine(total, cfg.warmup_fraction))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, (list, tuple)) else value


def warmup_cosine(total_steps: int, warmup_fraction: float):
    """Linear warm-up over the first `warmup_fraction` of steps, then cosine decay to zero (Tan 2024)."""
    warmup = max(1, int(round(warmup_fraction * total_steps)))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, total_steps - warmup))
        return 0.5 * (1.0 + math.cos(math.pi * progress))

    return factor
