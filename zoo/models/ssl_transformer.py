"""Masked-reconstruction self-supervised transformer for IMU windows (Tan 2024).

Every time step is one token (patch length 1) holding the values of all input channels. Pretraining hides
one contiguous block of steps behind a trainable mask token (in input space) and reconstructs them; the
encoder it learns is then fine-tuned with a per-step task head (GRF, pressure maps). Fine-tuning can follow
the paper's two-stage protocol: the head alone first, so a fresh head does not distort the pretrained
representation, then the whole model.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from lightning.pytorch.utilities import rank_zero_warn
from torch import Tensor, nn

from datamodules.naming import IMU_CHANNELS_48
from datamodules.tasks import MASKED_RECONSTRUCTION, SEQUENCE_TO_STEPS, DataSpec, get_task
from zoo.errors import ZooError
from zoo.model import LOSSES, ZooModel, warmup_cosine
from zoo.models.heads import PerStepHead
from zoo.registry import register_model

FINETUNE_MODES = ("full", "head_then_full")
EVAL_MASK_SEED = 0  # evaluation masks are drawn from a fixed seed so validation losses are comparable
OPTIONAL_ENCODER_KEYS = ("missing_imu",)  # loaded only when both models hold it with the same shape
ATTENTION_IMPLEMENTATIONS = ("sdpa", "reference")


def sinusoidal_positions(steps: int, dim: int) -> Tensor:
    """Fixed sine/cosine positional encoding `[steps, dim]` (Vaswani et al. 2017, base 10000)."""
    position = torch.arange(steps, dtype=torch.float32)[:, None]
    frequency = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    encoding = torch.zeros(steps, dim)
    encoding[:, 0::2] = torch.sin(position * frequency)
    encoding[:, 1::2] = torch.cos(position * frequency[: dim // 2])
    return encoding


def contiguous_block_mask(batch: int, steps: int, length: int, *, blocks: int = 1,
                          generator: torch.Generator | None = None) -> Tensor:
    """`[batch, steps]` bool mask of `blocks` blocks of `length` consecutive steps per row: the window is cut into
    `blocks` equal segments and each holds one block at a random start, so blocks never overlap and exactly
    `blocks * length` steps are masked (one block: anywhere in the window)."""
    segment = steps // blocks
    starts = torch.randint(0, segment - length + 1, (batch, blocks), generator=generator)
    starts = starts + torch.arange(blocks)[None, :] * segment  # [batch, blocks]
    offsets = torch.arange(steps)[None, None, :] - starts[..., None]
    return ((offsets >= 0) & (offsets < length)).any(dim=1)


LANE_LEVELS = 1 << 16  # dropout masks compare 16-bit random lanes: four per 64-bit draw


def drop_levels(p: float) -> int:
    """How many of the 65536 values of a 16-bit lane drop an element: `round(p * 65536)`, so the drop
    probability is `p` to within 7.6e-6 (0.1 -> 0.10000610); 0 or 65536 when `p` is that close to 0 or 1."""
    return min(max(round(p * LANE_LEVELS), 0), LANE_LEVELS)


def keep_draws(shape: torch.Size, p: float, device: torch.device) -> Tensor:
    """Bool i.i.d. keep-mask: `True` with probability `1 - drop_levels(p) / 65536`.

    Why not `bernoulli_` or `rand() >= p`: on CPU each draws one 32-bit random number per element, which
    was 7.6 % of the SSL paper preset's training step. Here each 64-bit draw is split into four 16-bit lanes,
    each compared with a threshold: half the generator calls, and a bool result that is cheap to combine (the
    ReLU mask) before one conversion. The price is `p` quantised to 1/65536; `keep_scale` uses the quantised
    value, so the expectation stays exact."""
    levels = drop_levels(p)
    if levels in (0, LANE_LEVELS):  # p within 1/131072 of 0 or 1: exact float uniforms instead
        return torch.rand(shape, device=device).ge_(p).bool()
    n = math.prod(shape)
    draws = torch.empty((n + 3) // 4, dtype=torch.int64, device=device).random_(-(1 << 63), None)
    return draws.view(torch.int16)[:n].view(shape).ge(levels - LANE_LEVELS // 2)


def keep_mask(shape: torch.Size, p: float, like: Tensor) -> Tensor:
    """`keep_draws` as 0/1 in `like`'s dtype (multiplied in, no type promotion later)."""
    return keep_draws(shape, p, like.device).to(like.dtype)


