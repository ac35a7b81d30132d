"""What a study leaves in its folder: the best configuration and checkpoint, a table of trials, Optuna's plots,
`summary.json`, and (W&B on) a summary run with the plots.

    best.yaml      the best trial as a `zoo fit` configuration: `zoo fit --config best.yaml` retrains it
    best.ckpt      the best trial's checkpoint (its best epoch on the tuned validation metric)
    trials.csv     number, state, value, epochs, seconds, host and parameters of every trial
    summary.json   best trial, counts per state, parameter importances (or why there are none)
    plots/         optimization_history.png, intermediate_values.png, param_importances.png
"""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path
from typing import Any

import yaml

from zoo.bench.io import write_atomic, write_json_atomic
from zoo.tune.space import decode
from zoo.tune.study import TuneSetup, trial_config

MIN_TRIALS_FOR_IMPORTANCE = 2


def write_outputs(study: Any, setup: TuneSetup, stream: Any) -> dict[str, Any]:
    """Write every output file for the study as it stands now (any worker may call it; files are replaced
    atomically) and return the summary."""
    import optuna

    trials = study.get_trials(deepcopy=False)
    counts = {s.name.lower(): sum(t.state == s for t in trials) for s in optuna.trial.TrialState}
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    write_atomic(setup.study_dir / "trials.csv", trials_csv(trials, setup))
    summary: dict[str, Any] = {"study": setup.name, "storage": setup.storage_label, "metric": setup.metric,
                               "direction": setup.direction, "model": setup.model_name, "task": setup.task,
                               "trials": counts, "best": None, "importance": None, "plots": []}
    if complete:
        best = study.best_trial
        values = decode(setup.space, best.params)
        summary["best"] = {"trial": best.number, "value": best.value, "params": values,
                           "checkpoint": write_best(best, values, setup, stream)}
    else:
        print(f"zoo tune: no completed trial in study '{setup.name}' yet ({describe_counts(counts)}): "
              "no best configuration written", file=stream)
    summary["plots"], summary["importance"], summary["importance_note"] = write_plots(study, setup, len(complete))
    if summary["importance_note"]:
        print(f"zoo tune: {summary['importance_note']}", file=stream)
    write_json_atomic(setup.study_dir / "summary.json", summary)
    summary["wandb_run_id"] = log_summary_run(setup, summary, trials)
    return summary


def describe_counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {state}" for state, n in counts.items() if n) or "no trials"


def write_best(best: Any, values: dict[str, Any], setup: TuneSetup, stream: Any) -> str | None:
    """`best.yaml` and a copy of the best trial's checkpoint as `best.ckpt`; returns where the copy is."""
    config = trial_config(setup, values)
    header = (f"# zoo tune study '{setup.name}': best of its trials is trial {best.number}, "
              f"{setup.metric} = {best.value:.6g} (validation subjects of fold {config['data'].get('fold')}).\n"
              f"# Retrain it: zoo fit --config best.yaml; its checkpoint: best.ckpt beside this file.\n")
    write_atomic(setup.study_dir / "best.yaml", header + yaml.safe_dump(config, sort_keys=False))
    source = best.user_attrs.get("checkpoint")
    target = setup.study_dir / "best.ckpt"
    if source and Path(source).is_file():
        if Path(source).resolve() != target.resolve():
            tmp = target.with_name(f".best.ckpt.{best.number}.tmp")
            shutil.copyfile(source, tmp)
            tmp.replace(target)
        return str(target)
    print(f"zoo tune: the best trial's checkpoint is not on this machine (trial {best.number} ran on "
          f"{best.user_attrs.get('host', '?')}; its checkpoint: {source}); best.ckpt not written", file=stream)
    return None


def trials_csv(trials: list[Any], setup: TuneSetup) -> str:
    names = list(setup.space)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["number", "state", setup.metric, "epochs", "seconds", "host", *names, "error"])
    for t in trials:
        values = decode(setup.space, t.params)
        writer.writerow([t.number, t.state.name.lower(), "" if t.value is None else repr(float(t.value)),
                         len(t.intermediate_values), t.user_attrs.get("seconds", ""), t.user_attrs.get("host", ""),
                         *(values.get(n, "") for n in names), t.user_attrs.get("error", "")])
    return out.getvalue()


def write_plots(study: Any, setup: TuneSetup, n_complete: int) -> tuple[list[str], dict[str, float] | None, str | None]:
    """Optuna's matplotlib plots as PNG files; importances need at least two completed trials (the note says
    why they are missing otherwise)."""
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import optuna
    from optuna.visualization import matplotlib as ovm

    folder = setup.study_dir / "plots"
    folder.mkdir(parents=True, exist_ok=True)
    written, importance, note = [], None, None
    plots = {"optimization_history": ovm.plot_optimization_history, "intermediate_values": ovm.plot_intermediate_values}
    if n_complete >= MIN_TRIALS_FOR_IMPORTANCE:
        try:
            importance = {k: float(v) for k, v in optuna.importance.get_param_importances(study).items()}
            plots["param_importances"] = ovm.plot_param_importances
        except (ValueError, RuntimeError) as exc:  # e.g. every completed trial sampled the same values
            note = f"no parameter importances: {exc}"
    else:
        note = (f"no parameter importances: they need at least {MIN_TRIALS_FOR_IMPORTANCE} completed trials, "
                f"found {n_complete}")
    for name, plot in plots.items():
        if name == "optimization_history" and n_complete == 0:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # optuna's matplotlib backend is marked experimental
            ax = plot(study)
        figure = ax.figure if hasattr(ax, "figure") else ax.flat[0].figure
        figure.set_size_inches(7, 4.5)
        figure.tight_layout()
        path = folder / f"{name}.png"
        tmp = folder / f".{name}.tmp.png"
        figure.savefig(tmp, dpi=100)
        tmp.replace(path)
        plt.close(figure)
        written.append(str(path))
    return written, importance, note


def log_summary_run(setup: TuneSetup, summary: dict[str, Any], trials: list[Any]) -> str | None:
    """One W&B run per study (job_type `tune-summary`): the trials as a table, the best trial, the plots."""
    from zoo.bench.tracking import start_run

    run = start_run(setup.wandb, setup.study_dir, name=f"{setup.name}-summary", group=setup.name,
                    job_type="tune-summary", tags=[setup.model_name, setup.task, "summary"],
                    config={"study": setup.name, "metric": setup.metric, "direction": setup.direction,
                            "space": {k: p.to_dict() for k, p in setup.space.items()}})
    if run is None:
        return None
    import wandb

    try:
        names = list(setup.space)
        rows = [[t.number, t.state.name.lower(), None if t.value is None else float(t.value),
                 len(t.intermediate_values), *(_cell(decode(setup.space, t.params).get(n)) for n in names)]
                for t in trials]
        run.log({"trials": wandb.Table(columns=["number", "state", setup.metric, "epochs", *names], data=rows)})
        for path in summary["plots"]:
            run.log({f"plots/{Path(path).stem}": wandb.Image(path)})
        run.summary.update({"trials": summary["trials"], **({"best": summary["best"]} if summary["best"] else {}),
                            **({"importance": summary["importance"]} if summary["importance"] else {})})
        return run.id
    finally:
        run.finish()


def _cell(value: Any) -> Any:
    return str(value) if isinstance(value, (list, tuple)) else value
