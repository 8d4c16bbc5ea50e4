"""Image-quality metrics as super-resolution papers report them (SRGAN paper Sec. 3.1):
PSNR and SSIM on the Y channel of ITU-R BT.601 YCbCr, with `crop_border` pixels (the
scale factor) removed from each side. Lessons 00 and 06 use them, with two measures of
what PSNR does not see: `detail` (how much fine detail, relative to HR) and
`grid_strength` (a periodic pattern at the upscaling factor's phase, the sub-pixel
checkerboard; lesson 02).

Images are NumPy arrays, (H, W, 3) RGB or (H, W) / (H, W, 1) grayscale, either uint8 in
[0, 255] or float in [0, 1]. Both images of a pair must use the same convention.
"""

from __future__ import annotations

import numpy as np
from skimage.metrics import structural_similarity

_BT601_Y = np.array([65.481, 128.553, 24.966]) / 255.0


def to_y(image: np.ndarray) -> np.ndarray:
    """Y (luma) of ITU-R BT.601 as MATLAB's `rgb2ycbcr` computes it, as float64 in
    [16, 235] on the 0..255 scale. Grayscale input is returned on the same 0..255 scale."""
    x = _to_255(image)
    if x.ndim == 2:
        return x
    return 16.0 + x @ _BT601_Y


