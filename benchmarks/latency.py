"""Latency and cost of every built-in model, small and paper presets: `python -m benchmarks.latency`.

For each model on its first deployable task (the zoo's default data spec; paper input sizes for the paper
preset), through the exported path (`zoo.deploy.export.DeployableModel`: normalisation, network,
de-normalisation):

- parameters (trainable; closed-form baselines hold fitted buffers instead, shown as "closed form");
- FLOPs per window at batch 1 (`torch.utils.flop_counter.FlopCounterMode`, with the fused transformer fast
  path off so the counter sees its matmuls; LSTM/GRU layers, which it misses, are counted analytically:
  2 x gates x hidden x (input + hidden) per step and direction);
- peak memory: parameters and buffers plus the largest total of live tensors during one forward pass
  (tracked per allocation by a dispatch mode; allocator overhead and the runtime's own arenas excluded);
- batch-1 latency on ONE thread, median over repeats: torch eager, TorchScript (`torch.jit.trace`) and
  onnxruntime (the `zoo export` graph);
- real-time factor: seconds of data one inference advances (the hop of a sliding window, one stride of
  `TYPICAL_STRIDE_S` for a stance model, one frame or frame hop otherwise) / onnxruntime latency.

Prints a markdown table; `--write docs/models/latency.md` keeps it (cards quote it; it is machine-dependent, so
`benchmarks.cards --check` never regenerates it). Times vary with machine load: the table says the load
average it was measured under.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import weakref
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

from datamodules.tasks import get_task
from zoo.deploy.export import DeployableModel, example_inputs, export_onnx, run_exported, scripting
from zoo.registry import get_model_class, list_models, model_entry

TYPICAL_STRIDE_S = 1.1  # one right stance per walking stride (as datamodules.tasks.imu2pressure)
RNN_GATES = {nn.LSTM: 4, nn.GRU: 3, nn.RNN: 1}
DEFAULT_OUT = Path("docs/models/latency.md")


def deploy_task(cls: type) -> str:
    """The model's first task that has something to deploy (not self-supervised pretraining)."""
    return next(t for t in cls.supported_tasks if not get_task(t).self_supervised)


def neutral_stats(spec) -> dict[str, np.ndarray]:
    shape = (spec.input_shape[0],) + (1,) * (len(spec.input_shape) - 1)
    return {"x_mean": np.zeros(shape, np.float32), "x_std": np.ones(shape, np.float32),
            "mass_mean": np.float32([70.0]), "mass_std": np.float32([10.0])}


def build(name: str, preset: str) -> tuple[DeployableModel, Any]:
    cls = get_model_class(name)
    spec = cls.default_data_spec(preset, deploy_task(cls))
    torch.manual_seed(0)
    model = cls(data_spec=spec.to_dict(), preset=preset).eval()
    model.set_target_stats(torch.zeros(spec.target_shape), torch.ones(spec.target_shape))
    return DeployableModel(model, neutral_stats(spec)).eval(), spec


# -- cost -----------------------------------------------------------------------------------------
def rnn_flops(module: nn.RNNBase, inp: torch.Tensor) -> int:
    """Analytic FLOPs of one recurrent layer stack on `inp` (multiply-add = 2)."""
    batch, steps = (inp.shape[0], inp.shape[1]) if module.batch_first else (inp.shape[1], inp.shape[0])
    gates = next(g for t, g in RNN_GATES.items() if isinstance(module, t))
    dirs = 2 if module.bidirectional else 1
    h = module.hidden_size
    total = 0
    for layer in range(module.num_layers):
        n_in = module.input_size if layer == 0 else h * dirs
        total += dirs * steps * batch * 2 * gates * h * (n_in + h)
    return total


