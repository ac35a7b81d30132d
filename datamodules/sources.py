"""Dataset sources: a recording file, or `sim:PRESET[:SEED]`, generated once into a cache folder.

Configs and suites name `sim:quick` so they run from a fresh clone with no download and no separate
generate step; the file lands in `$ZOO_DATA_DIR` (default `data/generated/`) and is reused after.
"""

from __future__ import annotations

import os
from pathlib import Path

from datamodules.errors import DataError

SIM_PREFIX = "sim:"


def data_dir() -> Path:
    return Path(os.environ.get("ZOO_DATA_DIR", "data/generated"))


def parse_sim(source: str) -> tuple[str, int]:
    """`sim:quick` -> ("quick", 0); `sim:quick:3` -> ("quick", 3)."""
    parts = source[len(SIM_PREFIX):].split(":")
    if len(parts) > 2 or not parts[0]:
        raise DataError(f"dataset '{source}': expected 'sim:PRESET' or 'sim:PRESET:SEED'")
    try:
        seed = int(parts[1]) if len(parts) == 2 else 0
    except ValueError:
        raise DataError(f"dataset '{source}': the seed must be an integer, found '{parts[1]}'") from None
    return parts[0], seed


def sim_cache_path(preset: str, seed: int) -> Path:
    """Cache file of a simulator preset, named by what decides its arrays (simulator version, preset
    settings, seed), so a changed simulator or preset never reuses a stale file."""
    import hashlib

    from datamodules.simulator import PRESETS
    from datamodules.simulator.generate import SIMULATOR_VERSION

    digest = hashlib.sha1(f"{SIMULATOR_VERSION}|{PRESETS[preset]!r}".encode()).hexdigest()[:8]
    return data_dir() / f"{preset}-seed{seed}-{digest}.h5"


def resolve_source(source: str | os.PathLike) -> Path:
    """The recording file behind `source`, generating a simulator preset on first use."""
    text = os.fspath(source)
    if not text.startswith(SIM_PREFIX):
        path = Path(text)
        if not path.exists():
            raise DataError(f"{path}: no such recording file (generate one with `zoo data generate --out {path}` "
                            f"or use a simulator source such as 'sim:quick')")
        return path
    preset, seed = parse_sim(text)
    from datamodules.simulator import PRESETS, generate_dataset

    if preset not in PRESETS:
        raise DataError(f"dataset '{text}': unknown simulator preset '{preset}'; choices: {', '.join(PRESETS)}")
    path = sim_cache_path(preset, seed)
    if not path.exists():  # the writer renames into place only when complete, so a crash leaves no half file
        generate_dataset(path, preset=preset, seed=seed)
    return path
