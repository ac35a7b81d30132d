"""Dual-encoder insole-to-pose CNN (Han et al., smart insole): M insole frames of both feet -> 3D keypoints.

Each foot has its own 2D CNN over its M frames stacked as channels. The two feature maps are laid side by
side (left foot first), repeated along a new height axis and given one extra channel holding each voxel's
height index (the Intelligent Carpet trick of Luo et al. 2021 that the paper reuses), so the 3D decoder
knows how high every voxel is. Three Conv3d and one ConvTranspose3d turn that volume into one heatmap per
keypoint; the heatmaps are clipped to [0, 1] and a soft-argmax (the heatmap-weighted mean voxel position)
reads off coordinates in a physical box around the pelvis.

The volume's axes are (along the insoles, across the two insoles, height), i.e. the pose axes (y, x, z):
x runs from the left to the right shoulder, so the left foot's features sit at low x. The box spans, per
axis, every keypoint's training mean +/- `box_margin` training standard deviations (from the
`target_mean` / `target_std` buffers, so it travels with the checkpoint); voxel i of n lies at
`lo + i / (n - 1) * (hi - lo)`.

Loss = `heatmap_weight` x MSE(heatmaps, Gaussian targets around the true keypoints, `sigma` voxels)
     + `keypoint_weight` x MSE(keypoints) in normalised units; a zero weight gives the paper's HM-only or
KP-only ablation.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from datamodules.tasks import INSOLE_TO_POSE, DataSpec
from zoo.errors import ZooError
from zoo.model import ZooModel
from zoo.registry import register_model

VOLUME_AXES = (1, 0, 2)  # pose axis held by each volume dim (y, x, z); a swap, so also dim of each pose axis
SOFT_ARGMAX_EPS = 1e-6


# -- pieces ------------------------------------------------------------------------------------
def conv_block(conv: nn.Module, channels: int, dims: int) -> nn.Sequential:
    """Convolution, BatchNorm, LeakyReLU: every encoder and decoder layer of the paper."""
    norm = nn.BatchNorm2d(channels) if dims == 2 else nn.BatchNorm3d(channels)
    return nn.Sequential(conv, norm, nn.LeakyReLU())


class FootEncoder(nn.Sequential):
    """Four 3x3 convolutions (padding 1) over one foot's M frames as channels; 2x2 max-pool after the
    2nd and the 4th, so an H x W insole gives an (H // 4) x (W // 4) feature map."""

    def __init__(self, frames: int, widths: Sequence[int]) -> None:
        layers: list[nn.Module] = []
        for i, (c_in, c_out) in enumerate(zip([frames, *widths[:-1]], widths)):
            layers.append(conv_block(nn.Conv2d(c_in, c_out, 3, padding=1), c_out, dims=2))
            if i % 2 == 1:
                layers.append(nn.MaxPool2d(2))
        super().__init__(*layers)


def plan_decoder(voxels: Sequence[int], heatmap: Sequence[int]) -> list[tuple[tuple[int, ...], int]]:
    """(kernel, padding) of the three Conv3d layers that take `voxels` to `heatmap` around a stride-2
    ConvTranspose3d (kernel 2), which doubles a cube of side S = min(heatmap) // 2.

    Layer 1 (padding 2) widens axes shorter than S to S, layer 2 (padding 1) narrows longer axes to S,
    layer 4 (padding 2) widens 2S to the heatmap. For the paper's (7, 10, 9) voxels and (20, 20, 18)
    heatmap this gives exactly its kernels (3, 5, 5), (3, 4, 3), [(2, 2, 2)], (3, 3, 5).
    """
    side = min(heatmap) // 2
    widened = [max(v, side) for v in voxels]
    if side - min(voxels) > 4 or max(heatmap) - 2 * side > 4 or side < 1:
        raise ZooError(
            f"insole_pose_cnn: cannot decode a {tuple(voxels)} voxel grid into a {tuple(heatmap)} heatmap; "
            f"the heatmap axes must differ by at most 4 and min(heatmap) // 2 = {side} may exceed each "
            f"voxel axis by at most 4 (enlarge encoder_grid or reduce heatmap_size)"
        )
    return [
        (tuple(5 - (w - v) for v, w in zip(voxels, widened)), 2),
        (tuple(3 + w - side for w in widened), 1),
        (tuple(5 - (h - 2 * side) for h in heatmap), 2),
    ]


def height_channel(volume: Tensor) -> Tensor:
    """`[B, 1, *grid, D]`: each voxel's height index, scaled to [0, 1] (index / (D - 1), as in Luo 2021)."""
    depth = volume.shape[-1]
    levels = torch.arange(depth, dtype=volume.dtype, device=volume.device) / max(depth - 1, 1)
    return levels.expand(volume.shape[0], 1, *volume.shape[2:])


def lift(features: Tensor, depth: int) -> Tensor:
    """2D features `[B, C, h, w]` -> volume `[B, C + 1, h, w, depth]`: repeated along height, plus the
    height-index channel last."""
    volume = features.unsqueeze(-1).expand(*features.shape, depth)
    return torch.cat([volume, height_channel(volume)], dim=1)


class LiftedConv3d(nn.Conv3d):
    """A Conv3d that can also take the lifted volume in its 2D form (`forward_lifted`), exactly.

    On `lift(features, depth)` every feature channel is constant along depth, so its 3D kernel acts as the
    2D kernel summed over the depth taps that land on real data (the other taps hit zero padding): one 2D
    kernel per set of valid taps (5 sets for a 5-tap kernel with padding 2, any depth). The height-index
    channel is the same for every sample, so its contribution is one batch-independent 2D convolution of a
    ones map (zero padding at the grid borders included). Same parameters as `nn.Conv3d`, so checkpoints load
    either way; ~kd x D / sets fewer multiply-adds than convolving the repeated volume.
    """

    def forward_lifted(self, features: Tensor, depth: int) -> Tensor:
        """`self(lift(features, depth))` from 2D features `[B, C, h, w]`, without building the volume."""
        if self.stride != (1, 1, 1) or self.dilation != (1, 1, 1) or self.groups != 1 or \
                self.padding_mode != "zeros" or isinstance(self.padding, str):
            raise ZooError("LiftedConv3d.forward_lifted: expected stride 1, dilation 1, one group and numeric zero "
                           f"padding; found stride {self.stride}, dilation {self.dilation}, groups {self.groups}, "
                           f"padding {self.padding!r} ({self.padding_mode})")
        channels = features.shape[1]
        if self.in_channels != channels + 1:
            raise ZooError(f"LiftedConv3d.forward_lifted: expected {self.in_channels - 1} feature channels (plus "
                           f"the height channel), found {channels}")
        taps, pad = self.kernel_size[2], self.padding[2]
        out_depth = depth + 2 * pad - taps + 1
        # which taps read real data depends on sizes only: computed in Python, so traced and exported graphs
        # hold constants (ONNX Runtime has no kernel for a dimension-wise Unique)
        rows = [tuple(0 <= d + t - pad < depth for t in range(taps)) for d in range(out_depth)]
        unique_rows = sorted(set(rows))
        position = torch.arange(out_depth)[:, None] + torch.arange(taps)[None, :] - pad  # input depth per tap
        valid = torch.tensor(rows)  # [out_depth, taps]
        sets = torch.tensor(unique_rows)
        set_of_depth = torch.tensor([unique_rows.index(r) for r in rows])
        weight = self.weight
        # features: one 2D kernel per set of valid taps
        kernels = torch.einsum("ocabt,nt->nocab", weight[:, :channels], sets.to(weight.dtype))
        kernels = kernels.reshape(-1, channels, *self.kernel_size[:2])
        plane_pad = tuple(self.padding[:2])
        out = F.conv2d(features, kernels, padding=plane_pad)  # [B, sets * out, h', w']
        out = out.unflatten(1, (len(sets), self.out_channels))[:, set_of_depth.to(out.device)]
        # height channel: per output depth, the taps' weights times the heights they read
        levels = position.clamp(0, depth - 1).to(weight) / max(depth - 1, 1) * valid.to(weight)  # [out_depth, taps]
        height = torch.einsum("oabt,dt->doab", weight[:, channels], levels).reshape(-1, 1, *self.kernel_size[:2])
        ones = features.new_ones(1, 1, *features.shape[2:])
        height = F.conv2d(ones, height, padding=plane_pad).unflatten(1, (out_depth, self.out_channels))
        out = out + height  # [B, out_depth, out, h', w']
        if self.bias is not None:
            out = out + self.bias.to(out.dtype)[:, None, None]
        return out.permute(0, 2, 3, 4, 1)


def voxel_positions(size: int, lo: Tensor, hi: Tensor) -> Tensor:
    """Physical position of each of `size` voxels along one axis (`lo` and `hi` are the end voxels)."""
    return lo + torch.linspace(0, 1, size, dtype=lo.dtype, device=lo.device) * (hi - lo)


def soft_argmax(heatmap: Tensor, lo: Tensor, hi: Tensor) -> Tensor:
    """Heatmap-weighted mean voxel position: `[B, K, D0, D1, D2]` (non-negative) -> `[B, K, 3]` in the
    box [lo, hi] (`[3]` each, in volume-dim order)."""
    total = heatmap.sum((2, 3, 4)) + SOFT_ARGMAX_EPS
    coords = []
    for d in range(3):
        marginal = heatmap.sum([2 + o for o in range(3) if o != d])  # [B, K, D_d]
        coords.append((marginal * voxel_positions(heatmap.shape[2 + d], lo[d], hi[d])).sum(-1) / total)
    return torch.stack(coords, dim=-1)


def gaussian_heatmaps(points: Tensor, size: Sequence[int], lo: Tensor, hi: Tensor, sigma: float) -> Tensor:
    """Unnormalised 3D Gaussians (peak 1 on the point) of `sigma` voxels: `[B, K, 3]` -> `[B, K, *size]`."""
    profiles = []
    for d, n in enumerate(size):
        spacing = (hi[d] - lo[d]) / max(n - 1, 1)
        index = (points[..., d] - lo[d]) / spacing  # fractional voxel index, [B, K]
        grid = torch.arange(n, dtype=points.dtype, device=points.device)
        profiles.append(torch.exp(-0.5 * ((grid - index[..., None]) / sigma) ** 2))
    return torch.einsum("bki,bkj,bkl->bkijl", *profiles)


# -- the network -------------------------------------------------------------------------------
class InsolePoseNet(nn.Module):
    """Insoles `[B, 2, M, H, W]` -> keypoints `[B, K, 3]` (metres) through per-foot 2D encoders, a lifted
    volume, a 3D heatmap decoder and soft-argmax over the coordinate box (`box_lo`, `box_hi` buffers, set from
    training statistics with `set_box`; the unit box until then)."""

    def __init__(self, frames: int, keypoints: int, *, encoder_widths: Sequence[int] = (8, 16, 16, 16),
                 decoder_widths: Sequence[int] = (16, 16, 8), encoder_grid: Sequence[int] = (16, 8),
                 heatmap_size: Sequence[int] = (10, 10, 9), box_margin: float = 3.0,
                 lifted_conv: bool = True) -> None:
        super().__init__()
        if len(encoder_widths) != 4 or len(decoder_widths) != 3 or len(heatmap_size) != 3:
            raise ZooError("insole_pose_cnn: expected 4 encoder_widths, 3 decoder_widths and a 3-axis "
                           f"heatmap_size, found {encoder_widths}, {decoder_widths}, {heatmap_size}")
        self.encoder_grid = tuple(encoder_grid)
        self.heatmap_size = tuple(heatmap_size)
        self.box_margin = box_margin
        self.lifted_conv = lifted_conv
        h, w = (n // 4 for n in self.encoder_grid)
        if h < 1 or w < 1:
            raise ZooError(f"insole_pose_cnn: encoder_grid {tuple(encoder_grid)} is below 4 x 4 cells")
        self.voxels = (h, 2 * w, min(heatmap_size) // 2)
        self.left = FootEncoder(frames, encoder_widths)
        self.right = FootEncoder(frames, encoder_widths)
        (k1, p1), (k2, p2), (k4, p4) = plan_decoder(self.voxels, heatmap_size)
        c1, c2, c3 = decoder_widths
        self.decoder = nn.Sequential(
            conv_block(LiftedConv3d(encoder_widths[-1] + 1, c1, k1, padding=p1), c1, dims=3),
            conv_block(nn.Conv3d(c1, c2, k2, padding=p2), c2, dims=3),
            conv_block(nn.ConvTranspose3d(c2, c3, 2, stride=2), c3, dims=3),
            conv_block(nn.Conv3d(c3, keypoints, k4, padding=p4), keypoints, dims=3),
        )
        self.register_buffer("box_lo", torch.full((3,), -1.0))
        self.register_buffer("box_hi", torch.full((3,), 1.0))

    def set_box(self, mean: Tensor, std: Tensor) -> None:
        """End-voxel positions (m) per volume dim: every keypoint's training mean +/- `box_margin` std."""
        spread = self.box_margin * std
        self.box_lo.copy_((mean - spread).amin(0)[list(VOLUME_AXES)])
        self.box_hi.copy_((mean + spread).amax(0)[list(VOLUME_AXES)])

    def encode(self, x: Tensor) -> Tensor:
        """Insoles `[B, 2, M, H, W]` -> both feet's features side by side `[B, C, h, 2w]` (left first)."""
        if tuple(x.shape[-2:]) != self.encoder_grid:
            feet, frames = x.shape[1:3]
            x = F.interpolate(x.flatten(1, 2), size=self.encoder_grid, mode="bilinear", align_corners=False,
                              antialias=True)
            x = x.unflatten(1, (feet, frames))
        return torch.cat([self.left(x[:, 0]), self.right(x[:, 1])], dim=-1)

    def heatmaps(self, x: Tensor) -> Tensor:
        """Insoles -> one heatmap per keypoint `[B, K, *heatmap_size]`, clipped to [0, 1]."""
        features, depth = self.encode(x), self.voxels[2]
        if not self.lifted_conv:  # the reference: convolve the repeated volume
            return self.decoder(lift(features, depth)).clamp(0.0, 1.0)
        first = self.decoder[0]
        hidden = first[2](first[1](first[0].forward_lifted(features, depth)))
        return self.decoder[1:](hidden).clamp(0.0, 1.0)

    def keypoints(self, heatmap: Tensor) -> Tensor:
        """Soft-argmax of the heatmaps in the box, in pose axis order `[B, K, 3]` (metres)."""
        return soft_argmax(heatmap, self.box_lo, self.box_hi)[..., list(VOLUME_AXES)]

    def forward(self, x: Tensor) -> Tensor:
        return self.keypoints(self.heatmaps(x))


# -- the model ---------------------------------------------------------------------------------
@register_model("insole_pose_cnn")
class InsolePoseCNN(ZooModel):
    """Dual-encoder insole CNN with a 3D heatmap decoder and soft-argmax (Han et al., smart insole).

    The paper fixes the layer pattern (encoder: 4 convs, kernel 3, padding 1, max-pool after the 2nd and
    4th; decoder: 3 Conv3d + 1 ConvTranspose3d, kernels (3, 5, 5), (3, 4, 3), (2, 2, 2), (3, 3, 5) from
    (7, 10, 9) voxels to a (20, 20, 18) heatmap; BatchNorm + LeakyReLU everywhere; output clipped to
    [0, 1]), Adam at lr 1e-4 and batch 32, but no channel widths, paddings, loss weights, Gaussian width
    or parameter count. The paper preset borrows from the Intelligent Carpet code (Luo et al. 2021), whose
    height channel the paper adopts: its first four encoder widths (32-64-128-256) and last decoder widths
    (256-128-64), its heatmap-loss weight 1000 (an all-zero 20x20x18 heatmap then costs about as much as
    the initial keypoint loss) and sigma 1 voxel; paddings come from `plan_decoder`, which reproduces the
    stated kernels. It measures 7,035,769 parameters with 40 frames and 19 keypoints. Conv -> BatchNorm ->
    LeakyReLU is our order (the paper names the parts, not the order). The small preset weights the
    heatmap term at 10: heavier weights slowed 30-second runs on synthetic data.

    Inputs whose grid differs from `encoder_grid` are resized to it (bilinear, antialiased), which is how
    the paper ran its 15x11 / 8x6 / 4x3 ablation through the unchanged 30x22 network; the voxel grid is
    (H // 4, 2 * (W // 4), min(heatmap_size) // 2) for an `encoder_grid` of H x W.

    Args:
        encoder_widths: output channels of the four encoder convolutions (per foot).
        decoder_widths: output channels of the first three decoder layers (the last gives one per keypoint).
        encoder_grid: (H, W) the encoders run on.
        heatmap_size: heatmap voxels along the insoles, across the insoles and in height.
        sigma: width of the Gaussian target heatmaps, in voxels.
        heatmap_weight, keypoint_weight: weights of the two loss terms.
        box_margin: half-margin of the coordinate box in training standard deviations.
        lifted_conv: compute the first decoder layer on the 2D features (`LiftedConv3d.forward_lifted`,
            exact: same outputs to float rounding, ~1.9x faster paper-preset training); False convolves the
            repeated volume (the reference form).
    """

    families = (INSOLE_TO_POSE,)
    network = InsolePoseNet
    paper = "Han et al. (smart insole)"
    paper_data = {"grid": [30, 22], "frames": 40}
    presets = {
        "small": {"net": {"encoder_widths": [8, 16, 16, 16], "decoder_widths": [16, 16, 8], "encoder_grid": [16, 8],
                          "heatmap_size": [10, 10, 9], "box_margin": 3.0, "lifted_conv": True},
                  "optim": {"lr": 3e-3},
                  "loss": {"sigma": 1.0, "heatmap_weight": 10.0, "keypoint_weight": 1.0}},
        "paper": {"net": {"encoder_widths": [32, 64, 128, 256], "decoder_widths": [256, 128, 64],
                          "encoder_grid": [30, 22], "heatmap_size": [20, 20, 18], "box_margin": 3.0, "lifted_conv": True},
                  "optim": {"lr": 1e-4},
                  "loss": {"sigma": 1.0, "heatmap_weight": 1000.0, "keypoint_weight": 1.0}},
    }
    search_space = {
        "lr": {"type": "float", "low": 3e-4, "high": 1e-2, "log": True},
        "sigma": {"type": "float", "low": 0.5, "high": 2.0},
        "heatmap_weight": {"type": "float", "low": 1.0, "high": 1000.0, "log": True},
    }

    def __init__(self, encoder_widths: Sequence[int] | None = None, decoder_widths: Sequence[int] | None = None,
                 encoder_grid: Sequence[int] | None = None, heatmap_size: Sequence[int] | None = None,
                 sigma: float | None = None, heatmap_weight: float | None = None,
                 keypoint_weight: float | None = None, box_margin: float | None = None,
                 lifted_conv: bool | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.weights = self.resolve("loss", sigma=sigma, heatmap_weight=heatmap_weight,
                                    keypoint_weight=keypoint_weight)
        self.net = self.build_net(encoder_widths=encoder_widths, decoder_widths=decoder_widths,
                                  encoder_grid=encoder_grid, heatmap_size=heatmap_size, box_margin=box_margin,
                                  lifted_conv=lifted_conv)
        self.net.set_box(self.target_mean, self.target_std)

    @classmethod
    def network_shapes(cls, spec: DataSpec) -> dict[str, Any]:
        return {"frames": int(spec.input_shape[1]), "keypoints": int(spec.target_shape[0])}

    def set_target_stats(self, mean: Tensor, std: Tensor) -> None:
        super().set_target_stats(mean, std)
        self.net.set_box(self.target_mean, self.target_std)

    # -- pieces the probe and the tests use ------------------------------------------------------
    def encode(self, x: Tensor) -> Tensor:
        return self.net.encode(x)

    def heatmaps(self, x: Tensor) -> Tensor:
        return self.net.heatmaps(x)

    def volume_box(self) -> tuple[Tensor, Tensor]:
        return self.net.box_lo, self.net.box_hi

    # -- ZooModel hooks ----------------------------------------------------------------------------
    def forward(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        heatmap = self.heatmaps(batch["x"])
        return {"y": self.normalise(self.net.keypoints(heatmap)), "heatmap": heatmap}

    def compute_loss(self, out: dict[str, Tensor], target: Tensor, batch: dict[str, Tensor]) -> Tensor:
        lo, hi = self.volume_box()
        points = self.denormalise(target)[..., list(VOLUME_AXES)]
        heatmap_target = gaussian_heatmaps(points, self.net.heatmap_size, lo, hi, self.weights.sigma)
        heatmap_loss = F.mse_loss(out["heatmap"], heatmap_target)
        keypoint_loss = super().compute_loss(out, target, batch)
        return self.weights.heatmap_weight * heatmap_loss + self.weights.keypoint_weight * keypoint_loss


# -- linear action probe -------------------------------------------------------------------------
def probe_features(model: InsolePoseCNN, x: Tensor) -> Tensor:
    """Frozen encoders' features of both feet, max-pooled (2 x 2) and flattened, as in the paper's probe."""
    return F.max_pool2d(model.encode(x), 2, ceil_mode=True).flatten(1)


@torch.no_grad()
def _features_and_labels(model: InsolePoseCNN, loader: Iterable[dict[str, Tensor]]) -> tuple[Tensor, Tensor]:
    pairs = [(probe_features(model, batch["x"].to(model.device)).cpu(), batch["activity"]) for batch in loader]
    return torch.cat([f for f, _ in pairs]), torch.cat([a for _, a in pairs])


def linear_probe(model: InsolePoseCNN, datamodule: Any, epochs: int = 100, lr: float = 1e-2,
                 batch_size: int = 256, seed: int = 0) -> dict[str, float | int]:
    """Action classification by a linear layer on frozen encoder features (the paper: 7 actions, 96.9 %).

    Trains on `datamodule.train_dataloader()` (cross-entropy, Adam, `epochs` passes of `batch_size`),
    reports accuracy on `datamodule.test_dataloader()`; classes are `datamodule.data_spec["activities"]`.
    Features are standardised with training statistics (an affine map a linear layer could absorb, but
    it lets one learning rate suit any encoder). The model's train/eval mode is restored afterwards.
    """
    was_training = model.training
    model.eval()
    train_x, train_y = _features_and_labels(model, datamodule.train_dataloader())
    test_x, test_y = _features_and_labels(model, datamodule.test_dataloader())
    model.train(was_training)
    mean, std = train_x.mean(0), train_x.std(0).clamp_min(1e-6)
    train_x, test_x = (train_x - mean) / std, (test_x - mean) / std
    n_classes = len(datamodule.data_spec["activities"])
    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        classifier = nn.Linear(train_x.shape[1], n_classes)
    optimizer = torch.optim.Adam(classifier.parameters(), lr=lr)
    for _ in range(epochs):
        for idx in torch.randperm(len(train_x), generator=generator).split(batch_size):
            optimizer.zero_grad()
            F.cross_entropy(classifier(train_x[idx]), train_y[idx]).backward()
            optimizer.step()
    with torch.no_grad():
        accuracy = (classifier(test_x).argmax(1) == test_y).float().mean().item()
    return {"accuracy": accuracy, "n_classes": n_classes}
