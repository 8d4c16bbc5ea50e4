"""Property-based bad input (Hypothesis): random bytes, random sizes and random PIL modes
thrown at `load_image`, `srgan upscale` and checkpoint and weights loading. Each call
ends in a correct result or one clear error of the library's own kind: never another
exception, a traceback, or a changed input file. Example counts are kept small for CI on
two cores (derandomized, so every CI run tries the same examples)."""

from __future__ import annotations

import io
import json
import tempfile
from pathlib import Path

import keras
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from PIL import Image

from srgan_course import cli
from srgan_lib import checkpoint_file, data, inference, models

EXAMPLES = {"bytes": 100, "modes": 60, "upscale": 25, "checkpoint": 100, "weights": 40}
common = dict(deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])

MODES = ["1", "L", "LA", "La", "P", "PA", "RGB", "RGBA", "RGBa", "RGBX", "CMYK", "YCbCr",
         "HSV", "LAB", "I", "I;16", "F"]  # fmt: skip
FORMATS = {"png": "PNG", "tif": "TIFF", "bmp": "BMP", "jpg": "JPEG", "gif": "GIF",
           "webp": "WEBP"}  # fmt: skip


def _random_image(draw_mode: str, width: int, height: int, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    base = Image.fromarray(rng.integers(0, 256, (height, width, 4), dtype=np.uint8), "RGBA")
    return base.convert(draw_mode)


@st.composite
def image_files(draw) -> tuple[bytes, str, tuple[int, int]]:
    """(encoded bytes, suffix, (width, height)) of a random image in a random mode and
    format; combinations a format cannot store are skipped."""
    mode = draw(st.sampled_from(MODES))
    suffix = draw(st.sampled_from(sorted(FORMATS)))
    width, height = draw(st.integers(1, 24)), draw(st.integers(1, 24))
    image = _random_image(mode, width, height, draw(st.integers(0, 2**16)))
    buffer = io.BytesIO()
    try:
        image.save(buffer, format=FORMATS[suffix])
    except (OSError, ValueError, KeyError):
        assume(False)
    return buffer.getvalue(), suffix, (width, height)


@settings(max_examples=EXAMPLES["bytes"], **common)
@given(raw=st.binary(max_size=2048), suffix=st.sampled_from(["png", "jpg", "gif", "bin"]))
def test_load_image_random_bytes(raw, suffix):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"x.{suffix}"
        path.write_bytes(raw)
        try:
            image = data.load_image(path)
        except data.ImageReadError as err:
            assert "\n" not in str(err) and str(path) in str(err)
        else:
            assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[-1] == 3
        assert path.read_bytes() == raw


@settings(max_examples=EXAMPLES["modes"], **common)
@given(case=image_files())
def test_load_image_any_mode_and_size(case):
    raw, suffix, (width, height) = case
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"x.{suffix}"
        path.write_bytes(raw)
        image = data.load_image(path)
        assert image.shape == (height, width, 3) and image.dtype == np.uint8
        layout = inference.read_image(path)
        assert layout.shape[:2] == (height, width) and layout.dtype == np.uint8
        assert path.read_bytes() == raw


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory) -> Path:
    keras.utils.set_random_seed(0)
    path = tmp_path_factory.mktemp("w") / "tiny.weights.h5"
    models.build_generator(scale=4, num_blocks=1, filters=4).save_weights(path)
    return path


@settings(
    max_examples=EXAMPLES["upscale"],
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(case=st.one_of(image_files(), st.tuples(st.binary(max_size=512), st.just("png"),
                                               st.just(None))))  # fmt: skip
def test_srgan_upscale_any_input(tiny_weights, case, capsys):
    raw, suffix, size = case
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"photo.{suffix}"
        path.write_bytes(raw)
        out = Path(folder) / "out"
        code = cli.main(["upscale", str(path), "-o", str(out), "--weights", str(tiny_weights)])
        err = capsys.readouterr().err
        assert "Traceback" not in err
        if code == 0:
            with Image.open(out / "photo.png") as result:
                assert size is None or result.size == (4 * size[0], 4 * size[1])
        else:
            assert code == 2 and err.strip().count("\n") == 0 and not (out / "photo.png").exists()
        assert path.read_bytes() == raw
        # Into the photo's own folder: refused for a PNG (it would replace the input).
        if suffix == "png":
            again = ["upscale", str(path), "-o", folder, "--weights", str(tiny_weights)]
            assert cli.main(again) == 2
            assert path.read_bytes() == raw
            capsys.readouterr()


def _checkpoint_bytes() -> bytes:
    """A checkpoint in `training.save_checkpoint`'s layout: arrays keyed by variable path
    (weights, optimizer state), and meta."""
    arrays = {
        "generator/head_conv/kernel": np.ones((3, 3), np.float32),
        "g_optimizer/adam/iteration": np.array(2, np.int64),
    }
    meta = {"format": 2, "epoch": 1, "step": 2, "config": {"stage": "srresnet"}}
    arrays["meta"] = np.array(json.dumps(meta))
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


GOOD_CHECKPOINT = _checkpoint_bytes()


@st.composite
def damaged(draw, good: bytes) -> bytes:
    """Random bytes, or `good` cut short or with a few bytes changed."""
    kind = draw(st.sampled_from(["random", "cut", "flip"]))
    if kind == "random":
        return draw(st.binary(max_size=len(good)))
    if kind == "cut":
        return good[: draw(st.integers(0, len(good) - 1))]
    raw = bytearray(good)
    for _ in range(draw(st.integers(1, 8))):
        raw[draw(st.integers(0, len(raw) - 1))] ^= draw(st.integers(1, 255))
    return bytes(raw)


@settings(max_examples=EXAMPLES["checkpoint"], **common)
@given(raw=damaged(GOOD_CHECKPOINT))
def test_checkpoint_loading_damaged_bytes(raw):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "last.npz"
        path.write_bytes(raw)
        try:
            meta, arrays = checkpoint_file.read(path)
        except checkpoint_file.DamagedCheckpointError as err:
            assert "\n" not in str(err) and "allow_pickle" not in str(err)
        else:  # a flip that left the file readable: the values are still well formed
            assert isinstance(meta["epoch"], int)
            assert all(a.dtype.kind in "fiu" for a in arrays.values())
        assert path.read_bytes() == raw


@settings(max_examples=EXAMPLES["weights"], **common)
@given(data_=st.data())
def test_weights_loading_damaged_bytes(tiny_weights, data_):
    good = tiny_weights.read_bytes()
    raw = data_.draw(damaged(good))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "g.weights.h5"
        path.write_bytes(raw)
        try:
            generator = models.load_generator(path)
        except models.WeightsMismatchError as err:
            assert "\n" not in str(err) and "safe_mode=False" not in str(err)
        else:
            assert inference.generator_scale(generator) == 4
        assert path.read_bytes() == raw