def keep_scale(p: float) -> float:
    """Inverted-dropout scale `1 / P(keep)` for the masks `keep_mask` draws."""
    levels = drop_levels(p)
    if levels in (0, LANE_LEVELS):
        return 1.0 / (1.0 - p)
    return LANE_LEVELS / (LANE_LEVELS - levels)


class _UniformDropout(torch.autograd.Function):
    """Inverted dropout through `keep_mask`; the mask (0/1) is kept for the backward pass."""

    @staticmethod
    def forward(ctx, x: Tensor, p: float) -> Tensor:
        keep = keep_mask(x.shape, p, x)
        ctx.save_for_backward(keep)
        ctx.scale = keep_scale(p)
        return torch.mul(x, keep).mul_(ctx.scale)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None]:
        (keep,) = ctx.saved_tensors
        return torch.mul(grad, keep).mul_(ctx.scale), None


class _ReluDropout(torch.autograd.Function):
    """`dropout(relu(h))` in one mask: relu's and dropout's backward become one product, and the relu output
    is never stored. Same draws (`keep_draws` over h's shape) as `UniformDropout` after `relu`."""

    @staticmethod
    def forward(ctx, h: Tensor, p: float) -> Tensor:
        mask = keep_draws(h.shape, p, h.device).logical_and_(h > 0).to(h.dtype)
        ctx.scale = keep_scale(p)
        ctx.save_for_backward(mask)
        return torch.mul(h, mask).mul_(ctx.scale)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None]:
        (mask,) = ctx.saved_tensors
        return torch.mul(grad, mask).mul_(ctx.scale), None


class UniformDropout(nn.Dropout):
    """`nn.Dropout` (same `p` to 1/65536, same i.i.d. Bernoulli masks, no parameters) through `_UniformDropout`."""

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        if self.p == 1.0:
            return torch.zeros_like(x)
        return _UniformDropout.apply(x, self.p)

    def add_to(self, residual: Tensor, x: Tensor) -> Tensor:
        """`residual + self(x)` as one `addcmul` (mask and scale applied in the sum)."""
        if not self.training or self.p == 0.0:
            return residual + x
        if self.p == 1.0:
            return residual + torch.zeros_like(x)
        return torch.addcmul(residual, x, keep_mask(x.shape, self.p, x), value=keep_scale(self.p))

    def after_relu(self, h: Tensor) -> Tensor:
        """`self(relu(h))` through `_ReluDropout`."""
        if not self.training or self.p == 0.0:
            return F.relu(h)
        if self.p == 1.0:
            return torch.zeros_like(h)
        return _ReluDropout.apply(h, self.p)


