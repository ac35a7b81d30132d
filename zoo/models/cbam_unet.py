"""CBAM U-Net for sparse landmarks (Wang, J Biomech) and the plain U-Net baseline it is compared with.

Both map plantar geometry + sparse landmark pressures `[B, 2, H, W]` to the full pressure map `[B, H, W]`.
The structure follows the author's related public code: stride-2 convolutional encoders, a U-Net decoder
of stride-2 transposed convolutions with skip connections, and a tanh output. The CBAM U-Net encodes each
input image separately and fuses the two at every scale (concatenation, 1x1 convolution, CBAM); the plain
U-Net encodes the stacked input once and uses no attention. Everything else (decoder, output, loss,
presets) is shared, so a comparison of the two isolates the fusion/attention path.

Loss (both models): pixel loss (L1 in the presets) + `force_weight` x total-force error + `tv_weight` x
total variation, all in normalised pressure units (see `total_force_error`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from datamodules.tasks import LANDMARKS_TO_MAP, DataSpec
from zoo.errors import ZooError
from zoo.model import ZooModel
from zoo.registry import register_model

PAPER_WIDTHS = (64, 128, 256, 512, 512, 512)


# -- attention ---------------------------------------------------------------------------------
class ChannelGate(nn.Module):
    """CBAM channel attention (Woo et al. 2018): one bottleneck MLP scores both the average- and the
    max-pooled channel descriptor; the scores are summed and squashed to a per-channel gate."""

    def __init__(self, channels: int, reduction: int = 8) -> None:
        super().__init__()
        hidden = max(1, channels // reduction)
        self.mlp = nn.Sequential(
            nn.Conv2d(channels, hidden, 1, bias=False), nn.ReLU(), nn.Conv2d(hidden, channels, 1, bias=False)
        )

    def forward(self, x: Tensor) -> Tensor:
        """Gate `[B, C, 1, 1]` in (0, 1)."""
        return torch.sigmoid(self.mlp(x.mean((2, 3), keepdim=True)) + self.mlp(x.amax((2, 3), keepdim=True)))


class SpatialGate(nn.Module):
    """CBAM spatial attention: channel-wise mean and max maps through one convolution."""

    def __init__(self, kernel: int = 7) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 1, kernel, padding=kernel // 2, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        """Gate `[B, 1, H, W]` in (0, 1)."""
        return torch.sigmoid(self.conv(torch.cat([x.mean(1, keepdim=True), x.amax(1, keepdim=True)], dim=1)))


class CBAM(nn.Module):
    """Channel gate, then spatial gate on the channel-gated features."""

    def __init__(self, channels: int, reduction: int = 8, kernel: int = 7) -> None:
        super().__init__()
        self.channel = ChannelGate(channels, reduction)
        self.spatial = SpatialGate(kernel)

    def forward(self, x: Tensor) -> Tensor:
        x = x * self.channel(x)
        return x * self.spatial(x)


# -- encoder / decoder -------------------------------------------------------------------------
def down(in_channels: int, out_channels: int, momentum: float | None) -> nn.Sequential:
    """Halve the resolution: 3x3 stride-2 convolution, BatchNorm (unless `momentum` is None), LeakyReLU."""
    layers: list[nn.Module] = [nn.Conv2d(in_channels, out_channels, 3, stride=2, padding=1)]
    if momentum is not None:
        layers.append(nn.BatchNorm2d(out_channels, momentum=momentum))
    layers.append(nn.LeakyReLU(0.2))
    return nn.Sequential(*layers)


def up(in_channels: int, out_channels: int, momentum: float) -> nn.Sequential:
    """Double the resolution: 3x3 stride-2 transposed convolution, BatchNorm, ReLU."""
    return nn.Sequential(
        nn.ConvTranspose2d(in_channels, out_channels, 3, stride=2, padding=1, output_padding=1),
        nn.BatchNorm2d(out_channels, momentum=momentum), nn.ReLU(),
    )


class Encoder(nn.Module):
    """Stride-2 stages; returns the features of every scale, finest first (the last is the bottleneck).
    The first stage is not normalised (pix2pix style, as in the author's code)."""

    def __init__(self, in_channels: int, widths: tuple[int, ...], momentum: float) -> None:
        super().__init__()
        ins = (in_channels, *widths[:-1])
        self.stages = nn.ModuleList(
            down(i, o, momentum if k else None) for k, (i, o) in enumerate(zip(ins, widths))
        )

    def forward(self, x: Tensor) -> list[Tensor]:
        features = []
        for stage in self.stages:
            x = stage(x)
            features.append(x)
        return features


class FusedEncoder(nn.Module):
    """One encoder per input image (geometry; landmarks), fused at every scale by concatenation, a 1x1
    convolution back to the scale's width and CBAM; the bottleneck fusion adds BatchNorm + ReLU."""

    def __init__(self, in_channels: int, widths: tuple[int, ...], momentum: float) -> None:
        super().__init__()
        self.geometry = Encoder(1, widths, momentum)
        self.landmarks = Encoder(in_channels - 1, widths, momentum)
        self.fuse = nn.ModuleList(nn.Conv2d(2 * w, w, 1, bias=False) for w in widths)
        self.bottleneck_norm = nn.Sequential(nn.BatchNorm2d(widths[-1], momentum=momentum), nn.ReLU())
        self.attend = nn.ModuleList(CBAM(w) for w in widths)

    def forward(self, x: Tensor) -> list[Tensor]:
        geometry, landmarks = self.geometry(x[:, :1]), self.landmarks(x[:, 1:])
        fused = [fuse(torch.cat(pair, dim=1)) for fuse, pair in zip(self.fuse, zip(geometry, landmarks))]
        fused[-1] = self.bottleneck_norm(fused[-1])
        return [attend(f) for attend, f in zip(self.attend, fused)]


class Decoder(nn.Module):
    """U-Net decoder: upsample, concatenate the skip of that scale, repeat; `refine` acts on the last
    concatenation before the final transposed convolution to one full-resolution map."""

    def __init__(self, widths: tuple[int, ...], refine: nn.Module, momentum: float) -> None:
        super().__init__()
        ins = (widths[-1], *(2 * w for w in reversed(widths[1:-1])))
        self.stages = nn.ModuleList(up(i, o, momentum) for i, o in zip(ins, reversed(widths[:-1])))
        self.refine = refine
        self.head = nn.ConvTranspose2d(2 * widths[0], 1, 3, stride=2, padding=1, output_padding=1)

    def forward(self, features: list[Tensor]) -> Tensor:
        *skips, x = features
        for stage, skip in zip(self.stages, reversed(skips)):
            x = torch.cat([stage(x), skip], dim=1)
        return self.head(self.refine(x))[:, 0]


# -- padding and loss terms --------------------------------------------------------------------
def pad_to_multiple(x: Tensor, multiple: int) -> tuple[Tensor, tuple[slice, slice]]:
    """Pad `[B, C, H, W]` on all sides to a multiple of `multiple`; return it and the crop that undoes it.

    Channel 0 is the plantar geometry, the others hold landmark pressures (docs/tasks.md). Landmark
    channels are padded with zeros (no sensor; zero stays zero under their normalisation). The geometry is
    padded with each sample's minimum, which is the normalised outside-foot value (-1 before normalisation,
    below every foot height) whenever the grid extends beyond the foot, so the padding reads as "no foot";
    a zero would read as the average foot height.
    """
    H, W = x.shape[-2:]
    dh, dw = -H % multiple, -W % multiple
    if not dh and not dw:
        return x, (slice(None), slice(None))
    top, left = dh // 2, dw // 2
    pad = (left, dw - left, top, dh - top)
    floor = x[:, :1].amin((2, 3), keepdim=True)
    padded = torch.cat([F.pad(x[:, :1] - floor, pad) + floor, F.pad(x[:, 1:], pad)], dim=1)
    return padded, (slice(top, top + H), slice(left, left + W))


def total_force_error(pred: Tensor, target: Tensor, std: Tensor) -> Tensor:
    """Mean over samples of |total predicted - total true force|, per cell, in normalised pressure units.

    Pressure x cell area summed over the map is the vertical force. The author's code sums raw image
    values, which scales with the cell count (4096 at 64x64); here the difference is taken in physical
    units (`* std`), averaged over cells and divided by the mean std, so a weight of 1 puts the force
    error on the same scale as the per-cell L1 term at any grid size. It is at most that L1 term (by the
    triangle inequality): it penalises a biased total, not the spread of the errors.
    """
    return ((pred - target) * std).mean((-2, -1)).abs().mean() / std.mean()


def total_variation(x: Tensor) -> Tensor:
    """Anisotropic total variation of maps `[..., H, W]`: mean |horizontal| + mean |vertical| difference."""
    return (x[..., :, 1:] - x[..., :, :-1]).abs().mean() + (x[..., 1:, :] - x[..., :-1, :]).abs().mean()


# -- the networks ------------------------------------------------------------------------------
class UNetNet(nn.Module):
    """`[B, C, H, W]` (geometry + landmark image) -> `[B, H, W]`: one stride-2 encoder over the stacked input,
    the U-Net decoder and `R tanh(z / R)`. Any grid: the input is padded to a multiple of 2 ** len(widths) and
    the output cropped back. `channels_last` keeps weights and activations in channels-last memory format
    (same maths; measured 1.18x faster training for the small preset on this CPU, 0.95x for the paper preset:
    docs/speed.md)."""

    def __init__(self, in_channels: int, *, widths: Sequence[int] = (16, 32, 64), output_range: float = 40.0,
                 bn_momentum: float = 0.3, channels_last: bool = False) -> None:
        super().__init__()
        widths = tuple(widths)
        if len(widths) < 2:
            raise ZooError(f"{type(self).__name__}: widths needs at least 2 stages, found {widths}")
        self.output_range = output_range
        self.multiple = 2 ** len(widths)
        self.encoder = self.build_encoder(in_channels, widths, bn_momentum)
        self.decoder = Decoder(widths, self.build_refine(2 * widths[0]), bn_momentum)
        self.channels_last = bool(channels_last)
        if self.channels_last:
            self.to(memory_format=torch.channels_last)

    def build_encoder(self, in_channels: int, widths: tuple[int, ...], momentum: float) -> nn.Module:
        return Encoder(in_channels, widths, momentum)

    def build_refine(self, channels: int) -> nn.Module:
        return nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        x, (rows, cols) = pad_to_multiple(x, self.multiple)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        z = self.decoder(self.encoder(x))[:, rows, cols]
        return self.output_range * torch.tanh(z / self.output_range)


class CBAMUNetNet(UNetNet):
    """`UNetNet` with one encoder per input image fused at every scale (concatenation, 1x1 convolution,
    CBAM) and a last CBAM on the finest decoder concatenation."""

    def build_encoder(self, in_channels: int, widths: tuple[int, ...], momentum: float) -> nn.Module:
        return FusedEncoder(in_channels, widths, momentum)

    def build_refine(self, channels: int) -> nn.Module:
        return CBAM(channels)


# -- the models --------------------------------------------------------------------------------
@register_model("unet")
class UNet(ZooModel):
    """Plain U-Net baseline: one encoder over the stacked geometry + landmark image, no attention.

    Depth and widths per preset as the CBAM U-Net (six stride-2 stages 64-512 in the paper preset), and the
    same decoder, output and loss; only the encoder/fusion path differs (see `CBAMUNet`).

    Args:
        widths: channels of the stride-2 stages, finest first (the input is padded to a multiple of
            2 ** len(widths) and the output cropped back, so any grid size works).
        output_range: R in `y = R tanh(z / R)`, normalised pressure units. The paper's tanh bounds the output
            to the target range; our targets are normalised pressure >= 0 with peaks of about 10-20, so
            R = 40 leaves headroom above the peaks, the map has slope 1 at zero (zero-pressure cells
            need z = 0, not a saturated tanh) and the output cannot diverge.
        force_weight, tv_weight: weights of the total-force error and total-variation terms of the loss.
        channels_last: weights and activations in channels-last memory format (the small preset: 1.18x faster
            training here; the paper preset keeps the default format, 0.95x; docs/speed.md).
        bn_momentum: BatchNorm running-statistics momentum. The paper preset keeps PyTorch's 0.1 (the
            author's code); the small preset, trained at a 5x higher learning rate for a few hundred to a
            few thousand steps, uses 0.3 so the running statistics (used in evaluation) follow the fast-moving
            weights within ~3 steps instead of ~10. BatchNorm rather than a per-sample norm because the output
            scale must follow the scale of the landmark pressures, which a per-sample norm would remove.
    """

    families = (LANDMARKS_TO_MAP,)
    network = UNetNet
    paper = "baseline (Ronneberger et al. 2015)"
    presets = {
        "small": {"net": {"widths": (16, 32, 64), "output_range": 40.0, "bn_momentum": 0.3, "channels_last": True},
                  "optim": {"lr": 1e-3},
                  "loss": {"loss": "l1", "force_weight": 1.0, "tv_weight": 1e-5}},
        "paper": {"net": {"widths": PAPER_WIDTHS, "output_range": 40.0, "bn_momentum": 0.1, "channels_last": False},
                  "optim": {"lr": 2e-4, "betas": (0.5, 0.999), "weight_decay": 1e-5, "scheduler": "step",
                            "step_size": 20, "step_gamma": 0.5},
                  "loss": {"loss": "l1", "force_weight": 1.0, "tv_weight": 1e-5}},
    }
    paper_data = {"grid": [64, 64]}
    search_space = {
        "lr": {"type": "float", "low": 2e-4, "high": 5e-3, "log": True},
        "widths": {"type": "categorical", "choices": [[8, 16, 32], [16, 32, 64], [32, 64, 128]]},
        "bn_momentum": {"type": "float", "low": 0.1, "high": 0.5},
        "force_weight": {"type": "float", "low": 0.1, "high": 10.0, "log": True},
    }

    def __init__(self, widths: tuple[int, ...] | None = None, output_range: float | None = None,
                 force_weight: float | None = None, tv_weight: float | None = None,
                 bn_momentum: float | None = None, channels_last: bool | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.weights = self.resolve("loss", force_weight=force_weight, tv_weight=tv_weight)
        self.net = self.build_net(widths=widths, output_range=output_range, bn_momentum=bn_momentum,
                                  channels_last=channels_last)

    @classmethod
    def network_shapes(cls, spec: DataSpec) -> dict[str, Any]:
        return {"in_channels": len(spec.input_channels)}

    def compute_loss(self, out: dict[str, Tensor], target: Tensor, batch: dict[str, Tensor]) -> Tensor:
        y = out["y"]
        return (super().compute_loss(out, target, batch)
                + self.weights.force_weight * total_force_error(y, target, self.target_std)
                + self.weights.tv_weight * total_variation(y))


@register_model("cbam_unet")
class CBAMUNet(UNet):
    """CBAM U-Net (Wang, J Biomech): geometry and landmark images encoded separately, fused at every scale.

    Each scale: concatenate both encoders' features, 1x1 convolution, CBAM (channel gate from a shared
    MLP with reduction 8 over average- and max-pooled descriptors; spatial gate from a 7x7 convolution
    of the channel mean and max); the bottleneck fusion adds BatchNorm + ReLU, and a last CBAM refines
    the finest decoder concatenation. Training (paper preset, from the author's code): Adam lr 2e-4,
    betas (0.5, 0.999), weight decay 1e-5, x0.5 every 20 epochs, 51 epochs, batch 64.

    Size: the paper does not state a parameter count; the author's related code (64x64 input, widths
    64-128-256-512-512-512) has 24,695,407 parameters, and so does the paper preset here (24.70 M;
    the hand count is in tests/test_cbam_unet.py).
    """

    network = CBAMUNetNet
    paper = "Wang et al. (J Biomech)"
