"""`zoo tune [OPTIONS] [zoo fit options]`: hyperparameter search with Optuna over any registered model.

    zoo tune --model tcn --data.path sim:quick --data.task imu2grf --trainer.max_epochs 10 --n-trials 20
    zoo tune --config experiments/tan2024_imu2grf_quick.yaml --space my_space.yaml --n-trials 50
    zoo tune --resume --out runs/tune/tcn-imu2grf-fold0 --n-trials 10          # continue the study
    zoo tune ... --storage postgresql://user@host/db --study-name grf --resume  # one worker of many

Options of `zoo fit` (a `--config` file, `--model`, `--data.*`, `--trainer.*`, `--model.*`) give the base
configuration; each trial sets the sampled values on it. Trials fit on the training subjects of the chosen
fold and are scored on its validation subjects; the test subjects are never loaded.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from zoo.errors import ZooError


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="zoo tune", allow_abbrev=False,
                                description="Hyperparameter search (Optuna TPE + pruning) over a zoo fit configuration. "
                                            "Other options are `zoo fit` options and give the base configuration.")
    p.add_argument("--n-trials", type=int, default=20, help="trials this process runs (default 20)")
    p.add_argument("--timeout", type=float, default=None, help="stop starting trials after this many seconds")
    p.add_argument("--study-name", default=None, help="default: <model>-<task>-fold<fold>")
    p.add_argument("--out", type=Path, default=None, help="study folder (default runs/tune/<study name>)")
    p.add_argument("--storage", default=None,
                   help="Optuna storage: a database URL (sqlite:///f.db, postgresql://..., mysql://...) or a journal "
                        "file path; default: <out>/study.journal")
    p.add_argument("--space", type=Path, default=None, help="YAML search space replacing the model's own")
    p.add_argument("--resume", action="store_true", help="continue the study of this name (create it if absent)")
    p.add_argument("--metric", default=None, help="validation metric to optimise (default: val/<task primary metric>)")
    p.add_argument("--pruner", default="median", choices=["median", "hyperband", "none"])
    p.add_argument("--startup-trials", type=int, default=5,
                   help="random trials before TPE models the space, and finished trials before the median pruner "
                        "prunes (default 5)")
    p.add_argument("--warmup-epochs", type=int, default=1, help="epochs before a trial may be pruned (default 1)")
    p.add_argument("--seed", type=int, default=0,
                   help="sampler seed, plus the number of trials already in the study when resuming (give parallel "
                        "workers different seeds)")
    p.add_argument("--keep-checkpoints", action="store_true", help="keep every trial's checkpoint, not only the best")
    p.add_argument("--no-wandb", action="store_true", help="no W&B runs (also: WANDB_MODE=disabled)")
    p.add_argument("--wandb-project", default="gait-zoo")
    return p


def main(argv: list[str], stream: Any = None) -> int:
    from zoo.tune.study import require_optuna

    stream = stream or sys.stdout
    args, rest = parser().parse_known_args(argv)
    for name in ("n_trials", "startup_trials"):
        if getattr(args, name) < 1:
            raise ZooError(f"--{name.replace('_', '-')}: expected an integer >= 1, found {getattr(args, name)}")
    if args.warmup_epochs < 0:
        raise ZooError(f"--warmup-epochs: expected an integer >= 0, found {args.warmup_epochs}")
    require_optuna()
    return run(args, rest, stream)


def run(args: argparse.Namespace, rest: list[str], stream: Any) -> int:
    import logging

    import optuna

    from zoo.tune.report import describe_counts, write_outputs
    from zoo.tune.study import Objective, after_trial, create_or_load

    optuna.logging.set_verbosity(logging.WARNING)
    setup, storage = make_setup(args, rest)
    study = create_or_load(setup, storage, resume=args.resume, seed=args.seed, startup_trials=args.startup_trials,
                           pruner=args.pruner, warmup_epochs=args.warmup_epochs,
                           max_epochs=int(setup.base_config["trainer"].get("max_epochs") or 1000))
    before = len(study.trials)
    if before:  # a resumed study: a new random start-up sequence, not the first run's again
        study.sampler = optuna.samplers.TPESampler(seed=args.seed + before, n_startup_trials=args.startup_trials)
    print(f"zoo tune: study '{setup.name}' ({'continuing, ' if before else 'new, '}{before} trials) in "
          f"{setup.storage_label}; {args.n_trials} trials here (sampler seed {args.seed + before}); {setup.metric} "
          f"to {setup.direction[:-1]}e; space: {', '.join(setup.space)}", file=stream, flush=True)
    try:
        study.optimize(Objective(setup), n_trials=args.n_trials, timeout=args.timeout, catch=(Exception,),
                       callbacks=[after_trial(setup, stream)], gc_after_trial=True)
    except KeyboardInterrupt:
        print("zoo tune: interrupted; the trial in flight is recorded as failed, the outputs of the others "
              "are written", file=stream)
        write_outputs(study, setup, stream)
        raise
    summary = write_outputs(study, setup, stream)
    if setup.wandb is not None:
        import wandb

        wandb.teardown()  # have W&B's service finish writing the runs before we return
    print(f"zoo tune: {describe_counts(summary['trials'])} in study '{setup.name}'; outputs in {setup.study_dir}",
          file=stream)
    if summary["best"] is None:
        return 1
    best = summary["best"]
    print(f"zoo tune: best trial {best['trial']}: {setup.metric} = {best['value']:.6g}; "
          f"{', '.join(f'{k}={v}' for k, v in best['params'].items())}\n"
          f"zoo tune: retrain it with: zoo fit --config {setup.study_dir / 'best.yaml'}", file=stream)
    return 0


def make_setup(args: argparse.Namespace, rest: list[str]):
    """The study's shared settings from the options, the base configuration and the model's space."""
    from datamodules.tasks import get_task
    from zoo.registry import get_model_class
    from zoo.tune.space import check_names, load_space_file, model_space, parse_space
    from zoo.tune.study import TuneSetup, open_storage

    stored = None
    if not rest:
        if not args.resume:
            raise ZooError("missing: the base configuration (zoo fit options such as --config FILE or "
                           "--model NAME --data.path PATH --data.task TASK); found none")
        stored = stored_study(args)
    config = stored["base_config"] if stored else read_config(rest)
    config["trainer"] = one_device(config["trainer"])
    cls = get_model_class(config["model"]["class_path"])
    model_name = cls.display_name()
    task = get_task(config["data"]["task"]).name
    if args.space is not None:
        space = load_space_file(args.space)
    elif stored:
        space = parse_space(stored["space"], f"study {args.study_name} space")
    else:
        space = model_space(cls)
    if not space:
        raise ZooError(f"model '{model_name}' declares no search space (search_space is empty); found nothing to "
                       "tune; pass --space FILE")
    check_names(space, cls, str(args.space) if args.space else f"model '{model_name}' search_space")
    check_extremes(config, space, str(args.space) if args.space else f"model '{model_name}' search_space")
    metric, direction = metric_of(args.metric or (stored or {}).get("metric"), task)
    name = args.study_name or f"{model_name}-{task}-fold{config['data'].get('fold', 0)}"
    study_dir = args.out or Path("runs") / "tune" / name
    study_dir.mkdir(parents=True, exist_ok=True)
    storage, label = open_storage(args.storage, study_dir)
    wandb = None if args.no_wandb else {"project": args.wandb_project}
    setup = TuneSetup(name=name, study_dir=study_dir, base_config=config, space=space, metric=metric,
                      direction=direction, model_name=model_name, task=task, wandb=wandb,
                      keep_checkpoints=args.keep_checkpoints, storage_label=label)
    return setup, storage


def one_device(trainer: dict[str, Any]) -> dict[str, Any]:
    """A trial trains inside this worker's process on one device: `devices: auto` becomes 1 (on a multi-GPU
    machine Lightning would otherwise start DDP, relaunching `zoo tune` in every process); more devices,
    nodes or a distributed strategy are refused."""
    trainer = {**trainer, "devices": 1} if trainer.get("devices", "auto") == "auto" else dict(trainer)
    from zoo.lightning_cli import spans_processes

    strategy, devices, nodes = trainer.get("strategy") or "auto", trainer["devices"], trainer.get("num_nodes") or 1
    name = strategy if isinstance(strategy, str) else str(strategy)
    if spans_processes(trainer):
        raise ZooError(f"trainer: expected one process per trial (one device, one node), found strategy {name!r}, "
                       f"devices {devices!r}, num_nodes {nodes!r}; to use more devices, start more workers on one "
                       "storage (--storage URL --resume)")
    return trainer


def stored_study(args: argparse.Namespace) -> dict[str, Any]:
    """`zoo tune --resume` without a configuration: the base configuration, space and metric stored with the
    study (named by --study-name, or the only study in the storage)."""
    import optuna

    from zoo.tune.study import open_storage

    if args.out is None and args.storage is None:
        raise ZooError("--resume: missing: --out STUDY_FOLDER or --storage URL (or the base configuration)")
    storage, label = open_storage(args.storage, args.out)
    names = [s.study_name for s in optuna.get_all_study_summaries(storage)]
    if args.study_name is None:
        if len(names) != 1:
            raise ZooError(f"--resume: {label} holds {len(names)} studies ({', '.join(names) or 'none'}); "
                           "name one with --study-name")
        args.study_name = names[0]
    elif args.study_name not in names:
        raise ZooError(f"--resume: no study '{args.study_name}' in {label}; found: {', '.join(names) or 'none'}")
    attrs = optuna.load_study(study_name=args.study_name, storage=storage).user_attrs
    missing = [k for k in ("base_config", "space", "metric") if k not in attrs]
    if missing:
        raise ZooError(f"--resume: study '{args.study_name}' in {label} was not made by zoo tune; missing: "
                       f"{', '.join(missing)}")
    return attrs


def read_config(argv: list[str]) -> dict[str, Any]:
    """`zoo fit` options -> the complete configuration, parsed and checked by the parser `zoo fit` uses."""
    import yaml

    from datamodules.datamodule import GaitDataModule
    from zoo.lightning_cli import (
        TRAINER_DEFAULTS,
        ConfigOnly,
        ZooCLI,
        _condense,
        _quiet,
        resolve_model_names,
    )
    from zoo.model import ZooModel
    from zoo.registry import load_models

    class Reader(ZooCLI):
        def before_instantiate_classes(self) -> None:
            try:
                super().before_instantiate_classes()
            except ConfigOnly:
                raise ConfigOnly(self.parser.dump(self.config)) from None

    load_models()
    _quiet()
    try:
        Reader(ZooModel, GaitDataModule, subclass_mode_model=True, args=resolve_model_names(argv), run=False,
               trainer_defaults=TRAINER_DEFAULTS, save_config_callback=None, check_only=True,
               parser_kwargs={"exit_on_error": False}, seed_everything_default=0)
    except ConfigOnly as done:
        config = yaml.safe_load(done.args[0])
    except ZooError:
        raise
    except (ValueError, TypeError, KeyError, argparse.ArgumentError) as exc:
        raise ZooError(_condense(str(exc))) from None
    config.pop("config", None)
    return config


def check_extremes(config: dict[str, Any], space, where: str) -> None:
    """Parse the configuration with every dimension at each end (0.2 s each; nothing is built), so a value
    the model rejects fails now with one line, not in trial 17."""
    from zoo.lightning_cli import validate_config
    from zoo.tune.space import apply

    for name, param in space.items():
        for value in param.extremes():
            validate_config(apply(config, space, {name: value}), f"{where}: {name}={value!r}")


def metric_of(metric: str | None, task: str) -> tuple[str, str]:
    """The tuned metric and its direction (from the task's metric table; the loss is minimised)."""
    from datamodules.tasks import get_task

    task_class = get_task(task)
    metric = metric or f"val/{task_class.primary_metric}"
    if not metric.startswith("val/"):
        raise ZooError(f"--metric: expected a validation metric (val/...), found '{metric}'")
    base = metric.removeprefix("val/")
    if base == "loss":
        return metric, "minimize"
    if base not in task_class.metric_info:
        raise ZooError(f"--metric: expected val/loss or a metric of task '{task}' (val/{task_class.primary_metric} "
                       f"is logged on validation), found '{metric}'")
    higher, _ = task_class.metric_description(base)
    return metric, "maximize" if higher else "minimize"