def count_flops(wrapper: nn.Module, inputs: tuple[torch.Tensor, ...]) -> int:
    from torch.utils._python_dispatch import _disable_current_modes

    extra, paused = [0], []

    def pause(mod, args):  # the counter misses recurrent layers anyway; inside it they crawl op by op
        paused.append(_disable_current_modes())
        paused[-1].__enter__()

    def resume(mod, args, out):
        paused.pop().__exit__(None, None, None)
        extra[0] += rnn_flops(mod, args[0])

    rnns = [m for m in wrapper.modules() if isinstance(m, nn.RNNBase)]
    hooks = [h for m in rnns for h in (m.register_forward_pre_hook(pause), m.register_forward_hook(resume))]
    fastpath = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)  # the fused transformer kernel hides its matmuls from the counter
    try:
        # oneDNN off: its first LSTM call builds kernels for seconds, and FLOPs do not depend on the backend
        with torch.no_grad(), torch.backends.mkldnn.flags(enabled=False), scripting(wrapper.model), \
                FlopCounterMode(display=False) as counter:
            wrapper(*inputs)
    finally:
        torch.backends.mha.set_fastpath_enabled(fastpath)
        for hook in hooks:
            hook.remove()
    return int(counter.get_total_flops()) + extra[0]


class LiveBytes(TorchDispatchMode):
    """Peak of the total bytes of live tensor storages created by the ops it sees."""

    def __init__(self) -> None:
        super().__init__()
        self.live = self.peak = 0
        self.seen: set[int] = set()

    def _track(self, t: Any) -> None:
        if not isinstance(t, torch.Tensor):
            return
        storage = t.untyped_storage()
        key = storage.data_ptr()
        if key in self.seen or storage.nbytes() == 0:
            return
        self.seen.add(key)
        self.live += storage.nbytes()
        self.peak = max(self.peak, self.live)
        weakref.finalize(t, self._free, key, storage.nbytes())

    def _free(self, key: int, nbytes: int) -> None:
        if key in self.seen:
            self.seen.discard(key)
            self.live -= nbytes

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, (tuple, list)) else (out,):
            self._track(t)
        return out


def peak_memory_bytes(wrapper: nn.Module, inputs: tuple[torch.Tensor, ...]) -> int:
    static = sum(t.numel() * t.element_size() for t in [*wrapper.parameters(), *wrapper.buffers()])
    static += sum(t.numel() * t.element_size() for t in inputs)
    with torch.no_grad(), scripting(wrapper.model), LiveBytes() as tracker:
        wrapper(*inputs)
    return static + tracker.peak


