"""`zoo fit|validate|test|predict`: LightningCLI over every registered model and the shared DataModule.

    zoo fit --model cnn_bilstm_attention --data.path sim:quick --data.task imu2pressure
    zoo fit --config experiments/qian2025_imu2pressure_quick.yaml
    zoo test --config experiments/qian2025_imu2pressure_quick.yaml --ckpt_path runs/.../best.ckpt

    zoo validate --config experiments/qian2025_imu2pressure_quick.yaml --ckpt_path runs/.../best.ckpt
    zoo predict --config experiments/qian2025_imu2pressure_quick.yaml --ckpt_path runs/.../best.ckpt \
        --predictions.output preds.npz

`--model` takes a registered short name (`zoo list`) or a dotted class path. The model is built from
the DataModule's `data_spec`, so the same config serves any grid size, IMU subset or keypoint set.
`--threads N` pins torch's intra-op threads (and is saved in the config, so a rerun computes the same); without
it the run uses one thread per core this process may run on (`os.sched_getaffinity`), set explicitly.

This module is the one way the zoo trains: `zoo fit` and every cell of `zoo bench` build their Trainer,
model and DataModule through `ZooCLI`; a suite cell writes its configuration as `config.yaml`, which
`zoo fit --config` accepts as it is.
`zoo predict` runs over the test subjects of the chosen fold and writes an `.npz` (see `PredictionWriter`):
`y_pred` [N, *target_shape] in physical units, `subject` [N] and, where the data has targets, `y_true`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from lightning.pytorch.callbacks import BasePredictionWriter, ModelCheckpoint
from lightning.pytorch.cli import LightningCLI
from lightning.pytorch.strategies import DDPStrategy

from datamodules.datamodule import GaitDataModule
from zoo.errors import ZooError
from zoo.model import ZooModel
from zoo.registry import get_model_class, load_models

TRAINER_DEFAULTS = {"precision": "32-true", "default_root_dir": "runs/lightning"}
PREDICTION_KEYS = ("y_pred", "subject", "y_true")


class PredictionWriter(BasePredictionWriter):
    """Writes what `zoo predict` predicts to one `.npz` file.

    Args:
        output: file to write (`.npz` is appended if missing); default `predictions.npz` in the trainer's
            log directory. Arrays: `y_pred` [N, *target_shape] (physical units: N/cm^2, body weights, metres),
            `subject` [N] and `y_true` [N, *target_shape] when the data has targets, in data-loader order.
    """

    def __init__(self, output: str | None = None) -> None:
        super().__init__(write_interval="batch")
        self.output = output
        self.path: Path | None = None  # where the last predict run wrote
        self._parts: dict[str, list[np.ndarray]] = {}

    def on_predict_epoch_start(self, trainer, pl_module) -> None:
        self._parts = {}

    def write_on_batch_end(self, trainer, pl_module, prediction: dict[str, Any], batch_indices, batch,
                           batch_idx: int, dataloader_idx: int) -> None:
        for key in PREDICTION_KEYS:
            if key in prediction:
                self._parts.setdefault(key, []).append(prediction[key].detach().cpu().numpy())

    def on_predict_epoch_end(self, trainer, pl_module) -> None:
        if trainer.world_size > 1:  # DDP: process r predicted samples r, r + n, ...; process 0 writes them all
            self._parts = self._gather(trainer.world_size, trainer.global_rank)
            if trainer.global_rank != 0:
                return
        if not self._parts:
            return
        path = Path(self.output) if self.output else Path(trainer.log_dir or trainer.default_root_dir) / "predictions"
        if path.suffix != ".npz":
            path = path.with_name(path.name + ".npz")
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {k: np.concatenate(v) for k, v in self._parts.items()}
        np.savez(path, **arrays)
        self.path = path
        shape = "x".join(str(d) for d in arrays["y_pred"].shape)
        print(f"zoo predict: wrote y_pred [{shape}] and {', '.join(k for k in arrays if k != 'y_pred')} to {path}")

    def _gather(self, world: int, rank: int) -> dict[str, list[np.ndarray]]:
        """Every process's predictions, back in the data-loader order of one process (see EvaluationSampler)."""
        import torch.distributed as dist

        mine = {k: np.concatenate(v) for k, v in self._parts.items()}
        shares: list[dict[str, np.ndarray] | None] = [None] * world
        dist.all_gather_object(shares, mine)
        if rank != 0:
            return {}
        out = {}
        for key in mine:
            parts = [share[key] for share in shares if share and key in share]
            total = sum(len(p) for p in parts)
            merged = np.empty((total, *parts[0].shape[1:]), dtype=parts[0].dtype)
            for r, part in enumerate(parts):
                merged[r::world] = part
            out[key] = [merged]
        return out


