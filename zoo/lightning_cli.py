"""`zoo fit|validate|test|predict`: LightningCLI over every registered model and the shared DataModule.

    zoo fit --model cnn_bilstm_attention --data.path sim:quick --data.task imu2pressure
    zoo fit --config experiments/qian2025_imu2pressure_quick.yaml
    zoo test --config experiments/qian2025_imu2pressure_quick.yaml --ckpt_path runs/.../best.ckpt

`--model` takes a registered short name (`zoo list`) or a dotted class path. The model is built from
the DataModule's `data_spec`, so the same config serves any grid size, IMU subset or keypoint set.
"""

from __future__ import annotations

from lightning.pytorch.cli import LightningCLI

from datamodules.datamodule import GaitDataModule
from zoo.registry import get_model_class, load_models
from zoo.task import BaseTask

TRAINER_DEFAULTS = {
    "precision": "32-true",
    "default_root_dir": "runs/lightning",
    "callbacks": [
        {
            "class_path": "lightning.pytorch.callbacks.ModelCheckpoint",
            "init_args": {"monitor": "val/loss", "mode": "min", "filename": "best-{epoch}", "save_last": False},
        }
    ],
}


class ZooCLI(LightningCLI):
    def add_arguments_to_parser(self, parser) -> None:
        parser.link_arguments("data.data_spec", "model.init_args.data_spec", apply_on="instantiate")


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
    load_models()
    ZooCLI(
        BaseTask,
        GaitDataModule,
        subclass_mode_model=True,
        args=resolve_model_names(argv),
        trainer_defaults=TRAINER_DEFAULTS,
        save_config_kwargs={"overwrite": True},
    )
    return 0
