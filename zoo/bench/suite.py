"""Suite files: which tasks, models, folds and seeds to run, on which data, for how long.

    name: quick
    dataset: sim:quick            # a recording file, or sim:PRESET[:SEED]
    folds: 3                      # K of the split (subjects by default); `run_folds: [0, 1]` runs a subset
    split_seed: 0                 # seed of the fold assignment: the same folds for every model and seed
    seeds: [0]
    data: {batch_size: 32}        # GaitDataModule options for every task, e.g. {split: trial, val_subjects: 0}
    trainer: {max_epochs: 10}     # Trainer options for every cell
    oracle: true                  # a noise-floor row per task (needs clean targets)
    wandb: {project: gait-zoo}    # or false
    slurm: {partition: gpu, gpus_per_task: 1, time: "04:00:00"}   # `--launcher slurm` (zoo/bench/launcher.py)
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
              "tasks", "oracle", "wandb", "threads", "cell_timeout_s", "label_fractions", "pretrain", "robustness",
              "slurm"}
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
    wandb: dict[str, Any] | None   # how the cell is mirrored to W&B: not part of its identity
    label_fraction: float = 1.0
    depends_on: Cell | None = None  # the pretraining cell whose checkpoint this cell starts from
    is_pretraining: bool = False    # a cell of the suite's pretraining stage (its `pretrain:` section)
    threads: int | None = None      # the suite's `threads:` (torch threads per cell), None: machine's choice

    @property
    def key(self) -> str:
        if self.is_pretraining:
            return f"pretrain__{self.model.label}__seed{self.seed}"
        frac = "" if self.label_fraction == 1.0 else f"__lf{self.label_fraction:g}"
        return f"{self.task}__{self.model.label}{frac}__fold{self.fold}__seed{self.seed}"

    def identity(self) -> dict[str, Any]:
        """Everything that shapes the cell's result, and nothing else: data, task, model and its arguments,
        fold, seed, trainer limits and threads. Names (suite, label) and logging (W&B on or off, its mode
        and project) are left out, so switching W&B on or renaming a row reuses finished results."""
        return {
            "task": self.task, "model": self.model.name, "preset": self.model.preset,
            "overrides": self.model.overrides, "fold": self.fold, "seed": self.seed, "n_folds": self.n_folds,
            "split_seed": self.split_seed, "dataset": self.dataset, "data": self.data, "trainer": self.trainer,
            "label_fraction": self.label_fraction, "threads": self.threads, "pretraining": self.is_pretraining,
            "depends_on": self.depends_on.fingerprint if self.depends_on else None,
        }

    def to_dict(self) -> dict[str, Any]:
        """What a cell's record carries about the cell (its identity, plus the suite and row names)."""
        return {"suite": self.suite, "label": self.model.label, **self.identity()}

    @property
    def fingerprint(self) -> str:
        """Changes when anything that shapes the result changes, so stale results are not reused."""
        return hashlib.sha1(json.dumps(self.identity(), sort_keys=True, default=str).encode()).hexdigest()[:12]


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
    slurm: dict[str, Any] = field(default_factory=dict)  # resources of `--launcher slurm` (zoo/bench/launcher.py)

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
                    self.wandb, is_pretraining=True, threads=self.threads)
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
                                            depends_on=pretrain[(uses[0], seed)] if uses else None,
                                            threads=self.threads))
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
    if not isinstance(item["name"], str):
        raise _fail(path, f"{where}.name", "a model name", item["name"])
    preset = item.get("preset", "small")
    if not isinstance(preset, str):
        raise _fail(path, f"{where}.preset", "a preset name", preset)
    label = item.get("label") or (item["name"] if preset == "small" else f"{item['name']}-{preset}")
    if not isinstance(label, str):
        raise _fail(path, f"{where}.label", "a string", label)
    sections = {key: _mapping(path, f"{where}.{key}", item.get(key)) for key in ("overrides", "trainer", "data")}
    return ModelSpec(item["name"], label, preset, sections["overrides"], sections["trainer"], sections["data"])