class UnwrappedDDPStrategy(DDPStrategy):
    """DDP (one process per device, the same launcher and process group) for a model with no trainable
    parameter: torch's DistributedDataParallel refuses such a module, and there are no gradients to average.
    Closed-form models all-reduce their sufficient statistics themselves (zoo/models/closed_form.py)."""

    def configure_ddp(self) -> None:
        pass  # keep the LightningModule as it is


class ConfigOnly(Exception):
    """Raised once a configuration is parsed and checked, when nothing is to be built (`validate_config`)."""


class ZooCLI(LightningCLI):
    """LightningCLI over every registered model and `GaitDataModule`.

    Args beyond LightningCLI's: `trainer_overrides` are Trainer arguments applied on top of the configuration
    (where outputs go: loggers, callbacks), so the configuration itself holds only what shapes the result;
    `check_only` parses and checks the configuration and raises `ConfigOnly` instead of building anything.
    """

    def __init__(self, *args: Any, trainer_overrides: dict[str, Any] | None = None, check_only: bool = False,
                 **kwargs: Any) -> None:
        self.trainer_overrides = dict(trainer_overrides or {})
        self.check_only = check_only
        super().__init__(*args, **kwargs)

    def add_arguments_to_parser(self, parser) -> None:
        parser.link_arguments("data.data_spec", "model.init_args.data_spec", apply_on="instantiate")
        # Keep the best-validation checkpoint (Qian 2025); `zoo test --ckpt_path` evaluates it.
        parser.add_lightning_class_args(ModelCheckpoint, "checkpoint")
        parser.set_defaults({"checkpoint.monitor": "val/loss", "checkpoint.mode": "min",
                             "checkpoint.filename": "best-{epoch}"})
        # `zoo predict` writes its predictions here (the callback is idle in fit/validate/test).
        parser.add_lightning_class_args(PredictionWriter, "predictions")
        parser.add_argument("--threads", type=int | None, default=None,
                            help="torch intra-op threads (default: the cores this process may use); saved with "
                                 "the config")

    def before_instantiate_classes(self) -> None:
        """Check model against task before jsonargparse instantiates anything: its union-type errors would
        bury our one-line message in a page of namespaces."""
        config = self.config[self.subcommand] if self.subcommand else self.config
        check_values(config)
        check_model_for_data(config.model.class_path, config.model.init_args, config.data)
        torch.set_num_threads(int(config.threads) if config.get("threads") is not None else available_cores())
        if self.check_only:
            raise ConfigOnly()

    def instantiate_trainer(self, **kwargs: Any):
        kwargs = {**kwargs, **self.trainer_overrides}
        config = self.config_init[self.subcommand] if self.subcommand else self.config_init
        strategy = kwargs.get("strategy", (config.get("trainer") or {}).get("strategy"))
        if strategy == "ddp" and not any(p.requires_grad for p in self.model.parameters()):
            kwargs["strategy"] = UnwrappedDDPStrategy()  # closed forms: nothing to synchronise per step
        elif strategy == "ddp" and getattr(self.model, "ddp_find_unused_parameters", False):
            # DDP stops at the first step when a parameter gets no gradient (a mask token on a supervised
            # task, a frozen stage): models that have such parameters declare it, and get DDP's search for them
            from lightning.pytorch.utilities import rank_zero_info

            rank_zero_info(f"zoo: strategy ddp -> ddp_find_unused_parameters_true for model "
                           f"'{type(self.model).display_name()}' (some of its parameters get no gradient on "
                           f"some steps)")
            kwargs["strategy"] = "ddp_find_unused_parameters_true"
        return super().instantiate_trainer(**kwargs)


