"""`zoo fit|validate|test|predict`: LightningCLI over every registered model and the shared DataModule.

    zoo fit --model cnn_bilstm_attention --data.path sim:quick --data.task imu2pressure
    zoo fit --config experiments/qian2025_imu2pressure_quick.yaml
    zoo test --config experiments/qian2025_imu2pressure_quick.yaml --ckpt_path runs/.../best.ckpt

    zoo validate --config experiments/qian2025_imu2pressure_quick.yaml --ckpt_path runs/.../best.ckpt
    zoo predict --config experiments/qian2025_imu2pressure_quick.yaml --ckpt_path runs/.../best.ckpt \
        --predictions.output preds.npz

`--model` takes a registered short name (`zoo list`) or a dotted class path. The model is built from
the DataModule's `data_spec`, so the same config serves any grid size, IMU subset or keypoint set.
`zoo predict` runs over the test subjects of the chosen fold and writes an `.npz` (see `PredictionWriter`):
`y_pred` [N, *target_shape] in physical units, `subject` [N] and, where the data has targets, `y_true`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from lightning.pytorch.callbacks import BasePredictionWriter, ModelCheckpoint
from lightning.pytorch.cli import LightningCLI

from datamodules.datamodule import GaitDataModule
from zoo.errors import ZooError
from zoo.registry import get_model_class, load_models
from zoo.task import BaseTask

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


class ZooCLI(LightningCLI):
    def add_arguments_to_parser(self, parser) -> None:
        parser.link_arguments("data.data_spec", "model.init_args.data_spec", apply_on="instantiate")
        # Keep the best-validation checkpoint (Qian 2025); `zoo test --ckpt_path` evaluates it.
        parser.add_lightning_class_args(ModelCheckpoint, "checkpoint")
        parser.set_defaults({"checkpoint.monitor": "val/loss", "checkpoint.mode": "min",
                             "checkpoint.filename": "best-{epoch}"})
        # `zoo predict` writes its predictions here (the callback is idle in fit/validate/test).
        parser.add_lightning_class_args(PredictionWriter, "predictions")

    def before_instantiate_classes(self) -> None:
        """Check model against task before jsonargparse instantiates anything: its union-type errors would
        bury our one-line message in a page of namespaces."""
        config = self.config[self.subcommand] if self.subcommand else self.config
        check_model_for_data(config.model.class_path, config.model.init_args, config.data)


def check_model_for_data(class_path: str, model_args, data_args) -> None:
    from datamodules.errors import DataError
    from datamodules.tasks import TASKS, input_channel_count

    cls = get_model_class(class_path)
    task = data_args.task
    if task not in TASKS:
        raise DataError(f"data.task: expected one of {sorted(TASKS)}, found '{task}'")
    name = getattr(cls, "model_name", "") or cls.__name__
    if task not in cls.supported_tasks:
        raise ZooError(f"model '{name}' does not support task '{task}'; it supports: {', '.join(cls.supported_tasks)}")
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
        cls = get_model_class(name)
        path = f"{cls.__module__}.{cls.__qualname__}"
        out[slot] = path if slot != i else f"--model={path}"
    return out


def run_lightning_cli(argv: list[str]) -> int:
    import logging
    import warnings

    load_models()
    # `zoo` passes its own argv on purpose; and the seed is in the saved config, no need to shout it.
    warnings.filterwarnings("ignore", message=".*args parameter is intended to run from within Python.*")
    logging.getLogger("lightning.fabric.utilities.seed").setLevel(logging.WARNING)
    ZooCLI(
        BaseTask,
        GaitDataModule,
        subclass_mode_model=True,
        args=resolve_model_names(argv),
        trainer_defaults=TRAINER_DEFAULTS,
        save_config_kwargs={"overwrite": True},
        seed_everything_default=0,
    )
    return 0
