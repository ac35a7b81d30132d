"""`ZooModel`: the LightningModule that trains any zoo network on any task, in the spirit of torchgeo's tasks.

Every architecture is a plain `nn.Module` (its *network*, built from shapes alone: see `create_network`); its
`ZooModel` subclass holds it as `self.net` and adds only what the architecture's training needs beyond the
shared recipe. The shared recipe wires: the task's target normalisation (statistics from the training split,
saved with the checkpoint), the task's loss and metrics per split, the optimiser and scheduler, logging.

Beside its presets a model declares `search_space`, what `zoo tune` samples (zoo/tune/space.py).

Presets hold three sections, so a network can be built without its training recipe:

    presets = {"small": {"net": {"hidden": 64}, "optim": {"lr": 2e-3}, "loss": {}}, "paper": {...}}

`net` keys are the network's constructor arguments, `optim` keys the optimiser/scheduler (`OPTIM_DEFAULTS`),
`loss` keys the loss and the architecture's loss weights. Explicit arguments beat the preset, which beats the
defaults; resolved values are saved as hyperparameters, so a checkpoint rebuilds the same network even if a
preset changes later.

Predictions are made in normalised target units and mapped back to physical units (N/cm^2, body weights,
metres) before any metric sees them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import lightning.pytorch as pl
import torch
import torch.nn.functional as F
from lightning.pytorch.utilities import rank_zero_warn
from torch import Tensor, nn
from torchmetrics import MeanMetric

from datamodules.tasks import DataSpec, Task, get_task, tasks_of_family
from zoo.errors import NonFiniteLossError, ZooError

OPTIM_DEFAULTS: dict[str, Any] = {
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
}
LOSS_DEFAULTS: dict[str, Any] = {"loss": "mse"}
SECTIONS = ("net", "optim", "loss")
FUSED_DEVICES = ("cpu", "cuda")  # where torch's fused Adam/AdamW runs
OPTIMIZERS = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}
SCHEDULERS = ("none", "plateau", "step", "warmup_cosine")
LOSSES = {"mse": F.mse_loss, "l1": F.l1_loss, "smooth_l1": F.smooth_l1_loss}


class SupportedTasks:
    """`cls.supported_tasks`: every registered task of the families the model serves (so a task added later
    is served without touching the model). A plugin may still set `supported_tasks = (...)` by hand."""

    def __get__(self, obj: Any, cls: type) -> tuple[str, ...]:
        tasks = tasks_of_family(tuple(getattr(cls, "families", ())))
        first = getattr(cls, "default_task", None)
        return (first, *(t for t in tasks if t != first)) if first in tasks else tasks


class ZooModel(pl.LightningModule):
    """Base of every zoo model.

    Args:
        data_spec: shapes and names of the data (`datamodule.data_spec`); default: the zoo's synthetic data
            for the model's first task.
        preset: a name in the class's `presets` (`small` trains in seconds on a CPU, `paper` follows the paper).
        optimizer, lr, weight_decay, betas: optimiser (`adam`, `adamw`, `sgd`) and its settings.
        scheduler: `none`, `plateau` (ReduceLROnPlateau on val/loss), `step` (StepLR every `step_size` epochs),
            `warmup_cosine` (linear warm-up over `warmup_fraction` of all steps, then cosine decay).
        loss: `mse`, `l1` or `smooth_l1` on normalised targets (subclasses may add terms).
        loss_weights: weights of the task's named loss terms (multi-target tasks, e.g. imu2kinetics); the
            task's `loss_terms` lists them and their defaults.
        pretrained: a checkpoint of a zoo model whose network weights initialise this one; weights whose
            name and shape match are loaded, the others (e.g. a head for another task) stay new and are named.
        in_channels: optional check: the input channel count this configuration expects.
    """

    families: ClassVar[tuple[str, ...]] = ()
    supported_tasks = SupportedTasks()
    default_task: ClassVar[str | None] = None  # the task `create_model(name)` builds for (default: the first)
    network: ClassVar[type[nn.Module] | None] = None
    paper: ClassVar[str] = ""
    presets: ClassVar[dict[str, dict[str, dict[str, Any]]]] = {"small": {}}
    paper_data: ClassVar[dict[str, Any]] = {}  # data-spec overrides matching the paper's inputs
    # What `zoo tune` samples (see zoo/tune/space.py): model arguments, or `data.*` / `trainer.*` keys.
    search_space: ClassVar[dict[str, dict[str, Any]]] = {"lr": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True}}
    model_name: ClassVar[str] = ""
    # True when some parameters get no gradient on some steps (DDP must then look for them: `zoo fit
    # --trainer.strategy ddp` switches to `ddp_find_unused_parameters_true` for such a model)
    ddp_find_unused_parameters: ClassVar[bool] = False

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
        loss_weights: dict[str, float] | None = None,
        pretrained: str | None = None,
        in_channels: int | None = None,
    ) -> None:
        super().__init__()
        name = self.display_name()
        if preset not in self.presets:
            raise ZooError(f"model '{name}': unknown preset '{preset}'; choices: {', '.join(self.presets)}")
        self._preset = self.presets[preset]
        spec = self.default_data_spec(preset) if not data_spec else DataSpec.from_dict(data_spec)
        if spec.task not in self.supported_tasks:
            raise ZooError(f"model '{name}' does not support task '{spec.task}'; it supports: "
                           f"{', '.join(self.supported_tasks)}")
        n_in = len(spec.input_channels)
        if in_channels is not None and in_channels != n_in:
            channels = ", ".join(spec.input_channels[:6]) + (", ..." if n_in > 6 else "")
            raise ZooError(f"model '{name}': in_channels={in_channels} but the data provides {n_in} input channels "
                           f"for task '{spec.task}' ({channels})")
        self.save_hyperparameters()
        self.hparams["data_spec"] = spec.to_dict()  # plain types in checkpoints and config files
        self.spec = spec
        self.task: type[Task] = get_task(spec.task)
        self.train_cfg = SimpleNamespace(
            **vars(self.resolve("optim", optimizer=optimizer, lr=lr, weight_decay=weight_decay, betas=betas,
                                scheduler=scheduler, warmup_fraction=warmup_fraction,
                                plateau_patience=plateau_patience, plateau_factor=plateau_factor,
                                step_size=step_size, step_gamma=step_gamma)),
            **vars(self.resolve("loss", loss=loss)))
        self.loss_weights = self._resolve_loss_weights(loss_weights)
        self._check_choices()
        target_shape = tuple(spec.target_shape)
        self.register_buffer("target_mean", torch.zeros(target_shape))
        self.register_buffer("target_std", torch.ones(target_shape))
        self.register_buffer("stats_ready", torch.tensor(False))
        self.val_metrics = self.task.build_metrics(spec, prefix="val/", primary_only=True)
        self.test_metrics = self.task.build_metrics(spec, prefix="test/")
        # val/test loss as sample-weighted means whose states sync over DDP processes: the logged (and
        # checkpoint-monitored) value is the loss over all samples on every process, as on one process
        self.eval_loss = nn.ModuleDict({"val": MeanMetric(), "test": MeanMetric()})

    # -- configuration -----------------------------------------------------------------------
    @classmethod
    def display_name(cls) -> str:
        return cls.model_name or cls.__name__

    @classmethod
    def default_data_spec(cls, preset: str = "small", task: str | None = None) -> DataSpec:
        """The zoo's synthetic-data spec for `task` (default: the model's first task), at the paper's input
        sizes for the paper preset."""
        task = task or cls.supported_tasks[0]
        overrides = cls.paper_data if preset == "paper" else {}
        return get_task(task).default_spec(**overrides)

    def resolve(self, section: str | None = None, **explicit: Any) -> SimpleNamespace:
        """Explicit arguments beat the preset's `section`, which beats the defaults; the resolved values are
        saved as hyperparameters. (`resolve(**explicit)` without a section is the pre-0.2 call: deprecated.)"""
        if section is None:
            import warnings

            warnings.warn(f"model '{self.display_name()}': resolve(**args) without a preset section is deprecated; "
                          "use resolve('net'|'optim'|'loss', ...) or build_net(...)", DeprecationWarning, stacklevel=2)
            section = "net"
        resolved = resolve_section(type(self), self._preset, section, explicit)
        self.hparams.update(resolved)
        return SimpleNamespace(**resolved)

    def _check_choices(self) -> None:
        check_training_options(self.display_name(), vars(self.train_cfg))
        for key, value in self.loss_weights.items():
            if not (_is_real(value) and value >= 0):
                raise ZooError(f"model '{self.display_name()}': loss_weights.{key}: expected a number >= 0, "
                               f"found {value!r}")

    def _resolve_loss_weights(self, explicit: Mapping[str, float] | None) -> dict[str, float]:
        terms = dict(self.task.loss_terms)
        unknown = sorted(set(explicit or {}) - set(terms))
        if unknown:
            raise ZooError(f"model '{self.display_name()}': loss_weights: expected keys among {sorted(terms)} "
                           f"(the loss terms of task '{self.task.name}'), found {unknown}")
        return {**terms, **{k: float(v) for k, v in (explicit or {}).items()}}

    def build_net(self, **explicit: Any) -> nn.Module:
        """Resolve the `net` section and build the network for this model's data spec; loads `pretrained`."""
        cfg = vars(self.resolve("net", **explicit))
        net = type(self).make_network(self.spec, cfg)
        if self.hparams.get("pretrained"):
            load_network_weights(net, self.hparams["pretrained"], strict_prefix=type(self).pretrained_prefix())
        return net

    @classmethod
    def net_config(cls, preset: str = "small", **overrides: Any) -> dict[str, Any]:
        """The network's constructor arguments of `preset`, with `overrides` applied."""
        if preset not in cls.presets:
            raise ZooError(f"model '{cls.display_name()}': unknown preset '{preset}'; choices: {', '.join(cls.presets)}")
        return resolve_section(cls, cls.presets[preset], "net", overrides)

    @classmethod
    def network_shapes(cls, spec: DataSpec) -> dict[str, Any]:
        """The shape arguments of `cls.network` for this data (sequence-to-steps default)."""
        task = get_task(spec.task)
        return {"in_channels": len(spec.input_channels), "out_features": task.step_features(spec),
                "steps": task.output_steps(spec), "with_body_mass": bool(spec.has_body_mass)}

    @classmethod
    def make_network(cls, spec: DataSpec, cfg: Mapping[str, Any]) -> nn.Module:
        if cls.network is None:
            raise ZooError(f"model '{cls.display_name()}' declares no network class")
        return cls.network(**cls.network_shapes(spec), **cfg)

    @classmethod
    def pretrained_prefix(cls) -> str | None:
        """Weights under this prefix must all load from `pretrained` (None: load whatever matches)."""
        return None

    @property
    def in_channels(self) -> int:
        return len(self.spec.input_channels)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.spec.input_shape)

    @property
    def target_shape(self) -> tuple[int, ...]:
        return tuple(self.spec.target_shape)

    def num_parameters(self, trainable_only: bool = True) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)

    # -- data statistics ---------------------------------------------------------------------
    def setup(self, stage: str) -> None:
        datamodule = getattr(self.trainer, "datamodule", None) if self._trainer is not None else None
        if datamodule is None or not hasattr(datamodule, "data_spec"):
            return
        theirs = DataSpec.from_dict(datamodule.data_spec)
        for key in ("task", "input_shape", "target_shape"):
            if getattr(theirs, key) != getattr(self.spec, key):
                raise ZooError(f"model '{self.display_name()}' was built for {key} {self.spec[key]} but the data "
                               f"provides {theirs[key]}; build the model from datamodule.data_spec")
        if not bool(self.stats_ready):
            mean, std = datamodule.target_stats()
            self.set_target_stats(mean, std)
        if stage == "fit" and getattr(datamodule, "has_validation", True) is False:
            self._fit_without_validation()

    def _fit_without_validation(self) -> None:
        """No validation data (`val_subjects 0`): nothing can pick a best epoch or drive a plateau scheduler.
        Checkpoints monitoring a validation metric keep the last epoch instead, and say so."""
        from lightning.pytorch.callbacks import ModelCheckpoint

        if self.train_cfg.scheduler == "plateau":
            raise ZooError(f"model '{self.display_name()}': scheduler 'plateau' steps on val/loss, but the data "
                           "hold no validation set (val_subjects 0); missing: validation data; use scheduler "
                           "step, warmup_cosine or none, or keep validation data (val_subjects > 0)")
        switched = []
        for callback in self.trainer.checkpoint_callbacks:
            if isinstance(callback, ModelCheckpoint) and str(callback.monitor or "").startswith("val/"):
                switched.append(callback.monitor)
                callback.monitor = None  # with save_top_k 1: the latest epoch replaces the previous one
        if switched:
            rank_zero_warn(f"no validation data (val_subjects 0): the checkpoint keeps the last epoch's model "
                           f"instead of the best {switched[0]} one", category=UserWarning)

    def set_target_stats(self, mean: Tensor, std: Tensor) -> None:
        """Target normalisation from the training split (`datamodule.target_stats()`)."""
        self.target_mean.copy_(mean)
        self.target_std.copy_(std)
        self.stats_ready.fill_(True)

    def target(self, batch: Mapping[str, Tensor]) -> Tensor:
        """The physical target of a batch (the input itself for self-supervised tasks)."""
        return self.task.target_of(batch)

    def normalise(self, y: Tensor) -> Tensor:
        return (y - self.target_mean) / self.target_std

    def denormalise(self, y: Tensor) -> Tensor:
        return y * self.target_std + self.target_mean

    # -- hooks for subclasses ----------------------------------------------------------------
    def net_inputs(self, batch: Mapping[str, Tensor]) -> tuple[Tensor, ...]:
        """What the network's forward takes: the input, and body mass when the data carry it."""
        return (batch["x"], batch.get("body_mass")) if self.spec.has_body_mass else (batch["x"],)

    def forward(self, batch: Mapping[str, Tensor]) -> Tensor | dict[str, Tensor]:
        """Prediction in normalised target units, shaped like one target per sample; a dict may add
        extras for the loss (it must hold the prediction under `y`)."""
        return self.task.to_target(self.net(*self.net_inputs(batch)), self.spec)

    def compute_loss(self, out: Mapping[str, Tensor], target: Tensor, batch: Mapping[str, Tensor]) -> Tensor:
        """Loss on normalised units: the task's (weighted terms for multi-target tasks); subclasses add their
        architecture's terms (consistency, heatmaps, masking)."""
        return self.task.loss(out["y"], target, batch, elementwise=LOSSES[self.train_cfg.loss],
                              weights=self.loss_weights, denormalise=self.denormalise, spec=self.spec)

    # -- public evaluation helpers -------------------------------------------------------------
    def outputs(self, batch: Mapping[str, Tensor]) -> dict[str, Tensor]:
        """`forward` as a dict with the normalised prediction under `y`."""
        out = self(batch)
        return out if isinstance(out, dict) else {"y": out}

    def predict_batch(self, batch: Mapping[str, Tensor]) -> Tensor:
        """Prediction in physical units (N/cm^2, body weights, metres)."""
        return self.denormalise(self.outputs(batch)["y"])

    def training_loss(self, batch: Mapping[str, Tensor]) -> Tensor:
        """The training loss of one batch (what an optimiser step minimises)."""
        return self.compute_loss(self.outputs(batch), self.normalise(self.target(batch)), batch)

    _outputs = outputs  # older name, kept for plugins

    # -- the loop ----------------------------------------------------------------------------
    def _evaluate(self, batch: Mapping[str, Tensor], split: str) -> Tensor:
        """Loss of a batch; on val/test also feeds the split's metrics (physical units)."""
        out = self.outputs(batch)
        target = self.target(batch)
        loss = self.compute_loss(out, self.normalise(target), batch)
        if not torch.isfinite(loss):
            raise NonFiniteLossError(self.non_finite_message(loss, batch, split))
        if split != "train":
            self.update_metrics(self.val_metrics if split == "val" else self.test_metrics, out, target, batch)
        return loss

    def update_metrics(self, metrics, out: Mapping[str, Tensor], target: Tensor, batch: Mapping[str, Tensor]) -> None:
        """Feed a split's metrics in float32 and outside autocast, whatever the training precision: under
        `bf16-mixed` the network's output is bfloat16 (3 significant digits), and autocast would run the
        metrics' own convolutions and products (SSIM, correlations) in bfloat16 too."""
        with torch.autocast(device_type=self.device.type, enabled=False):
            pred = self.denormalise(out["y"].float())
            self.task.update_metrics(metrics, pred, target.float(), batch, out)

    def non_finite_message(self, loss: Tensor, batch: Mapping[str, Tensor], split: str) -> str:
        """What a non-finite loss came from: the batch's subjects and trials, and whether its inputs or targets
        hold the NaN (then where in the file) or the model diverged."""
        message = f"{split} loss is {loss.item()} (non-finite)"
        dm = getattr(self._trainer, "datamodule", None) if self._trainer is not None else None
        bad_rows = [torch.zeros(len(batch["x"]), dtype=torch.bool)]
        for key in ("x", "y", "y_clean", "body_mass"):
            value = batch.get(key)
            if isinstance(value, Tensor) and value.is_floating_point() and value.ndim >= 1:
                bad_rows.append(~torch.isfinite(value.detach().reshape(len(value), -1).cpu()).all(dim=1))
        bad = torch.stack(bad_rows).any(dim=0)
        if dm is not None and hasattr(dm, "describe_rows") and "row" in batch:
            rows = batch["row"].cpu().numpy()
            message += f" in a batch of {len(rows)} samples from {dm.describe_rows(rows)}"
            if bad.any():
                found = dm.find_non_finite(rows[bad.numpy()])
                message += "; its inputs or targets are not finite: " + (found or "the normalisation made them so")
                return message + f"; `zoo data validate {dm.path}` lists every such place" if found else message
        elif "subject" in batch:
            message += f" in a batch of subjects {sorted(set(batch['subject'].tolist()))}"
        if bad.any():
            return message + f"; {int(bad.sum())} of its samples hold NaN or Inf in their inputs or targets"
        return message + ("; its inputs and targets are finite, so the model diverged (try a lower lr or "
                          "gradient clipping)")

    def _step(self, batch: Mapping[str, Tensor], split: str) -> Tensor:
        loss = self._evaluate(batch, split)
        n = batch["x"].shape[0]
        if split == "train":
            self.log("train/loss", loss, prog_bar=True, on_step=False, on_epoch=True, batch_size=n, sync_dist=True)
        else:
            mean = self.eval_loss[split]
            mean.update(loss.detach().float(), weight=n)
            self.log(f"{split}/loss", mean, prog_bar=split != "test", on_step=False, on_epoch=True, batch_size=n)
        return loss

    def training_step(self, batch: Mapping[str, Tensor], batch_idx: int) -> Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: Mapping[str, Tensor], batch_idx: int) -> Tensor:
        return self._step(batch, "val")

    def test_step(self, batch: Mapping[str, Tensor], batch_idx: int) -> Tensor:
        return self._step(batch, "test")

    def predict_step(self, batch: Mapping[str, Tensor], batch_idx: int) -> dict[str, Tensor]:
        result = {"y_pred": self.predict_batch(batch), "subject": batch["subject"]}
        if "y" in batch:
            result["y_true"] = batch["y"]
        return result

    def _log_metrics(self, metrics) -> None:
        self.log_dict({k: v.float() for k, v in metrics.compute().items()})
        metrics.reset()

    def on_validation_epoch_end(self) -> None:
        self._log_metrics(self.val_metrics)

    def on_test_epoch_end(self) -> None:
        # per-stride tables of the stride-level metrics, kept for the caller (a suite cell writes them as CSV)
        self.stride_tables = {name: metric.stride_table() for name, metric in
                              self.test_metrics.items(keep_base=True, copy_state=False)
                              if hasattr(metric, "stride_table")}
        self._log_metrics(self.test_metrics)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # The architecture, so `zoo export CKPT` rebuilds the model without being told which one it is.
        checkpoint["zoo_model"] = {"name": self.display_name(),
                                   "class_path": f"{type(self).__module__}.{type(self).__qualname__}"}
        # The state dict already holds the trained network: restoring must not need the pretraining file.
        hparams = checkpoint.get("hyper_parameters", {})
        if hparams.get("pretrained"):
            checkpoint["pretrained_source"] = hparams["pretrained"]
            hparams["pretrained"] = None

    # -- optimisation ------------------------------------------------------------------------
    def make_optimizer(self, params: Iterable[Any], **overrides: Any) -> torch.optim.Optimizer:
        """The configured optimiser over `params` (tensors or param groups); `overrides` replace settings."""
        cfg = self.train_cfg
        kwargs: dict[str, Any] = {"lr": cfg.lr, "weight_decay": cfg.weight_decay}
        if cfg.optimizer in ("adam", "adamw"):
            kwargs["betas"] = tuple(cfg.betas)
            params = [{**p, "params": list(p["params"])} if isinstance(p, Mapping) else p for p in params]
            # One fused kernel over all parameters: the same update to float rounding, 3-8x faster steps on
            # CPU (docs/speed.md); only where torch has it (CPU and CUDA floating-point parameters).
            kwargs["fused"] = all(p.device.type in FUSED_DEVICES and p.is_floating_point()
                                  for p in _parameters_of(params))
        return OPTIMIZERS[cfg.optimizer](params, **{**kwargs, **overrides})

    def configure_optimizers(self) -> Any:
        cfg = self.train_cfg
        optimizer = self.make_optimizer([p for p in self.parameters() if p.requires_grad])
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