class SdpaEncoderLayer(nn.TransformerEncoderLayer):
    """`nn.TransformerEncoderLayer` (post-LayerNorm, ReLU) with its attention computed by
    `F.scaled_dot_product_attention`: the same parameters (checkpoints load either way) and the same maths,
    but with no attention-weight dropout PyTorch's fused CPU kernel runs instead of the explicit softmax(QK^T)V
    of `nn.MultiheadAttention`, which materialises the weights (and, in training, a dropout mask over them).
    With attention dropout > 0 SDPA's math path runs, whose dropout is the same Bernoulli dropout. The
    residual and feed-forward dropouts are `UniformDropout` (Bernoulli masks from 16-bit random lanes), fused
    with the residual sums (`add_to`) and with the feed-forward ReLU (`after_relu`); the masks are drawn in the
    order and shapes of the reference layer."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.activation_relu_or_gelu != 1:
            raise ZooError("SdpaEncoderLayer: only activation='relu' is supported; use attention='reference'")
        for name in ("dropout", "dropout1", "dropout2"):
            setattr(self, name, UniformDropout(getattr(self, name).p))

    def forward(self, src: Tensor, src_mask: Tensor | None = None, src_key_padding_mask: Tensor | None = None,
                is_causal: bool = False) -> Tensor:
        if src_mask is not None or src_key_padding_mask is not None or self.norm_first:
            raise ZooError("SdpaEncoderLayer: masks and norm_first are not supported (the SSL transformer uses "
                           "neither); use attention='reference'")
        x = self.norm1(self.dropout1.add_to(src, self._attention(src)))
        hidden = self.linear2(self.dropout.after_relu(self.linear1(x)))
        return self.norm2(self.dropout2.add_to(x, hidden))

    def _attention(self, x: Tensor) -> Tensor:
        """Self-attention through SDPA, projected out (before the residual dropout)."""
        attn = self.self_attn
        batch, steps, dim = x.shape
        heads = attn.num_heads
        qkv = F.linear(x, attn.in_proj_weight, attn.in_proj_bias).view(batch, steps, 3, heads, dim // heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # [B, heads, T, head_dim] each
        p = attn.dropout if self.training else 0.0
        if q.dtype != torch.float32 and q.device.type == "cpu":
            # bf16/fp16 (autocast): the fused CPU kernel's backward is ~4x slower in bf16 than in float32 here,
            # and attention is a small share of the FLOPs, so it runs in float32 (the matmuls stay in bf16)
            with torch.autocast("cpu", enabled=False):
                out = F.scaled_dot_product_attention(q.float(), k.float(), v.float(), dropout_p=p).to(q.dtype)
        else:
            out = F.scaled_dot_product_attention(q, k, v, dropout_p=p)
        return attn.out_proj(out.transpose(1, 2).reshape(batch, steps, dim))


class SslEncoder(nn.Module):
    """IMU window `[B, C, T]` -> per-step features `[B, T, d_model]`.

    Channels are laid out in slots. When every input channel is one of the 48 of `IMU_CHANNELS_48`, the slots
    are those 48 (the pretraining layout), present channels go to their own slot and every slot the data does
    not provide (every channel of an absent IMU) is filled from the trainable `missing_imu` embedding
    `[48, T]`, so a model for an IMU subset can reuse an encoder pretrained on all eight IMUs. Otherwise (e.g.
    joint angles among the inputs) the slots are the input channels themselves and nothing is substituted.
    """

    def __init__(self, channels: Sequence[str], steps: int, *, d_model: int, layers: int, heads: int,
                 feedforward: int, dropout: float, attention_dropout: float | None = None,
                 attention: str = "sdpa") -> None:
        super().__init__()
        if attention not in ATTENTION_IMPLEMENTATIONS:
            raise ZooError(f"ssl_transformer: attention: expected one of {list(ATTENTION_IMPLEMENTATIONS)}, found "
                           f"{attention!r}")
        channels = list(channels)
        slots = list(IMU_CHANNELS_48) if set(channels) <= set(IMU_CHANNELS_48) else channels
        self.direct = slots is channels  # the data's own channels are the slots: nothing to place
        self.n_slots = len(slots)
        self.register_buffer("slot_index", torch.tensor([slots.index(c) for c in channels]), persistent=False)
        has_absent_slots = len(set(channels)) < len(slots)
        # Uniform(-0.5, 0.5) initialisation of both trainable input-space tokens, as in the reference code.
        self.missing_imu = nn.Parameter(torch.rand(self.n_slots, steps) - 0.5) if has_absent_slots else None
        self.mask_token = nn.Parameter(torch.rand(self.n_slots) - 0.5)
        self.embedding = nn.Linear(self.n_slots, d_model)
        # A fixed function of the step index: rebuilt for any window length, never loaded from a checkpoint.
        self.register_buffer("positions", sinusoidal_positions(steps, d_model), persistent=False)
        layer_class = SdpaEncoderLayer if attention == "sdpa" else nn.TransformerEncoderLayer
        layer = layer_class(d_model, heads, feedforward, dropout, activation="relu",
                                           layer_norm_eps=1e-5, batch_first=True, norm_first=False)
        self.transformer = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        if attention_dropout is not None:  # nn.TransformerEncoderLayer applies `dropout` to attention weights too
            for block in self.transformer.layers:
                block.self_attn.dropout = float(attention_dropout)

    def to_slots(self, x: Tensor) -> Tensor:
        """`[B, C, T]` data channels -> `[B, n_slots, T]`, absent slots taken from `missing_imu`."""
        if self.direct:
            return x
        if self.missing_imu is None:  # all 48 present, maybe in another order
            base = x.new_zeros(x.shape[0], self.n_slots, x.shape[2])
        else:
            base = self.missing_imu.expand(x.shape[0], -1, -1)
        return base.index_copy(1, self.slot_index, x)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """Features of `x` `[B, C, T]`; the steps where `mask` `[B, T]` is True are replaced by the mask token."""
        tokens = self.to_slots(x)
        if mask is not None:
            tokens = torch.where(mask[:, None, :], self.mask_token[None, :, None], tokens)
        hidden = self.embedding(tokens.transpose(1, 2)) + self.positions
        return self.transformer(hidden)


class SslTransformerNet(nn.Module):
    """The SSL transformer as a plain network: `SslEncoder` plus a head.

    With `out_features=None` the head reconstructs every input slot (pretraining): `forward(x, mask=mask)`
    gives `[B, C, T]` for the data's channels, with the masked steps replaced by the mask token on the way in.
    Otherwise the shared per-step head maps the features to `[B, out_features, out_steps]` (fine-tuning).
    """

    def __init__(self, channels: Sequence[str], steps: int, out_features: int | None = None,
                 out_steps: int | None = None, *, with_body_mass: bool = False, d_model: int = 64, layers: int = 2,
                 heads: int = 4, feedforward: int = 128, dropout: float = 0.1,
                 attention_dropout: float | None = 0.0, attention: str = "sdpa") -> None:
        super().__init__()
        self.encoder = SslEncoder(channels, steps, d_model=d_model, layers=layers, heads=heads,
                                  feedforward=feedforward, dropout=dropout, attention_dropout=attention_dropout,
                                  attention=attention)
        self.reconstructs = out_features is None
        if self.reconstructs:
            self.head: nn.Module = nn.Linear(d_model, self.encoder.n_slots)
        else:
            self.head = PerStepHead(d_model, out_features, out_steps or steps, mass_dim=16 if with_body_mass else 0)

    def forward(self, x: Tensor, body_mass: Tensor | None = None, mask: Tensor | None = None) -> Tensor:
        if self.reconstructs:
            slots = self.head(self.encoder(x, mask)).transpose(1, 2)
            return slots.index_select(1, self.encoder.slot_index)
        return self.head(self.encoder(x).transpose(1, 2), body_mass)


@dataclass(frozen=True)
class TwoStageSchedule:
    """Learning rates of Tan 2024's fine-tuning: the head alone for `head_steps` at peak `head_lr`, then the
    whole model for `full_steps` at peak `full_lr`; each stage warms up linearly over `warmup_fraction` of its
    steps, then decays to zero along a cosine. The encoder's rate is zero (and it is frozen) in the head stage."""

    head_steps: int
    head_lr: float
    full_steps: int
    full_lr: float
    warmup_fraction: float

    def _stage(self, step: int, start: int, steps: int, peak: float) -> float:
        if not start <= step < start + steps:
            return 0.0
        return peak * warmup_cosine(steps, self.warmup_fraction)(step - start)

    def head_lr_at(self, step: int) -> float:
        return (self._stage(step, 0, self.head_steps, self.head_lr)
                + self._stage(step, self.head_steps, self.full_steps, self.full_lr))

    def encoder_lr_at(self, step: int) -> float:
        return self._stage(step, self.head_steps, self.full_steps, self.full_lr)

    def encoder_frozen_at(self, step: int) -> bool:
        return step < self.head_steps


