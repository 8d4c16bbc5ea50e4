"""Training SRResNet and SRGAN (Ledig et al., CVPR 2017, Sec. 3.2), with runs that resume.

Lesson 05 meets this module. Two stages:
1. SRResNet: the generator alone, trained with the pixel MSE (`generator.compile` + `fit`).
2. SRGAN: `SRGAN`, a `keras.Model` holding G, D and the VGG feature extractor, whose
   `train_step` alternates one D update and one G update per batch (k = 1).

`train(config, run_dir)` writes a run directory:
    config.json              the TrainConfig (a run can start from it: `--config`)
    history.csv              one row per epoch: epoch, then the epoch-mean metrics
    samples/epoch_0005.png   rows of LR (nearest), bicubic, SR, HR for fixed crops
    checkpoints/last.npz     everything needed to resume exactly (written atomically)
    generator.weights.h5     the trained generator (also generator.keras), for
                             `models.load_generator`
Works on the TensorFlow and JAX backends; on JAX, TensorFlow is never imported.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import functools
import json
import math
import os
import random
import warnings
from collections.abc import Sequence
from pathlib import Path

import keras
import numpy as np
from keras import ops
from PIL import Image

from srgan_lib import checkpoint_file, data, losses, models, runlock, runtime, validation
from srgan_lib.files import atomic_write

STAGES = ("srresnet", "srgan")
CONTENT_LOSSES = ("vgg54", "vgg22", "mse")
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")
SRGAN_METRICS = ("d_loss", "g_loss", "content_loss", "adversarial_loss", "d_real", "d_fake")
CHECKPOINT = Path("checkpoints") / "last.npz"


class ArchitectureMismatchError(ValueError):
    """A run is resumed with a configuration whose models differ from the checkpoint's."""


class NonFiniteLossError(FloatingPointError):
    """A loss became NaN or infinite during training."""


# ------------------------------------------------------------------------- config


