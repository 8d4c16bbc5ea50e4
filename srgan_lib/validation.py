"""Checks for the values users type: CLI options, `--config` JSON, lesson parameters and
library arguments. Each raises ValueError (ParameterError) naming the parameter as the
user wrote it, the value received and the values allowed, e.g.
"hr_size must be an integer >= 4, got the string '48'"."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path


class ParameterError(ValueError):
    """A value outside what a parameter allows."""


def _shown(value) -> str:
    return f"the string {value!r}" if isinstance(value, str) else repr(value)


def check_int(
    name: str,
    value,
    minimum: int | None = None,
    maximum: int | None = None,
    multiple_of: int | None = None,
) -> int:
    """`value` as an int (bools, floats and strings refused) within the bounds."""
    if isinstance(value, bool) or not isinstance(value, int):
        bounds = f" >= {minimum}" if minimum is not None else ""
        raise ParameterError(f"{name} must be an integer{bounds}, got {_shown(value)}.")
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        low = "" if minimum is None else f">= {minimum}"
        high = "" if maximum is None else f"<= {maximum}"
        raise ParameterError(
            f"{name} must be an integer {' and '.join(b for b in (low, high) if b)}, got {value}."
        )
    if multiple_of and value % multiple_of:
        raise ParameterError(f"{name} must be a multiple of {multiple_of}, got {value}.")
    return value


def check_number(
    name: str, value, low: float, high: float | None = None, open_low: bool = False
) -> float:
    """`value` as a finite float in [low, high) (or (low, high) with open_low)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ParameterError(f"{name} must be a number, got {_shown(value)}.")
    too_low = value <= low if open_low else value < low
    if too_low or (high is not None and value >= high):
        bracket = "(" if open_low else "["
        upper = f"{high})" if high is not None else "inf)"
        raise ParameterError(f"{name} must be in {bracket}{low}, {upper}, got {value}.")
    return float(value)


def check_choice(name: str, value, choices: Sequence):
    """`value` if it is one of `choices` (compared exactly: 4 is not "4")."""
    if not any(type(value) is type(c) and value == c for c in choices):
        allowed = ", ".join(repr(c) for c in choices)
        raise ParameterError(f"{name} must be one of {allowed}, got {_shown(value)}.")
    return value


def check_text(name: str, value, allow_none: bool = False) -> str | None:
    """A non-empty string (or None when allowed)."""
    if value is None and allow_none:
        return None
    if not isinstance(value, str) or not value:
        kind = "a non-empty string" + (" or None" if allow_none else "")
        raise ParameterError(f"{name} must be {kind}, got {_shown(value)}.")
    return value


def check_data_source(name: str, value) -> str:
    """ "sample", "div2k" or an existing folder of images."""
    check_text(name, value)
    if value == "sample" or value.lower() == "div2k" or Path(value).is_dir():
        return value
    raise ParameterError(
        f'{name} must be "sample" (the bundled photographs), "div2k" (after `srgan data '
        f"download DIV2K`) or a folder of HR images; there is no folder {value!r}."
    )


def check_train_config(config) -> None:
    """The type and range of every field of a `training.TrainConfig` (its `validate` calls
    this first), so that `--config` JSON, presets and lesson parameters fail at once with
    the field's name: num_blocks -1, hr_size 0 or "48" are refused before any file is
    written."""
    from srgan_lib.training import CONTENT_LOSSES, PRECISIONS, STAGES

    c = config
    check_choice("stage", c.stage, STAGES)
    check_choice("scale", c.scale, (2, 4, 8))
    check_int("hr_size", c.hr_size, minimum=c.scale, multiple_of=c.scale)
    for name in ("batch_size", "num_blocks", "filters", "disc_filters", "epochs"):
        check_int(name, getattr(c, name), minimum=1)
    for name in ("steps_per_epoch", "steps_per_execution", "save_interval"):
        check_int(name, getattr(c, name), minimum=1)
    check_number("bn_momentum", c.bn_momentum, 0.0, 1.0)
    check_number("learning_rate", c.learning_rate, 0.0, open_low=True)
    check_number("lr_after_decay", c.lr_after_decay, 0.0, open_low=True)
    if c.lr_decay_at is not None:
        check_number("lr_decay_at", c.lr_decay_at, 0.0, 1.0, open_low=True)
    check_number("beta_1", c.beta_1, 0.0, 1.0)
    check_choice("content_loss", c.content_loss, CONTENT_LOSSES)
    check_number("adversarial_weight", c.adversarial_weight, 0.0)
    check_text("vgg_weights", c.vgg_weights, allow_none=True)
    check_text("init_from", c.init_from, allow_none=True)
    check_choice("precision", c.precision, PRECISIONS)
    if c.jit_compile != "auto":
        check_choice("jit_compile", c.jit_compile, (True, False))
    check_text("data", c.data)
    if c.max_images is not None:
        check_int("max_images", c.max_images, minimum=1)
    check_choice("augment", c.augment, (True, False))
    check_int("prefetch", c.prefetch, minimum=0)
    if c.devices != "all" and (
        isinstance(c.devices, bool) or not isinstance(c.devices, int) or c.devices < 1
    ):
        raise ParameterError(f'devices must be an integer >= 1 or "all", got {_shown(c.devices)}.')
    check_int("seed", c.seed, minimum=0)
