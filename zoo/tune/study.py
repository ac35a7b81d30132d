"""An Optuna study over `zoo fit` configurations: storage, sampler, pruner and the objective.

Every trial is one `zoo fit` of the base configuration with the sampled values set, built by the same
`build_cli` as `zoo fit` and every suite cell. A trial fits on the training subjects and reports the
validation metric after every epoch to Optuna's Lightning pruning callback; it never builds the test
dataloader (the test subjects of the fold stay unseen until the user tests the best configuration).
"""

from __future__ import annotations

import json
import shutil
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zoo.errors import ZooError
from zoo.tune.space import Param, apply, space_to_dict, suggest

JOURNAL = "study.journal"
# Trainer settings of a trial that change nothing in its result (LightningCLI applies them on top).
QUIET_TRAINER = {"enable_progress_bar": False, "enable_model_summary": False, "num_sanity_val_steps": 0}


def require_optuna() -> None:
    try:
        import optuna  # noqa: F401
        import optuna_integration  # noqa: F401
    except ImportError as exc:
        raise ZooError(f"zoo tune needs optuna and optuna-integration; missing: {exc.name}; "
                       "install them with `pip install 'gait-zoo[tune]'`") from None


@dataclass
class TuneSetup:
    """What every trial of a study shares."""

    name: str
    study_dir: Path
    base_config: dict[str, Any]  # a `zoo fit` configuration (the parser's dump)
    space: dict[str, Param]
    metric: str  # e.g. val/r_vertical
    direction: str  # maximize | minimize
    model_name: str
    task: str
    wandb: dict[str, Any] | None = None
    keep_checkpoints: bool = False
    storage_label: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def mode(self) -> str:
        return "max" if self.direction == "maximize" else "min"


def trial_config(setup: TuneSetup, values: dict[str, Any]) -> dict[str, Any]:
    """The `zoo fit` configuration of a trial: the base with `values` set, keeping the checkpoint with the best
    value of the tuned metric (so the checkpoint is the epoch the trial's score comes from)."""
    config = apply(setup.base_config, setup.space, values)
    config["checkpoint"] = {**(config.get("checkpoint") or {}), "monitor": setup.metric, "mode": setup.mode,
                            "filename": "best", "dirpath": None}
    return config


def open_storage(url: str | None, study_dir: Path) -> tuple[Any, str]:
    """Optuna storage and how to name it: a journal file in the study folder by default (nothing to start;
    several processes on one machine share it), a journal file at a path, or any database URL Optuna takes
    (`sqlite:///...`, `postgresql://...`, `mysql://...`) so workers on several machines share one study."""
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    if url is None or "://" not in url:
        path = study_dir / JOURNAL if url is None else Path(url.removeprefix("journal:"))
        path.parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(str(path))), str(path)
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    return url, url


def create_or_load(setup: TuneSetup, storage: Any, *, resume: bool, seed: int, startup_trials: int,
                   pruner: str, warmup_epochs: int, max_epochs: int) -> Any:
    """The study: a new one, or (`resume`) the one of that name in the storage, checked to hold the same base
    configuration, space and metric, so every worker and every resumed run searches the same problem."""
    import optuna

    sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup_trials)
    try:
        study = optuna.create_study(study_name=setup.name, storage=storage, sampler=sampler,
                                    pruner=make_pruner(pruner, startup_trials, warmup_epochs, max_epochs),
                                    direction=setup.direction, load_if_exists=resume)
    except optuna.exceptions.DuplicatedStudyError:
        n = len(optuna.load_study(study_name=setup.name, storage=storage).trials)
        raise ZooError(f"study '{setup.name}' already exists in {setup.storage_label} ({n} trials); pass --resume "
                       "to continue it, or another --study-name") from None
    if study.direction.name.lower() != setup.direction:
        raise ZooError(f"study '{setup.name}' in {setup.storage_label} is to {study.direction.name.lower()}; "
                       f"found {setup.metric} here, which is to {setup.direction}")
    mine = {"base_config": setup.base_config, "space": space_to_dict(setup.space), "metric": setup.metric}
    for key, value in mine.items():
        theirs = study.user_attrs.get(key)
        if theirs is None:
            study.set_user_attr(key, value)
        elif _canonical(theirs) != _canonical(value):
            where, a, b = _first_difference(theirs, value)
            raise ZooError(f"study '{setup.name}' in {setup.storage_label} was started with another {key}: "
                           f"{where} is {a!r} there, found {b!r} here; use the same arguments or another "
                           "--study-name")
    return study


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _first_difference(a: Any, b: Any, where: str = "") -> tuple[str, Any, Any]:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b), key=str):
            if _canonical(a.get(key)) != _canonical(b.get(key)):
                return _first_difference(a.get(key), b.get(key), f"{where}.{key}" if where else str(key))
    return where or "(top)", a, b


def make_pruner(name: str, startup_trials: int, warmup_epochs: int, max_epochs: int) -> Any:
    """`median`: stop a trial whose validation metric after an epoch is worse than the median of the earlier
    trials at that epoch (after `startup_trials` finished trials and `warmup_epochs` epochs); `hyperband`;
    `none`."""
    import optuna

    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=startup_trials, n_warmup_steps=warmup_epochs)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=max(1, warmup_epochs), max_resource=max(2, max_epochs))
    if name == "none":
        return optuna.pruners.NopPruner()
    raise ZooError(f"--pruner: expected one of median, hyperband, none; found '{name}'")