@register_model("ssl_transformer")
class SslTransformer(ZooModel):
    """Masked-reconstruction SSL transformer (Tan 2024): pretraining on `pretrain`, fine-tuning on any
    sequence-to-steps task (`imu2grf` with a linear head per step, as in the paper; pressure maps through the
    shared map decoder).

    Pretraining masks `mask_blocks` contiguous blocks (default one) of `mask_length` steps per window
    (default `mask_ratio` 0.125 of the window in total:
    16 of 128 steps) and reconstructs every step through a linear layer; the loss counts the masked steps of
    the data's channels only. `forward` then returns `{"y": reconstruction [B, C, T], "mask": [B, T]}`.

    `pretrained` names a checkpoint of this model (any task; normally `pretrain`) whose encoder initialises
    this one; the heads stay new. `finetune="head_then_full"` runs the paper's two-stage schedule inside one
    fit (see `TwoStageSchedule`; it uses the configured optimiser, weight decay and warm-up fraction and
    replaces `lr`/`scheduler`); `"full"` trains everything with the usual `lr`/`scheduler`. The paper's
    random-initialisation baseline is this class without `pretrained`.

    Parameters: the paper states "2 million" trainable parameters in total. Paper preset, measured: the six
    encoder layers hold 2,077,824 (6 x 346,304); with the 48 -> 192 embedding, the mask token and the
    48 -> 48 reconstruction layer the pretraining model holds 2,096,544. Paper training recipe for pretraining:
    AdamW, lr 1e-4, weight decay 0.01, batch 64, 5e4 steps, 20 % linear warm-up then cosine decay
    (batch size and step count belong to the run configuration).

    Args:
        d_model, layers, heads, feedforward, dropout: transformer size (post-LayerNorm, ReLU, eps 1e-5).
        attention_dropout: dropout on the attention weights (the paper's layers use `dropout` there too).
        mask_length: steps per masked block; default `round(mask_ratio * T / mask_blocks)`.
        mask_ratio: masked share of the window when `mask_length` is not given.
        mask_blocks: masked blocks per window (Tan 2024's grid varies the ratio and the block length).
        finetune: `full` or `head_then_full` (downstream tasks only).
        head_steps, head_lr, full_steps, full_lr: the two stages of `head_then_full`.
        attention: `sdpa` (default: `SdpaEncoderLayer`, attention through `scaled_dot_product_attention`) or
            `reference` (`nn.TransformerEncoderLayer` as before); same parameters and maths either way.
        fast: drop dropout on the attention weights (dropout elsewhere stays), so PyTorch's fused CPU attention
            kernel runs. The paper preset keeps the paper's recipe unless this is set; docs/speed.md holds the
            measured speed-up and the 200-step masked-reconstruction loss curves with and without it.
    """

    families = (MASKED_RECONSTRUCTION, SEQUENCE_TO_STEPS)
    ddp_find_unused_parameters = True  # the mask token serves pretraining only; fine-tuning freezes stages
    default_task = "pretrain"
    network = SslTransformerNet
    paper = "Tan 2024"
    presets = {
        # small: no dropout on the attention weights; on CPU it makes attention ~3x slower (dropout 0.1 stays on
        # the residual and feed-forward paths). paper: 0.1 everywhere, as nn.TransformerEncoderLayer does.
        "small": {"net": {"d_model": 64, "layers": 2, "heads": 4, "feedforward": 128, "dropout": 0.1,
                          "attention_dropout": 0.0, "attention": "sdpa"},
                  "optim": {"optimizer": "adamw", "lr": 2e-3, "weight_decay": 0.01},
                  "loss": {"mask_ratio": 0.125}},
        "paper": {"net": {"d_model": 192, "layers": 6, "heads": 8, "feedforward": 512, "dropout": 0.1,
                          "attention_dropout": 0.1, "attention": "sdpa"},
                  "optim": {"optimizer": "adamw", "lr": 1e-4, "weight_decay": 0.01, "scheduler": "warmup_cosine",
                            "warmup_fraction": 0.2},
                  "loss": {"mask_ratio": 0.125}},
    }
    search_space = {  # d_model stays a multiple of the presets' heads (4, 8)
        "lr": {"type": "float", "low": 2e-4, "high": 5e-3, "log": True},
        "d_model": {"type": "categorical", "choices": [32, 64, 128]},
        "layers": {"type": "int", "low": 1, "high": 4},
        "dropout": {"type": "float", "low": 0.0, "high": 0.3},
        "weight_decay": {"type": "float", "low": 1e-3, "high": 0.1, "log": True},
    }

    def __init__(self, d_model: int | None = None, layers: int | None = None, heads: int | None = None,
                 feedforward: int | None = None, dropout: float | None = None,
                 attention_dropout: float | None = None, mask_length: int | None = None,
                 mask_ratio: float | None = None, mask_blocks: int = 1, finetune: str = "full",
                 head_steps: int = 300, head_lr: float = 1e-3, full_steps: int = 300, full_lr: float = 1e-4,
                 attention: str | None = None, fast: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        if not isinstance(fast, bool):
            raise ZooError(f"model '{self.model_name}': fast: expected true or false, found {fast!r}")
        if fast:
            if attention_dropout not in (None, 0, 0.0):
                raise ZooError(f"model '{self.model_name}': fast=True drops attention-weight dropout; found "
                               f"attention_dropout={attention_dropout!r} as well (drop one of the two)")
            attention_dropout = 0.0
        self.fast = fast
        cfg = self.resolve("loss", mask_ratio=mask_ratio)
        steps = self.input_shape[-1]
        if not (isinstance(mask_blocks, int) and 1 <= mask_blocks <= steps // 2):
            raise ZooError(f"model '{self.model_name}': mask_blocks: expected an integer in [1, {steps // 2}] for "
                           f"{steps}-step windows; found {mask_blocks!r}")
        self.mask_blocks = mask_blocks
        self.mask_length = (int(mask_length) if mask_length is not None
                            else max(1, round(cfg.mask_ratio * steps / mask_blocks)))
        if not 1 <= self.mask_length < steps // mask_blocks:
            raise ZooError(f"model '{self.model_name}': mask_length must lie in [1, {steps // mask_blocks - 1}] for "
                           f"{mask_blocks} block(s) in {steps}-step windows; found {self.mask_length}")
        self.hparams["mask_length"] = self.mask_length
        self.net = self.build_net(d_model=d_model, layers=layers, heads=heads, feedforward=feedforward,
                                  dropout=dropout, attention_dropout=attention_dropout, attention=attention)
        self.finetune = finetune
        self.schedule = TwoStageSchedule(head_steps, head_lr, full_steps, full_lr, self.train_cfg.warmup_fraction)
        self._check_finetune()

    @classmethod
    def network_shapes(cls, spec: DataSpec) -> dict[str, Any]:
        task = get_task(spec.task)
        steps = int(spec.input_shape[-1])
        if task.self_supervised:
            return {"channels": list(spec.input_channels), "steps": steps}
        return {"channels": list(spec.input_channels), "steps": steps, "out_features": task.step_features(spec),
                "out_steps": task.output_steps(spec), "with_body_mass": bool(spec.has_body_mass)}

    def build_net(self, **explicit: Any) -> nn.Module:
        """As `ZooModel.build_net`, but `pretrained` transfers the encoder only (strictly; see `load_encoder`)."""
        pretrained = self.hparams.get("pretrained")
        self.hparams["pretrained"] = None
        net = super().build_net(**explicit)
        self.hparams["pretrained"] = pretrained
        if pretrained:
            self.net = net
            self.load_encoder(pretrained)
        return net

    @property
    def encoder(self) -> SslEncoder:
        return self.net.encoder

    @property
    def head(self) -> nn.Module:
        return self.net.head

    def _check_finetune(self) -> None:
        name, s = self.model_name, self.schedule
        if self.finetune not in FINETUNE_MODES:
            raise ZooError(f"model '{name}': finetune: expected one of {list(FINETUNE_MODES)}, found "
                           f"'{self.finetune}'")
        if self.finetune == "head_then_full" and self.task.self_supervised:
            raise ZooError(f"model '{name}': finetune='head_then_full' needs a downstream task; the task is "
                           f"'{self.task.name}' (use finetune='full')")
        if min(s.head_steps, s.full_steps) < 0 or s.head_steps + s.full_steps == 0:
            raise ZooError(f"model '{name}': head_steps and full_steps must be >= 0 with a positive sum; found "
                           f"{s.head_steps} and {s.full_steps}")

    # -- forward and loss ------------------------------------------------------------------
    def sample_mask(self, batch: int) -> Tensor:
        """One contiguous masked block per window; fixed-seed positions in eval mode, random in training."""
        generator = None if self.training else torch.Generator().manual_seed(EVAL_MASK_SEED)
        mask = contiguous_block_mask(batch, self.input_shape[-1], self.mask_length, blocks=self.mask_blocks,
                                     generator=generator)
        return mask.to(self.device)

    def forward(self, batch: dict[str, Tensor]) -> Tensor | dict[str, Tensor]:
        if not self.task.self_supervised:
            return super().forward(batch)
        x = batch["x"]
        mask = self.sample_mask(x.shape[0])
        return {"y": self.net(x, mask=mask), "mask": mask}

    def compute_loss(self, out: dict[str, Tensor], target: Tensor, batch: dict[str, Tensor]) -> Tensor:
        """Pretraining: the loss over the masked steps only (every data channel); otherwise the task's loss."""
        if not self.task.self_supervised:
            return super().compute_loss(out, target, batch)
        hidden = out["mask"][:, None, :].expand_as(target)
        return LOSSES[self.train_cfg.loss](out["y"][hidden], target[hidden])

    # -- pretrained encoder ------------------------------------------------------------------
    def encoder_state_dict(self) -> dict[str, Tensor]:
        """The weights `pretrained` transfers (embedding, mask token, missing-IMU embedding, transformer)."""
        return self.encoder.state_dict()

    def load_encoder(self, source: str | Path | Mapping[str, Tensor]) -> None:
        """Initialise the encoder from a checkpoint of this model, a saved `encoder_state_dict()`, or a mapping.

        Loading is strict: a missing, unexpected or differently shaped encoder weight is an error naming
        every such key. Only `missing_imu` is optional (kept new when either side lacks it or the window
        lengths differ), since it exists only for IMU subsets.
        """
        origin = f"pretrained checkpoint {source}" if isinstance(source, (str, Path)) else "encoder state"
        theirs = _encoder_weights(source) if isinstance(source, (str, Path)) else dict(source)
        own = self.encoder.state_dict()
        missing = [k for k in own if k not in theirs and k not in OPTIONAL_ENCODER_KEYS]
        unexpected = [k for k in theirs if k not in own and k not in OPTIONAL_ENCODER_KEYS]
        mismatched = [f"{k} (checkpoint {tuple(theirs[k].shape)}, model {tuple(own[k].shape)})"
                      for k in own if k in theirs and k not in OPTIONAL_ENCODER_KEYS
                      and theirs[k].shape != own[k].shape]
        if missing or unexpected or mismatched:
            problems = [f"{label}: {_abbreviated(keys)}" for label, keys in
                        (("missing keys", missing), ("unexpected keys", unexpected), ("shape mismatches", mismatched))
                        if keys]
            raise ZooError(f"{origin}: its encoder does not fit this model ({self.encoder.n_slots} input slots, "
                           f"d_model {self.hparams.d_model}, {self.hparams.layers} layers); " + "; ".join(problems))
        merged = {k: theirs[k] if k in theirs and theirs[k].shape == v.shape else v for k, v in own.items()}
        self.encoder.load_state_dict(merged, strict=True)

    # -- two-stage fine-tuning -----------------------------------------------------------------
    def configure_optimizers(self) -> Any:
        if self.finetune == "full":
            return super().configure_optimizers()
        schedule = self.schedule
        planned = schedule.head_steps + schedule.full_steps
        if self._trainer is not None and self.trainer.estimated_stepping_batches != planned:
            rank_zero_warn(f"ssl_transformer: finetune='head_then_full' plans {planned} steps (head_steps + "
                           f"full_steps) but the trainer runs {self.trainer.estimated_stepping_batches}; set "
                           f"max_steps={planned}")
        groups = [{"params": list(self.head.parameters())}, {"params": list(self.encoder.parameters())}]
        optimizer = self.make_optimizer(groups, lr=1.0)  # LambdaLR sets the rates
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, [schedule.head_lr_at, schedule.encoder_lr_at])
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    def on_train_batch_start(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        if self.finetune == "head_then_full":
            self.encoder.requires_grad_(not self.schedule.encoder_frozen_at(self.global_step))

    def on_train_end(self) -> None:
        self.encoder.requires_grad_(True)


def _encoder_weights(path: str | Path) -> dict[str, Tensor]:
    """Encoder weights from a Lightning checkpoint of this model or from a saved `encoder_state_dict()`."""
    if not Path(path).is_file():
        raise ZooError(f"pretrained: no checkpoint file at {path}")
    stored = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(stored, Mapping):
        raise ZooError(f"pretrained checkpoint {path}: expected a dict of weights, found {type(stored).__name__}")
    if "state_dict" not in stored:
        return dict(stored)
    for prefix in ("net.encoder.", "encoder."):  # zoo >= 0.2, and checkpoints written before the network split
        weights = {k[len(prefix):]: v for k, v in stored["state_dict"].items() if k.startswith(prefix)}
        if weights:
            return weights
    raise ZooError(f"pretrained checkpoint {path}: state_dict holds no 'net.encoder.*' weights; expected a "
                   "checkpoint of ssl_transformer")


def _abbreviated(keys: list[str], shown: int = 6) -> str:
    more = f" (+{len(keys) - shown} more)" if len(keys) > shown else ""
    return ", ".join(keys[:shown]) + more
