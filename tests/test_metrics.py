import numpy as np
import pytest
from skimage.metrics import structural_similarity

from srgan_lib import data, metrics


def test_y_channel_is_bt601():
    white = np.full((1, 1, 3), 255, np.uint8)
    black = np.zeros((1, 1, 3), np.uint8)
    red = np.array([[[255, 0, 0]]], np.uint8)
    assert metrics.to_y(white)[0, 0] == pytest.approx(235.0)
    assert metrics.to_y(black)[0, 0] == pytest.approx(16.0)
    assert metrics.to_y(red)[0, 0] == pytest.approx(16 + 65.481)
    np.testing.assert_allclose(metrics.to_y(white / 255.0), metrics.to_y(white))


def test_psnr_values(random_image):
    assert metrics.psnr(random_image, random_image) == float("inf")
    hr = np.full((20, 20, 3), 100, np.uint8)
    sr = hr.copy()
    sr[..., :] = 110  # every Y value is off by 10 * (65.481 + 128.553 + 24.966) / 255
    dy = 10 * 219.0 / 255
    assert metrics.psnr(sr, hr) == pytest.approx(10 * np.log10(255**2 / dy**2))
    assert metrics.psnr(sr, hr, y_channel=False) == pytest.approx(10 * np.log10(255**2 / 100))
    assert metrics.psnr(sr / 255.0, hr / 255.0) == pytest.approx(metrics.psnr(sr, hr))


def test_border_is_cropped(random_image):
    sr = random_image.copy()
    sr[:4] = 0
    sr[:, -4:] = 255
    assert metrics.psnr(sr, random_image, crop_border=4) == float("inf")
    assert metrics.psnr(sr, random_image, crop_border=0) < 20


def test_ssim_is_skimage_gaussian_ssim_on_y(rng):
    hr = rng.integers(0, 256, (32, 40, 3), dtype=np.uint8)
    sr = np.clip(hr.astype(int) + rng.integers(-20, 21, hr.shape), 0, 255).astype(np.uint8)
    expected = structural_similarity(
        metrics.to_y(sr)[4:-4, 4:-4],
        metrics.to_y(hr)[4:-4, 4:-4],
        data_range=255,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
    )
    assert metrics.ssim(sr, hr) == pytest.approx(expected)
    assert metrics.ssim(hr, hr) == pytest.approx(1.0)
    assert 0 < metrics.ssim(sr, hr, y_channel=False) < 1


@pytest.mark.parametrize("a, b, expected", [(100, 110, 0.99547644), (16, 235, 0.13564320)])
def test_ssim_of_flat_images_is_the_luminance_term(a, b, expected):
    """Reference values by hand: for flat images the variances and covariance are 0, so
    SSIM = (2ab + C1) / (a^2 + b^2 + C1) with C1 = (0.01 * 255)^2 = 6.5025 (Wang et al.,
    IEEE TIP 2004, Eq. 13 with K1 = 0.01, L = 255): 22006.5025 / 22106.5025 = 0.99547644
    for (100, 110) and 7526.5025 / 55487.5025 = 0.13564320 for (16, 235)."""
    sr, hr = np.full((24, 24), a, np.uint8), np.full((24, 24), b, np.uint8)
    assert metrics.ssim(sr, hr) == pytest.approx(expected, abs=1e-8)
    assert metrics.ssim(hr, sr) == pytest.approx(expected, abs=1e-8)


def test_ssim_of_flat_rgb_images_is_taken_on_y():
    """Grey RGB 100 and 110 have Y = 16 + 219 v / 255 = 101.882353 and 110.470588, so
    SSIM = (2ab + C1) / (a^2 + b^2 + C1) = 22516.5094 / 22590.2672 = 0.99673498."""
    sr, hr = np.full((24, 24, 3), 100, np.uint8), np.full((24, 24, 3), 110, np.uint8)
    assert metrics.ssim(sr, hr) == pytest.approx(0.99673498, abs=1e-8)


def test_grayscale_and_bad_inputs(rng):
    gray = rng.integers(0, 256, (20, 20), dtype=np.uint8)
    assert metrics.psnr(gray, gray) == float("inf")
    assert metrics.psnr(gray[..., None], gray[..., None], crop_border=0) == float("inf")
    assert metrics.ssim(gray, gray) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="differ in shape"):
        metrics.psnr(gray, gray[:10])
    with pytest.raises(ValueError, match="both as uint8"):
        metrics.psnr(gray, gray / 255.0)
    with pytest.raises(ValueError, match="too small"):
        metrics.psnr(gray[:8, :8], gray[:8, :8])
    with pytest.raises(ValueError, match="RGB or"):
        metrics.psnr(np.zeros((8, 8, 2), np.uint8), np.zeros((8, 8, 2), np.uint8))


@pytest.mark.parametrize("name,reference", [("Set5", 28.43), ("Set14", 25.99), ("BSD100", 25.96)])
def test_bicubic_reference_psnr_on_benchmarks(name, reference, benchmarks_dir):
    """As the paper's MATLAB-based scripts score them: RGB images on BT.601's Y, the
    single-channel Set14/img_003 on its own grey values (paper Table 2: 28.43, 25.99, 25.94)."""
    from srgan_lib import evaluation

    results = evaluation.evaluate({"bicubic": "bicubic"}, sets=[name], root=benchmarks_dir)
    assert results.summary[0]["psnr"] == pytest.approx(reference, abs=0.01)


