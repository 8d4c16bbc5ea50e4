"""One training run: the compiled model for a stage, the callbacks that record it
(history, samples, checkpoints, the NaN guard), the exported generator, and `train`."""

from __future__ import annotations

import dataclasses
import math
import shutil
import warnings
from collections.abc import Sequence
from pathlib import Path

import keras
import numpy as np
from PIL import Image

from srgan_lib import data, files, losses, models, runlock, runtime
from srgan_lib.training import devices, feed
from srgan_lib.training.checkpoint import (
    CHECKPOINT,
    atomic_write,
    load_checkpoint,
    read_checkpoint,
    save_checkpoint,
    truncate_history,
)
from srgan_lib.training.config import TrainConfig
from srgan_lib.training.gan import SRGAN, SRGAN_METRICS
from srgan_lib.training.optim import (
    LearningRateSchedule,
    dtype_policy,
    jit_compile,
    make_optimizer,
)


class NonFiniteLossError(FloatingPointError):
    """A loss became NaN or infinite during training."""


class RunSettingsError(FileExistsError):
    """A run folder holds a run started with other settings, and overwriting was not asked."""


# ------------------------------------------------------------------- building


def build_training_model(config: TrainConfig) -> keras.Model:
    """The compiled model `fit` trains for `config.stage`, with fresh weights.

    "srresnet": the generator, compiled with the pixel MSE (Eq. 4) and Adam.
    "srgan": an `SRGAN` (generator, discriminator, VGG unless content_loss="mse"); with
    `freeze_generator_bn` G's batch-norm layers are not trainable, so they normalise with
    their moving statistics during G's updates and none of their variables change.
    Models are built under `config.precision`; their variables stay float32.
    """
    jit = jit_compile(config)
    with dtype_policy(config.precision):
        generator = models.build_generator(
            config.scale, config.num_blocks, config.filters, config.bn_momentum, config.icnr
        )
        if config.stage == "srresnet":
            generator.compile(
                optimizer=make_optimizer(config, "g_optimizer"),
                loss=devices.replica_loss(losses.pixel_mse),
                jit_compile=jit,
                steps_per_execution=config.steps_per_execution,
            )
            generator.optimizer.build(generator.trainable_variables)
            return generator
        if config.freeze_generator_bn:  # Keras 3: a frozen BN layer runs in inference mode
            for layer in generator.layers:
                if isinstance(layer, keras.layers.BatchNormalization):
                    layer.trainable = False
        discriminator = models.build_discriminator(
            config.hr_size, config.disc_filters, config.bn_momentum
        )
        vgg = None
        if config.content_loss != "mse":
            weights = runtime.vgg_weights_setting(config.vgg_weights)
            if weights is None:
                warnings.warn(
                    "VGG19 has random weights (vgg_weights='none'): the perceptual loss is "
                    "then not the paper's. Use 'imagenet' or a VGG19 weights file for that.",
                    stacklevel=2,
                )
            vgg = losses.build_vgg_feature_extractor(config.content_loss, weights)
    gan = SRGAN(generator, discriminator, vgg, name="srgan")
    gan.compile(
        make_optimizer(config, "g_optimizer"),
        make_optimizer(config, "d_optimizer"),
        content_loss=config.content_loss,
        adversarial_weight=config.adversarial_weight,
        jit_compile=jit,
        steps_per_execution=config.steps_per_execution,
    )
    return gan


def generator_of(model: keras.Model) -> keras.Model:
    """The generator inside a training model (the model itself for SRResNet)."""
    return model.generator if isinstance(model, SRGAN) else model


def init_generator_from(generator: keras.Model, source: str | Path, config: TrainConfig) -> Path:
    """Copy SRResNet weights into `generator` (built from `config`). source: a run
    directory (its generator.weights.h5) or a `.weights.h5` / `.keras` file. Returns the
    file used; raises models.WeightsMismatchError when the architectures differ."""
    path = Path(source)
    if path.is_dir():
        path = path / "generator.weights.h5"
        if not path.is_file():
            raise FileNotFoundError(
                f"{source} holds no generator.weights.h5: did its SRResNet run finish? "
                "Pass a finished run directory or a generator weights file to --init-from."
            )
    loaded = models.load_generator(
        path, scale=config.scale, num_blocks=config.num_blocks, filters=config.filters
    )
    generator.set_weights(loaded.get_weights())
    return path


