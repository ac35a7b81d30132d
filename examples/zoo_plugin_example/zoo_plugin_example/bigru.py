"""A bidirectional GRU encoder for the sequence tasks, added to the zoo as a plugin.

Two parts, as every zoo architecture: a plain `nn.Module` network built from shapes alone, and a small
`ZooModel` that holds it (`self.net`) and names its presets. Declaring the family `SEQUENCE_TO_STEPS`
makes it serve every sequence-to-steps task (imu2grf, imu2pressure, imu2kinetics, and tasks added later).
"""

from torch import Tensor, nn

from datamodules.tasks import SEQUENCE_TO_STEPS
from zoo import ZooModel, register_model
from zoo.models.heads import PerStepHead


class BiGRUNet(nn.Module):
    """`[B, C, T]` -> `[B, out_features, steps]`: a 2-layer bidirectional GRU and the zoo's per-step head."""

    def __init__(self, in_channels: int, out_features: int, steps: int, *, with_body_mass: bool = False,
                 hidden: int = 32) -> None:
        super().__init__()
        self.gru = nn.GRU(in_channels, hidden, num_layers=2, batch_first=True, bidirectional=True)
        self.head = PerStepHead(2 * hidden, out_features, steps, mass_dim=16 if with_body_mass else 0)

    def forward(self, x: Tensor, body_mass: Tensor | None = None) -> Tensor:
        features, _ = self.gru(x.transpose(1, 2))  # [B, C, T] -> [B, T, 2H]
        return self.head(features.transpose(1, 2), body_mass)


@register_model("bigru")
class BiGRU(ZooModel):
    """Two-layer bidirectional GRU; the shared head turns its per-step features into any sequence target."""

    families = (SEQUENCE_TO_STEPS,)
    network = BiGRUNet
    paper = "plugin example"
    presets = {"small": {"net": {"hidden": 32}, "optim": {"lr": 3e-3}},
               "paper": {"net": {"hidden": 128}, "optim": {"lr": 1e-3}}}

    def __init__(self, hidden: int | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.net = self.build_net(hidden=hidden)
