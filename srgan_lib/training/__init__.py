"""Training SRResNet and SRGAN (Ledig et al., CVPR 2017, Sec. 3.2), with runs that resume.

Lesson 05 meets this package. Two stages:
1. SRResNet: the generator alone, trained with the pixel MSE (`generator.compile` + `fit`).
2. SRGAN: `SRGAN`, a `keras.Model` holding G, D and the VGG feature extractor, whose
   `train_step` alternates one D update and one G update per batch (k = 1).

Where things are:
    config.py      TrainConfig, its presets and its validator (the names: srgan_lib.choices)
    optim.py       the optimizers, the learning-rate schedule, dtype policy, XLA choice
    gan.py         the SRGAN model: the two objectives and the two updates, for both backends
    checkpoint.py  atomic writes, the checkpoint format, what may change on resume
    run.py         the training model per stage, callbacks, sample grids, export, `train`
Every public name is available here (`training.train`, `training.TrainConfig`, ...).
`config` is imported eagerly and needs no Keras; the rest loads on first use.
Works on the TensorFlow and JAX backends; on JAX, TensorFlow is never imported.
"""

from __future__ import annotations

import importlib

from srgan_lib.training.config import (
    ARCHITECTURE,
    CONTENT_LOSSES,
    PRECISIONS,
    PRESETS,
    STAGES,
    ArchitectureMismatchError,
    TrainConfig,
)

_LAZY = {
    "optim": (
        "make_optimizer",
        "optimizers_of",
        "LearningRateSchedule",
        "dtype_policy",
        "jit_compile",
    ),
    "gan": ("SRGAN", "SRGAN_METRICS", "OptimizerPair"),
    "checkpoint": (
        "CHECKPOINT",
        "FORMAT",
        "CheckpointError",
        "atomic_write",
        "model_variables",
        "optimizer_variables",
        "save_checkpoint",
        "read_checkpoint",
        "load_checkpoint",
        "truncate_history",
    ),
    "run": (
        "NonFiniteLossError",
        "RunSettingsError",
        "build_training_model",
        "generator_of",
        "init_generator_from",
        "sample_grid",
        "export_generator",
        "train",
    ),
}
_WHERE = {name: module for module, names in _LAZY.items() for name in names}

__all__ = [
    "ARCHITECTURE",
    "CONTENT_LOSSES",
    "PRECISIONS",
    "PRESETS",
    "STAGES",
    "ArchitectureMismatchError",
    "TrainConfig",
    *_WHERE,
]


def __getattr__(name: str):
    """Load the Keras-dependent modules on first use of one of their names."""
    if name in _WHERE:
        return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))