def spans_processes(trainer: Mapping[str, Any]) -> bool:
    """Whether these trainer settings start more than one process: several devices (or `auto`, which is all of
    a multi-GPU machine's), several nodes, or a distributed strategy. Lightning's launcher then re-runs the
    command that started the training, so a suite runs such a cell as its own command and `zoo tune` refuses it."""
    devices, nodes = trainer.get("devices", 1), trainer.get("num_nodes") or 1
    one_device = devices in (1, "1") or (isinstance(devices, (list, tuple)) and len(devices) == 1)
    strategy = str(trainer.get("strategy") or "").lower()
    return not one_device or nodes not in (1, "1") or any(w in strategy for w in ("ddp", "fsdp", "deepspeed"))


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity, e.g. under taskset or a container's cpuset)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # no affinity API (macOS, Windows)
        return max(1, os.cpu_count() or 1)


def _limit_ok(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return value >= 1
    # as Lightning reads it: a fraction of the batches, or a whole number of them (the parser makes 3 into 3.0)
    return isinstance(value, float) and (0 < value <= 1 or (value > 1 and value.is_integer()))


PRECISIONS = ("32-true", "bf16-mixed", "16-mixed", "bf16-true", "16-true", "64-true", "32", "16", "bf16", "64",
              32, 16, 64)

# Trainer options whose wrong values Lightning would only reject mid-run (or silently accept: max_epochs 0
# trains nothing and then tests an untrained model).
TRAINER_RULES: dict[str, tuple[str, Any]] = {
    "max_epochs": ("an integer >= 1, or -1 (no limit, with max_steps)",
                   lambda v: isinstance(v, int) and not isinstance(v, bool) and (v >= 1 or v == -1)),
    "min_epochs": ("an integer >= 0", lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0),
    "max_steps": ("an integer >= 1, or -1 (no limit)",
                  lambda v: isinstance(v, int) and not isinstance(v, bool) and (v >= 1 or v == -1)),
    "limit_train_batches": ("an integer >= 1 (batches) or a fraction in (0, 1]", _limit_ok),
    "limit_val_batches": ("an integer >= 1 (batches) or a fraction in (0, 1]", _limit_ok),
    "limit_test_batches": ("an integer >= 1 (batches) or a fraction in (0, 1]", _limit_ok),
    "accumulate_grad_batches": ("an integer >= 1", lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1),
    "check_val_every_n_epoch": ("an integer >= 1", lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1),
    "gradient_clip_val": ("a number >= 0", lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)
                          and np.isfinite(v) and v >= 0),
    "precision": (f"one of {list(PRECISIONS)} (16-mixed needs a GPU)", lambda v: v in PRECISIONS),
    "num_nodes": ("an integer >= 1", lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1),
}


def check_trainer_options(values, where: str = "trainer") -> None:
    """One-line `ZooError` for the first trainer limit out of range (None: Lightning's default)."""
    for key, (expected, ok) in TRAINER_RULES.items():
        value = values.get(key) if hasattr(values, "get") else None
        if value is not None and not ok(value):
            raise ZooError(f"{where}.{key}: expected {expected}, found {value!r}")


def check_values(config) -> None:
    """Every user-facing value of a parsed configuration (`threads`, trainer limits, data options, optimiser
    settings) before anything is built: one line naming the option, what was expected and what was found."""
    from datamodules.errors import DataError
    from datamodules.options import check_data_options
    from zoo.model import check_training_options

    threads = config.get("threads")
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise ZooError(f"threads: expected an integer >= 1, found {threads!r}")
    check_trainer_options(config.get("trainer") or {})
    data = config.get("data")
    if data is not None:
        try:
            check_data_options(dict(vars(data)) if hasattr(data, "__dict__") else dict(data), where="data")
        except DataError as exc:
            raise ZooError(str(exc)) from None
    args = config.model.get("init_args") if config.get("model") is not None else None
    if args is not None:
        cls = get_model_class(str(config.model.class_path))
        name = cls.display_name() if issubclass(cls, ZooModel) else cls.__name__
        check_training_options(name, dict(vars(args)) if hasattr(args, "__dict__") else dict(args))