@dataclasses.dataclass
class TrainConfig:
    """Every hyper-parameter of one training stage. Saved as config.json with each run.

    Steps: `epochs` * `steps_per_epoch` updates; an SRGAN step is one D and one G update.
    Learning rate: `learning_rate`, then `lr_after_decay` once `lr_decay_at` (a fraction
    of all steps; None: never) of the steps are done. Images: LR crops of
    `hr_size` / `scale` pixels in [0, 1], HR crops of `hr_size` pixels in [-1, 1].
    `data`: "sample" (the five images bundled with scikit-image), "div2k" (downloaded) or
    a folder of HR images; `max_images` keeps the first N (all 800 DIV2K training images
    take about 7.5 GB of memory).
    `vgg_weights`: "imagenet", "none" (random: not the paper's loss) or a weights file.
    `init_from`: SRGAN stage only, an SRResNet run dir or generator weights file.
    `jit_compile`: "auto" (JAX: always; TensorFlow: XLA on GPU only) or a bool (TF only).
    `steps_per_execution`: updates per compiled call; on a GPU, 8 doubled the float32
    SRResNet step's speed (bench/README.md). Keep `steps_per_epoch` a multiple of it.
    """

    stage: str = "srresnet"
    scale: int = 4
    hr_size: int = 96
    batch_size: int = 16
    num_blocks: int = 16
    filters: int = 64
    disc_filters: int = 64
    bn_momentum: float = 0.8
    epochs: int = 1000
    steps_per_epoch: int = 1000
    learning_rate: float = 1e-4
    lr_decay_at: float | None = None
    lr_after_decay: float = 1e-5
    beta_1: float = 0.9
    content_loss: str = "vgg54"
    adversarial_weight: float = losses.ADVERSARIAL_WEIGHT
    vgg_weights: str = "imagenet"
    init_from: str | None = None
    precision: str = "float32"
    jit_compile: bool | str = "auto"
    steps_per_execution: int = 1
    save_interval: int = 10
    data: str = "sample"
    max_images: int | None = None
    augment: bool = True
    seed: int = 0

    @classmethod
    def preset(cls, name: str, stage: str = "srresnet", **overrides) -> TrainConfig:
        """Named settings for `stage`, then `overrides` (any field).

        "paper" (Sec. 3.2): x4, 96x96 HR crops, batch 16, B = 16 blocks, Adam(beta1 0.9);
        SRResNet 10^6 steps at 1e-4; SRGAN 2 * 10^5 steps, 1e-4 then 1e-5 for the second
        half, VGG5,4 content loss, adversarial weight 1e-3.
        "quick": the same recipe, small enough for about a minute on two CPU cores with
        the sample images (4 blocks, 48x48 crops, batch 4, 3 epochs of 8 steps).
        """
        if stage not in STAGES:
            raise ValueError(f"Unknown stage {stage!r}: choose one of {', '.join(STAGES)}.")
        paper_steps = {"srresnet": 1_000, "srgan": 200}  # epochs of 1000 steps
        settings = {
            "paper": {"epochs": paper_steps[stage], "steps_per_epoch": 1000},
            "quick": {
                "num_blocks": 4,
                "hr_size": 48,
                "batch_size": 4,
                "epochs": 3,
                "steps_per_epoch": 8,
                "save_interval": 1,
            },
        }
        if name not in settings:
            raise ValueError(f"Unknown preset {name!r}: choose one of {', '.join(settings)}.")
        decay = {"lr_decay_at": 0.5} if stage == "srgan" else {}
        return cls(stage=stage, **settings[name], **decay).replace(**overrides)

    def replace(self, **changes) -> TrainConfig:
        """A copy with `changes` applied, validated."""
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ValueError(f"TrainConfig has no field(s) {', '.join(sorted(unknown))}.")
        return dataclasses.replace(self, **changes).validate()

    def validate(self) -> TrainConfig:
        """Raise ValueError naming the first impossible setting; return self."""
        validation.check_train_config(self)
        choices = {"stage": STAGES, "content_loss": CONTENT_LOSSES, "precision": PRECISIONS}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(
                    f"{name}={getattr(self, name)!r} is not one of {', '.join(allowed)}."
                )
        if self.hr_size % self.scale or (self.stage == "srgan" and self.hr_size % 16):
            raise ValueError(
                f"hr_size={self.hr_size} must be a multiple of the scale ({self.scale}) and, "
                "for the SRGAN stage, of 16 (the discriminator's four stride-2 convolutions)."
            )
        if self.steps_per_epoch % max(self.steps_per_execution, 1):
            raise ValueError(
                f"steps_per_epoch={self.steps_per_epoch} is not a multiple of "
                f"steps_per_execution={self.steps_per_execution}."
            )
        for name in (
            "epochs",
            "steps_per_epoch",
            "steps_per_execution",
            "batch_size",
            "save_interval",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}.")
        if self.lr_decay_at is not None and not 0 < self.lr_decay_at < 1:
            raise ValueError("lr_decay_at is a fraction of all steps in (0, 1) or None.")
        return self

    @property
    def total_steps(self) -> int:
        return self.epochs * self.steps_per_epoch

    def architecture(self) -> dict:
        """The settings a checkpoint's variables depend on (compared when resuming)."""
        keys = ["stage", "scale", "num_blocks", "filters", "precision"]
        if self.stage == "srgan":
            keys += ["hr_size", "disc_filters", "content_loss"]
        return {key: getattr(self, key) for key in keys}

    def describe_architecture(self) -> str:
        """E.g. "srgan: x4 generator with 16 blocks of 64 filters, ..."."""
        text = (
            f"{self.stage}: x{self.scale} generator with {self.num_blocks} blocks of "
            f"{self.filters} filters"
        )
        if self.stage == "srgan":
            text += (
                f", discriminator of {self.disc_filters} filters on {self.hr_size}px crops, "
                f"{self.content_loss} content loss"
            )
        return f"{text}, {self.precision}"

    def to_json(self, path: str | Path | None = None) -> str:
        """The config as JSON text; also written (atomically) to `path` when given."""
        text = json.dumps(dataclasses.asdict(self), indent=2) + "\n"
        if path is not None:
            atomic_write(path, lambda tmp: tmp.write_text(text))
        return text

    @classmethod
    def from_json(cls, source: str | Path) -> TrainConfig:
        """Read a config from a JSON file path or from JSON text."""
        text = str(source)
        if not text.lstrip().startswith("{"):
            path = Path(source)
            if not path.is_file():
                raise FileNotFoundError(f"No config file at {path}.")
            text = path.read_text()
        return cls().replace(**json.loads(text))


