"""The SRGAN model (paper Sec. 2.1-2.2): G's and D's objectives and their alternating
updates, written once for TensorFlow (GradientTape) and once for JAX (pure functions of
the state). Lesson 05 teaches this file."""

from __future__ import annotations

import functools
from collections.abc import Sequence

import keras
from keras import ops

from srgan_lib import losses
from srgan_lib.training.config import CONTENT_LOSSES
from srgan_lib.training.devices import replicas

SRGAN_METRICS = ("d_loss", "g_loss", "content_loss", "adversarial_loss", "d_real", "d_fake")


class OptimizerPair:
    """G's and D's optimizers seen as `model.optimizer` by `fit` and Keras' callbacks.

    Why it exists: the SRGAN model keeps `g_optimizer` and `d_optimizer` (the keras.io GAN
    contract), but Keras' JAX trainer threads `model.optimizer.variables` through the
    jitted step, so both optimizers' variables must be listed there (G's first), and
    `LearningRateScheduler`, `ReduceLROnPlateau` and `TensorBoard` read
    `model.optimizer.optimizers` (each is updated), `.learning_rate` and `.iterations`.
    Setting `learning_rate` sets both; reading it gives G's.
    """

    def __init__(self, g_optimizer, d_optimizer):
        self.optimizers = [g_optimizer, d_optimizer]

    @property
    def variables(self) -> list:
        return [v for optimizer in self.optimizers for v in optimizer.variables]

    @property
    def built(self) -> bool:
        return all(optimizer.built for optimizer in self.optimizers)

    def build(self, _variables=None) -> None:
        """Both are built in `SRGAN.compile`; Keras may call this again, harmlessly."""

    @property
    def iterations(self):
        """G's update count (equal to D's: one of each per step)."""
        return self.optimizers[0].iterations

    @property
    def learning_rate(self):
        return self.optimizers[0].learning_rate

    @learning_rate.setter
    def learning_rate(self, value) -> None:
        for optimizer in self.optimizers:
            optimizer.learning_rate = value


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

    # pragma: no mutate start (Keras reads this signature; mutmut's wrapper hides it)
    def __init__(self, generator, discriminator, vgg=None, **kwargs):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.vgg = vgg
        self.trackers = [keras.metrics.Mean(name=name) for name in SRGAN_METRICS]
        self.built = True

    # pragma: no mutate end

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
        self.optimizer = OptimizerPair(g_optimizer, d_optimizer)
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
            scaled = self.d_optimizer.scale_loss(loss) / replicas()
        self.d_optimizer.apply(tape.gradient(scaled, weights), weights)
        self._tf_track(logs)

    def _tf_generator_update(self, lr, hr):
        import tensorflow as tf

        weights = self.generator.trainable_variables
        with tf.GradientTape() as tape:
            sr = self.generator(lr, training=True)
            fake_prob = self.discriminator(sr, training=False)
            loss, logs = self._generator_objective(hr, sr, fake_prob, self.vgg)
            scaled = self.g_optimizer.scale_loss(loss) / replicas()
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