class Objective:
    """One trial: fit the sampled configuration, report the validation metric per epoch, return its best value."""

    def __init__(self, setup: TuneSetup) -> None:
        self.setup = setup

    def __call__(self, trial: Any) -> float:
        import optuna
        from lightning.pytorch.loggers import CSVLogger, WandbLogger
        from optuna_integration import PyTorchLightningPruningCallback

        from zoo.bench.cell import quiet_lightning
        from zoo.bench.tracking import start_run
        from zoo.lightning_cli import build_cli

        setup = self.setup
        quiet_lightning()
        values = suggest(trial, setup.space)
        config = trial_config(setup, values)
        here = setup.study_dir / "trials" / f"{trial.number:04d}"
        trial.set_user_attr("folder", str(here.resolve()))
        trial.set_user_attr("host", socket.gethostname())
        run = start_run(setup.wandb, setup.study_dir, name=f"{setup.name}-trial{trial.number:04d}", group=setup.name,
                        job_type="tune", tags=[setup.model_name, setup.task, "trial"],
                        config={"study": setup.name, "trial": trial.number, "metric": setup.metric, **values,
                                "config": config})
        state, start, score, epochs, trainer = "failed", time.time(), None, 0, None
        try:
            loggers: list = [CSVLogger(here, name="", version="log")]
            if run is not None:
                loggers.append(WandbLogger(experiment=run))
            run_config = {**config, "checkpoint": {**config["checkpoint"], "dirpath": str(here / "checkpoints")}}
            cli = build_cli(run_config, trainer_overrides={"logger": loggers, **QUIET_TRAINER})
            trainer = cli.trainer
            # Optuna's own Lightning callback (it imports `lightning.pytorch`): report + prune after each epoch.
            trainer.callbacks.insert(0, PyTorchLightningPruningCallback(trial, monitor=setup.metric))
            trainer.fit(cli.model, datamodule=cli.datamodule)
            checkpoint = trainer.checkpoint_callback
            score = None if checkpoint.best_model_score is None else float(checkpoint.best_model_score)
            if score is None or score != score or abs(score) == float("inf"):
                raise ZooError(f"trial {trial.number}: {setup.metric} was never finite (found {score})")
            trial.set_user_attr("checkpoint", str(Path(checkpoint.best_model_path).resolve()))
            state = "complete"
            return score
        except optuna.TrialPruned:
            state = "pruned"
            raise
        except Exception as exc:
            trial.set_user_attr("error", f"{type(exc).__name__}: {exc}")
            raise
        finally:
            trial.set_user_attr("seconds", round(time.time() - start, 2))
            epochs = trainer.current_epoch + (state == "pruned") if trainer is not None else 0
            if run is not None:
                run.summary.update({"state": state, "epochs": epochs,
                                    **({f"best/{setup.metric}": score} if state == "complete" else {})})
                run.finish(exit_code=1 if state == "failed" else 0)


def after_trial(setup: TuneSetup, stream: Any):
    """Optuna callback after each trial: one line about it; unless `keep_checkpoints`, the checkpoints of
    finished trials other than the best are deleted (a study on paper presets would otherwise fill the disk)."""
    import optuna

    def callback(study: Any, trial: Any) -> None:
        epochs = len(trial.intermediate_values)
        params = ", ".join(f"{k}={_short(v)}" for k, v in trial.params.items())
        seconds = trial.user_attrs.get("seconds", 0.0)
        if trial.state == optuna.trial.TrialState.COMPLETE:
            what = f"{setup.metric} {trial.value:.4g} ({epochs} epochs)"
        elif trial.state == optuna.trial.TrialState.PRUNED:
            last = trial.intermediate_values[max(trial.intermediate_values)] if epochs else float("nan")
            what = f"pruned after {epochs} epoch{'s' * (epochs != 1)} ({setup.metric} {last:.4g})"
        else:
            what = f"failed: {trial.user_attrs.get('error', 'see the log')}"
        best = _best_or_none(study)
        tail = f"; best so far trial {best.number} ({best.value:.4g})" if best is not None else ""
        print(f"trial {trial.number}: {what}, {seconds:.0f} s; {params}{tail}", file=stream, flush=True)
        if not setup.keep_checkpoints:
            prune_checkpoints(setup, study, best)

    return callback


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _best_or_none(study: Any) -> Any:
    try:
        return study.best_trial
    except ValueError:  # no completed trial yet
        return None


def prune_checkpoints(setup: TuneSetup, study: Any, best: Any) -> None:
    """Delete the checkpoint folders of this study folder's finished trials other than the best one."""
    import optuna

    finished = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED, optuna.trial.TrialState.FAIL)
    for trial in study.get_trials(deepcopy=False, states=finished):
        if best is not None and trial.number == best.number:
            continue
        folder = setup.study_dir / "trials" / f"{trial.number:04d}" / "checkpoints"
        if folder.is_dir():
            shutil.rmtree(folder, ignore_errors=True)