def _to_255(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    x = image.astype(np.float64)
    if not np.issubdtype(image.dtype, np.integer):
        x = x * 255.0
    if x.ndim == 3 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim not in (2, 3) or (x.ndim == 3 and x.shape[-1] != 3):
        raise ValueError(
            f"Expected an (H, W, 3) RGB or (H, W) grayscale image, got shape {image.shape}."
        )
    return x


def _prepare(sr, hr, crop_border: int, y_channel: bool) -> tuple[np.ndarray, np.ndarray]:
    sr, hr = np.asarray(sr), np.asarray(hr)
    if sr.shape != hr.shape:
        raise ValueError(
            f"SR and HR images differ in shape: {sr.shape} vs {hr.shape}. Crop HR to a "
            "multiple of the scale (data.modcrop) and upscale LR by exactly that scale."
        )
    if np.issubdtype(sr.dtype, np.integer) != np.issubdtype(hr.dtype, np.integer):
        raise ValueError(
            f"SR is {sr.dtype} and HR is {hr.dtype}: pass both as uint8 in [0, 255] or "
            "both as float in [0, 1]."
        )
    to = to_y if y_channel else _to_255
    return _crop(to(sr), crop_border), _crop(to(hr), crop_border)


def _crop(image: np.ndarray, crop_border: int) -> np.ndarray:
    """`image` without `crop_border` pixels on each side (ValueError if nothing is left)."""
    if not crop_border:
        return image
    if min(image.shape[:2]) <= 2 * crop_border:
        raise ValueError(
            f"Image of {image.shape[0]}x{image.shape[1]} is too small to crop "
            f"{crop_border} pixels from each border."
        )
    return image[crop_border:-crop_border, crop_border:-crop_border]


def psnr(sr, hr, crop_border: int = 4, y_channel: bool = True) -> float:
    """Peak signal-to-noise ratio in dB on the 0..255 scale: 10 log10(255^2 / MSE).
    Returns inf for identical images."""
    sr, hr = _prepare(sr, hr, crop_border, y_channel)
    mse = np.mean((sr - hr) ** 2)
    return float("inf") if mse == 0 else float(10.0 * np.log10(255.0**2 / mse))


def ssim(sr, hr, crop_border: int = 4, y_channel: bool = True) -> float:
    """Structural similarity (Wang et al., 2004) as MATLAB and BasicSR compute it: Gaussian
    window with sigma 1.5 (11x11), population covariances, data range 255; the mean over
    channels for RGB. In [-1, 1], 1 for identical images."""
    sr, hr = _prepare(sr, hr, crop_border, y_channel)
    return float(
        structural_similarity(
            sr,
            hr,
            data_range=255.0,
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
            channel_axis=None if sr.ndim == 2 else -1,
        )
    )


def _y_cropped(image, crop_border: int) -> np.ndarray:
    return _crop(to_y(image), crop_border)


def _check_period(period: int, shape: tuple[int, ...]) -> int:
    if int(period) != period or period < 1:
        raise ValueError(f"period must be a positive integer (the scale), got {period}.")
    if min(shape[:2]) < 2 * period:
        raise ValueError(
            f"Image of {shape[0]}x{shape[1]} is too small to measure a {period}-pixel period "
            f"(needs at least {2 * period} pixels each way after cropping the border)."
        )
    return int(period)


def phase_means(band: np.ndarray, period: int) -> np.ndarray:
    """The mean of a (H, W) array over each of the period x period pixel phases:
    out[i, j] = mean of band[i::period, j::period], a (period, period) array."""
    return np.array(
        [[band[i::period, j::period].mean() for j in range(period)] for i in range(period)]
    )


def _without_phase_pattern(band: np.ndarray, period: int) -> np.ndarray:
    """`band` minus its tiled per-phase means: what is left has no period-`period` pattern."""
    pattern = phase_means(band, period)
    reps = (-(-band.shape[0] // period), -(-band.shape[1] // period))
    return band - np.tile(pattern, reps)[: band.shape[0], : band.shape[1]]


def grid_strength(image, period: int = 4, crop_border: int = 4) -> float:
    """The strength of a periodic pattern of `period` pixels (a sub-pixel "checkerboard"
    grid; use the upscaling factor) in grey levels of the Y channel (0..255 scale).

    The high-pass band (Y minus its `period` x `period` box average, a filter that lets
    any period-`period` pattern through unchanged) is averaged over each of the
    period x period pixel phases, and the spread (population standard deviation) of these
    period**2 means is returned: a zero-mean pattern of RMS amplitude `a` repeated over
    the image scores about `a`. Image content averages out over the phases, so natural
    photographs, bicubic upscales and noise score near 0 (noise of standard deviation s
    over N cells scores about s / sqrt(N)). `crop_border` pixels are removed from each side
    first, as for PSNR. Score SR and HR alike: HR's value is the floor to compare with.

    Args:
        image: (H, W, 3) RGB or (H, W) grey, uint8 in [0, 255] or float in [0, 1].
        period: the pattern's period in pixels (the scale factor), >= 1.
        crop_border: pixels removed from each side first.

    Returns:
        Grid strength in grey levels, >= 0.

    Raises:
        ValueError: bad shape, a bad period, or an image too small for the crop or period.
    """
    from scipy.ndimage import uniform_filter

    y = _y_cropped(image, crop_border)
    period = _check_period(period, y.shape)
    band = y - uniform_filter(y, period, mode="reflect")
    return float(phase_means(band, period).std())


def detail(sr, hr, crop_border: int = 4, sigma: float = 1.0, period: int = 4) -> float:
    """How much fine detail SR has relative to HR: the energy of the Y channel's
    high-pass band (the image minus its Gaussian blur of `sigma` pixels) in SR divided by
    that in HR, border cropped as for PSNR.

    A periodic pattern is not detail: before the energy is taken, each band loses its
    per-phase mean pattern over `period` x `period` pixel cells (use the scale factor),
    so a sub-pixel grid (`grid_strength`) adds nothing to the score. Natural images have
    no such pattern, so for them this changes nothing.

    1.0: as much high-frequency content as the original; bicubic and MSE-trained
    generators score well below 1 (blur); an SRGAN's invented texture raises it. It
    measures amount, not correctness: noise raises it too, so read it beside PSNR/SSIM,
    `grid_strength` and the pictures, never alone.
    """
    from scipy.ndimage import gaussian_filter

    sr, hr = _prepare(sr, hr, crop_border, y_channel=True)
    period = _check_period(period, sr.shape)
    high = [_without_phase_pattern(x - gaussian_filter(x, sigma), period) for x in (sr, hr)]
    energy_hr = float(np.mean(high[1] ** 2))
    if energy_hr == 0:
        raise ValueError("HR has no high-frequency content (a flat image): detail is undefined.")
    return float(np.mean(high[0] ** 2)) / energy_hr
