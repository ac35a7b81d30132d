"""`zoo export CKPT --format onnx|torchscript --out FILE`: a trained zoo model as one inference graph.

The graph holds the whole path from sensor to physical quantity: the input normalisation with the training
split's statistics (saved with the DataModule's state in the checkpoint), the network, and the target
de-normalisation (the model's buffers). Raw sensor units go in (m/s^2, rad/s, deg, N/cm^2, mm, kg), physical
units come out (body weights, N/cm^2, cm, m). A JSON sidecar `FILE.json` says what the graph expects: channel
order and units, sample rate, window length and hop, task, model and version, and a fingerprint of the
training data, so `zoo.deploy.stream` can run the graph with numpy and onnxruntime alone.

ONNX uses torch's dynamo exporter (`torch.onnx.export(..., dynamo=True)`, opset 18) with a dynamic batch
axis; TorchScript uses `torch.jit.trace` (the zoo's LightningModules are not scriptable). Both are checked
against the PyTorch model on random inputs before the file is kept (`PARITY_RTOL`, `PARITY_ATOL`).

Refused, with the reason: the self-supervised `pretrain` task (its output is a masked reconstruction of the
input, nothing to deploy; fine-tune on a downstream task first).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import platform
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from datamodules.tasks import DataSpec, get_task
from zoo.errors import ZooError

FORMATS = ("onnx", "torchscript")
OPSET = 18
SIDECAR_FORMAT = "gait-zoo-deploy"
SIDECAR_VERSION = 1
# |exported - torch| <= PARITY_ATOL * scale + PARITY_RTOL * |torch|, scale = max(1, max |torch output|):
# float32 graphs differ only by operator order and fused kernels (measured <= 2e-6 relative on the registry).
PARITY_RTOL = 1e-4
PARITY_ATOL = 1e-4

# physical units of each task's target (what the exported graph outputs); per output name where they differ
TARGET_UNITS: dict[str, Any] = {
    "imu2grf": "BW",
    "imu2pressure": "N/cm^2",
    "landmarks2pressure": "N/cm^2",
    "insole2pose": "m",
    "imu2kinetics": {"p*": "N/cm^2", "ml": "BW", "ap": "BW", "vertical": "BW", "cop_*": "cm"},
}
# the input planes of the image-like tasks, in channel order
PLANE_UNITS = {"geometry": "mm", "landmarks": "N/cm^2", "left": "N/cm^2", "right": "N/cm^2"}


def channel_unit(name: str) -> str:
    """Unit of an input channel in the recording format (docs/recording_format.md)."""
    if "_acc_" in name:
        return "m/s^2"
    if "_gyr_" in name:
        return "rad/s"
    if name.split("_")[0] in ("R", "L") and any(j in name for j in ("_HIP_", "_KNEE_", "_ANKLE_")):
        return "deg"
    if name in PLANE_UNITS:
        return PLANE_UNITS[name]
    raise ZooError(f"input channel '{name}': no unit known for it (expected <SEGMENT>_acc|gyr_<axis>, a joint "
                   f"angle or one of {sorted(PLANE_UNITS)})")


class DeployableModel(nn.Module):
    """Raw inputs -> prediction in physical units: the model between its input normalisation and its target
    de-normalisation. Calls `ZooModel.predict_batch`, so architectures with their own `forward` (heatmaps,
    closed forms) export the same way as plain networks."""

    def __init__(self, model: nn.Module, stats: Mapping[str, Any]) -> None:
        super().__init__()
        if model.task.self_supervised:
            raise ZooError(f"task '{model.task.name}' is self-supervised: its output is a masked reconstruction of "
                           "the input, nothing to deploy; fine-tune on a downstream task and export that")
        missing = [k for k in ("x_mean", "x_std") if k not in stats]
        if model.spec.has_body_mass:
            missing += [k for k in ("mass_mean", "mass_std") if k not in stats]
        if missing:
            raise ZooError(f"normalisation statistics: missing: {', '.join(missing)}; found: {sorted(stats)}")
        self.model = model.eval()
        self.has_body_mass = bool(model.spec.has_body_mass)
        for key in ("x_mean", "x_std", "mass_mean", "mass_std"):
            if key in stats:
                self.register_buffer(key, torch.as_tensor(np.asarray(stats[key], dtype=np.float32)))

    def forward(self, x: Tensor, body_mass_kg: Tensor | None = None) -> Tensor:
        batch = {"x": (x - self.x_mean) / self.x_std}
        if self.has_body_mass:
            batch["body_mass"] = (body_mass_kg - self.mass_mean) / self.mass_std
        return self.model.predict_batch(batch)


def input_names(spec: DataSpec) -> list[str]:
    return ["x", "body_mass_kg"] if spec.has_body_mass else ["x"]


def example_inputs(spec: DataSpec, batch: int = 2, seed: int = 0,
                   stats: Mapping[str, Any] | None = None) -> tuple[Tensor, ...]:
    """Random raw inputs of the data's shape, around the training statistics when given (parity checks)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn((batch, *spec.input_shape), generator=g)
    if stats is not None:
        x = x * torch.as_tensor(np.asarray(stats["x_std"], np.float32)) + torch.as_tensor(
            np.asarray(stats["x_mean"], np.float32))
    if not spec.has_body_mass:
        return (x,)
    return x, 55.0 + 30.0 * torch.rand((batch, 1), generator=g)


