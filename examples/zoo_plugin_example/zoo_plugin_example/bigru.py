"""A bidirectional GRU encoder for the IMU tasks, added to the zoo as a plugin."""

from torch import nn

from zoo import BaseTask, register_model
from zoo.models.heads import apply_head, sequence_head


@register_model("bigru")
class BiGRU(BaseTask):
    """Two-layer bidirectional GRU; the zoo's shared heads turn its per-step features into any IMU target."""

    supported_tasks = ("imu2grf", "imu2pressure")
    paper = "plugin example"
    presets = {"small": {"hidden": 32, "lr": 3e-3}, "paper": {"hidden": 128, "lr": 1e-3}}

    def __init__(self, hidden: int | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        cfg = self.resolve(hidden=hidden)
        self.gru = nn.GRU(self.in_channels, cfg.hidden, num_layers=2, batch_first=True, bidirectional=True)
        self.head = sequence_head(self.spec, 2 * cfg.hidden)

    def forward(self, batch):
        features, _ = self.gru(batch["x"].transpose(1, 2))  # [B, C, T] -> [B, T, 2H]
        return apply_head(self.head, self.spec, features.transpose(1, 2), batch)
