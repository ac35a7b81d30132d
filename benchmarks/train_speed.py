"""Training speed of the paper architectures: per model and preset, parameters, FLOPs per training step,
training windows/s, batch-1 latency and the share of a matmul ceiling measured in the same process, in fp32
and bf16 (`torch.autocast("cpu", torch.bfloat16)`, as Lightning's `bf16-mixed`).

    python -m benchmarks.train_speed                                  # every model, both presets
    python -m benchmarks.train_speed --models ssl_transformer --presets paper --repeats 7
    python -m benchmarks.train_speed --loss-curve 200                 # + SSL fast vs reference loss curves

Variants of one (model, preset) and the matmul ceiling are measured in turns (round-robin, `--repeats`
rounds) and each figure is the median over rounds, so a busy machine slows all of them alike and the
ratios hold; the load average is printed with the table. `reference` is the implementation before the
speed work (attention through `nn.TransformerEncoderLayer`, the insole decoder's first layer on the repeated
volume, unfused Adam, the CBAM U-Net in the default memory format); `default` is what the zoo trains with now; `fast` (SSL only) adds `fast=True`;
`channels_last` (the convolutional models) is `default` with its 4D weights and inputs in channels-last
memory format (`--variants reference,default,channels_last`).

FLOPs come from `torch.utils.flop_counter.FlopCounterMode` over one training step (forward, backward;
the optimiser is not counted) with attention forced onto SDPA's math kernel, whose matmuls it counts (it
misses the fused kernel); LSTMs, which it misses as well, are counted analytically (8 H (I + H) per step
and direction forward, x3 for a training step). "share" is achieved FLOP/s over the fp32 matmul ceiling
(a square `mm` of `--ceiling-size`) measured in the same rounds.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

MODELS = {  # model -> the task its speed is measured on (the quick suite's, pretraining for the SSL model)
    "cnn_bilstm_attention": "imu2pressure",
    "ssl_transformer": "pretrain",
    "cbam_unet": "landmarks2pressure",
    "insole_pose_cnn": "insole2pose",
}
BATCH = {("ssl_transformer", "paper"): 64}  # the SSL_IMU reference's pretraining batch; otherwise `--batch`
REFERENCE = {  # constructor arguments that restore the implementation before the speed work
    "ssl_transformer": {"attention": "reference"},
    "insole_pose_cnn": {"lifted_conv": False},
    "cbam_unet": {"channels_last": False},
}
FAST = {("ssl_transformer", "paper"): {"fast": True}}  # the small preset has no attention dropout already
CONVOLUTIONAL = ("cbam_unet", "insole_pose_cnn")  # where channels-last memory format may matter


@dataclass
class Variant:
    name: str
    precision: str  # fp32 | bf16
    overrides: dict[str, Any]
    fused_optimizer: bool
    channels_last: bool = False
    model: Any = None
    optimizer: Any = None
    rates: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)


def autocast(precision: str) -> contextlib.AbstractContextManager:
    if precision == "bf16":
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def build(name: str, preset: str, overrides: dict[str, Any], seed: int = 0):
    import zoo

    torch.manual_seed(seed)
    return zoo.create_model(name, task=MODELS[name], preset=preset, **overrides).train()


def random_batch(model, n: int, seed: int = 1) -> dict[str, torch.Tensor]:
    """Random inputs and targets of the model's shapes (speed does not depend on the values)."""
    g = torch.Generator().manual_seed(seed)
    batch = {"x": torch.randn(n, *model.input_shape, generator=g)}
    if not model.task.self_supervised:
        batch["y"] = torch.randn(n, *model.spec.target_shape, generator=g)
    if model.spec.has_body_mass:
        batch["body_mass"] = 60 + 20 * torch.rand(n, 1, generator=g)
    return batch


def make_optimizer(model, fused: bool) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if model.train_cfg.optimizer in ("adam", "adamw"):
        return model.make_optimizer(params, fused=fused)
    return model.make_optimizer(params)


def train_step(model, optimizer, batch, precision: str) -> float:
    with autocast(precision):
        loss = model.training_loss(batch)
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return loss.item()


def lstm_flops(model: nn.Module, batch: dict[str, torch.Tensor], precision: str) -> int:
    """Forward FLOPs of every nn.LSTM in one forward pass (FlopCounterMode does not see them)."""
    total = 0

    def hook(module: nn.LSTM, args, _out) -> None:
        nonlocal total
        x = args[0]
        steps = x.shape[1] if module.batch_first else x.shape[0]
        n = x.shape[0] if module.batch_first else x.shape[1]
        dirs = 2 if module.bidirectional else 1
        h = module.hidden_size
        for layer in range(module.num_layers):
            inputs = module.input_size if layer == 0 else h * dirs
            total += dirs * steps * n * 8 * h * (inputs + h)

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.LSTM)]
    try:
        with torch.no_grad(), autocast(precision):
            model.training_loss(batch)
    finally:
        for handle in handles:
            handle.remove()
    return total


