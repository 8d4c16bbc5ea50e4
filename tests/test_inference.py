"""srgan_lib.inference: any image layout in, the same layout out at 4x, and tiles that
stitch to the whole-image result."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from PIL import Image

from srgan_lib import data, inference, models

BLOCKS = 2


@pytest.fixture(scope="module")
def generator() -> keras.Model:
    keras.utils.set_random_seed(0)
    return models.build_generator(scale=4, num_blocks=BLOCKS, filters=16)


@pytest.fixture(scope="module")
def lr_image() -> np.ndarray:
    """An odd-sized LR image, 37 x 53, of smooth shapes plus noise."""
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:37, 0:53]
    base = 128 + 90 * np.sin(xx / 5.0)[..., None] * np.cos(yy / 7.0)[..., None]
    noisy = base + rng.normal(0, 20, (37, 53, 3))
    return np.clip(noisy, 0, 255).astype(np.uint8)


def assert_same_up_to_rounding(a: np.ndarray, b: np.ndarray) -> None:
    """Equal but for float rounding: convolutions over windows of other shapes may round
    the last bit differently, which flips a pixel sitting on a .5 boundary by one grey
    level; a seam (too little overlap) differs by more, or in many pixels."""
    diff = np.abs(a.astype(int) - b.astype(int))
    assert diff.max() <= 1, f"differs by up to {diff.max()} grey levels"
    assert np.count_nonzero(diff) <= max(1, diff.size // 10_000), np.count_nonzero(diff)


def test_receptive_margin_counts_the_layers():
    # head 4 + 2 per block + body 1 + 3 for the upsampling blocks and the tail
    assert inference.receptive_margin(16, 4) == 40
    assert inference.receptive_margin(2, 4) == 12
    assert inference.receptive_margin(16, 2) == inference.receptive_margin(16, 8) == 40


@pytest.mark.backend
def test_generator_scale(generator):
    assert inference.generator_scale(generator) == 4
    assert inference.generator_scale(models.build_generator(2, num_blocks=1, filters=8)) == 2


@pytest.mark.backend
def test_whole_image_is_four_times_larger(generator, lr_image):
    sr = inference.upscale(generator, lr_image)
    assert sr.dtype == np.uint8 and sr.shape == (148, 212, 3)


@pytest.mark.backend
@pytest.mark.parametrize("extra", [0, 3])
def test_tiles_equal_whole_when_overlap_covers_receptive_field(generator, lr_image, extra):
    whole = inference.upscale(generator, lr_image)
    overlap = inference.receptive_margin(BLOCKS) + extra
    tiled = inference.upscale(generator, lr_image, tile=16, overlap=overlap)
    assert_same_up_to_rounding(tiled, whole)


@pytest.mark.backend
def test_tiles_within_one_grey_level_with_less_overlap(generator, lr_image):
    whole = inference.upscale(generator, lr_image).astype(int)
    overlap = inference.receptive_margin(BLOCKS) - 2
    tiled = inference.upscale(generator, lr_image, tile=16, overlap=overlap).astype(int)
    assert np.abs(tiled - whole).max() <= 1
    no_overlap = inference.upscale(generator, lr_image, tile=16, overlap=0).astype(int)
    assert np.abs(no_overlap - whole).max() > 1  # seams show without context


@pytest.mark.backend
def test_receptive_margin_is_tight(generator, lr_image):
    """One pixel less context than the margin changes the float output; the margin not."""
    x = data.to_lr_input(lr_image)
    margin = inference.receptive_margin(BLOCKS)
    whole, short, enough = (
        inference._super_resolve(generator, x, tile, overlap, convert=np.asarray)
        for tile, overlap in ((None, 0), (16, margin - 1), (16, margin))
    )
    assert np.abs(short - whole).max() > 1e-5
    assert np.abs(enough - whole).max() < 1e-5


def test_windows_cover_the_axis_with_equal_sizes():
    cuts = inference._windows(53, 16, 8)
    assert [(a, b) for a, b, _, _ in cuts] == [(0, 16), (16, 32), (32, 48), (48, 53)]
    assert {high - low for _, _, low, high in cuts} == {32}
    for start, stop, low, high in cuts:
        assert low <= max(0, start - 8) and high >= min(53, stop + 8)
    assert inference._windows(10, 16, 8) == [(0, 10, 0, 10)]


@pytest.mark.backend
def test_grayscale_in_grayscale_out(generator, lr_image):
    gray = lr_image[..., 0]
    sr2 = inference.upscale(generator, gray)
    sr3 = inference.upscale(generator, gray[..., None])
    assert sr2.shape == (148, 212) and sr3.shape == (148, 212, 1)
    np.testing.assert_array_equal(sr3[..., 0], sr2)
    rgb = inference.upscale(generator, np.repeat(gray[..., None], 3, axis=-1))
    np.testing.assert_array_equal(sr2, np.asarray(Image.fromarray(rgb).convert("L")))


@pytest.mark.backend
def test_rgba_keeps_alpha_upscaled_by_bicubic(generator, lr_image):
    alpha = np.tile(np.linspace(0, 255, 53).astype(np.uint8), (37, 1))
    rgba = np.concatenate([lr_image, alpha[..., None]], axis=-1)
    sr = inference.upscale(generator, rgba, tile=16, overlap=12)
    assert sr.shape == (148, 212, 4)
    assert_same_up_to_rounding(sr[..., :3], inference.upscale(generator, lr_image))
    np.testing.assert_array_equal(sr[..., 3], data.bicubic_upscale(alpha))


@pytest.mark.backend
def test_bad_layouts_are_rejected(generator):
    with pytest.raises(ValueError, match="uint8"):
        inference.upscale(generator, np.zeros((8, 8, 3), np.float32))
    with pytest.raises(ValueError, match="C in 1..4"):
        inference.upscale(generator, np.zeros((8, 8, 5), np.uint8))


@pytest.mark.parametrize(
    ("mode", "shape"),
    [("L", (9, 11)), ("LA", (9, 11, 2)), ("RGB", (9, 11, 3)), ("RGBA", (9, 11, 4))],
)
def test_read_image_keeps_layout(tmp_path, mode, shape):
    pixels = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    path = tmp_path / "x.png"
    Image.fromarray(pixels, mode=mode).save(path)
    np.testing.assert_array_equal(inference.read_image(path), pixels)


@pytest.mark.parametrize("mode", ["1", "L", "LA", "I;16", "I", "F"])
def test_every_grayscale_mode_reads_as_one_plane(tmp_path, mode):
    """inference.read_image and data.load_image agree on which PIL modes are grey
    (one list, data.GRAYSCALE_MODES) and on their 8-bit values."""
    assert mode in data.GRAYSCALE_MODES
    path = tmp_path / "x.tif"
    Image.new(mode, (7, 5), 1).save(path)
    image = inference.read_image(path)
    assert image.shape == ((5, 7, 2) if "A" in mode else (5, 7))
    grey = image[..., 0] if image.ndim == 3 else image
    np.testing.assert_array_equal(grey, data.load_image(path)[..., 0])


def test_read_image_palette_with_transparency(tmp_path):
    img = Image.new("P", (6, 5))
    img.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    img.putpixel((2, 3), 1)
    path = tmp_path / "p.png"
    img.save(path, transparency=0)
    out = inference.read_image(path)
    assert out.shape == (5, 6, 4)
    assert out[3, 2].tolist() == [255, 0, 0, 255] and out[0, 0, 3] == 0


@pytest.mark.backend
def test_upscale_files_keeps_stems(generator, tmp_path, lr_image):
    data.save_image(lr_image, tmp_path / "in" / "photo.jpg")
    data.save_image(lr_image[..., 0], tmp_path / "in" / "scan.bmp")
    written = inference.upscale_files(
        generator, [tmp_path / "in" / "photo.jpg", tmp_path / "in" / "scan.bmp"], tmp_path / "out"
    )
    assert [p.name for p in written] == ["photo.png", "scan.png"]
    assert Image.open(written[0]).size == (212, 148) and Image.open(written[0]).mode == "RGB"
    assert Image.open(written[1]).mode == "L"


def test_upscale_files_refuses_shared_stems(tmp_path):
    with pytest.raises(ValueError, match="share the file stem"):
        inference.upscale_files(None, [tmp_path / "a.png", tmp_path / "x" / "a.jpg"], tmp_path)
