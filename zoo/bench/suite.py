"""Suite files: which tasks, models, folds and seeds to run, on which data, for how long.

    name: quick
    dataset: sim:quick            # a recording file, or sim:PRESET[:SEED]
    folds: 3                      # subject-wise K; `run_folds: [0, 1]` runs a subset
    seeds: [0]
    data: {batch_size: 32}        # GaitDataModule options for every task
    trainer: {max_epochs: 10}     # Trainer options for every cell
    oracle: true                  # a noise-floor row per task (needs clean targets)
    wandb: {project: gait-zoo}    # or false
    tasks:
      imu2grf:
        data: {window: 128}
        models:
          - ridge
          - {name: tcn, preset: small, overrides: {lr: 0.002}, trainer: {max_epochs: 20}}

A cell is one (task, model, fold, seed); cells are the unit of isolation, resumption and sharding.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from datamodules.errors import DataError
from datamodules.tasks import get_task, list_tasks

ORACLE = "noise-floor"
SUITE_KEYS = {"name", "description", "dataset", "folds", "run_folds", "seeds", "split_seed", "data", "trainer",
              "tasks", "oracle", "wandb", "threads", "cell_timeout_s", "label_fractions", "pretrain", "robustness"}
PRETRAIN_KEYS = {"model", "preset", "dataset", "overrides", "trainer", "data", "n_folds", "task", "label"}
PRETRAINED = "@pretrain"  # in a model's overrides: the checkpoint of the suite's pretraining cell
# `@pretrain:<label>` names one of several pretraining stages (`pretrain:` as a list of labelled stages)


def pretrain_reference(value: Any) -> str | None:
    """The stage label an override value refers to ("" for plain `@pretrain`), or None if it is no reference."""
    if value == PRETRAINED:
        return ""
    if isinstance(value, str) and value.startswith(PRETRAINED + ":"):
        return value[len(PRETRAINED) + 1:]
    return None
MODEL_KEYS = {"name", "label", "preset", "overrides", "trainer", "data"}


class SuiteError(DataError):
    """A suite file is malformed; the message names the file and the field."""


@dataclass(frozen=True)
class ModelSpec:
    name: str            # registry name (or "noise-floor")
    label: str           # leaderboard row name
    preset: str = "small"
    overrides: dict[str, Any] = field(default_factory=dict)
    trainer: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Cell:
    suite: str
    task: str
    model: ModelSpec
    fold: int
    seed: int
    n_folds: int
    split_seed: int
    dataset: str
    data: dict[str, Any]
    trainer: dict[str, Any]
    wandb: dict[str, Any] | None
    label_fraction: float = 1.0
    depends_on: Cell | None = None  # the pretraining cell whose checkpoint this cell starts from
    is_pretraining: bool = False    # a cell of the suite's pretraining stage (its `pretrain:` section)

    @property
    def key(self) -> str:
        if self.is_pretraining:
            return f"pretrain__{self.model.label}__seed{self.seed}"
        frac = "" if self.label_fraction == 1.0 else f"__lf{self.label_fraction:g}"
        return f"{self.task}__{self.model.label}{frac}__fold{self.fold}__seed{self.seed}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "suite": self.suite, "task": self.task, "model": self.model.name, "label": self.model.label,
            "preset": self.model.preset, "overrides": self.model.overrides, "fold": self.fold, "seed": self.seed,
            "n_folds": self.n_folds, "split_seed": self.split_seed, "dataset": self.dataset, "data": self.data,
            "trainer": self.trainer, "wandb": self.wandb, "label_fraction": self.label_fraction,
            "depends_on": self.depends_on.fingerprint if self.depends_on else None,
        }

    @property
    def fingerprint(self) -> str:
        """Changes when anything that shapes the result changes, so stale results are not reused."""
        return hashlib.sha1(json.dumps(self.to_dict(), sort_keys=True, default=str).encode()).hexdigest()[:12]


@dataclass
class Suite:
    path: Path
    name: str
    description: str
    dataset: str
    n_folds: int
    run_folds: list[int]
    seeds: list[int]
    split_seed: int
    tasks: dict[str, dict[str, Any]]
    data: dict[str, Any]
    trainer: dict[str, Any]
    oracle: bool
    wandb: dict[str, Any] | None
    threads: int | None
    cell_timeout_s: float | None
    label_fractions: list[float]
    pretrain: list[dict[str, Any]] | None = None  # pretraining stages (one, or several with labels)
    robustness: bool = False  # re-test every trained cell under input perturbations (zoo/bench/robustness.py)

    def pretrain_cells(self) -> dict[tuple[str, int], Cell]:
        """One pretraining cell per stage and seed (on its own corpus), run before the cells that use it;
        keyed by (stage label, seed), the label "" for a single unlabelled stage."""
        cells = {}
        for p in self.pretrain or []:
            label = p.get("label", "")
            name = f"{p['model']}-pretrain" + (f"-{label}" if label else "")
            model = ModelSpec(p["model"], name, p.get("preset", "small"), dict(p.get("overrides") or {}))
            n_folds = int(p.get("n_folds", 20))  # fold 0's test subjects (1/n) are held out to report masked MSE
            task = p.get("task") or next(n for n in list_tasks() if get_task(n).self_supervised)
            for seed in self.seeds:
                cells[(label, seed)] = Cell(
                    self.name, task, model, 0, seed, n_folds, self.split_seed, p.get("dataset", self.dataset),
                    {**self.data, **(p.get("data") or {})}, {**self.trainer, **(p.get("trainer") or {})},
                    self.wandb, is_pretraining=True)
        return cells

    def cells(self) -> list[Cell]:
        """Pretraining cells first, then every (task, model, label fraction, fold, seed)."""
        pretrain = self.pretrain_cells()
        out: list[Cell] = list(pretrain.values())
        for task, spec in self.tasks.items():
            models = list(spec["models"])
            if self.oracle:
                models.append(ModelSpec(ORACLE, ORACLE))
            for model in models:
                fractions = self.label_fractions if model.name != ORACLE else [1.0]
                for frac in fractions:
                    for fold in self.run_folds:
                        for seed in self.seeds:
                            data = {**self.data, **spec.get("data", {}), **model.data}
                            trainer = {**self.trainer, **spec.get("trainer", {}), **model.trainer}
                            uses = [r for r in map(pretrain_reference, model.overrides.values()) if r is not None]
                            out.append(Cell(self.name, task, model, fold, seed, self.n_folds, self.split_seed,
                                            self.dataset, data, trainer, self.wandb, frac,
                                            depends_on=pretrain[(uses[0], seed)] if uses else None))
        return out


def shard(cells: list[Cell], spec: str | None) -> list[Cell]:
    """`i/n`: every n-th cell from the i-th (0-based), so shards balance models and tasks."""
    if not spec:
        return cells
    try:
        i, n = (int(v) for v in spec.split("/"))
    except ValueError:
        raise SuiteError(f"--shard: expected 'i/n' with integers, e.g. 0/4, found '{spec}'") from None
    if not (n >= 1 and 0 <= i < n):
        raise SuiteError(f"--shard: expected 0 <= i < n, found '{spec}'")
    return cells[i::n]


def _fail(path: Path, field_name: str, expected: str, found: Any) -> SuiteError:
    return SuiteError(f"{path}: {field_name}: expected {expected}, found {found!r}")


def _model_spec(path: Path, where: str, item: Any) -> ModelSpec:
    if isinstance(item, str):
        item = {"name": item}
    if not isinstance(item, dict) or "name" not in item:
        raise _fail(path, where, "a model name or a mapping with 'name'", item)
    unknown = set(item) - MODEL_KEYS
    if unknown:
        raise _fail(path, where, f"keys among {sorted(MODEL_KEYS)}", sorted(unknown))
    preset = item.get("preset", "small")
    label = item.get("label") or (item["name"] if preset == "small" else f"{item['name']}-{preset}")
    return ModelSpec(item["name"], label, preset, dict(item.get("overrides") or {}), dict(item.get("trainer") or {}),
                     dict(item.get("data") or {}))


def load_suite(path: str | Path, dataset: str | None = None) -> Suite:
    """Read and check a suite file; every problem names the file and the field."""
    path = Path(path)
    if not path.exists():
        raise SuiteError(f"{path}: no such suite file")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise SuiteError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(raw, dict):
        raise _fail(path, "top level", "a mapping", type(raw).__name__)
    unknown = set(raw) - SUITE_KEYS
    if unknown:
        raise _fail(path, "top level", f"keys among {sorted(SUITE_KEYS)}", sorted(unknown))
    for key in ("name", "dataset", "tasks"):
        if key not in raw:
            raise _fail(path, key, "a value", None)
    from zoo.registry import list_models

    tasks = raw["tasks"]
    if not isinstance(tasks, dict) or not tasks:
        raise _fail(path, "tasks", "a mapping of task name to its models", tasks)
    parsed: dict[str, dict[str, Any]] = {}
    known_models = set(list_models())
    for task, spec in tasks.items():
        if task not in list_tasks():
            raise _fail(path, f"tasks.{task}", f"a task among {list_tasks()}", task)
        if not isinstance(spec, dict) or not spec.get("models"):
            raise _fail(path, f"tasks.{task}.models", "a non-empty list of models", spec)
        models = [_model_spec(path, f"tasks.{task}.models[{i}]", m) for i, m in enumerate(spec["models"])]
        for i, m in enumerate(models):
            if m.name not in known_models:
                raise _fail(path, f"tasks.{task}.models[{i}].name", f"a registered model ({', '.join(sorted(known_models))})",
                            m.name)
        labels = [m.label for m in models]
        if len(set(labels)) != len(labels):
            raise _fail(path, f"tasks.{task}.models", "unique labels (set `label:` to tell presets apart)", labels)
        parsed[task] = {**copy.deepcopy(spec), "models": models}
    folds = raw.get("folds", 5)
    if not isinstance(folds, int) or folds < 2:
        raise _fail(path, "folds", "an integer >= 2", folds)
    run_folds = raw.get("run_folds", list(range(folds)))
    if not all(isinstance(f, int) and 0 <= f < folds for f in run_folds):
        raise _fail(path, "run_folds", f"fold indices in 0..{folds - 1}", run_folds)
    seeds = raw.get("seeds", [0])
    if not isinstance(seeds, list) or not seeds or not all(isinstance(s, int) for s in seeds):
        raise _fail(path, "seeds", "a non-empty list of integers", seeds)
    wandb = raw.get("wandb", {"project": "gait-zoo"})
    if wandb not in (False, None) and not isinstance(wandb, dict):
        raise _fail(path, "wandb", "false or a mapping (project, entity, mode)", wandb)
    fractions = raw.get("label_fractions", [1.0])
    if not isinstance(fractions, list) or not all(isinstance(f, (int, float)) and 0 < f <= 1 for f in fractions):
        raise _fail(path, "label_fractions", "a list of numbers in (0, 1]", fractions)
    pretrain = raw.get("pretrain")
    stages = [pretrain] if isinstance(pretrain, dict) else pretrain
    if stages is not None:
        if not isinstance(stages, list) or not stages:
            raise _fail(path, "pretrain", "a mapping with 'model', or a list of them with a 'label' each", pretrain)
        for i, stage in enumerate(stages):
            where = "pretrain" if isinstance(pretrain, dict) else f"pretrain[{i}]"
            if not isinstance(stage, dict) or "model" not in stage:
                raise _fail(path, where, "a mapping with 'model' (and preset, dataset, data, trainer)", stage)
            unknown = set(stage) - PRETRAIN_KEYS
            if unknown:
                raise _fail(path, where, f"keys among {sorted(PRETRAIN_KEYS)}", sorted(unknown))
            if stage["model"] not in known_models:
                raise _fail(path, f"{where}.model", "a registered model", stage["model"])
            if isinstance(pretrain, list) and not stage.get("label"):
                raise _fail(path, f"{where}.label", "a label (several stages are told apart by it)", None)
        labels = [s.get("label", "") for s in stages]
        if len(set(labels)) != len(labels):
            raise _fail(path, "pretrain", "stages with distinct labels", labels)
    available = {s.get("label", "") for s in stages or []}
    for task, spec in parsed.items():
        for i, m in enumerate(spec["models"]):
            for ref in (r for r in map(pretrain_reference, m.overrides.values()) if r is not None):
                if ref not in available or (ref == "" and len(available) > 1):
                    expected = (f"'@pretrain:<label>' with a label among {sorted(available)}" if len(available) > 1
                                else "a 'pretrain:' section for '@pretrain'" if not available
                                else "'@pretrain'")
                    raise _fail(path, f"tasks.{task}.models[{i}].overrides", expected, m.overrides)
    return Suite(
        path=path, name=str(raw["name"]), description=str(raw.get("description", "")),
        dataset=str(dataset or raw["dataset"]), n_folds=folds, run_folds=list(run_folds), seeds=seeds,
        split_seed=int(raw.get("split_seed", 0)), tasks=parsed, data=dict(raw.get("data") or {}),
        trainer=dict(raw.get("trainer") or {}), oracle=bool(raw.get("oracle", False)),
        wandb=wandb or None, threads=raw.get("threads"), cell_timeout_s=raw.get("cell_timeout_s"),
        label_fractions=[float(f) for f in fractions], pretrain=stages,
        robustness=_flag(path, "robustness", raw.get("robustness", False)),
    )


def _flag(path: Path, key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _fail(path, key, "true or false", value)
    return value
