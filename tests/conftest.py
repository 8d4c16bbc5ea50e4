"""Shared fixtures: the offline data folder beside the checkout, and small images."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    """`$SRGAN_SHARED_DATA`, else `../shared/data` beside the checkout."""
    return Path(os.environ.get("SRGAN_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def benchmarks_dir() -> Path:
    folder = shared_data_dir() / "benchmarks"
    if not (folder / "Set5" / "HR").is_dir():
        pytest.skip(f"offline benchmark data not found at {folder} (set SRGAN_SHARED_DATA)")
    return folder


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> Path:
    """A tiny x4 generator (2 blocks of 8 filters, seeded), saved as .weights.h5."""
    import keras

    from srgan_lib import models

    keras.utils.set_random_seed(0)
    path = tmp_path_factory.mktemp("weights") / "tiny.weights.h5"
    models.build_generator(scale=4, num_blocks=2, filters=8).save_weights(path)
    return path


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture
def random_image(rng) -> np.ndarray:
    """A uint8 (40, 52, 3) RGB image of random pixels."""
    return rng.integers(0, 256, (40, 52, 3), dtype=np.uint8)
