"""Data-parallel training on the devices of one machine (or of several, on JAX), with
Keras' own distribution API: `keras.distribution.DataParallel` on JAX,
`tf.distribute.MirroredStrategy` on TensorFlow.

Every device holds a copy of the weights and trains on its share of the global batch
(`TrainConfig.batch_size` / devices); gradients are summed over the devices, and batch
normalisation uses the statistics of the global batch, so N devices compute the same
update as one device given the whole batch (up to the order of float sums).
`training.train` builds, compiles and fits inside `scope(data_parallel(config.devices))`.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator

import keras


def available() -> list[str]:
    """The devices training can spread over: accelerators when there are any, else the
    CPU devices (one, unless virtual ones were configured: see docs/models.md)."""
    if keras.backend.backend() == "jax":
        return keras.distribution.list_devices()
    import tensorflow as tf

    gpus = tf.config.list_logical_devices("GPU")
    return [d.name for d in gpus or tf.config.list_logical_devices("CPU")]


def count(devices: int | str) -> int:
    """How many devices `devices` ("all" or a count) means here. Raises ValueError when
    more are asked for than there are."""
    if devices != "all" and devices > 1:
        _split_tf_cpu(devices)
    found = available()
    if devices == "all":
        return len(found)
    if devices > len(found):
        raise ValueError(
            f"devices={devices} but {keras.backend.backend()} sees {len(found)} device(s) "
            f"({', '.join(found)}): ask for at most {len(found)}, or 'all'."
        )
    return devices


def _split_tf_cpu(n: int) -> bool:
    """TensorFlow without GPUs: split the CPU into `n` logical devices, as JAX does with
    XLA_FLAGS=--xla_force_host_platform_device_count=n (for trying --devices on a
    laptop; no faster). Only before TensorFlow has started; returns whether it split."""
    if keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    if tf.config.list_physical_devices("GPU") or tf.config.get_logical_device_configuration(cpu):
        return False  # GPUs to use, or the CPU already split
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(n)]
        )
    except RuntimeError:  # TensorFlow has already started
        return False
    return True


def data_parallel(devices: int | str):
    """The distribution for `devices`: None for one device, else a
    `keras.distribution.DataParallel` (JAX) or `tf.distribute.MirroredStrategy`
    (TensorFlow) over the first `count(devices)` devices."""
    n = count(devices)
    if n == 1:
        return None
    if keras.backend.backend() == "jax":
        return keras.distribution.DataParallel(devices=available()[:n])
    if keras.backend.backend() != "tensorflow":
        raise NotImplementedError("Training on several devices needs the JAX or TF backend.")
    import tensorflow as tf

    return tf.distribute.MirroredStrategy(available()[:n])


@contextlib.contextmanager
def scope(distribution) -> Iterator[None]:
    """Enter `distribution` (from `data_parallel`; None: do nothing)."""
    if distribution is None:
        yield
        return
    with distribution.scope():
        yield


def replicas() -> int:
    """How many replicas of a TensorFlow step each compute a gradient that the optimizer
    then sums (`tf.distribute.MirroredStrategy`): a replica's loss is divided by this.
    1 without a strategy and on JAX (one program over the sharded batch, whose means
    are already global)."""
    if keras.backend.backend() != "tensorflow":
        return 1
    import tensorflow as tf

    return tf.distribute.get_strategy().num_replicas_in_sync


def replica_loss(loss: Callable) -> Callable:
    """`loss` (a scalar mean over the batch) for `compile` under the current strategy:
    itself on one replica, else divided by the replicas. Keras divides a compiled loss by
    the replicas only when the loss returns per-sample values, not a scalar."""
    n = replicas()
    if n == 1:
        return loss

    @functools.wraps(loss)
    def share(y_true, y_pred):
        return loss(y_true, y_pred) / n

    return share


def synchronise_batch_norm(model: keras.Model, distribution) -> None:
    """Make `model`'s batch-norm layers use the global batch's statistics under a
    TensorFlow strategy (`synchronized`; under JAX's DataParallel they already do, since
    the whole step is one program over the sharded batch)."""
    if distribution is None or keras.backend.backend() != "tensorflow":
        return
    for layer in _layers(model):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.synchronized = True


def _layers(model) -> Iterator[keras.layers.Layer]:
    for layer in getattr(model, "layers", []):
        yield layer
        yield from _layers(layer)