# --------------------------------------------------------------------- samples


def sample_grid(generator: keras.Model, lr: np.ndarray, hr: np.ndarray) -> np.ndarray:
    """One row per crop: LR (nearest-neighbour upscaled), bicubic, SR, HR, 4 px apart.

    lr: uint8 (N, s, s, 3); hr: uint8 (N, S, S, 3). Returns uint8 (N*(S+4)-4, 4*S+12, 3).
    """
    scale = hr.shape[1] // lr.shape[1]
    sr = data.to_uint8(generator(data.to_lr_input(lr), training=False))
    rows = []
    for i in range(len(lr)):
        nearest = lr[i].repeat(scale, axis=0).repeat(scale, axis=1)
        tiles = [nearest, data.bicubic_upscale(lr[i], scale), sr[i], hr[i]]
        gap = np.full((hr.shape[1], 4, 3), 255, np.uint8)
        rows.append(np.concatenate([t for tile in tiles for t in (tile, gap)][:-1], axis=1))
    blank = np.full((4,) + rows[0].shape[1:], 255, np.uint8)
    return np.concatenate([r for row in rows for r in (row, blank)][:-1], axis=0)


# ------------------------------------------------------------------- callbacks


class _DataEpoch(keras.callbacks.Callback):
    """Feed epoch e the batches (seed, e, index): the feed's own counter also moves
    when Keras peeks at the data before training."""

    def __init__(self, dataset: keras.utils.PyDataset):
        super().__init__()
        self.dataset = dataset

    def on_epoch_begin(self, epoch, logs=None):
        self.dataset.epoch = epoch


class _NaNGuard(keras.callbacks.Callback):
    """Raise NonFiniteLossError at the first NaN or infinite loss, before the epoch's
    checkpoint could be written, so the last good checkpoint stays as it was."""

    def __init__(self, steps_per_epoch: int, checkpoint: Path):
        super().__init__()
        self.steps_per_epoch, self.checkpoint, self.epoch = steps_per_epoch, checkpoint, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        for name, value in (logs or {}).items():
            if not math.isfinite(float(value)):
                step = self.epoch * self.steps_per_epoch + batch + 1
                kept = (
                    f"The last good checkpoint is {self.checkpoint}: resume from it (with a "
                    "lower learning_rate, or float32)"
                    if self.checkpoint.is_file()
                    else "No checkpoint was written yet"
                )
                raise NonFiniteLossError(
                    f"{name} is {float(value)} at epoch {self.epoch + 1}, step {step} (batch "
                    f"{batch + 1} of the epoch). {kept}; check the data for NaN or inf."
                )


class _History(keras.callbacks.CSVLogger):
    """history.csv: Keras' CSVLogger with the columns the lessons and the course runner
    read: "epoch" (epochs completed, from 1), then `columns` in that order, to 6
    significant digits. (Left alone, CSVLogger numbers epochs from 0, sorts the keys and
    adds the learning rate and empty val_ columns.) append: continue the file (resume)."""

    def __init__(self, path: Path, columns: Sequence[str], append: bool):
        super().__init__(str(path), append=append)
        self.columns = list(columns)

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self.keys = self.columns

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        super().on_epoch_end(epoch + 1, {c: f"{float(logs[c]):.6g}" for c in self.columns})


class _RunRecorder(keras.callbacks.Callback):
    """Samples and a checkpoint every `save_interval` epochs and after the last one."""

    def __init__(self, config: TrainConfig, run_dir: Path, crops):
        super().__init__()
        self.config, self.run_dir, self.crops = config, run_dir, crops

    def on_epoch_end(self, epoch, logs=None):
        done = epoch + 1
        if done % self.config.save_interval == 0 or done == self.config.epochs:
            grid = sample_grid(generator_of(self.model), *self.crops)
            atomic_write(
                self.run_dir / "samples" / f"epoch_{done:04d}.png",
                lambda tmp: Image.fromarray(grid).save(tmp, format="PNG"),
            )
            save_checkpoint(self.model, self.run_dir / CHECKPOINT, self.config, done)