def check_model_for_data(class_path: str, model_args, data_args) -> None:
    from datamodules.tasks import get_task, input_channel_count

    cls = get_model_class(class_path)
    task = get_task(data_args.task).name  # an unknown task fails here, listing the tasks
    name = cls.display_name() if issubclass(cls, ZooModel) else cls.__name__
    if task not in cls.supported_tasks:
        raise ZooError(f"model '{name}' does not support task '{task}'; it supports: {', '.join(cls.supported_tasks)}")
    preset = getattr(model_args, "preset", "small")
    if preset not in cls.presets:
        raise ZooError(f"model '{name}': unknown preset '{preset}'; choices: {', '.join(cls.presets)}")
    expected = getattr(model_args, "in_channels", None)
    found = input_channel_count(task, channels=data_args.channels, imus=data_args.imus)
    if expected is not None and expected != found:
        raise ZooError(f"model '{name}': in_channels={expected} but the data provides {found} input channels "
                       f"for task '{task}'")


def resolve_model_names(argv: list[str]) -> list[str]:
    """`--model tcn` -> `--model zoo.models.tcn.TemporalCNN`; unknown names fail with the list of choices."""
    out = list(argv)
    for i, arg in enumerate(out):
        name = None
        if arg == "--model" and i + 1 < len(out) and not out[i + 1].startswith("-"):
            name, slot = out[i + 1], i + 1
        elif arg.startswith("--model="):
            name, slot = arg.split("=", 1)[1], i
        if name is None or name.endswith((".yaml", ".yml", ".json")):
            continue
        out[slot] = class_path(name) if slot != i else f"--model={class_path(name)}"
    return out


def class_path(name: str) -> str:
    """The dotted class path of a registered model name (or of a dotted path, checked)."""
    cls = get_model_class(name)
    return f"{cls.__module__}.{cls.__qualname__}"


def _quiet() -> None:
    import logging
    import warnings

    # `zoo` passes its own argv on purpose; and the seed is in the saved config, no need to shout it.
    warnings.filterwarnings("ignore", message=".*args parameter is intended to run from within Python.*")
    logging.getLogger("lightning.fabric.utilities.seed").setLevel(logging.WARNING)


def build_cli(config: dict[str, Any], *, trainer_overrides: dict[str, Any] | None = None,
              check_only: bool = False) -> ZooCLI:
    """Trainer, model and DataModule of a configuration (the mapping a `zoo fit --config` file holds),
    exactly as `zoo fit` builds them; nothing runs. `trainer_overrides` decide where outputs go."""
    load_models()
    _quiet()
    return ZooCLI(ZooModel, GaitDataModule, subclass_mode_model=True, args=config, run=False,
                  trainer_defaults=TRAINER_DEFAULTS, save_config_callback=None, trainer_overrides=trainer_overrides,
                  check_only=check_only, parser_kwargs={"exit_on_error": False}, seed_everything_default=0)


def validate_config(config: dict[str, Any], where: str) -> None:
    """Parse and check a configuration without loading data or building a model: every key and type of the
    trainer, model and data sections, model-task support and preset names. Errors name `where`."""
    import argparse

    try:
        build_cli(config, check_only=True)
    except ConfigOnly:
        return
    except (ZooError, ValueError, TypeError, KeyError, argparse.ArgumentError) as exc:
        raise ZooError(f"{where}: {_condense(str(exc))}") from None


def _condense(message: str) -> str:
    """jsonargparse's page about a union type in one line: the model's own complaint when it has one."""
    import re

    message = " ".join(message.split())
    found = re.search(r"Problem with given class_path '([^']+)': (.*?)(?: - Expected a <class 'NoneType'>|$)", message)
    if found:
        return f"model {found[1].rsplit('.', 1)[-1]}: {found[2].strip()}"
    return message


def run_lightning_cli(argv: list[str]) -> int:
    load_models()
    _quiet()
    ZooCLI(
        ZooModel,
        GaitDataModule,
        subclass_mode_model=True,
        args=resolve_model_names(argv),
        trainer_defaults=TRAINER_DEFAULTS,
        save_config_kwargs={"overwrite": True},
        seed_everything_default=0,
    )
    return 0
