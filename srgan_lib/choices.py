"""The values the library's options accept, each written once here and importable without
Keras, so that the validators, the models and `srgan --help` share them cheaply."""

from __future__ import annotations

SCALES = (2, 4, 8)
"""Upscaling factors of the generator: log2(scale) pixel-shuffle x2 blocks."""

STAGES = ("srresnet", "srgan")
"""Training stages (paper Sec. 3.2): SRResNet (pixel MSE), then SRGAN (adversarial)."""

CONTENT_LOSSES = ("vgg54", "vgg22", "mse")
"""SRGAN content losses (paper Sec. 2.2.1, Table 1): VGG5,4 or VGG2,2 features, or pixels."""

RECIPE_CONTENT_LOSSES = ("mse", "vgg54")
"""The SRGAN content losses the shipped models' recipe offers (SRGAN-MSE, SRGAN-VGG54)."""

PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")
"""Keras dtype policies training may run under."""

PRESETS = ("quick", "paper")
"""Named training settings (`TrainConfig.preset`)."""

SETS = ("Set5", "Set14", "BSD100")
"""The benchmark sets of the paper's Table 2, evaluated by default."""

BENCHMARK_SETS = (*SETS, "Urban100")
"""Every benchmark set `srgan data download` knows."""