# ------------------------------------------------------------------------ the GAN


class _OptimizerPair:
    """G's and D's optimizers seen as one by `fit`: on JAX the trainer threads
    `model.optimizer.variables` through the jitted step, so both must be in that list
    (G's first). Only `variables`, `built` and `build` are used by Keras' trainers."""

    def __init__(self, generator_optimizer, discriminator_optimizer):
        self.generator, self.discriminator = generator_optimizer, discriminator_optimizer

    @property
    def variables(self) -> list:
        return list(self.generator.variables) + list(self.discriminator.variables)

    @property
    def built(self) -> bool:
        return self.generator.built and self.discriminator.built

    def build(self, _variables=None) -> None:
        """Both are built in `SRGAN.compile`; Keras may call this again, harmlessly."""


def _pick(values: Sequence, indices: list[int]) -> list:
    return [values[i] for i in indices]


def _put(values: Sequence, indices: list[int], new: Sequence) -> list:
    values = list(values)
    for i, value in zip(indices, new, strict=True):
        values[i] = value
    return values


class SRGAN(keras.Model):
    """SRGAN's adversarial training (paper Sec. 2.1-2.2) on the TensorFlow and JAX backends.

    generator: LR (B, h, w, 3) in [0, 1] -> SR (B, 4h, 4w, 3) in [-1, 1].
    discriminator: (B, H, W, 3) in [-1, 1] -> P(real), (B, 1).
    vgg: a frozen feature extractor (`losses.build_vgg_feature_extractor`), or None for
    content_loss="mse" (SRGAN-MSE).

    Each `train_step` (on a batch (lr, hr)) does one D update, then one G update (k = 1):
    - D: minimise BCE with real HR labelled 1 and SR labelled 0 (Eq. 2), on one batch that
      concatenates HR and SR so D's batch-norm statistics see both.
    - G: minimise content + 1e-3 * -log D(G(lr)) (Eqs. 3-6).
    Batch norm: only the model being updated runs in training mode. In D's update G runs
    with training=False (its moving statistics are used, not changed); in G's update D
    runs with training=False. So neither update moves the other model's variables, its
    BN moving statistics included, and D judges each SR image on its own, not by the
    statistics of the batch it comes in.
    Metrics (epoch means): d_loss, g_loss, content_loss, adversarial_loss, and d_real,
    d_fake: the mean of D's outputs on HR and on SR images in D's update.
    """

    def __init__(self, generator, discriminator, vgg=None, **kwargs):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.vgg = vgg
        self.trackers = [keras.metrics.Mean(name=name) for name in SRGAN_METRICS]
        self.built = True

    def call(self, lr, training=False):
        return self.generator(lr, training=training)

    @property
    def metrics(self):
        return self.trackers

    def compile(
        self,
        g_optimizer: keras.optimizers.Optimizer,
        d_optimizer: keras.optimizers.Optimizer,
        content_loss: str = "vgg54",
        adversarial_weight: float = losses.ADVERSARIAL_WEIGHT,
        **kwargs,
    ):
        """g_optimizer, d_optimizer: one optimizer per model (built here).
        content_loss: "vgg54" or "vgg22" (needs `vgg` cut at that layer) or "mse".
        kwargs: passed to `keras.Model.compile` (e.g. jit_compile)."""
        if keras.backend.backend() not in ("tensorflow", "jax"):
            raise NotImplementedError("SRGAN trains on the TensorFlow and JAX backends only.")
        if content_loss not in CONTENT_LOSSES:
            raise ValueError(f"content_loss must be one of {', '.join(CONTENT_LOSSES)}.")
        if content_loss != "mse" and (
            self.vgg is None or not self.vgg.name.endswith(losses.VGG_LAYERS[content_loss])
        ):
            raise ValueError(
                f'content_loss="{content_loss}" needs vgg=build_vgg_feature_extractor('
                f'"{content_loss}") when the SRGAN model is created.'
            )
        super().compile(optimizer=None, **kwargs)
        g_optimizer.build(self.generator.trainable_variables)
        d_optimizer.build(self.discriminator.trainable_variables)
        self.g_optimizer, self.d_optimizer = g_optimizer, d_optimizer
        self.optimizer = _OptimizerPair(g_optimizer, d_optimizer)
        self.content_loss = content_loss
        self.adversarial_weight = adversarial_weight

    # Shared by both backends: the objectives, given D's outputs and a VGG callable.

    def _discriminator_objective(self, probs):
        real, fake = ops.split(probs, 2, axis=0)
        loss = losses.discriminator_loss(real, fake)
        return loss, {"d_loss": loss, "d_real": ops.mean(real), "d_fake": ops.mean(fake)}

    def _generator_objective(self, hr, sr, fake_prob, vgg):
        if self.content_loss == "mse":
            content = losses.pixel_mse(hr, sr)
        else:
            content = losses.content_loss(vgg, hr, sr)
        adversarial = losses.generator_adversarial_loss(fake_prob)
        loss = losses.perceptual_loss(content, adversarial, self.adversarial_weight)
        return loss, {"g_loss": loss, "content_loss": content, "adversarial_loss": adversarial}

    def train_step(self, *args):
        """TensorFlow: train_step(data) -> logs. JAX: train_step(state, data) -> (logs,
        state), with state = (trainable, non-trainable, optimizer, metrics) values."""
        if keras.backend.backend() == "jax":
            state, (lr, hr) = args
            state = self._jax_discriminator_update(state, lr, hr)
            state = self._jax_generator_update(state, lr, hr)
            return self._jax_logs(state[3]), state
        (lr, hr) = args[0]
        self._tf_discriminator_update(lr, hr)
        self._tf_generator_update(lr, hr)
        return {m.name: m.result() for m in self.trackers}

    def discriminator_step(self, lr, hr) -> dict[str, float]:
        """One D update on a batch, outside `fit` (for inspection and tests)."""
        return self._eager_half_step(
            self._jax_discriminator_update, self._tf_discriminator_update, lr, hr
        )

    def generator_step(self, lr, hr) -> dict[str, float]:
        """One G update on a batch, outside `fit` (for inspection and tests)."""
        return self._eager_half_step(self._jax_generator_update, self._tf_generator_update, lr, hr)

    def _eager_half_step(self, jax_update, tf_update, lr, hr) -> dict[str, float]:
        lr, hr = ops.convert_to_tensor(lr), ops.convert_to_tensor(hr)
        if keras.backend.backend() == "jax":
            import jax

            groups = self._variable_groups()
            values = tuple([v.value for v in group] for group in groups)
            state = jax.jit(jax_update)(values, lr, hr)
            for group, values in zip(groups, state, strict=True):
                for variable, value in zip(group, values, strict=True):
                    variable.assign(value)
        else:
            tf_update(lr, hr)
        return {m.name: float(m.result()) for m in self.trackers}

    def _variable_groups(self) -> tuple[list, list, list, list]:
        return (
            self.trainable_variables,
            self.non_trainable_variables,
            self.optimizer.variables,
            self.metrics_variables,
        )

    # TensorFlow: GradientTape, variables updated in place.

    def _tf_discriminator_update(self, lr, hr):
        import tensorflow as tf

        sr = self.generator(lr, training=False)
        weights = self.discriminator.trainable_variables
        with tf.GradientTape() as tape:
            probs = self.discriminator(ops.concatenate([hr, sr], axis=0), training=True)
            loss, logs = self._discriminator_objective(probs)
            scaled = self.d_optimizer.scale_loss(loss)
        self.d_optimizer.apply(tape.gradient(scaled, weights), weights)
        self._tf_track(logs)

    def _tf_generator_update(self, lr, hr):
        import tensorflow as tf

        weights = self.generator.trainable_variables
        with tf.GradientTape() as tape:
            sr = self.generator(lr, training=True)
            fake_prob = self.discriminator(sr, training=False)
            loss, logs = self._generator_objective(hr, sr, fake_prob, self.vgg)
            scaled = self.g_optimizer.scale_loss(loss)
        self.g_optimizer.apply(tape.gradient(scaled, weights), weights)
        self._tf_track(logs)

    def _tf_track(self, logs):
        for tracker in self.trackers:
            if tracker.name in logs:
                tracker.update_state(logs[tracker.name])

    # JAX: pure functions of the state, with stateless_call and jax.value_and_grad.

    @functools.cached_property
    def _indices(self) -> dict[str, list[int]]:
        """Where each model's variables sit in the state lists (by identity)."""

        def where(everything, subset):
            position = {id(v): i for i, v in enumerate(everything)}
            return [position[id(v)] for v in subset]

        trainable, fixed = self.trainable_variables, self.non_trainable_variables
        g, d = self.generator, self.discriminator
        return {
            "g_train": where(trainable, g.trainable_variables),
            "g_fixed": where(fixed, g.non_trainable_variables),
            "d_train": where(trainable, d.trainable_variables),
            "d_fixed": where(fixed, d.non_trainable_variables),
            "vgg": where(fixed, self.vgg.non_trainable_variables) if self.vgg else [],
        }

    def _jax_scaled(self, optimizer, optimizer_values, loss):
        """`optimizer.scale_loss` (loss scaling for mixed_float16) with state values."""
        mapping = list(zip(optimizer.variables, optimizer_values, strict=True))
        with keras.StatelessScope(state_mapping=mapping):
            return optimizer.scale_loss(loss)

    def _jax_discriminator_update(self, state, lr, hr):
        import jax

        trainable, fixed, optimizer_values, metric_values = state
        ix = self._indices
        sr, _ = self.generator.stateless_call(
            _pick(trainable, ix["g_train"]), _pick(fixed, ix["g_fixed"]), lr, training=False
        )
        images = ops.concatenate([hr, ops.stop_gradient(sr)], axis=0)
        n_g = len(self.g_optimizer.variables)
        d_opt_values = optimizer_values[n_g:]

        def loss_fn(d_train):
            probs, d_fixed = self.discriminator.stateless_call(
                d_train, _pick(fixed, ix["d_fixed"]), images, training=True
            )
            loss, logs = self._discriminator_objective(probs)
            return self._jax_scaled(self.d_optimizer, d_opt_values, loss), (d_fixed, logs)

        d_train = _pick(trainable, ix["d_train"])
        (_, (d_fixed, logs)), grads = jax.value_and_grad(loss_fn, has_aux=True)(d_train)
        d_train, d_opt_values = self.d_optimizer.stateless_apply(d_opt_values, grads, d_train)
        return (
            _put(trainable, ix["d_train"], d_train),
            _put(fixed, ix["d_fixed"], d_fixed),
            list(optimizer_values[:n_g]) + list(d_opt_values),
            self._jax_track(metric_values, logs),
        )

    def _jax_generator_update(self, state, lr, hr):
        import jax

        trainable, fixed, optimizer_values, metric_values = state
        ix = self._indices
        n_g = len(self.g_optimizer.variables)
        g_opt_values = optimizer_values[:n_g]
        d_train, d_fixed = _pick(trainable, ix["d_train"]), _pick(fixed, ix["d_fixed"])
        vgg_fixed = _pick(fixed, ix["vgg"])

        def vgg(images, training=False):
            return self.vgg.stateless_call([], vgg_fixed, images, training=training)[0]

        def loss_fn(g_train):
            sr, g_fixed = self.generator.stateless_call(
                g_train, _pick(fixed, ix["g_fixed"]), lr, training=True
            )
            fake_prob, _ = self.discriminator.stateless_call(d_train, d_fixed, sr, training=False)
            loss, logs = self._generator_objective(hr, sr, fake_prob, vgg)
            return self._jax_scaled(self.g_optimizer, g_opt_values, loss), (g_fixed, logs)

        g_train = _pick(trainable, ix["g_train"])
        (_, (g_fixed, logs)), grads = jax.value_and_grad(loss_fn, has_aux=True)(g_train)
        g_train, g_opt_values = self.g_optimizer.stateless_apply(g_opt_values, grads, g_train)
        return (
            _put(trainable, ix["g_train"], g_train),
            _put(fixed, ix["g_fixed"], g_fixed),
            list(g_opt_values) + list(optimizer_values[n_g:]),
            self._jax_track(metric_values, logs),
        )

    def _jax_track(self, metric_values, logs):
        new, start = [], 0
        for tracker in self.trackers:
            values = metric_values[start : start + len(tracker.variables)]
            start += len(tracker.variables)
            if tracker.name in logs:
                values = tracker.stateless_update_state(values, logs[tracker.name])
            new.extend(values)
        return new

    def _jax_logs(self, metric_values):
        logs, start = {}, 0
        for tracker in self.trackers:
            end = start + len(tracker.variables)
            logs[tracker.name] = tracker.stateless_result(metric_values[start:end])
            start = end
        return logs