def _parameters_of(params: list[Any]) -> Iterator[Tensor]:
    """The tensors of an optimiser's argument: tensors, or parameter groups holding them under `params`."""
    for item in params:
        if isinstance(item, Mapping):
            yield from item["params"]
        else:
            yield item


def _is_real(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_count(value: Any, low: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


# optimiser/scheduler/loss option -> (what is expected, test); the one place these values are checked, for a
# model being built and for a configuration being validated before anything is built (`zoo fit`, suites).
TRAINING_RULES: dict[str, tuple[str, Any]] = {
    "optimizer": (f"one of {list(OPTIMIZERS)}", lambda v: v in OPTIMIZERS),
    "scheduler": (f"one of {list(SCHEDULERS)}", lambda v: v in SCHEDULERS),
    "loss": (f"one of {list(LOSSES)}", lambda v: v in LOSSES),
    "lr": ("a positive number", lambda v: _is_real(v) and v > 0),
    "weight_decay": ("a number >= 0", lambda v: _is_real(v) and v >= 0),
    "betas": ("two numbers in [0, 1)", lambda v: isinstance(v, (list, tuple)) and len(v) == 2
              and all(_is_real(b) and 0 <= b < 1 for b in v)),
    "warmup_fraction": ("a number in [0, 1]", lambda v: _is_real(v) and 0 <= v <= 1),
    "plateau_patience": ("an integer >= 0", lambda v: _is_count(v, 0)),
    "plateau_factor": ("a number in (0, 1)", lambda v: _is_real(v) and 0 < v < 1),
    "step_size": ("an integer >= 1", lambda v: _is_count(v, 1)),
    "step_gamma": ("a positive number", lambda v: _is_real(v) and v > 0),
}


def check_training_options(model: str, values: Mapping[str, Any]) -> None:
    """Raise a one-line `ZooError` for the first optimiser, scheduler or loss value out of range (None: unset,
    the preset decides)."""
    for key, (expected, ok) in TRAINING_RULES.items():
        value = values.get(key)
        if value is not None and not ok(value):
            shown = f"'{value}'" if isinstance(value, str) else repr(value)
            raise ZooError(f"model '{model}': {key}: expected {expected}, found {shown}")


def sectioned(preset: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """A preset as `{net, optim, loss}`; a pre-0.2 flat preset is split: optimiser keys to `optim`, `loss` to
    `loss`, everything else to `net`."""
    if not preset or any(k in SECTIONS for k in preset):
        return {k: dict(preset.get(k) or {}) for k in SECTIONS}
    out: dict[str, dict[str, Any]] = {k: {} for k in SECTIONS}
    for key, value in preset.items():
        out["optim" if key in OPTIM_DEFAULTS else "loss" if key in LOSS_DEFAULTS else "net"][key] = value
    return out


def resolve_section(cls: type, preset: Mapping[str, Any], section: str, explicit: Mapping[str, Any]) -> dict[str, Any]:
    defaults = {"optim": OPTIM_DEFAULTS, "loss": LOSS_DEFAULTS}.get(section, {})
    values = sectioned(preset)[section]
    resolved = {}
    for key, value in explicit.items():
        if value is None:
            value = values.get(key, defaults.get(key))
        if value is None:
            raise ZooError(f"model '{cls.display_name()}': preset sets no value for {section} key '{key}'; "
                           "pass it explicitly")
        resolved[key] = tuple(value) if isinstance(value, list) else value
    if section == "net":  # keys the caller did not name come from the preset as they are
        resolved = {**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}, **resolved}
    return resolved


def load_network_weights(net: nn.Module, path: str | Path, *, strict_prefix: str | None = None) -> list[str]:
    """Initialise `net` from the network weights of a zoo checkpoint (`net.*` of its state dict) or a saved
    `state_dict()` of a network. Loads every weight whose name and shape match; returns the names left new.

    Loading nothing is an error (a checkpoint of another architecture). With `strict_prefix`, every weight
    under that prefix (e.g. an encoder) must load, so a pretrained encoder is never silently half-used.
    """
    if not Path(path).is_file():
        raise ZooError(f"pretrained: no checkpoint file at {path}")
    stored = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(stored, Mapping):
        raise ZooError(f"pretrained checkpoint {path}: expected a dict of weights, found {type(stored).__name__}")
    weights = stored.get("state_dict", stored)
    if any(k.startswith("net.") for k in weights):
        weights = {k[len("net."):]: v for k, v in weights.items() if k.startswith("net.")}
    own = net.state_dict()
    loaded = {k: v for k, v in weights.items() if k in own and own[k].shape == v.shape}
    left_new = [k for k in own if k not in loaded]
    if not loaded:
        raise ZooError(f"pretrained checkpoint {path}: none of its weights fits this network (expected names like "
                       f"{', '.join(list(own)[:3])}); is it a checkpoint of the same architecture?")
    if strict_prefix is not None:
        missing = [k for k in own if k.startswith(strict_prefix) and k not in loaded]
        if missing:
            shown = ", ".join(missing[:6]) + (f" (+{len(missing) - 6} more)" if len(missing) > 6 else "")
            raise ZooError(f"pretrained checkpoint {path}: its {strict_prefix.rstrip('.')} does not fit this "
                           f"network; missing or differently shaped: {shown}; found: {len(loaded)} of "
                           f"{len(own)} weights that fit")
    net.load_state_dict({**own, **loaded})
    if left_new:
        rank_zero_warn(f"pretrained {path}: {len(left_new)} weights stay newly initialised "
                       f"({', '.join(left_new[:4])}{', ...' if len(left_new) > 4 else ''})")
    return left_new


def warmup_cosine(total_steps: int, warmup_fraction: float):
    """Linear warm-up over the first `warmup_fraction` of steps, then cosine decay to zero (Tan 2024)."""
    warmup = max(1, int(round(warmup_fraction * total_steps)))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, total_steps - warmup))
        return 0.5 * (1.0 + math.cos(math.pi * progress))

    return factor
