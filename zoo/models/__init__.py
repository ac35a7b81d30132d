"""Built-in models; importing this package registers them all (one file per architecture)."""

from __future__ import annotations

import importlib

MODULES = (
    "mean", "ridge", "tcn",                 # baselines for every task
    "cnn_bilstm_attention",                 # Qian 2025
    "ssl_transformer",                      # Tan 2024
    "cbam_unet",                            # Wang (J Biomech), and the plain U-Net baseline
    "insole_pose_cnn",                      # Han (smart insole)
    "pose_mlp",                             # baseline for insole2pose
)

for _name in MODULES:
    importlib.import_module(f"{__name__}.{_name}")
