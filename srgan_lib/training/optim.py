"""How the weights move: the Adam optimizers, the learning-rate schedule, the dtype
policy the models are built under and whether the step is compiled with XLA."""

from __future__ import annotations

import contextlib

import keras

from srgan_lib.training.config import TrainConfig


def make_optimizer(config: TrainConfig, name: str) -> keras.optimizers.Optimizer:
    """Adam(beta_1) for one model, named `name` ("g_optimizer" or "d_optimizer"), with
    loss scaling for mixed_float16. Its learning rate is a plain variable (settable by
    Keras callbacks): `LearningRateSchedule` below sets it from the config each epoch."""
    optimizer = keras.optimizers.Adam(
        config.learning_rate_at(0), beta_1=config.beta_1, name=f"{name}_adam"
    )
    if config.precision == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer, name=f"{name}_loss_scale")
    return optimizer


def optimizers_of(model: keras.Model) -> dict[str, keras.optimizers.Optimizer]:
    """{"g_optimizer": ...} for the SRResNet stage, G's and D's for the SRGAN stage."""
    if hasattr(model, "g_optimizer"):
        return {"g_optimizer": model.g_optimizer, "d_optimizer": model.d_optimizer}
    return {"g_optimizer": model.optimizer}


class LearningRateSchedule(keras.callbacks.Callback):
    """Sets every optimizer's learning rate to `config.learning_rate_at(epoch)` when
    training starts (so a resumed run uses the config it is resumed with) and at the
    epoch where the schedule steps down. In between it leaves the rate alone, so a later
    callback (`LearningRateScheduler`, `ReduceLROnPlateau`, your own) may change it."""

    def __init__(self, config: TrainConfig, initial_epoch: int):
        super().__init__()
        self.config, self.initial_epoch = config, initial_epoch

    def on_epoch_begin(self, epoch, logs=None):
        rate = self.config.learning_rate_at(epoch)
        first = epoch == self.initial_epoch
        if first or rate != self.config.learning_rate_at(epoch - 1):
            for optimizer in optimizers_of(self.model).values():
                optimizer.learning_rate = rate


@contextlib.contextmanager
def dtype_policy(name: str):
    """Build models under a dtype policy ("float32", "mixed_bfloat16", ...) and restore."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def jit_compile(config: TrainConfig) -> bool:
    """JAX always jits. On TensorFlow, "auto" uses XLA only when a GPU is visible: on CPU
    XLA was about 4x slower for both stages (bench/train_throughput.py, 2 cores)."""
    if keras.backend.backend() == "jax":
        return True
    if config.jit_compile != "auto":
        return bool(config.jit_compile)
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))