def step_flops(model, batch) -> int:
    """FLOPs of one training step (forward + backward), fp32."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    with sdpa_kernel([SDPBackend.MATH]), FlopCounterMode(display=False) as counter:
        model.training_loss(batch).backward()
    model.zero_grad(set_to_none=True)
    return int(counter.get_total_flops()) + 3 * lstm_flops(model, batch, "fp32")


def matmul_rate(size: int, dtype: torch.dtype, seconds: float = 0.3) -> float:
    """FLOP/s of a square matrix product (best of a short burst)."""
    a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
    torch.mm(a, b)
    best, start = 0.0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        t = time.perf_counter()
        torch.mm(a, b)
        best = max(best, 2 * size ** 3 / (time.perf_counter() - t))
    return best


def latency_ms(model, precision: str, reps: int = 3) -> float:
    batch = random_batch(model, 1, seed=2)
    model.eval()
    times = []
    with torch.no_grad(), autocast(precision):
        model.outputs(batch)
        for _ in range(reps):
            t = time.perf_counter()
            model.outputs(batch)
            times.append(time.perf_counter() - t)
    model.train()
    return 1e3 * min(times)


def variants_for(name: str, preset: str, precisions: list[str], wanted: list[str]) -> list[Variant]:
    out = []
    for variant in wanted:
        if variant == "reference":
            overrides, fused = REFERENCE.get(name, {}), False
        elif variant == "default":
            overrides, fused = {}, True
        elif variant == "fast" and (name, preset) in FAST:
            overrides, fused = FAST[(name, preset)], True
        elif variant == "channels_last" and name in CONVOLUTIONAL:
            out.extend(Variant(variant, p, {}, True, channels_last=True) for p in precisions)
            continue
        else:
            continue
        out.extend(Variant(variant, p, overrides, fused) for p in precisions)
    return out


def measure(name: str, preset: str, *, precisions: list[str], variants: list[str], repeats: int, steps: int,
            batch_size: int, ceiling_size: int, log: Callable[[str], None]) -> tuple[dict[str, Any], list[Variant], float]:
    runs = variants_for(name, preset, precisions, variants)
    n = BATCH.get((name, preset), batch_size)
    base = build(name, preset, {})
    batch = random_batch(base, n)
    info = {"model": name, "preset": preset, "batch": n, "params": sum(p.numel() for p in base.parameters()),
            "flops": step_flops(base, batch)}
    last = {k: v.contiguous(memory_format=torch.channels_last) if v.dim() == 4 else v for k, v in batch.items()}
    for run in runs:
        run.model = build(name, preset, run.overrides)
        if run.channels_last:  # every 2D convolution (Conv3d weights stay as they are)
            for module in run.model.modules():
                if isinstance(module, nn.Conv2d):
                    module.to(memory_format=torch.channels_last)
        run.optimizer = make_optimizer(run.model, run.fused_optimizer)
        train_step(run.model, run.optimizer, last if run.channels_last else batch, run.precision)  # warm-up
    ceilings = []
    for r in range(repeats):
        ceilings.append(matmul_rate(ceiling_size, torch.float32))
        for run in runs:
            start = time.perf_counter()
            for _ in range(steps):
                train_step(run.model, run.optimizer, last if run.channels_last else batch, run.precision)
            run.rates.append(n * steps / (time.perf_counter() - start))
            run.latencies.append(latency_ms(run.model, run.precision))
        log(f"  round {r + 1}/{repeats}: " + ", ".join(f"{v.name}/{v.precision} {v.rates[-1]:.1f}" for v in runs)
            + f" windows/s; load {os.getloadavg()[0]:.1f}")
    return info, runs, statistics.median(ceilings)


def table_rows(info: dict[str, Any], runs: list[Variant], ceiling: float) -> Iterator[str]:
    reference = next((v for v in runs if v.name == "reference" and v.precision == "fp32"), runs[0])
    ref_rate = statistics.median(reference.rates)
    for v in runs:
        rate = statistics.median(v.rates)
        ratios = [a / b for a, b in zip(v.rates, reference.rates)]  # per-round ratios: same load
        share = rate / info["batch"] * info["flops"] / ceiling
        yield (f"| {info['model']} | {info['preset']} | {v.name} | {v.precision} | {info['params']:,} | "
               f"{info['flops'] / 1e9:.2f} | {info['batch']} | {rate:.1f} | {statistics.median(ratios):.2f}x "
               f"(medians {rate / ref_rate:.2f}x) | {share:.2f} | {statistics.median(v.latencies):.1f} |")


HEADER = ("| model | preset | variant | precision | params | GFLOP/step | batch | windows/s | vs reference fp32 | "
          "share of fp32 ceiling | batch-1 latency ms |\n|---|---|---|---|---|---|---|---|---|---|---|")


def gait_like(n: int, channels: int, steps: int, seed: int) -> torch.Tensor:
    """Synthetic windows with structure to learn (random noise has none: its masked steps cannot be
    reconstructed): per window a random mix of three shared periodic sources of random phase, plus 10 % noise."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(steps) / steps
    freqs = torch.tensor([1.0, 2.0, 3.0])[None, :, None]
    phases = 2 * torch.pi * torch.rand(n, 3, 1, generator=g)
    sources = torch.sin(2 * torch.pi * freqs * t * 2 + phases)  # [n, 3, T]
    mix = torch.randn(n, channels, 3, generator=g) / 3 ** 0.5
    return mix @ sources + 0.1 * torch.randn(n, channels, steps, generator=g)