def test_grey_benchmark_image_is_scored_on_its_grey_values(benchmarks_dir):
    """Set14/img_003 is a single-channel file: the Y of its RGB copy is 16 + 219/255 x
    grey, which shrinks every error by 219/255 and adds 20 log10(255/219) = 1.32 dB."""
    from srgan_lib import evaluation

    assert evaluation.grey_images(benchmarks_dir / "Set14" / "HR") == {"img_003"}
    pair = next(p for p in data.load_benchmark("Set14", benchmarks_dir) if p.name == "img_003")
    sr = data.bicubic_upscale(pair.lr)
    grey = metrics.psnr(sr[..., 0], pair.hr[..., 0])
    results = evaluation.evaluate({"bicubic": "bicubic"}, sets=["Set14"], root=benchmarks_dir)
    row = next(r for r in results.per_image if r["image"] == "img_003")
    assert row["channel"] == "grey" and row["psnr"] == pytest.approx(grey, abs=1e-9)
    assert metrics.psnr(sr, pair.hr) - grey == pytest.approx(20 * np.log10(255 / 219), abs=1e-6)
    assert {r["channel"] for r in results.per_image if r["image"] != "img_003"} == {"Y"}


def test_detail_is_one_for_the_original_below_for_blur_above_for_noise():
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(0)
    hr = gaussian_filter(rng.uniform(0, 255, (64, 64)), 1.0).astype(np.uint8)
    blurred = gaussian_filter(hr.astype(float), 1.5).round().astype(np.uint8)
    noisy = np.clip(hr + rng.normal(0, 20, hr.shape), 0, 255).astype(np.uint8)
    assert metrics.detail(hr, hr) == 1.0
    assert metrics.detail(blurred, hr) < 0.5 < 1.5 < metrics.detail(noisy, hr)
    with pytest.raises(ValueError, match="no high-frequency content"):
        metrics.detail(hr, np.full_like(hr, 7))


def _grid(shape: tuple[int, int], rms: float, seed: int = 0) -> np.ndarray:
    """A zero-mean 4x4 pattern of RMS `rms` grey levels, tiled over an (H, W) image."""
    cell = np.random.default_rng(seed).standard_normal((4, 4))
    cell = (cell - cell.mean()) / cell.std() * rms
    return np.tile(cell, (shape[0] // 4 + 1, shape[1] // 4 + 1))[: shape[0], : shape[1]]


def _natural_y() -> np.ndarray:
    """skimage's coffee photograph as grey Y, float in [0, 1] (Y / 255), 400x600."""
    import skimage.data

    return metrics.to_y(skimage.data.coffee()) / 255.0


def test_phase_means_recover_a_tiled_pattern():
    pattern = _grid((4, 4), 3.0)
    image = np.tile(pattern, (5, 7))[:19, :27]  # not whole cells: phases are still exact
    np.testing.assert_allclose(metrics.phase_means(image, 4), pattern, atol=1e-12)


@pytest.mark.parametrize("rms", [0.5, 1.0, 3.0])
def test_a_grid_raises_grid_strength_by_its_amplitude_and_not_detail(rms):
    hr = _natural_y()
    gridded = hr + _grid(hr.shape, rms) / 255.0
    before, after = metrics.grid_strength(hr), metrics.grid_strength(gridded)
    assert before < 0.1
    assert after - before == pytest.approx(rms, rel=0.1)
    assert metrics.detail(gridded, hr) == pytest.approx(1.0, abs=0.002)
    # what the grid would add if detail counted periodic energy (period 1 removes no pattern)
    assert metrics.detail(gridded, hr, period=1) > 1.0 + 0.005 * rms**2


def test_natural_images_and_bicubic_upscales_have_little_grid(benchmarks_dir):
    import skimage.data

    for name in ("camera", "astronaut", "coffee", "chelsea"):
        assert metrics.grid_strength(getattr(skimage.data, name)()) < 0.2, name
    for pair in data.load_benchmark("Set5", benchmarks_dir):
        assert metrics.grid_strength(pair.hr) < 0.5, pair.name
        assert metrics.grid_strength(data.bicubic_upscale(pair.lr)) < 0.1, pair.name


def test_noise_is_detail_but_not_a_grid():
    rng = np.random.default_rng(1)
    hr = _natural_y()
    noisy = hr + rng.normal(0, 20, hr.shape) / 255.0
    assert metrics.grid_strength(noisy) - metrics.grid_strength(hr) < 0.2
    assert metrics.detail(noisy, hr) > 1.5


def test_grid_strength_of_uint8_float_and_rgb_agree_and_bad_inputs():
    image = np.clip(255 * _natural_y()[:64, :80] + _grid((64, 80), 4.0), 0, 255).round()
    rgb = np.repeat(image[..., None], 3, axis=-1).astype(np.uint8)
    grey = metrics.grid_strength(image.astype(np.uint8))
    # RGB grey levels v have Y = 16 + 219 v / 255: the pattern shrinks by 219 / 255
    assert metrics.grid_strength(rgb) == pytest.approx(grey * 219 / 255)
    assert metrics.grid_strength(rgb / 255.0) == pytest.approx(metrics.grid_strength(rgb))
    assert metrics.grid_strength(image, period=1) == 0.0
    with pytest.raises(ValueError, match="positive integer"):
        metrics.grid_strength(image, period=0)
    with pytest.raises(ValueError, match="too small to measure"):
        metrics.grid_strength(image[:12, :12], period=4)
    with pytest.raises(ValueError, match="too small to crop"):
        metrics.grid_strength(image[:8, :8])