# -- latency --------------------------------------------------------------------------------------
def median_seconds(fn, min_time_s: float = 0.3, min_repeats: int = 5, max_repeats: int = 200) -> float:
    for _ in range(2):
        fn()
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < min_repeats or (time.perf_counter() - start < min_time_s and len(times) < max_repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def data_seconds_per_inference(spec, task: str) -> tuple[float, str]:
    """Seconds of recording one inference advances, and how that is defined."""
    rate = float(spec.sample_rate_hz)
    if get_task(task).sample_unit == "stance":
        return TYPICAL_STRIDE_S, f"one stance per {TYPICAL_STRIDE_S} s stride"
    if get_task(task).family == "sequence_to_steps":
        hop = int(spec.input_shape[-1]) // 2
        return hop / rate, f"hop {hop} samples at {rate:g} Hz"
    return 1.0 / rate, f"one frame at {rate:g} Hz"


def measure(name: str, preset: str, workdir: Path) -> dict[str, Any]:
    wrapper, spec = build(name, preset)
    task = spec.task
    inputs = example_inputs(spec, batch=1)
    model = wrapper.model
    closed_form = not any(True for _ in model.parameters())
    row: dict[str, Any] = {
        "model": name, "preset": preset, "task": task,
        "params": "closed form" if closed_form else model.num_parameters(),
        "flops": count_flops(wrapper, inputs), "peak_mb": peak_memory_bytes(wrapper, inputs) / 2**20,
    }
    with torch.no_grad():
        row["eager_ms"] = 1e3 * median_seconds(lambda: wrapper(*inputs))
        with scripting(model):
            traced = torch.jit.trace(wrapper, inputs, check_trace=False)
        row["torchscript_ms"] = 1e3 * median_seconds(lambda: traced(*inputs))
    onnx_path = workdir / f"{name}_{preset}.onnx"
    export_onnx(wrapper, spec, onnx_path, example_inputs(spec, batch=2))
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    options.log_severity_level = 3
    session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    feed = {i.name: t.numpy() for i, t in zip(session.get_inputs(), inputs)}
    row["onnxruntime_ms"] = 1e3 * median_seconds(lambda: session.run(None, feed))
    assert run_exported(onnx_path, "onnx", inputs).shape == tuple(wrapper(*inputs).shape)
    seconds, basis = data_seconds_per_inference(spec, task)
    row["rtf"] = seconds / (row["onnxruntime_ms"] / 1e3)
    row["rtf_basis"] = basis
    return row


def format_flops(n: int) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= scale:
            return f"{n / scale:.2f} {unit}"
    return str(n)


def format_factor(x: float) -> str:
    """`1,292x`, `34x`, `0.55x`: two significant figures below 10."""
    return f"{x:,.0f}x" if x >= 10 else f"{x:.2g}x"


def format_params(p: Any) -> str:
    if isinstance(p, str):
        return p
    from zoo.registry import format_count

    return format_count(p)


def table(rows: list[dict[str, Any]], load: str) -> str:
    lines = [
        "| model | preset | task | parameters | FLOPs / window | peak memory (MB) | eager (ms) | TorchScript (ms) "
        "| onnxruntime (ms) | real-time factor |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if "error" in r:
            lines.append(f"| `{r['model']}` | {r['preset']} | failed: {r['error']} |  |  |  |  |  |  |  |")
            continue
        lines.append(f"| `{r['model']}` | {r['preset']} | {r['task']} | {format_params(r['params'])} | "
                     f"{format_flops(r['flops'])} | {r['peak_mb']:.2f} | {r['eager_ms']:.3f} | "
                     f"{r['torchscript_ms']:.3f} | {r['onnxruntime_ms']:.3f} | {format_factor(r['rtf'])} |")
    bases = sorted({f"{r['task']}: {r['rtf_basis']}" for r in rows if "rtf_basis" in r})
    lines += ["", f"Batch 1, one thread (`torch.set_num_threads(1)`, onnxruntime intra/inter-op threads 1), median "
              f"latency; measured with `python -m benchmarks.latency` under load average {load} on this "
              f"{os.cpu_count()}-core CPU (torch {torch.__version__}). Real-time factor = seconds of data one "
              f"inference advances / onnxruntime latency ({'; '.join(bases)})."]
    return "\n".join(lines) + "\n"


def builtin_models() -> list[str]:
    return [n for n in list_models() if model_entry(n).source.startswith("zoo.")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.latency", description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="*", default=None, help="default: every built-in model")
    parser.add_argument("--presets", nargs="*", default=["small", "paper"])
    parser.add_argument("--write", type=Path, default=None, help=f"also write the table here (e.g. {DEFAULT_OUT})")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    load = "{:.2f}, {:.2f}, {:.2f}".format(*os.getloadavg())
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models or builtin_models():
            for preset in args.presets:
                if preset not in get_model_class(name).presets:
                    continue
                try:
                    rows.append(measure(name, preset, Path(tmp)))
                except Exception as exc:  # one model's failure is a row that says so, not a lost table
                    rows.append({"model": name, "preset": preset, "error": f"{type(exc).__name__}: "
                                 f"{str(exc).splitlines()[0][:160]}"})
                print(f"measured {name} {preset}", flush=True, file=__import__("sys").stderr)
    text = table(rows, load)
    print(text)
    if args.write:
        args.write.parent.mkdir(parents=True, exist_ok=True)
        args.write.write_text("<!-- machine-dependent: regenerate with `python -m benchmarks.latency --write "
                              f"{args.write}` -->\n# Latency and cost (this machine)\n\n" + text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
