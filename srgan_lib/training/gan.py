"""The SRGAN model (paper Sec. 2.1-2.2): G's and D's objectives and their alternating
updates. Each update is written once for both backends, as its objective: a function of
the updated model's weights, with every other value passed in (`stateless_call`).
`SRGAN._minimise` (objective -> gradients -> apply) is the one place where the backends
differ, as in keras.io's "Customizing what happens in fit()" guides: TensorFlow takes a
`GradientTape` and updates the variables in place, JAX takes `jax.value_and_grad` and
returns new values. Lesson 05 teaches this file."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import keras
from keras import ops

from srgan_lib import losses
from srgan_lib.choices import CONTENT_LOSSES
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


State = tuple[list, list, list, list]
"""Values of (trainable, non-trainable, optimizer, metric) variables, in the order of
`model.trainable_variables`, `.non_trainable_variables`, `.optimizer.variables` and
`.metrics_variables`: what Keras' JAX trainer threads through `train_step`."""


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

    Each `train_step` (on a batch (lr, hr)) does one D update, then one G update (k = 1),
    `discriminator_update` then `generator_update`, each a function of the `State`:
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

    # The objectives (paper Eqs. 2-6), given D's outputs and a VGG callable.

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

    # The two updates, written once for both backends.

    def discriminator_update(self, state: State, lr, hr) -> State:
        """One D update (Eq. 2) on a batch: G makes SR images in inference mode, D sees
        HR (label 1) and SR (label 0) in one batch in training mode.

        Args:
            state: the current `State` (`state_values()`, or the one Keras' JAX trainer
                passes).
            lr: LR images (B, h, w, 3) in [0, 1].
            hr: HR images (B, scale*h, scale*w, 3) in [-1, 1].

        Returns:
            The new `State`: D's weights, batch-norm statistics and optimizer moved, the
            d_loss, d_real and d_fake trackers updated; G's values untouched.
        """
        trainable, fixed = state[0], state[1]
        ix = self._indices
        sr, _ = self.generator.stateless_call(
            _pick(trainable, ix["g_train"]), _pick(fixed, ix["g_fixed"]), lr, training=False
        )
        images = ops.concatenate([hr, ops.stop_gradient(sr)], axis=0)
        d_fixed = _pick(fixed, ix["d_fixed"])

        def objective(d_train):
            probs, new_fixed = self.discriminator.stateless_call(
                d_train, d_fixed, images, training=True
            )
            loss, logs = self._discriminator_objective(probs)
            return loss, (new_fixed, logs)

        return self._minimise(state, "d", objective)

    def generator_update(self, state: State, lr, hr) -> State:
        """One G update (Eqs. 3-6) on a batch: G in training mode, D (and VGG) in
        inference mode, loss = content + adversarial_weight * -log D(G(lr)).

        Args:
            state: the current `State`.
            lr: LR images (B, h, w, 3) in [0, 1].
            hr: HR images (B, scale*h, scale*w, 3) in [-1, 1].

        Returns:
            The new `State`: G's weights, batch-norm statistics and optimizer moved, the
            g_loss, content_loss and adversarial_loss trackers updated; D's untouched.
        """
        trainable, fixed = state[0], state[1]
        ix = self._indices
        d_train, d_fixed = _pick(trainable, ix["d_train"]), _pick(fixed, ix["d_fixed"])
        g_fixed, vgg_fixed = _pick(fixed, ix["g_fixed"]), _pick(fixed, ix["vgg"])

        def vgg(images, training=False):
            return self.vgg.stateless_call([], vgg_fixed, images, training=training)[0]

        def objective(g_train):
            sr, new_fixed = self.generator.stateless_call(g_train, g_fixed, lr, training=True)
            fake_prob, _ = self.discriminator.stateless_call(d_train, d_fixed, sr, training=False)
            loss, logs = self._generator_objective(hr, sr, fake_prob, vgg)
            return loss, (new_fixed, logs)

        return self._minimise(state, "g", objective)

    def _minimise(self, state: State, role: str, objective: Callable) -> State:
        """Objective -> gradients -> apply for G (role "g") or D ("d"): the only code that
        differs between the backends. The loss is scaled by the optimizer (loss scaling
        under mixed_float16) before differentiating; `objective(weights)` returns (loss,
        (the model's new non-trainable values, logs))."""
        trainable, fixed, optimizer_values, metric_values = state
        ix = self._indices
        optimizer = self.g_optimizer if role == "g" else self.d_optimizer
        weights = _pick(trainable, ix[f"{role}_train"])
        own = _pick(optimizer_values, ix[f"{role}_opt"])

        def scaled(weights):
            loss, aux = objective(weights)
            mapping = list(zip(optimizer.variables, own, strict=True))
            with keras.StatelessScope(state_mapping=mapping):
                return optimizer.scale_loss(loss), aux

        if keras.backend.backend() == "jax":  # pure: new values out
            import jax

            (_, (new_fixed, logs)), grads = jax.value_and_grad(scaled, has_aux=True)(weights)
            weights, own = optimizer.stateless_apply(own, grads, weights)
            return (
                _put(trainable, ix[f"{role}_train"], weights),
                _put(fixed, ix[f"{role}_fixed"], new_fixed),
                _put(optimizer_values, ix[f"{role}_opt"], own),
                self._track(metric_values, logs),
            )
        import tensorflow as tf  # in place: the state holds the variables themselves

        with tf.GradientTape() as tape:
            loss, (new_fixed, logs) = scaled(weights)
            # Under MirroredStrategy each replica's gradients are summed: divide by their
            # number so that the update is that of the global batch's mean loss.
            loss = loss / replicas()
        model = self.generator if role == "g" else self.discriminator
        optimizer.apply(tape.gradient(loss, weights), model.trainable_variables)
        for variable, value in zip(model.non_trainable_variables, new_fixed, strict=True):
            variable.assign(value)
        for tracker in self.trackers:
            if tracker.name in logs:
                tracker.update_state(logs[tracker.name])
        return state

    def train_step(self, *args):
        """One D update, then one G update.

        TensorFlow: train_step(data) -> logs; the variables are updated in place.
        JAX: train_step(state, data) -> (logs, state), as Keras' JAX trainer calls it.
        data: a batch (lr, hr); logs: the epoch-mean `SRGAN_METRICS` so far.
        """
        jax = keras.backend.backend() == "jax"
        state, (lr, hr) = args if jax else (self.state_values(), args[0])
        state = self.generator_update(self.discriminator_update(state, lr, hr), lr, hr)
        return (self.logs_of(state), state) if jax else self.logs_of(state)

    def discriminator_step(self, lr, hr) -> dict[str, float]:
        """`discriminator_update` outside `fit`, written back into the variables: one D
        update on a batch, to watch (lesson 05). Returns the metrics' results."""
        return self._step(self.discriminator_update, lr, hr)

    def generator_step(self, lr, hr) -> dict[str, float]:
        """`generator_update` outside `fit`, written back: one G update on a batch."""
        return self._step(self.generator_update, lr, hr)

    def _step(self, update: Callable, lr, hr) -> dict[str, float]:
        state = update(self.state_values(), ops.convert_to_tensor(lr), ops.convert_to_tensor(hr))
        self.assign_state(state)
        return {name: float(value) for name, value in self.logs_of(state).items()}

    def state_values(self) -> State:
        """The current values of every variable, as a `State` (as Keras' JAX trainer
        makes it; on TensorFlow the values are the variables' handles, read on use)."""
        return tuple([v.value for v in group] for group in self._variable_groups())

    def assign_state(self, state: State) -> None:
        """Write a `State` back into the variables (JAX; on TensorFlow the updates
        already happened in place and this changes nothing)."""
        for group, values in zip(self._variable_groups(), state, strict=True):
            for variable, value in zip(group, values, strict=True):
                if value is not variable.value:
                    variable.assign(value)

    def logs_of(self, state: State) -> dict:
        """The metrics' results (epoch means) held in a `State`: {"d_loss": ..., ...}."""
        logs, start = {}, 0
        for tracker in self.trackers:
            end = start + len(tracker.variables)
            logs[tracker.name] = tracker.stateless_result(state[3][start:end])
            start = end
        return logs

    def _variable_groups(self) -> tuple[list, list, list, list]:
        return (
            self.trainable_variables,
            self.non_trainable_variables,
            self.optimizer.variables,
            self.metrics_variables,
        )

    def _track(self, metric_values: list, logs: dict) -> list:
        new, start = [], 0
        for tracker in self.trackers:
            values = metric_values[start : start + len(tracker.variables)]
            start += len(tracker.variables)
            if tracker.name in logs:
                values = tracker.stateless_update_state(values, logs[tracker.name])
            new.extend(values)
        return new

    @functools.cached_property
    def _indices(self) -> dict[str, list[int]]:
        """Where each model's and optimizer's variables sit in the `State` lists."""

        def where(everything, subset):
            position = {id(v): i for i, v in enumerate(everything)}
            return [position[id(v)] for v in subset]

        trainable, fixed = self.trainable_variables, self.non_trainable_variables
        g, d = self.generator, self.discriminator
        n_g, n = len(self.g_optimizer.variables), len(self.optimizer.variables)
        return {
            "g_train": where(trainable, g.trainable_variables),
            "g_fixed": where(fixed, g.non_trainable_variables),
            "g_opt": list(range(n_g)),
            "d_train": where(trainable, d.trainable_variables),
            "d_fixed": where(fixed, d.non_trainable_variables),
            "d_opt": list(range(n_g, n)),
            "vgg": where(fixed, self.vgg.non_trainable_variables) if self.vgg else [],
        }