# ------------------------------------------------------------------------ train


def export_generator(generator: keras.Model, config: TrainConfig, run_dir: str | Path) -> Path:
    """Write the trained generator (float32, uncompiled) into `run_dir` for
    `models.load_generator`, each file with its digest beside it (HDF5 has none):
    generator.weights.h5, generator.keras, generator.weights.h5.sha256,
    generator.keras.sha256.

    Args:
        generator: the trained generator (any dtype policy).
        config: its settings (scale, num_blocks, filters, bn_momentum).
        run_dir: the folder to write into.

    Returns:
        The path of generator.weights.h5.
    """
    run_dir = Path(run_dir)
    with dtype_policy("float32"):
        copy = models.build_generator(
            config.scale, config.num_blocks, config.filters, config.bn_momentum
        )
    copy.set_weights(generator.get_weights())
    for name, save in (
        ("generator.weights.h5", copy.save_weights),
        ("generator.keras", copy.save),
    ):
        files.write_digest(atomic_write(run_dir / name, save))
    return run_dir / "generator.weights.h5"


def _check_restart(config: TrainConfig, run_dir: Path, overwrite: bool) -> None:
    """Refuse to start a new run in `run_dir` over an earlier one (a checkpoint, or a
    config.json from a run stopped before its first checkpoint) unless `overwrite`, or,
    without a checkpoint, the settings are the same (the run then starts again)."""
    if overwrite:
        return
    if (run_dir / CHECKPOINT).is_file():
        raise RunSettingsError(
            f"{run_dir} already holds a run. Resume it (--resume {run_dir}), choose another "
            "--run-dir, or pass --overwrite (overwrite=True) to start it again."
        )
    if not (run_dir / "config.json").is_file():
        return
    saved = dataclasses.asdict(TrainConfig.from_json(run_dir / "config.json"))
    wanted = dataclasses.asdict(config)
    differ = [
        f"{k} is {v!r} there but {wanted[k]!r} here" for k, v in saved.items() if wanted[k] != v
    ]
    if differ:
        raise RunSettingsError(
            f"{run_dir} holds a run stopped before its first checkpoint with other settings "
            f"({'; '.join(differ)}). Rerun with its settings (or --resume {run_dir}) to start "
            "it again, choose another --run-dir, or pass --overwrite (overwrite=True)."
        )


def _clear_run(run_dir: Path) -> None:
    """Remove what an earlier run wrote into `run_dir`, before a new one starts there."""
    for name in ("history.csv", CHECKPOINT, "config.json"):
        (run_dir / name).unlink(missing_ok=True)
    shutil.rmtree(run_dir / "samples", ignore_errors=True)


def train(
    config: TrainConfig | None,
    run_dir: str | Path,
    resume: bool = False,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    verbose: int | str = 2,
    overwrite: bool = False,
) -> keras.Model:
    """`_train_locked` holding `run_dir`'s lock (runlock.hold): a second train or resume of
    the same run while this one is alive raises runlock.RunLockedError. The config is
    validated first, so a bad value leaves no folder behind."""
    if config is not None:
        config.validate()
    with runlock.hold(run_dir):
        return _train_locked(config, run_dir, resume, callbacks, verbose, overwrite)


