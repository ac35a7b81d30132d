"""The embedded synthetic gait dataset (SPEC 3.3): a physically consistent simulator, deterministic by seed.

>>> from datamodules.simulator import generate_dataset
>>> generate_dataset("data/synthetic.h5", preset="quick", seed=0)  # doctest: +SKIP
"""

from datamodules.simulator.generate import generate_dataset
from datamodules.simulator.presets import PRESETS, SimulatorConfig

__all__ = ["PRESETS", "SimulatorConfig", "generate_dataset"]
