"""The checkpoint format: atomic writes, saving and restoring a training model by
variable name, what may change when a run resumes, and history.csv truncation.

checkpoints/last.npz holds one array per variable, keyed by where it lives:
    generator/<variable path>            e.g. generator/res1_bn1/moving_mean
    discriminator/<variable path>        SRGAN stage
    g_optimizer/adam/<variable name>     e.g. g_optimizer/adam/head_conv_kernel_momentum
    g_optimizer/loss_scale/<name>        mixed_float16 only (loss-scale state)
    d_optimizer/...                      SRGAN stage
    meta                                 JSON: format, epoch, step, backend, config
The frozen VGG is rebuilt from the config rather than stored.

Why not `keras.callbacks.BackupAndRestore`: it keeps what `model.save_weights` writes
and the epoch number, restored by the model's structure rather than by name. Resuming
exactly needs both of the SRGAN model's optimizers (G's and D's Adam and loss scale, held
outside `model.optimizer`), a clear message naming each variable that does not fit, and
the run's config, to check what may change on resume (`TrainConfig.check_resumable_from`)
and to refuse another backend: hence this name-keyed format.
"""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path

import keras
import numpy as np

from srgan_lib import checkpoint_file
from srgan_lib.files import atomic_write
from srgan_lib.training.config import ArchitectureMismatchError, TrainConfig
from srgan_lib.training.optim import optimizers_of

CHECKPOINT = Path("checkpoints") / "last.npz"
FORMAT = 2  # 1: arrays weight_0000, optimizer_0000... matched by position


class CheckpointError(ValueError):
    """A checkpoint cannot be restored into this model (format, backend, contents)."""


def model_variables(model: keras.Model) -> dict[str, keras.Variable]:
    """{"generator/head_conv/kernel": variable, ...}: G's (and D's) weights, batch-norm
    statistics included."""
    parts = {"generator": getattr(model, "generator", model)}
    if hasattr(model, "discriminator"):
        parts["discriminator"] = model.discriminator
    return {f"{role}/{v.path}": v for role, part in parts.items() for v in part.weights}


def optimizer_variables(model: keras.Model) -> dict[str, keras.Variable]:
    """{"g_optimizer/adam/iteration": variable, ...}: Adam's state (iterations, learning
    rate, moments) and, under mixed_float16, the loss-scale state ("loss_scale/")."""
    named = {}
    for role, optimizer in optimizers_of(model).items():
        adam = getattr(optimizer, "inner_optimizer", optimizer)
        for v in optimizer.variables:
            kind = "adam" if any(v is w for w in adam.variables) else "loss_scale"
            named[f"{role}/{kind}/{v.name}"] = v
    return named


def save_checkpoint(model: keras.Model, path: str | Path, config: TrainConfig, epoch: int):
    """Write every variable training needs to resume after `epoch` completed epochs,
    plus metadata. The data feed needs no RNG state: its batches depend only on
    (seed, epoch, index); the models hold no random layers."""
    meta = {
        "format": FORMAT,
        "epoch": epoch,
        "step": epoch * config.steps_per_epoch,
        "backend": keras.backend.backend(),
        "config": dataclasses.asdict(config),
    }
    named = model_variables(model) | optimizer_variables(model)
    arrays = {key: np.asarray(v.numpy()) for key, v in named.items()}
    arrays["meta"] = np.array(json.dumps(meta))
    return atomic_write(path, lambda tmp: np.savez(tmp, **arrays))


def read_checkpoint(
    path: str | Path,
) -> tuple[dict, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(metadata, model arrays, optimizer arrays) of a checkpoint file, keyed as in the
    module docstring. Raises CheckpointError for a file of the older positional format,
    checkpoint_file.DamagedCheckpointError for a damaged one."""
    meta, arrays = checkpoint_file.read(path)
    if meta.get("format") != FORMAT:
        raise CheckpointError(
            f"{path} was written by an older srgan_lib that stored variables by "
            "position, which cannot be matched to this model safely. Start a new "
            "--run-dir (a finished run's generator.weights.h5 still works with "
            "--init-from)."
        )
    optimizer_roles = ("g_optimizer/", "d_optimizer/")
    weights = {k: a for k, a in arrays.items() if not k.startswith(optimizer_roles)}
    optimizer = {k: a for k, a in arrays.items() if k.startswith(optimizer_roles)}
    return meta, weights, optimizer


def load_checkpoint(model: keras.Model, path: str | Path) -> int:
    """Restore a checkpoint into a model from `build_training_model` whose architecture
    matches (checked by name and shape). The loss-scale state may be absent or extra
    (precision changed to or from mixed_float16): it then starts afresh or is dropped.
    Checks the backend and the step count. Returns the number of completed epochs."""
    meta, weights, optimizer = read_checkpoint(path)
    backend = keras.backend.backend()
    if meta["backend"] != backend:
        raise CheckpointError(
            f"{path} was written on the {meta['backend']} backend and this process runs "
            f"{backend}: resume with KERAS_BACKEND={meta['backend']} (a resumed run is "
            "only exact on the backend that wrote it)."
        )
    saved = TrainConfig.from_dict(meta["config"])
    iterations = optimizer.get("g_optimizer/adam/iteration")
    if saved.precision != "mixed_float16" and int(iterations) != meta["step"]:
        raise CheckpointError(
            f"{path} is inconsistent: it says step {meta['step']} but its optimizer made "
            f"{int(iterations)} updates. Resume from another copy or start a new run."
        )
    pending = []
    for values, variables, optional in (
        (weights, model_variables(model), ()),
        (optimizer, optimizer_variables(model), ("/loss_scale/",)),
    ):
        for key in sorted(set(values) | set(variables)):
            missing = key not in values or key not in variables
            if missing and any(part in key for part in optional):
                continue  # loss-scale state: starts afresh, or is not needed
            if missing:
                where = "the checkpoint" if key in values else "this model"
                problem = f"{key} is only in {where}"
            elif tuple(variables[key].shape) != values[key].shape:
                problem = (
                    f"{key} has shape {values[key].shape} there but "
                    f"{tuple(variables[key].shape)} here"
                )
            else:
                problem = None
            if problem:
                raise ArchitectureMismatchError(
                    f"{path} does not fit this model: {problem}. It was written for "
                    f"{saved.describe_architecture()}."
                )
            pending.append((variables[key], values[key]))
    for variable, value in pending:  # nothing is assigned unless everything fits
        variable.assign(value)
    return int(meta["epoch"])


def truncate_history(path: Path, epochs: int) -> None:
    """Drop rows after `epochs` (written after the checkpoint a run resumes from)."""
    if not path.is_file():
        return
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    kept = rows[:1] + [row for row in rows[1:] if int(row[0]) <= epochs]

    def write(tmp: Path) -> None:
        with open(tmp, "w", newline="") as handle:
            csv.writer(handle).writerows(kept)  # CSVLogger's dialect

    atomic_write(path, write)
