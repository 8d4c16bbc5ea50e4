"""What every lesson's set-up cell needs: seeding, and a line saying which Keras backend
and which device are in use."""

from __future__ import annotations

import os
import sys

import keras


def set_seed(seed: int = 0) -> None:
    """Seed Python, NumPy and the Keras backend for reproducible runs."""
    keras.utils.set_random_seed(seed)


def describe_runtime() -> str:
    """One line such as "Keras 3.15.1, backend tensorflow, device: CPU (no GPU found: ...)".
    On Colab without a GPU it also says how to get one."""
    backend = keras.backend.backend()
    devices: list[str] = []
    if backend == "tensorflow":
        import tensorflow as tf

        devices = [d.name for d in tf.config.list_physical_devices("GPU")]
    elif backend == "jax":
        import jax

        devices = [d.device_kind for d in jax.devices() if d.platform != "cpu"]
    elif backend == "torch":
        import torch

        if torch.cuda.is_available():
            devices = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    device = ", ".join(devices) if devices else "CPU (no GPU found)"
    if not devices and "google.colab" in sys.modules:
        device += "; for a GPU choose Runtime > Change runtime type > T4 GPU, then rerun"
    return f"Keras {keras.__version__}, backend {backend}, device: {device}"


def vgg_weights_setting(value: str | None = None) -> str | None:
    """Resolve the VGG19 weights to use: `value` if given and non-empty, else the
    environment variable SRGAN_VGG_WEIGHTS, else "imagenet". "none" (any case) gives None
    (random weights); anything else is "imagenet" or a path to a weights file."""
    value = value or os.environ.get("SRGAN_VGG_WEIGHTS") or "imagenet"
    return None if value.lower() == "none" else value