def _train_locked(
    config: TrainConfig | None,
    run_dir: str | Path,
    resume: bool = False,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    verbose: int | str = 2,
    overwrite: bool = False,
) -> keras.Model:
    """Train one stage into `run_dir`, which then holds:
        config.json              the TrainConfig (a run can start from it: `--config`)
        history.csv              one row per epoch: epoch, then the epoch-mean metrics
        samples/epoch_0005.png   rows of LR (nearest), bicubic, SR, HR for fixed crops
        checkpoints/last.npz     everything needed to resume exactly (written atomically)
        generator.weights.h5     the trained generator (also generator.keras), for
                                 `models.load_generator`, each with a .sha256 file

    config: the settings; with resume=True it may be None (use the checkpoint's config)
    or differ from it in anything but `config.architecture()`: the learning rate, its
    schedule, epochs, steps per epoch, precision, content loss... take effect from the
    resumed epoch on. resume: continue from `run_dir`'s checkpoint; the same config,
    seed and backend give the same weights as a run that never stopped. A run stopped
    before its first checkpoint starts again from its config.json (or `config`).
    Without resume, a folder holding a checkpoint is refused, and one holding only a
    config.json is refused when its settings differ from `config` (RunSettingsError,
    naming each), unless `overwrite`: then the earlier run's files are removed.
    callbacks: extra Keras callbacks, run after the library's own; for the SRGAN stage
    `model.optimizer` stands for both optimizers (`model.g_optimizer`, `model.d_optimizer`).
    Returns the trained model (the generator, or the SRGAN model).
    Raises NonFiniteLossError on a NaN/inf loss, ArchitectureMismatchError naming each
    setting that cannot change on resume, CheckpointError for an unusable checkpoint,
    RunSettingsError for a folder holding another run.
    """
    run_dir = Path(run_dir)
    checkpoint = run_dir / CHECKPOINT
    asked, resume = resume, resume and checkpoint.is_file()
    if resume:
        saved = TrainConfig.from_dict(read_checkpoint(checkpoint)[0]["config"])
        config = saved if config is None else config
        config.check_resumable_from(saved, str(run_dir))
    elif asked:  # stopped before its first checkpoint: start it again
        if not (run_dir / "config.json").is_file():
            raise FileNotFoundError(
                f"No checkpoint at {checkpoint} to resume from. Start the run without "
                "--resume, or point --resume at a run directory that has one."
            )
        config = config or TrainConfig.from_json(run_dir / "config.json")
        overwrite = True  # nothing was trained: its config.json and history go
    if config is None:
        raise ValueError("train() needs a TrainConfig unless it resumes a run.")
    config.validate()
    if config.vgg_weights is None:  # config.json records the weights actually used
        config = config.replace(vgg_weights=runtime.vgg_weights_setting() or "none")
    if not resume:
        _check_restart(config, run_dir, overwrite)

    keras.utils.set_random_seed(config.seed)  # Python, NumPy and the backend
    # Loaded afresh each run (not cached): a changed folder is seen, memory is freed.
    pairs = data.load_training_pairs(config.data, config.scale, config.max_images)
    dataset = data.CropDataset(
        pairs,
        config.batch_size,
        config.hr_size,
        config.steps_per_epoch,
        config.seed,
        config.augment,
    )
    spread = devices.data_parallel(config.devices)
    with devices.scope(spread):
        model = build_training_model(config)
    devices.synchronise_batch_norm(model, spread)
    start = 0
    if resume:
        start = load_checkpoint(model, checkpoint)
        truncate_history(run_dir / "history.csv", start)
    elif config.stage == "srgan" and config.init_from:
        used = init_generator_from(model.generator, config.init_from, config)
        print(f"SRGAN generator initialised from {used}")
    elif config.stage == "srgan":
        print("No --init-from: the SRGAN stage starts from a random generator, not SRResNet.")
    if not resume:
        _clear_run(run_dir)  # history never mixes runs
    config.to_json(run_dir / "config.json")

    columns = list(SRGAN_METRICS) if config.stage == "srgan" else ["loss"]
    history = _History(run_dir / "history.csv", columns, append=resume)
    recorder = _RunRecorder(config, run_dir, data.center_crops(pairs[:4], config.hr_size))
    guard = _NaNGuard(config.steps_per_epoch, checkpoint)
    # The library's callbacks run first: extra ones then see this epoch's history row
    # and may override the learning rate the schedule set.
    fed = feed.make_feed(dataset, config.prefetch, devices.count(config.devices))
    own = [LearningRateSchedule(config, start), _DataEpoch(fed), guard, history, recorder]
    try:
        with devices.scope(spread):
            if start < config.epochs:
                model.fit(
                    fed,
                    epochs=config.epochs,
                    initial_epoch=start,
                    shuffle=False,  # batch order from Keras' (unsaved) RNG would break resume
                    callbacks=[*own, *callbacks],
                    verbose=verbose,
                )
    finally:
        if fed is not dataset:
            fed.close()
    export_generator(generator_of(model), config, run_dir)
    return model