def _mapping(path: Path, where: str, value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _fail(path, where, "a mapping", value)
    return dict(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int_list(path: Path, where: str, value: Any, expected: str, ok) -> list[int]:
    if not isinstance(value, list) or not value or not all(_is_int(v) and ok(v) for v in value):
        raise _fail(path, where, f"a non-empty list of {expected}", value)
    if len(set(value)) != len(value):
        raise _fail(path, where, "no repeated values (each would run the same cells twice)", value)
    return list(value)


def _check_model(path: Path, where: str, task: str, model: ModelSpec, known: set[str]) -> None:
    """Registered, serves `task`, knows its preset, and its optimiser overrides are in range."""
    from zoo.errors import ZooError
    from zoo.model import check_training_options
    from zoo.registry import get_model_class

    if model.name not in known:
        raise _fail(path, f"{where}.name", f"a registered model ({', '.join(sorted(known))})", model.name)
    cls = get_model_class(model.name)
    if task not in cls.supported_tasks:
        serving = sorted(n for n in known if task in get_model_class(n).supported_tasks)
        raise _fail(path, f"{where}.name", f"a model that supports task '{task}' ({', '.join(serving)}); "
                    f"'{model.name}' supports {', '.join(cls.supported_tasks)}", model.name)
    if model.preset not in cls.presets:
        raise _fail(path, f"{where}.preset", f"a preset of '{model.name}' ({', '.join(cls.presets)})", model.preset)
    try:
        check_training_options(model.name, model.overrides)
    except ZooError as exc:
        raise SuiteError(f"{path}: {where}.overrides: {exc}") from None


def _check_sections(path: Path, where: str, data: dict[str, Any], trainer: dict[str, Any]) -> None:
    """Data options and trainer limits of one level of the suite (top, task, model), checked before any run."""
    from datamodules.options import check_data_options
    from zoo.errors import ZooError
    from zoo.lightning_cli import check_trainer_options

    try:
        check_data_options(data, where=f"{where}data" if where else "data")
        check_trainer_options(trainer, where=f"{where}trainer" if where else "trainer")
    except (DataError, ZooError) as exc:
        raise SuiteError(f"{path}: {exc}") from None


def load_suite(path: str | Path, dataset: str | None = None) -> Suite:
    """Read and check a suite file; every problem names the file and the field."""
    path = Path(path)
    if not path.is_file():
        raise SuiteError(f"{path}: no such suite file")
    try:
        raw = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise SuiteError(f"{path}: not valid YAML ({' '.join(str(exc).split())})") from None
    if not isinstance(raw, dict):
        raise _fail(path, "top level", "a mapping", type(raw).__name__)
    unknown = set(raw) - SUITE_KEYS
    if unknown:
        raise _fail(path, "top level", f"keys among {sorted(SUITE_KEYS)}", sorted(unknown))
    for key in ("name", "dataset", "tasks"):
        if key not in raw:
            raise _fail(path, key, "a value", None)
    if not isinstance(raw["name"], str) or not raw["name"].strip() or "/" in raw["name"]:
        raise _fail(path, "name", "a non-empty string without '/' (it names the output folder)", raw["name"])
    if not isinstance(raw["dataset"], str) or not raw["dataset"]:
        raise _fail(path, "dataset", "a recording file or sim:PRESET[:SEED]", raw["dataset"])
    from zoo.registry import list_models

    tasks = raw["tasks"]
    if not isinstance(tasks, dict) or not tasks:
        raise _fail(path, "tasks", "a mapping of task name to its models", tasks)
    data = _mapping(path, "data", raw.get("data"))
    trainer = _mapping(path, "trainer", raw.get("trainer"))
    _check_sections(path, "", data, trainer)
    parsed: dict[str, dict[str, Any]] = {}
    known_models = set(list_models())
    for task, spec in tasks.items():
        if task not in list_tasks():
            raise _fail(path, f"tasks.{task}", f"a task among {list_tasks()}", task)
        if not isinstance(spec, dict) or not spec.get("models"):
            raise _fail(path, f"tasks.{task}.models", "a non-empty list of models", spec)
        unknown = set(spec) - {"models", "data", "trainer"}
        if unknown:
            raise _fail(path, f"tasks.{task}", "keys among ['data', 'models', 'trainer']", sorted(unknown))
        if not isinstance(spec["models"], list):
            raise _fail(path, f"tasks.{task}.models", "a list of models", spec["models"])
        task_data = _mapping(path, f"tasks.{task}.data", spec.get("data"))
        task_trainer = _mapping(path, f"tasks.{task}.trainer", spec.get("trainer"))
        _check_sections(path, f"tasks.{task}.", task_data, task_trainer)
        models = [_model_spec(path, f"tasks.{task}.models[{i}]", m) for i, m in enumerate(spec["models"])]
        for i, m in enumerate(models):
            where = f"tasks.{task}.models[{i}]"
            _check_model(path, where, task, m, known_models)
            _check_sections(path, f"{where}.", m.data, m.trainer)
        labels = [m.label for m in models]
        if len(set(labels)) != len(labels):
            raise _fail(path, f"tasks.{task}.models", "unique labels (set `label:` to tell presets apart)", labels)
        parsed[task] = {**copy.deepcopy(spec), "data": task_data, "trainer": task_trainer, "models": models}
    folds = raw.get("folds", 5)
    if not _is_int(folds) or folds < 2:
        raise _fail(path, "folds", "an integer >= 2", folds)
    run_folds = _int_list(path, "run_folds", raw.get("run_folds", list(range(folds))),
                          f"fold indices in 0..{folds - 1}", lambda f: 0 <= f < folds)
    seeds = _int_list(path, "seeds", raw.get("seeds", [0]), "integers", lambda s: True)
    split_seed = raw.get("split_seed", 0)
    if not _is_int(split_seed):
        raise _fail(path, "split_seed", "an integer", split_seed)
    wandb = raw.get("wandb", {"project": "gait-zoo"})
    if wandb not in (False, None) and not isinstance(wandb, dict):
        raise _fail(path, "wandb", "false or a mapping (project, entity, mode)", wandb)
    if isinstance(wandb, dict):
        unknown = set(wandb) - {"project", "entity", "mode"}
        if unknown:
            raise _fail(path, "wandb", "keys among ['entity', 'mode', 'project']", sorted(unknown))
        if wandb.get("mode") not in (None, "online", "offline", "disabled"):
            raise _fail(path, "wandb.mode", "one of 'online', 'offline', 'disabled'", wandb["mode"])
    threads = raw.get("threads")
    if threads is not None and (not _is_int(threads) or threads < 1):
        raise _fail(path, "threads", "an integer >= 1 (torch threads per cell) or null", threads)
    timeout = raw.get("cell_timeout_s")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0
                                or timeout == float("inf")):
        raise _fail(path, "cell_timeout_s", "a number of seconds > 0 or null", timeout)
    fractions = raw.get("label_fractions", [1.0])
    if (not isinstance(fractions, list) or not fractions
            or not all(isinstance(f, (int, float)) and not isinstance(f, bool) and 0 < f <= 1 for f in fractions)):
        raise _fail(path, "label_fractions", "a non-empty list of numbers in (0, 1]", fractions)
    if len({float(f) for f in fractions}) != len(fractions):
        raise _fail(path, "label_fractions", "no repeated values (each would run the same cells twice)", fractions)
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
            if not isinstance(stage["model"], str) or stage["model"] not in known_models:
                raise _fail(path, f"{where}.model", "a registered model", stage["model"])
            if isinstance(pretrain, list) and not stage.get("label"):
                raise _fail(path, f"{where}.label", "a label (several stages are told apart by it)", None)
            p_task = stage.get("task") or next(n for n in list_tasks() if get_task(n).self_supervised)
            if p_task not in list_tasks():
                raise _fail(path, f"{where}.task", f"a task among {list_tasks()}", p_task)
            p_model = ModelSpec(stage["model"], stage["model"], stage.get("preset", "small"),
                                _mapping(path, f"{where}.overrides", stage.get("overrides")))
            _check_model(path, where, p_task, p_model, known_models)
            _check_sections(path, f"{where}.", _mapping(path, f"{where}.data", stage.get("data")),
                            _mapping(path, f"{where}.trainer", stage.get("trainer")))
            n_pre = stage.get("n_folds", 20)
            if not _is_int(n_pre) or n_pre < 2:
                raise _fail(path, f"{where}.n_folds", "an integer >= 2", n_pre)
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
        dataset=str(dataset or raw["dataset"]), n_folds=folds, run_folds=run_folds, seeds=seeds,
        split_seed=split_seed, tasks=parsed, data=data, trainer=trainer, oracle=bool(raw.get("oracle", False)),
        wandb=wandb or None, threads=threads, cell_timeout_s=timeout,
        label_fractions=[float(f) for f in fractions], pretrain=stages,
        robustness=_flag(path, "robustness", raw.get("robustness", False)),
        slurm=_slurm_block(path, raw.get("slurm")),
    )


def _slurm_block(path: Path, block: Any) -> dict[str, Any]:
    from zoo.bench.launcher import check_slurm_block

    try:
        return check_slurm_block(block, "slurm")
    except SuiteError as exc:
        raise SuiteError(f"{path}: {exc}") from None


def _flag(path: Path, key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _fail(path, key, "true or false", value)
    return value