# -- checkpoints ----------------------------------------------------------------------------------
def datamodule_state(checkpoint: Mapping[str, Any]) -> dict[str, Any] | None:
    """The DataModule's saved state (Lightning stores it under the DataModule's class name)."""
    for value in checkpoint.values():
        if isinstance(value, Mapping) and "stats" in value and "data_spec" in value:
            return dict(value)
    return None


def load_checkpoint(path: str | Path, model: str | None = None) -> tuple[nn.Module, dict[str, np.ndarray],
                                                                         dict[str, Any]]:
    """(model in eval mode, input statistics, checkpoint) from a zoo checkpoint; `model` names the
    architecture when the checkpoint predates `zoo_model` (written by `ZooModel.on_save_checkpoint`)."""
    import inspect

    from zoo.registry import get_model_class

    path = Path(path)
    if not path.is_file():
        raise ZooError(f"checkpoint: no file at {path}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # truncated, not a torch file, another pickle: the file is the problem
        raise ZooError(f"{path}: expected a Lightning checkpoint (torch.save file); found a file torch cannot "
                       f"read ({type(exc).__name__}: {str(exc)[:120]})") from exc
    if not isinstance(ckpt, Mapping) or "state_dict" not in ckpt or "hyper_parameters" not in ckpt:
        found = sorted(ckpt)[:8] if isinstance(ckpt, Mapping) else type(ckpt).__name__
        raise ZooError(f"{path}: expected a Lightning checkpoint of a zoo model; missing: state_dict or "
                       f"hyper_parameters; found: {found}")
    hp = dict(ckpt["hyper_parameters"])
    name = model or (ckpt.get("zoo_model") or {}).get("class_path") or hp.get("_class_path")
    if not name:
        raise ZooError(f"{path}: missing: zoo_model (the architecture; checkpoints before zoo 0.2 do not say); "
                       "pass --model NAME")
    cls = get_model_class(name)
    accepted = {name for klass in cls.__mro__ if "__init__" in vars(klass) and klass is not nn.Module
                for name in inspect.signature(klass.__init__).parameters}  # subclasses pass **kwargs upwards
    kwargs = {k: v for k, v in hp.items() if k in accepted and k != "pretrained"}
    net = cls(**kwargs)
    net.load_state_dict(ckpt["state_dict"])
    state = datamodule_state(ckpt)
    if state is None:
        raise ZooError(f"{path}: missing: the DataModule state (input normalisation statistics); train with "
                       "GaitDataModule (`zoo fit`, `zoo bench`), which saves them in every checkpoint")
    stats = {k: np.asarray(v, dtype=np.float32) for k, v in state["stats"].items()}
    if not bool(net.stats_ready):
        raise ZooError(f"{path}: the model's target statistics were never set (stats_ready is false); "
                       "missing: a trained checkpoint")
    return net.eval(), stats, dict(ckpt)


def training_fingerprint(spec: DataSpec, stats: Mapping[str, Any], data: Mapping[str, Any]) -> str:
    """sha256 of what the model learnt from: the data spec, the training split's statistics (a digest of the
    training samples) and the DataModule's options (file, fold, split, seeds, channels)."""
    payload = {
        "data_spec": spec.to_dict(),
        "stats": {k: np.round(np.asarray(v, np.float64), 6).tolist() for k, v in sorted(stats.items())},
        "data": {k: (Path(v).name if k == "path" and isinstance(v, str) else v) for k, v in sorted(data.items())
                 if isinstance(v, (str, int, float, bool, list, tuple, type(None)))},
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def window_info(spec: DataSpec, data: Mapping[str, Any]) -> dict[str, Any]:
    """How samples are cut from a continuous recording: sliding windows (length, hop), one time-normalised
    stance (length) or one frame."""
    task = get_task(spec.task)
    if task.sample_unit == "stance":
        return {"kind": "stance", "length": int(spec.input_shape[-1]), "foot": "right",
                "stance_s": [0.15, 2.5], "detector": stance_detector(spec)}
    if task.sample_unit == "window":
        length = int(spec.input_shape[-1])
        return {"kind": "sliding", "length": length, "hop": int(data.get("window_stride") or length // 2)}
    if task.sample_unit == "frames":
        from datamodules.tasks.insole2pose import frame_stride_at

        # the hop at the spec's rate (from window_s, or frame_stride); grid_pool: average k x k cell blocks first
        return {"kind": "frames", "frames": int(spec.input_shape[1]),
                "frame_stride": frame_stride_at({**data, "frames": int(spec.input_shape[1])}, float(spec.sample_rate_hz)),
                "grid_pool": int(data.get("grid_pool") or 1)}
    return {"kind": "frame"}


def stance_detector(spec: DataSpec) -> dict[str, Any]:
    """The gait-event detector that cuts stances online: the right shank's sagittal gyroscope (Qian 2025's
    rule), else the right foot's (foot preset)."""
    for channel, preset in (("R_SHANK_gyr_y", "shank"), ("R_FOOT_gyr_y", "foot")):
        if channel in spec.input_channels:
            return {"gyro_channel": channel, "preset": preset}
    return {"gyro_channel": None, "preset": None}


def target_units(spec: DataSpec) -> Any:
    if spec.task not in TARGET_UNITS:
        raise ZooError(f"task '{spec.task}': missing: its target units in zoo.deploy.export.TARGET_UNITS")
    return TARGET_UNITS[spec.task]


def sidecar(model: nn.Module, stats: Mapping[str, Any], *, fmt: str, data: Mapping[str, Any] | None = None,
            exporter: str = "", parity: float | None = None) -> dict[str, Any]:
    """The metadata a deployment needs beside the graph (JSON-serialisable)."""
    spec: DataSpec = model.spec
    data = dict(data or {})
    channels = list(spec.input_channels)
    inputs = [{"name": "x", "shape": ["batch", *spec.input_shape], "channels": channels,
               "units": [channel_unit(c) for c in channels], "dtype": "float32"}]
    if spec.has_body_mass:
        inputs.append({"name": "body_mass_kg", "shape": ["batch", 1], "units": "kg", "dtype": "float32"})
    try:
        zoo_version = version("gait-zoo")
    except PackageNotFoundError:
        zoo_version = "unknown (package not installed)"
    return {
        "format": SIDECAR_FORMAT,
        "version": SIDECAR_VERSION,
        "model": type(model).display_name(),
        "model_class": f"{type(model).__module__}.{type(model).__qualname__}",
        "preset": model.hparams.get("preset"),
        "zoo_version": zoo_version,
        "torch_version": torch.__version__,
        "exported_with": {"format": fmt, "exporter": exporter, "opset": OPSET if fmt == "onnx" else None,
                          "python": platform.python_version()},
        "task": spec.task,
        "inputs": inputs,
        "output": {"name": "y", "shape": ["batch", *spec.target_shape], "names": list(spec.target_names),
                   "units": target_units(spec)},
        "sample_rate_hz": float(spec.sample_rate_hz),
        "window": window_info(spec, data),
        "grid": list(spec.grid) if spec.grid else None,
        "cell_size_cm": list(spec.cell_size_cm) if spec.cell_size_cm else None,
        "training_data": {
            "dataset": spec.dataset, "synthetic": bool(spec.synthetic),
            "file": Path(str(data["path"])).name if data.get("path") else None,
            "fold": data.get("fold"), "n_folds": data.get("n_folds"), "split": data.get("split"),
            "train_subjects": data.get("train_subjects"),
            "fingerprint": training_fingerprint(spec, stats, data),
        },
        "parity": {"max_abs_diff": parity, "rtol": PARITY_RTOL, "atol": PARITY_ATOL,
                   "rule": "|exported - torch| <= atol * max(1, max|torch|) + rtol * |torch|"},
    }


# -- export ---------------------------------------------------------------------------------------
def export_onnx(wrapper: DeployableModel, spec: DataSpec, out: Path, inputs: tuple[Tensor, ...]) -> str:
    """Write `out` with the dynamo exporter (opset 18, dynamic batch); returns the exporter's name."""
    import warnings

    batch = torch.export.Dim("batch", min=1, max=4096)
    names = input_names(spec)
    dynamic = {"x": {0: batch}, **({"body_mass_kg": {0: batch}} if spec.has_body_mass else {})}
    with warnings.catch_warnings(), torch.no_grad(), scripting(wrapper.model):
        warnings.simplefilter("ignore")
        program = torch.onnx.export(wrapper, inputs, dynamo=True, opset_version=OPSET, input_names=names,
                                    output_names=["y"], dynamic_shapes=dynamic, verbose=False, report=False)
        program.save(str(out))
    return f"torch.onnx.export(dynamo=True), torch {torch.__version__}"


@contextmanager
def scripting(model: nn.Module) -> Iterator[None]:
    """Lightning's flag for tracing: `model.trainer` reads as None instead of raising (as in `to_torchscript`)."""
    before = getattr(model, "_jit_is_scripting", False)
    model._jit_is_scripting = True
    try:
        yield
    finally:
        model._jit_is_scripting = before


def export_torchscript(wrapper: DeployableModel, out: Path, inputs: tuple[Tensor, ...]) -> str:
    import warnings

    with warnings.catch_warnings(), torch.no_grad(), scripting(wrapper.model):
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(wrapper, inputs, check_trace=False)
    traced.save(str(out))
    return f"torch.jit.trace, torch {torch.__version__}"


def run_exported(path: Path, fmt: str, inputs: tuple[Tensor, ...], threads: int = 1) -> np.ndarray:
    """The exported graph's output on `inputs` (onnxruntime for ONNX, torch.jit.load for TorchScript)."""
    if fmt == "onnx":
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = threads
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        feed = {i.name: t.numpy() for i, t in zip(session.get_inputs(), inputs)}
        return session.run(None, feed)[0]
    loaded = torch.jit.load(str(path))
    with torch.no_grad():
        return loaded(*inputs).numpy()


def parity_error(exported: np.ndarray, reference: np.ndarray) -> tuple[float, bool]:
    """(max |exported - reference|, whether it is within the stated tolerance)."""
    diff = np.abs(exported.astype(np.float64) - reference.astype(np.float64))
    scale = max(1.0, float(np.abs(reference).max()))
    ok = bool(np.all(diff <= PARITY_ATOL * scale + PARITY_RTOL * np.abs(reference)))
    return float(diff.max()), ok


def export_model(model: nn.Module, stats: Mapping[str, Any], out: str | Path, fmt: str = "onnx", *,
                 data: Mapping[str, Any] | None = None, check_batch: int = 3) -> dict[str, Any]:
    """Export `model` (a ZooModel with its target statistics set) with input statistics `stats` to `out`, check
    parity on `check_batch` random inputs (a batch size other than the traced one, so the dynamic axis is
    exercised), write the sidecar `out.json` and return it."""
    if fmt not in FORMATS:
        raise ZooError(f"--format: expected one of {list(FORMATS)}, found '{fmt}'")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    wrapper = DeployableModel(model, stats).eval()
    spec = model.spec
    inputs = example_inputs(spec, batch=2, stats=stats)
    exporter = export_onnx(wrapper, spec, out, inputs) if fmt == "onnx" else export_torchscript(wrapper, out, inputs)
    check = example_inputs(spec, batch=check_batch, seed=1, stats=stats)
    with torch.no_grad():
        reference = wrapper(*check).numpy()
    got = run_exported(out, fmt, check)
    if got.shape != reference.shape:
        raise ZooError(f"{out}: the exported graph returns shape {got.shape}, expected {reference.shape}")
    error, ok = parity_error(got, reference)
    if not ok or not math.isfinite(error):
        out.unlink(missing_ok=True)
        raise ZooError(f"{out}: the exported graph differs from the PyTorch model by up to {error:.3g} "
                       f"(tolerance atol {PARITY_ATOL} x scale + rtol {PARITY_RTOL}); file removed")
    meta = sidecar(model, stats, fmt=fmt, data=data, exporter=exporter, parity=error)
    sidecar_path(out).write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def sidecar_path(graph: str | Path) -> Path:
    graph = Path(graph)
    return graph.with_name(graph.name + ".json")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="zoo export", description="Export a trained zoo checkpoint to ONNX or "
                                     "TorchScript, with input normalisation and target de-normalisation inside "
                                     "the graph and a JSON metadata sidecar (FILE.json).")
    parser.add_argument("checkpoint", metavar="CKPT", help="a checkpoint written by zoo fit / zoo bench")
    parser.add_argument("--format", choices=FORMATS, default="onnx")
    parser.add_argument("--out", required=True, metavar="FILE", help="the graph (FILE.json: the sidecar)")
    parser.add_argument("--model", default=None, help="architecture name, for checkpoints that do not record it")
    args = parser.parse_args(argv)
    model, stats, ckpt = load_checkpoint(args.checkpoint, args.model)
    data = dict(ckpt.get("datamodule_hyper_parameters") or {})
    state = datamodule_state(ckpt) or {}
    if state.get("train_subjects"):
        data["train_subjects"] = list(state["train_subjects"])
    meta = export_model(model, stats, args.out, args.format, data=data)
    print(f"wrote {args.out} ({meta['exported_with']['exporter']}) and {sidecar_path(args.out)}: "
          f"{meta['model']} for {meta['task']}, inputs {', '.join(i['name'] for i in meta['inputs'])}, "
          f"max |exported - torch| = {meta['parity']['max_abs_diff']:.2g} on random inputs")
    return 0