def loss_curves(steps: int, log: Callable[[str], None], batch_size: int = 64, window: int = 20
                ) -> tuple[list[float], list[float]]:
    """SSL paper preset, pretraining on one fixed batch (`gait_like`, synthetic) with the same masks per step: the reference path
    (attention dropout 0.1 through nn.TransformerEncoderLayer) against `fast=True` from the same initial
    weights. Returns both curves' `window`-step means."""
    from zoo.models.ssl_transformer import contiguous_block_mask

    curves = {}
    initial = build("ssl_transformer", "paper", {}).net.state_dict()
    for label, overrides in (("reference", REFERENCE["ssl_transformer"]), ("fast", {"fast": True})):
        model = build("ssl_transformer", "paper", overrides)
        model.net.load_state_dict(initial)  # same parameter names in both forms
        optimizer = make_optimizer(model, fused=label != "reference")
        batch = {"x": gait_like(batch_size, *model.input_shape, seed=3)}
        masks = torch.Generator().manual_seed(4)
        torch.manual_seed(5)
        losses = []
        for step in range(steps):
            mask = contiguous_block_mask(batch_size, model.input_shape[-1], model.mask_length, generator=masks)
            out = {"y": model.net(batch["x"], mask=mask), "mask": mask}
            loss = model.compute_loss(out, batch["x"], batch)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            losses.append(loss.item())
            if (step + 1) % 25 == 0:
                log(f"  {label}: step {step + 1}/{steps}, loss {loss.item():.4f}")
        curves[label] = [statistics.fmean(losses[i:i + window]) for i in range(0, steps, window)]
    return curves["reference"], curves["fast"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated (default: all four)")
    parser.add_argument("--presets", default="small,paper")
    parser.add_argument("--precisions", default="fp32,bf16")
    parser.add_argument("--variants", default="reference,default,fast")
    parser.add_argument("--repeats", type=int, default=5, help="rounds (medians over them)")
    parser.add_argument("--steps", type=int, default=3, help="training steps per variant per round")
    parser.add_argument("--batch", type=int, default=32, help="batch size (SSL paper preset: 64)")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (1: least noisy when shared)")
    parser.add_argument("--ceiling-size", type=int, default=1024)
    parser.add_argument("--loss-curve-batch", type=int, default=64, help="batch of the --loss-curve run")
    parser.add_argument("--loss-curve", type=int, default=0, metavar="STEPS",
                        help="also train SSL paper reference vs fast for STEPS steps on a fixed batch; fails if "
                             "any 20-step mean differs by more than 2 %%")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        parser.error(f"--models: expected names among {list(MODELS)}, found {unknown}")

    def log(line: str) -> None:
        print(line, flush=True)

    load_before = os.getloadavg()
    rows, ceilings = [], []
    for name in models:
        for preset in [p.strip() for p in args.presets.split(",")]:
            log(f"{name} / {preset}")
            info, runs, ceiling = measure(name, preset, precisions=args.precisions.split(","),
                                          variants=args.variants.split(","), repeats=args.repeats,
                                          steps=args.steps, batch_size=args.batch,
                                          ceiling_size=args.ceiling_size, log=log)
            ceilings.append(ceiling)
            rows.extend(table_rows(info, runs, ceiling))
    load_after = os.getloadavg()
    print()
    print(f"torch {torch.__version__}, {args.threads} thread(s); fp32 matmul ceiling (median per model) "
          f"{', '.join(f'{c / 1e9:.0f}' for c in ceilings)} GFLOP/s; load average before "
          f"{load_before[0]:.1f}/{load_before[1]:.1f}/{load_before[2]:.1f}, after "
          f"{load_after[0]:.1f}/{load_after[1]:.1f}/{load_after[2]:.1f}; {args.repeats} rounds x {args.steps} steps")
    print(HEADER)
    print("\n".join(rows))
    if args.loss_curve:
        reference, fast = loss_curves(args.loss_curve, log, batch_size=args.loss_curve_batch)
        worst = max(abs(f - r) / r for r, f in zip(reference, fast))
        print(f"\nSSL paper preset, {args.loss_curve} steps on one fixed batch of {args.loss_curve_batch} (same masks, same initial weights), "
              "20-step means of the masked-reconstruction loss:")
        print("reference: " + " ".join(f"{v:.4f}" for v in reference))
        print("fast:      " + " ".join(f"{v:.4f}" for v in fast))
        print(f"largest relative difference {worst:.2%} (limit 2 %)")
        if worst > 0.02:
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