# ------------------------------------------------------------------- building


@contextlib.contextmanager
def _dtype_policy(name: str):
    """Build models under a dtype policy ("float32", "mixed_bfloat16", ...) and restore."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def _jit_compile(config: TrainConfig) -> bool:
    """JAX always jits. On TensorFlow, "auto" uses XLA only when a GPU is visible: on CPU
    XLA was about 4x slower for both stages (bench/train_throughput.py, 2 cores)."""
    if keras.backend.backend() == "jax":
        return True
    if config.jit_compile != "auto":
        return bool(config.jit_compile)
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def _optimizer(config: TrainConfig) -> keras.optimizers.Optimizer:
    rate = config.learning_rate
    if config.lr_decay_at is not None:
        boundary = int(round(config.lr_decay_at * config.total_steps))
        rate = keras.optimizers.schedules.PiecewiseConstantDecay(
            [boundary], [config.learning_rate, config.lr_after_decay]
        )
    optimizer = keras.optimizers.Adam(rate, beta_1=config.beta_1)
    if config.precision == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


def build_training_model(config: TrainConfig) -> keras.Model:
    """The compiled model `fit` trains for `config.stage`, with fresh weights.

    "srresnet": the generator, compiled with the pixel MSE (Eq. 4) and Adam.
    "srgan": an `SRGAN` (generator, discriminator, VGG unless content_loss="mse").
    Models are built under `config.precision`; their variables stay float32.
    """
    jit = _jit_compile(config)
    with _dtype_policy(config.precision):
        generator = models.build_generator(
            config.scale, config.num_blocks, config.filters, config.bn_momentum
        )
        if config.stage == "srresnet":
            generator.compile(
                optimizer=_optimizer(config),
                loss=losses.pixel_mse,
                jit_compile=jit,
                steps_per_execution=config.steps_per_execution,
            )
            generator.optimizer.build(generator.trainable_variables)
            return generator
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
        _optimizer(config),
        _optimizer(config),
        content_loss=config.content_loss,
        adversarial_weight=config.adversarial_weight,
        jit_compile=jit,
        steps_per_execution=config.steps_per_execution,
    )
    return gan


def _generator_of(model: keras.Model) -> keras.Model:
    return model.generator if isinstance(model, SRGAN) else model


def _checkpointed_weights(model: keras.Model) -> list:
    """The model variables a checkpoint holds: G's (and D's), BN statistics included.
    The frozen VGG is rebuilt from the config (seeded) rather than stored."""
    if isinstance(model, SRGAN):
        return model.generator.weights + model.discriminator.weights
    return model.weights


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


# ---------------------------------------------------------------- checkpoints


def save_checkpoint(model: keras.Model, path: str | Path, config: TrainConfig, epoch: int):
    """Write every variable training needs to resume after `epoch` completed epochs:
    G's (and D's) weights and BN statistics, the optimizer(s) variables (iterations
    included), plus metadata (epoch, step, config). The data feed needs no RNG state:
    its batches depend only on (seed, epoch, index); the models hold no random layers."""
    weights = [np.asarray(v.numpy()) for v in _checkpointed_weights(model)]
    optimizer = [np.asarray(v.numpy()) for v in model.optimizer.variables]
    meta = {
        "epoch": epoch,
        "step": epoch * config.steps_per_epoch,
        "config": dataclasses.asdict(config),
        "backend": keras.backend.backend(),
    }
    arrays = {f"weight_{i:04d}": a for i, a in enumerate(weights)}
    arrays |= {f"optimizer_{i:04d}": a for i, a in enumerate(optimizer)}
    arrays["meta"] = np.array(json.dumps(meta))
    return atomic_write(path, lambda tmp: np.savez(tmp, **arrays))


def read_checkpoint(path: str | Path) -> tuple[dict, list[np.ndarray], list[np.ndarray]]:
    """(metadata, model weights, optimizer variables) of a checkpoint file; a damaged
    file raises checkpoint_file.DamagedCheckpointError."""
    return checkpoint_file.read(path)


def _check_architecture(saved: TrainConfig, wanted: TrainConfig, run_dir: Path) -> None:
    if saved.architecture() != wanted.architecture():
        raise ArchitectureMismatchError(
            f"Cannot resume {run_dir}: its checkpoint holds {saved.describe_architecture()}, "
            f"but this run asks for {wanted.describe_architecture()}. Resume with the saved "
            "config (drop the changed options) or start a new --run-dir."
        )


def load_checkpoint(model: keras.Model, path: str | Path) -> int:
    """Restore a checkpoint into a model from `build_training_model` (same config).
    Returns the number of completed epochs."""
    meta, weights, optimizer = read_checkpoint(path)
    targets = [
        (_checkpointed_weights(model), weights, "model"),
        (model.optimizer.variables, optimizer, "optimizer"),
    ]
    for variables, values, what in targets:
        shapes = [tuple(v.shape) for v in variables]
        if shapes != [a.shape for a in values]:
            raise ArchitectureMismatchError(
                f"{path} does not fit this {what}: {len(values)} saved variables vs "
                f"{len(variables)}, or different shapes. It was written for "
                f"{TrainConfig(**meta['config']).describe_architecture()}."
            )
        for variable, value in zip(variables, values, strict=True):
            variable.assign(value)
    return int(meta["epoch"])


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
    """Feed epoch e the batches (seed, e, index): CropDataset's own counter also moves
    when Keras peeks at the data before training."""

    def __init__(self, dataset: data.CropDataset):
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


class _RunRecorder(keras.callbacks.Callback):
    """history.csv every epoch; samples and a checkpoint every `save_interval` epochs
    and after the last one."""

    def __init__(self, config: TrainConfig, run_dir: Path, columns: list[str], crops):
        super().__init__()
        self.config, self.run_dir, self.columns, self.crops = config, run_dir, columns, crops

    def on_epoch_end(self, epoch, logs=None):
        done = epoch + 1
        history = self.run_dir / "history.csv"
        new_file = not history.is_file()
        with open(history, "a", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            if new_file:
                writer.writerow(["epoch", *self.columns])
            writer.writerow([done, *(f"{float(logs[c]):.6g}" for c in self.columns)])
            handle.flush()
            os.fsync(handle.fileno())
        if done % self.config.save_interval == 0 or done == self.config.epochs:
            grid = sample_grid(_generator_of(self.model), *self.crops)
            atomic_write(
                self.run_dir / "samples" / f"epoch_{done:04d}.png",
                lambda tmp: Image.fromarray(grid).save(tmp, format="PNG"),
            )
            save_checkpoint(self.model, self.run_dir / CHECKPOINT, self.config, done)


def _truncate_history(path: Path, epochs: int) -> None:
    """Drop rows after `epochs` (written after the checkpoint a run resumes from)."""
    if not path.is_file():
        return
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    kept = rows[:1] + [row for row in rows[1:] if int(row[0]) <= epochs]
    atomic_write(path, lambda tmp: tmp.write_text("".join(",".join(r) + "\n" for r in kept)))


# ------------------------------------------------------------------------ train


@functools.lru_cache(maxsize=4)
def _pairs(source: str, scale: int, limit: int | None) -> tuple[data.ImagePair, ...]:
    return tuple(data.load_training_pairs(source, scale, limit))


def export_generator(generator: keras.Model, config: TrainConfig, run_dir: str | Path) -> Path:
    """Write generator.weights.h5 and generator.keras (float32, uncompiled) into
    `run_dir`, loadable with `models.load_generator`. Returns the weights file."""
    run_dir = Path(run_dir)
    with _dtype_policy("float32"):
        copy = models.build_generator(
            config.scale, config.num_blocks, config.filters, config.bn_momentum
        )
    copy.set_weights(generator.get_weights())
    atomic_write(run_dir / "generator.weights.h5", lambda tmp: copy.save_weights(tmp))
    atomic_write(run_dir / "generator.keras", lambda tmp: copy.save(tmp))
    return run_dir / "generator.weights.h5"


def train(
    config: TrainConfig | None,
    run_dir: str | Path,
    resume: bool = False,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    verbose: int | str = 2,
) -> keras.Model:
    """`_train_locked` holding `run_dir`'s lock (runlock.hold): a second train or resume of
    the same run while this one is alive raises runlock.RunLockedError. The config is
    validated first, so a bad value leaves no folder behind."""
    if config is not None:
        config.validate()
    with runlock.hold(run_dir):
        return _train_locked(config, run_dir, resume, callbacks, verbose)


def _train_locked(
    config: TrainConfig | None,
    run_dir: str | Path,
    resume: bool = False,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    verbose: int | str = 2,
) -> keras.Model:
    """Train one stage into `run_dir` (see the module docstring for its files).

    config: the settings; with resume=True it may be None (use the run's config.json)
    or differ from it in anything but `config.architecture()` (e.g. more epochs).
    resume: continue from `run_dir`'s checkpoint; same seed and backend give the same
    weights as a run that never stopped. callbacks: extra Keras callbacks.
    Returns the trained model (the generator, or the SRGAN model).
    Raises NonFiniteLossError on a NaN/inf loss, ArchitectureMismatchError when resuming
    with other models.
    """
    run_dir = Path(run_dir)
    checkpoint = run_dir / CHECKPOINT
    if resume:
        if not checkpoint.is_file():
            raise FileNotFoundError(
                f"No checkpoint at {checkpoint} to resume from. Start the run without "
                "--resume, or point --resume at a run directory that has one."
            )
        saved = TrainConfig(**read_checkpoint(checkpoint)[0]["config"])
        config = saved if config is None else config
        _check_architecture(saved, config, run_dir)
    elif checkpoint.is_file():
        raise FileExistsError(
            f"{run_dir} already holds a run. Resume it (--resume {run_dir}) or choose "
            "another --run-dir."
        )
    if config is None:
        raise ValueError("train() needs a TrainConfig unless it resumes a run.")
    config.validate()

    random.seed(config.seed)  # Keras draws layer initial weights from Python's RNG
    np.random.seed(config.seed)
    pairs = list(_pairs(config.data, config.scale, config.max_images))
    dataset = data.CropDataset(
        pairs,
        config.batch_size,
        config.hr_size,
        config.steps_per_epoch,
        config.seed,
        config.augment,
    )
    model = build_training_model(config)
    start = 0
    if resume:
        start = load_checkpoint(model, checkpoint)
        _truncate_history(run_dir / "history.csv", start)
    elif config.stage == "srgan" and config.init_from:
        used = init_generator_from(model.generator, config.init_from, config)
        print(f"SRGAN generator initialised from {used}")
    elif config.stage == "srgan":
        print("No --init-from: the SRGAN stage starts from a random generator, not SRResNet.")
    config.to_json(run_dir / "config.json")

    columns = list(SRGAN_METRICS) if config.stage == "srgan" else ["loss"]
    crops = data.center_crops(pairs[:4], config.hr_size)
    recorder = _RunRecorder(config, run_dir, columns, crops)
    guard = _NaNGuard(config.steps_per_epoch, checkpoint)
    if start < config.epochs:
        model.fit(
            dataset,
            epochs=config.epochs,
            initial_epoch=start,
            shuffle=False,  # batch order from Keras' (unsaved) global RNG would break resume
            callbacks=[_DataEpoch(dataset), guard, recorder, *callbacks],
            verbose=verbose,
        )
    export_generator(_generator_of(model), config, run_dir)
    return model
