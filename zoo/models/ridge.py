"""Ridge regression on the flattened input window: the linear floor.

Inputs are flattened (and average-pooled to at most `max_features` values when a window is larger,
e.g. 40 insole frames), targets flattened; both centred with training means so the intercept is not
penalised. The penalty is chosen from a log grid by the error on the validation subjects, using one
eigendecomposition of the training Gram matrix for the whole grid.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from datamodules.tasks import INSOLE_TO_POSE, LANDMARKS_TO_MAP, SEQUENCE_TO_STEPS, DataSpec
from zoo.errors import ZooError
from zoo.models.closed_form import ClosedFormModel
from zoo.registry import register_model

SELECT_COLUMNS = 4096  # output columns that score the penalty grid on validation data
PENDING_ELEMENTS = 1 << 25  # target values held back before one X^T Y product (128 MB of float32)
PENDING_ROWS = 4096
LAMBDA_GRID = tuple(10.0 ** k for k in range(-3, 5))  # x (trace of the Gram matrix / features)


def pooled_size(shape: tuple[int, ...], max_features: int) -> tuple[int, ...]:
    """Shape after halving the largest trailing axes until the flattened size fits `max_features`."""
    shape = list(shape)
    while math.prod(shape) > max_features:
        axis = max(range(1, len(shape)), key=lambda a: shape[a]) if len(shape) > 1 else 0
        if shape[axis] <= 1:
            break
        shape[axis] = math.ceil(shape[axis] / 2)
    return tuple(shape)


class RidgeNet(nn.Module):
    """A fitted linear map: the input pooled to `pooled` and flattened (body mass appended when used),
    centred with the training mean, times the weight, plus the training target mean; reshaped to the target.

    The weight is kept factorised, `basis @ coef`, when that is smaller: a ridge solution lies in the span of
    the training inputs, so with fewer samples than features (530 stances x 1819 features for imu2pressure's
    51 712 outputs) `basis` is `[features, rank]` and `coef` `[rank, outputs]`: 113 MB instead of 376 MB, and
    3.3x fewer multiply-adds per prediction. An empty `basis` (`[0, 0]`) means `coef` is the whole weight, as
    before the fit (zeros: the model predicts the target mean)."""

    def __init__(self, input_shape: Sequence[int], target_shape: Sequence[int], *, with_body_mass: bool = False,
                 max_features: int = 2048) -> None:
        super().__init__()
        self.pooled = pooled_size(tuple(input_shape), max_features)
        self.target_shape = tuple(target_shape)
        self.with_body_mass = with_body_mass
        d = math.prod(self.pooled) + (1 if with_body_mass else 0)
        o = math.prod(self.target_shape)
        self.register_buffer("basis", torch.zeros(0, 0))
        self.register_buffer("coef", torch.zeros(d, o))
        self.register_buffer("x_mean", torch.zeros(d))
        self.register_buffer("y_mean", torch.zeros(o))

    @property
    def in_features(self) -> int:
        return self.x_mean.shape[0]

    @property
    def weight(self) -> Tensor:
        """The whole `[features, outputs]` weight (computed when factorised)."""
        return self.coef if self.basis.shape[0] == 0 else self.basis @ self.coef

    def set_weight(self, basis: Tensor | None, coef: Tensor) -> None:
        """Hold `basis @ coef` (or `coef` alone when `basis` is None), factorised only when that is smaller."""
        d, o = self.in_features, self.y_mean.shape[0]
        if basis is not None and basis.shape[1] * (d + o) >= d * o:
            basis, coef = None, basis @ coef
        device = self.x_mean.device
        self.basis = (torch.zeros(0, 0) if basis is None else basis).to(device, torch.float32).contiguous()
        self.coef = coef.to(device, torch.float32).contiguous()

    def _load_from_state_dict(self, state_dict: dict[str, Tensor], prefix: str, *args: Any) -> None:
        # the fitted shapes depend on the data (rank): take them from the checkpoint; checkpoints written
        # before the factorisation hold one `weight`, which is `coef` with no basis
        if prefix + "weight" in state_dict and prefix + "coef" not in state_dict:
            state_dict[prefix + "coef"] = state_dict.pop(prefix + "weight")
            state_dict[prefix + "basis"] = torch.zeros(0, 0)
        basis, coef = state_dict.get(prefix + "basis"), state_dict.get(prefix + "coef")
        if basis is not None and coef is not None:
            d, o = self.in_features, self.y_mean.shape[0]
            whole = basis.shape == (0, 0) and coef.shape == (d, o)
            factorised = basis.dim() == 2 and basis.shape[0] == d and coef.dim() == 2 and \
                coef.shape == (basis.shape[1], o)
            if not (whole or factorised):
                raise ZooError(f"ridge checkpoint: expected {prefix}basis [0, 0] with {prefix}coef [{d}, {o}], or "
                               f"{prefix}basis [{d}, rank] with {prefix}coef [rank, {o}] (this model: {d} input "
                               f"features, {o} outputs); found basis {list(basis.shape)}, coef {list(coef.shape)}")
            for name, value in (("basis", basis), ("coef", coef)):
                setattr(self, name, torch.empty_like(value, device=getattr(self, name).device))
        super()._load_from_state_dict(state_dict, prefix, *args)

    def features(self, x: Tensor, body_mass: Tensor | None = None) -> Tensor:
        if tuple(x.shape[1:]) != self.pooled:
            dims = len(self.pooled) - 1
            pool = (F.adaptive_avg_pool1d, F.adaptive_avg_pool2d, F.adaptive_avg_pool3d)[dims - 1]
            x = pool(x, self.pooled[1:])
        x = x.flatten(1)
        if self.with_body_mass:
            x = torch.cat([x, body_mass], dim=1)
        return x

    def forward(self, x: Tensor, body_mass: Tensor | None = None) -> Tensor:
        # a fitted closed form predicts in float32 whatever the training precision (autocast would run the
        # product in bfloat16 under `bf16-mixed` and round the fitted weights to 3 digits)
        with torch.autocast(device_type=x.device.type, enabled=False):
            mass = body_mass.float() if body_mass is not None else None
            z = self.features(x.float(), mass) - self.x_mean
            y = (z if self.basis.shape[0] == 0 else z @ self.basis) @ self.coef + self.y_mean
        return y.reshape(-1, *self.target_shape)


@register_model("ridge")
class Ridge(ClosedFormModel):
    """Linear model in closed form, L2 penalty selected on validation subjects."""

    families = (SEQUENCE_TO_STEPS, LANDMARKS_TO_MAP, INSOLE_TO_POSE)
    default_task = "imu2pressure"
    network = RidgeNet
    paper = "baseline"
    presets = {"small": {"net": {"max_features": 2048}}, "paper": {"net": {"max_features": 4096}}}
    search_space: dict = {}  # closed form: its penalty is already chosen on the validation subjects
    statistics = ("xtx", "xty", "x_sum", "y_sum", "n")

    def __init__(self, max_features: int | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.net = self.build_net(max_features=max_features)
        d, o = self.net.in_features, self.net.y_mean.shape[0]
        # The sufficient statistics are needed only until `solve`: they stay out of checkpoints (X^T Y of a
        # pressure-map sequence is as large as the fitted weight, 376 MB for imu2pressure).
        self.register_buffer("xtx", torch.zeros(d, d, dtype=torch.float64), persistent=False)
        # Very wide outputs (pressure-map sequences): X^T Y and the solve run in float32, which halves their
        # cost; the Gram matrix, its eigendecomposition and the penalty choice stay float64.
        self.register_buffer("xty", torch.zeros(d, o, dtype=torch.float64 if d * o < 2e7 else torch.float32),
                             persistent=False)
        self.register_buffer("x_sum", torch.zeros(d, dtype=torch.float64), persistent=False)
        self.register_buffer("y_sum", torch.zeros(o, dtype=torch.float64), persistent=False)
        self.register_buffer("n", torch.zeros((), dtype=torch.float64), persistent=False)
        self.register_buffer("penalty", torch.tensor(float("nan")))
        self._pending: list[tuple[Tensor, Tensor]] = []  # batches not yet in X^T X, X^T Y (see `accumulate`)

    @classmethod
    def network_shapes(cls, spec: DataSpec) -> dict[str, Any]:
        return {"input_shape": tuple(spec.input_shape), "target_shape": tuple(spec.target_shape),
                "with_body_mass": bool(spec.has_body_mass)}

    @property
    def pooled(self) -> tuple[int, ...]:
        return self.net.pooled

    def features(self, batch: Mapping[str, Tensor]) -> Tensor:
        return self.net.features(*self.net_inputs(batch))

    def forward(self, batch: Mapping[str, Tensor]) -> Tensor:
        return self.net(*self.net_inputs(batch))

    def accumulate(self, batch: Mapping[str, Tensor], target: Tensor) -> None:
        """Add a batch to the statistics. X^T X and X^T Y are updated once per ~128 MB of targets (or 4096 rows),
        not per batch: a rank-32 update of a wide X^T Y reads and writes all of it (376 MB per batch for
        imu2pressure), so per-batch updates were memory-bound (4.8 s of a 14 s fit); one product over many rows
        is compute-bound."""
        x = self.features(batch).double()
        y = target.flatten(1).to(self.xty.dtype)
        self.x_sum += x.sum(0)
        self.y_sum += y.sum(0, dtype=torch.float64)
        self.n += x.shape[0]
        self._pending.append((x, y))
        rows = sum(len(p[0]) for p in self._pending)
        if rows >= PENDING_ROWS or rows * y.shape[1] >= PENDING_ELEMENTS:
            self.finish_accumulation()

    def finish_accumulation(self) -> None:
        """Fold the held-back batches into X^T X and X^T Y."""
        if self._pending:
            xs, ys = zip(*self._pending)
            self._pending = []
            x, y = torch.cat(xs), torch.cat(ys)
            self.xtx.addmm_(x.T, x)
            self.xty.addmm_(x.to(y.dtype).T, y)

    @property
    def fitted(self) -> bool:
        return not bool(torch.isnan(self.penalty))

    def solve(self, val_batches: Iterable[Mapping[str, Tensor]] = ()) -> None:
        """Solve for every penalty on the grid at once; keep the one with the lowest validation error (a
        moderate default, with a warning, when there is no validation data)."""
        self.finish_accumulation()
        n = self.n
        x_mean, y_mean = self.x_sum / n, self.y_sum / n
        gram = self.xtx - n * torch.outer(x_mean, x_mean)
        # Features that never vary (an unloaded cell, an input channel that is the same for every sample) add
        # nothing; leaving them out of the eigendecomposition also keeps LAPACK from failing to converge on a
        # Gram matrix that is mostly rounding noise.
        variance = gram.diagonal()
        active = variance > variance.max().clamp(min=0) * 1e-12
        if float(variance.max()) <= 0.0 or not bool(active.any()):
            self._fit_mean_only()
            return
        evals, sub = torch.linalg.eigh(gram[active][:, active])
        evecs = torch.zeros(gram.shape[0], len(evals), dtype=sub.dtype)
        evecs[active] = sub
        # the penalty grid is relative to trace / features (all features, as before the inactive ones were left out)
        scale = float(evals.clamp(min=0).sum() / gram.shape[0]) or 1.0
        # The solution lies in the span of the training inputs: directions with no variance (all of them
        # beyond the sample count when features outnumber samples) add nothing, so drop them before the
        # two large products (3.4x less work for 530 stances x 1819 features); the result is unchanged.
        keep = evals > evals.max().clamp(min=0) * 1e-12
        evals, evecs = evals[keep], evecs[:, keep]
        dtype = self.xty.dtype
        cross = self.xty - n * torch.outer(x_mean, y_mean).to(dtype)
        projected = evecs.T.to(dtype) @ cross  # V^T X^T Y
        lambdas = [scale * g for g in LAMBDA_GRID]
        val = list(val_batches)
        if val:
            xv = (torch.cat([self.features(b).double() for b in val]) - x_mean) @ evecs
            yv = torch.cat([self.normalise(self.target(b)).flatten(1).double() for b in val]) - y_mean
            cols = self._selection_columns(yv.shape[1])
            proj_sel, yv_sel = projected[:, cols].double(), yv[:, cols]
            errors = [float(((xv / (evals + lam)) @ proj_sel - yv_sel).pow(2).mean()) for lam in lambdas]
            best = lambdas[min(range(len(lambdas)), key=errors.__getitem__)]
        else:
            from lightning.pytorch.utilities import rank_zero_warn

            best = scale
            rank_zero_warn(f"ridge: no validation data to choose the penalty; used {best:.4g}, the grid's middle "
                           "value (1 x mean eigenvalue of the training Gram matrix). Keep validation data "
                           "(val_subjects > 0) to choose it from data.", category=UserWarning)
        shrink = (1.0 / (evals + best))[:, None].to(dtype)
        self.net.set_weight(evecs.to(dtype), projected * shrink)  # weight = V diag(shrink) V^T X^T Y
        self.net.x_mean.copy_(x_mean.float())
        self.net.y_mean.copy_(y_mean.float())
        self.penalty.fill_(best)

    def _fit_mean_only(self) -> None:
        """No input feature varies over the training samples (one sample, or constant inputs): the linear
        part is zero and the model predicts the training target mean: the limit of an infinite penalty, which
        is the penalty it records. Said, not silent."""
        from lightning.pytorch.utilities import rank_zero_warn

        n = int(self.n)
        rank_zero_warn(f"ridge: no input feature varies over the {n} training sample(s); fitted the training "
                       "target mean (a zero linear map, penalty inf). Check the inputs, or train on more data.",
                       category=UserWarning)
        d, o = self.net.in_features, self.net.y_mean.shape[0]
        self.net.set_weight(torch.zeros(d, 0), torch.zeros(0, o))
        self.net.x_mean.copy_((self.x_sum / self.n).float())
        self.net.y_mean.copy_((self.y_sum / self.n).float())
        self.penalty.fill_(float("inf"))

    @staticmethod
    def _selection_columns(n_outputs: int) -> Tensor:
        """Output columns that score the penalties: all of them, or a fixed random subset of SELECT_COLUMNS
        for very wide targets (a 101 x 32 x 16 pressure sequence has 51 712), an unbiased estimate of the
        validation error at a fraction of the cost."""
        if n_outputs <= SELECT_COLUMNS:
            return torch.arange(n_outputs)
        return torch.randperm(n_outputs, generator=torch.Generator().manual_seed(0))[:SELECT_COLUMNS]
