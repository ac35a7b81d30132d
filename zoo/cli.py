"""The `zoo` console command.

    zoo fit|validate|test|predict ...   LightningCLI (see `zoo fit --help`)
        zoo fit --config experiments/tan2024_imu2grf_quick.yaml
        zoo validate|test --config ... --ckpt_path runs/lightning/.../best-*.ckpt
        zoo predict --config ... --ckpt_path ... --predictions.output preds.npz
            (test subjects; writes y_pred [N, *target_shape] in physical units, subject and y_true)
    zoo list [PATTERN]                  registered models, their tasks, presets and sizes
    zoo bench SUITE.yaml [--out DIR]    run a benchmark suite; `zoo bench merge DIR...`
    zoo tune [--n-trials N] [zoo fit options]   hyperparameter search with Optuna (see `zoo tune --help`)
    zoo data generate|validate|import|events|strip ...
    zoo export CKPT --format onnx|torchscript --out FILE   inference graph + FILE.json sidecar (raw units in)
    zoo predict-stream MODEL.onnx --recording FILE        streaming inference, numpy + onnxruntime (no torch)
    zoo card MODEL                      the model card (docs/models/MODEL.md)
"""

from __future__ import annotations

import sys

from datamodules.errors import DataError
from zoo.errors import ZooError

LIGHTNING_COMMANDS = ("fit", "validate", "test", "predict")
USAGE = __doc__ or ""


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE.strip())
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    try:
        if command in LIGHTNING_COMMANDS:
            from zoo.lightning_cli import run_lightning_cli

            return run_lightning_cli(argv)
        if command == "list":
            from zoo.registry import main_list

            return main_list(rest)
        if command == "bench":
            from zoo.bench.runner import main as bench_main

            return bench_main(rest)
        if command == "tune":
            from zoo.tune.cli import main as tune_main

            return tune_main(rest)
        if command == "data":
            from datamodules.cli import main as data_main

            return data_main(rest)
        if command == "export":
            from zoo.deploy.export import main as export_main

            return export_main(rest)
        if command == "predict-stream":  # imports no torch: a deployment needs numpy and onnxruntime only
            from zoo.deploy.stream import main as stream_main

            return stream_main(rest)
        if command == "card":
            from benchmarks.cards import main_card

            return main_card(rest)
    except (ZooError, DataError, FileNotFoundError) as exc:
        print(f"zoo {command}: error: {exc}", file=sys.stderr)
        return 2
    print(f"zoo: unknown command '{command}'. Choices: {', '.join(LIGHTNING_COMMANDS)}, list, bench, tune, data, "
          "export, predict-stream, card",
          file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
