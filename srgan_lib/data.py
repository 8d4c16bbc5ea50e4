"""Images, the x4 bicubic degradation, aligned LR/HR crops and the training feed.

Lesson 00 builds these. Conventions used everywhere in `srgan_lib`:
- images on disk and in memory are uint8 RGB, (H, W, 3), values 0..255;
- the generator takes LR in [0, 1] float32 and returns SR in [-1, 1]; HR targets are in
  [-1, 1] float32 (paper Sec. 3.2). `to_lr_input`, `to_hr_target` and `to_uint8` convert.
"""

from __future__ import annotations

import importlib.resources
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from srgan_lib import validation
from srgan_lib.files import atomic_write

# PIL modes with one grey plane: HIGH_DEPTH_MODES (16/32-bit, scaled to 8 bits when
# read) and the 8-bit ones, with or without alpha.
HIGH_DEPTH_MODES = ("I", "I;16", "I;16B", "I;16L", "F")
GRAYSCALE_MODES = ("1", "L", "LA", "La", *HIGH_DEPTH_MODES)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
SAMPLE_IMAGE_FILES = {
    "astronaut": "astronaut.png",
    "chelsea": "chelsea.png",
    "coffee": "coffee.png",
    "rocket": "rocket.jpg",
    "motorcycle": "motorcycle_left.png",
}


class ImageReadError(ValueError):
    """An image file could not be read or is unusable."""


class IncompleteSetError(FileNotFoundError):
    """A benchmark set lacks some of its files, or holds none."""


class AnimatedImageWarning(UserWarning):
    """An animated image (GIF, APNG, WebP) was read: only its first frame is used."""


# ---------------------------------------------------------------------------- images


def open_image(path: str | Path) -> Image.Image:
    """Open and decode an image file as PIL sees it (its own mode kept), with the EXIF
    orientation applied. Raises ImageReadError for missing, truncated or non-image files."""
    path = Path(path)
    if not path.is_file():
        raise ImageReadError(f"No image file at {path}. Check the path.")
    try:
        with Image.open(path) as img:
            img.load()
            frames = getattr(img, "n_frames", 1)
            if frames > 1:
                warnings.warn(
                    f"{path} is animated ({frames} frames): only its first frame is used.",
                    AnimatedImageWarning,
                    stacklevel=2,
                )
            return ImageOps.exif_transpose(img)
    except Image.DecompressionBombError as err:
        raise ImageReadError(
            f"Refusing to decode {path}: {str(err).split(' could')[0].rstrip(',')} (a "
            "decompression bomb?). Shrink the image, or raise PIL.Image.MAX_IMAGE_PIXELS if "
            "you trust it."
        ) from err
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as err:
        raise ImageReadError(
            f"Cannot read {path} as an image ({err}). The file may be truncated or not an "
            "image: re-download or re-export it, or remove it from the folder."
        ) from err


def load_image(path: str | Path) -> np.ndarray:
    """Read any image PIL can open as uint8 RGB, (H, W, 3).

    Grayscale is repeated over 3 channels, alpha is dropped, palettes are expanded, 16-bit
    images are scaled to 8 bits, and the EXIF orientation is applied.
    Raises ImageReadError for missing, truncated or non-image files.
    """
    return to_rgb_array(open_image(path))


def to_rgb_array(img: Image.Image) -> np.ndarray:
    """A PIL image of any mode as uint8 RGB (H, W, 3), converted as `load_image` says."""
    if img.mode in HIGH_DEPTH_MODES:
        arr = np.asarray(img, dtype=np.float64)
        peak = 65535.0 if arr.max() > 255 else 255.0
        if img.mode == "F" and arr.max() <= 1.0:
            peak = 1.0
        arr = np.clip(np.round(arr * (255.0 / peak)), 0, 255).astype(np.uint8)
        return np.repeat(arr[..., None], 3, axis=-1)
    if img.mode != "RGB":
        img = img.convert("RGBA" if "transparency" in img.info else img.mode).convert("RGB")
    return np.asarray(img, dtype=np.uint8).copy()


def save_image(image: np.ndarray, path: str | Path) -> Path:
    """Write a uint8 (H, W, 3) or (H, W) image atomically (`path` is the old file or the
    complete new one, never half of it); the format follows the suffix."""
    img = Image.fromarray(np.asarray(image, dtype=np.uint8))
    image_format = Image.registered_extensions().get(Path(path).suffix.lower())
    return atomic_write(path, lambda tmp: img.save(tmp, format=image_format))


def to_lr_input(image: np.ndarray) -> np.ndarray:
    """uint8 0..255 -> float32 in [0, 1], the generator's input range."""
    return np.asarray(image, dtype=np.float32) / 255.0


def to_hr_target(image: np.ndarray) -> np.ndarray:
    """uint8 0..255 -> float32 in [-1, 1], the range of HR targets and SR outputs."""
    return np.asarray(image, dtype=np.float32) / 127.5 - 1.0


def to_uint8(image) -> np.ndarray:
    """SR or HR in [-1, 1] (any array-like, e.g. a backend tensor) -> uint8 0..255."""
    x = np.asarray(keras.ops.convert_to_numpy(image), dtype=np.float32)
    return np.clip(np.round((x + 1.0) * 127.5), 0, 255).astype(np.uint8)


# ------------------------------------------------------------------ the degradation


def modcrop(image: np.ndarray, scale: int) -> np.ndarray:
    """Crop the bottom and right edges so height and width are multiples of `scale`."""
    height, width = image.shape[:2]
    return image[: height - height % scale, : width - width % scale]


def _cubic(x: np.ndarray) -> np.ndarray:
    ax = np.abs(x)
    return (1.5 * ax**3 - 2.5 * ax**2 + 1) * (ax <= 1) + (
        -0.5 * ax**3 + 2.5 * ax**2 - 4 * ax + 2
    ) * ((ax > 1) & (ax <= 2))


def _resize_weights(in_len: int, out_len: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """MATLAB imresize's contributions: the cubic kernel (a = -0.5), stretched by 1/scale
    when shrinking (antialiasing), with symmetric padding at the borders."""
    width = 4.0 / scale if scale < 1 else 4.0
    stretch = min(scale, 1.0)
    centres = np.arange(1, out_len + 1) / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(centres - width / 2)
    taps = int(np.ceil(width)) + 2
    index = left[:, None] + np.arange(taps)[None, :]
    weights = stretch * _cubic(stretch * (centres[:, None] - index))
    weights /= weights.sum(axis=1, keepdims=True)
    mirror = np.concatenate([np.arange(in_len), np.arange(in_len)[::-1]])
    index = mirror[np.mod(index - 1, 2 * in_len).astype(int)]
    used = np.any(weights != 0, axis=0)
    return weights[:, used], index[:, used]


def _resize_axis(x: np.ndarray, out_len: int, scale: float, axis: int) -> np.ndarray:
    weights, index = _resize_weights(x.shape[axis], out_len, scale)
    x = np.moveaxis(x, axis, 0)
    out = np.zeros((out_len,) + x.shape[1:], dtype=np.float64)
    extra = (slice(None),) + (None,) * (x.ndim - 1)
    for k in range(weights.shape[1]):
        out += weights[:, k][extra] * x[index[:, k]]
    return np.moveaxis(out, 0, axis)


def bicubic_downscale(hr: np.ndarray, scale: int = 4) -> np.ndarray:
    """The paper's degradation: antialiased bicubic downsampling by `scale`, written to
    follow MATLAB's `imresize(hr, 1/scale, 'bicubic')`, which made the benchmark LR files.

    hr: uint8 (H, W, 3) with H and W multiples of `scale` (see `modcrop`).
    Returns uint8 (H/scale, W/scale, 3). Against the LR files distributed with Set5,
    Set14 and BSD100: 88-89 % of pixels identical, 99.5-99.7 % within one grey level,
    mean absolute difference 0.12 (PIL's bicubic: 0.18); the rest differ at the borders.
    """
    height, width = hr.shape[:2]
    if height % scale or width % scale:
        raise ValueError(
            f"Image of {height}x{width} is not a multiple of scale {scale}: "
            "apply data.modcrop(image, scale) first."
        )
    x = np.asarray(hr, dtype=np.float64)
    x = _resize_axis(x, height // scale, 1 / scale, axis=0)
    x = _resize_axis(x, width // scale, 1 / scale, axis=1)
    return np.clip(np.round(x), 0, 255).astype(np.uint8)


def bicubic_upscale(lr: np.ndarray, scale: int = 4) -> np.ndarray:
    """The bicubic baseline: PIL's bicubic upsampling by `scale`, uint8 in and out.
    (H, W, 3) -> (scale*H, scale*W, 3)."""
    height, width = lr.shape[:2]
    img = Image.fromarray(np.asarray(lr, dtype=np.uint8))
    return np.asarray(img.resize((width * scale, height * scale), Image.Resampling.BICUBIC))


# ------------------------------------------------------------------------- pairs


@dataclass
class ImagePair:
    """An HR image and its LR counterpart, both uint8 RGB.
    hr: (H, W, 3) with H, W multiples of `scale`; lr: (H/scale, W/scale, 3)."""

    name: str
    hr: np.ndarray
    lr: np.ndarray

    @property
    def scale(self) -> int:
        return self.hr.shape[0] // self.lr.shape[0]


def make_pairs(images: Mapping[str, np.ndarray], scale: int = 4) -> list[ImagePair]:
    """HR images -> pairs: modcrop each, then compute its LR once with
    `bicubic_downscale`. images: {name: uint8 (H, W, 3)}."""
    pairs = []
    for name, image in images.items():
        hr = modcrop(image, scale)
        pairs.append(ImagePair(name, hr, bicubic_downscale(hr, scale)))
    return pairs


def list_images(folder: str | Path) -> list[Path]:
    """Image files directly in `folder`, sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"No folder {folder}.")
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def load_folder(folder: str | Path, limit: int | None = None) -> dict[str, np.ndarray]:
    """The images in `folder` (the first `limit` by name, or all) as
    {file stem: uint8 (H, W, 3)}. Raises if there is none."""
    files = list_images(folder)[:limit]
    if not files:
        raise FileNotFoundError(
            f"No images ({', '.join(IMAGE_SUFFIXES)}) in {folder}. Point to a folder of HR images."
        )
    return {path.stem: load_image(path) for path in files}


def sample_images() -> dict[str, np.ndarray]:
    """Five natural RGB photographs shipped inside scikit-image (no download):
    {name: uint8 (H, W, 3)}, each between 300 and 640 pixels on a side."""
    folder = importlib.resources.files("skimage") / "data"
    return {name: load_image(Path(str(folder / file))) for name, file in SAMPLE_IMAGE_FILES.items()}


def benchmark_status(name: str, root: str | Path, scale: int = 4) -> tuple[list[str], list[str]]:
    """Which files of the benchmark `<root>/<name>/` are there: (file names present in
    both `HR/` and `LR_bicubic_x<scale>/`, missing files as "HR/img_003.png"). The expected
    files are the registry's for the sets `srgan data download` knows (at x4), else every
    image name found in either folder."""
    from srgan_lib.downloads import REMOTES

    folder = Path(root) / name
    hr_dir, lr_dir = folder / "HR", folder / f"LR_bicubic_x{scale}"
    hr = {p.name for p in list_images(hr_dir)} if hr_dir.is_dir() else set()
    lr = {p.name for p in list_images(lr_dir)} if lr_dir.is_dir() else set()
    if name in REMOTES and scale == 4:
        expected = sorted(Path(f.filename).name for f in REMOTES[name].files if "HR/" in f.filename)
    else:
        expected = sorted(hr | lr)
    missing = [f"HR/{n}" for n in expected if n not in hr]
    missing += [f"{lr_dir.name}/{n}" for n in expected if n not in lr]
    return [n for n in expected if n in hr and n in lr], sorted(missing)


def load_benchmark(
    name: str, root: str | Path, scale: int = 4, partial: bool = False
) -> list[ImagePair]:
    """A benchmark set laid out as `<root>/<name>/HR/*.png` and
    `<root>/<name>/LR_bicubic_x<scale>/*.png` (matching file names), as pairs.
    Raises IncompleteSetError naming the missing files when the set is incomplete (unless
    `partial`: then the complete pairs present) or holds no pair at all."""
    folder = Path(root) / name
    hr_dir, lr_dir = folder / "HR", folder / f"LR_bicubic_x{scale}"
    if not hr_dir.is_dir() or not lr_dir.is_dir():
        raise FileNotFoundError(
            f"No benchmark {name} at {folder} (expected {hr_dir.name}/ and {lr_dir.name}/). "
            f"Download it with `srgan data download {name}` or pass the folder that holds it."
        )
    present, missing = benchmark_status(name, root, scale)
    if not present or (missing and not partial):
        shown = ", ".join(missing[:5]) + (
            f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        )
        raise IncompleteSetError(
            f"The benchmark {name} at {folder} "
            + (f"is incomplete: missing {shown}. " if missing else "holds no images. ")
            + f"Run `srgan data download {name}` to complete it"
            + (", or score the images present with --partial (partial=True)." if present else ".")
        )
    pairs = []
    for file_name in present:
        hr, lr = load_image(hr_dir / file_name), load_image(lr_dir / file_name)
        if hr.shape[0] != lr.shape[0] * scale or hr.shape[1] != lr.shape[1] * scale:
            raise ValueError(f"{file_name}: HR {hr.shape[:2]} is not {scale}x LR {lr.shape[:2]}.")
        pairs.append(ImagePair(Path(file_name).stem, hr, lr))
    return pairs


def load_div2k(
    root: str | Path, split: str = "train", scale: int = 4, limit: int | None = None
) -> list[ImagePair]:
    """DIV2K as pairs, using its shipped bicubic LR images (no downscaling needed):
    `<root>/DIV2K_<split>_HR/0001.png` with `<root>/DIV2K_<split>_LR_bicubic/X4/0001x4.png`.
    `root` is the folder `downloads.download("DIV2K")` returns. `limit` keeps the first N
    images: all 800 training images take about 7.5 GB of memory as uint8."""
    root = Path(root)
    hr_dir = root / f"DIV2K_{split}_HR"
    lr_dir = root / f"DIV2K_{split}_LR_bicubic" / f"X{scale}"
    if not hr_dir.is_dir() or not lr_dir.is_dir():
        raise FileNotFoundError(
            f"No DIV2K {split} set at {root} (expected {hr_dir.name}/ and "
            f"{lr_dir.relative_to(root)}/). Download it with `srgan data download DIV2K`."
        )
    pairs = []
    for hr_path in list_images(hr_dir)[:limit]:
        lr = load_image(lr_dir / f"{hr_path.stem}x{scale}{hr_path.suffix}")
        hr = modcrop(load_image(hr_path), scale)
        pairs.append(ImagePair(hr_path.stem, hr[: lr.shape[0] * scale, : lr.shape[1] * scale], lr))
    return pairs


def load_training_pairs(
    source: str | Path = "sample", scale: int = 4, limit: int | None = None
) -> list[ImagePair]:
    """Training pairs from "sample" (the bundled photographs), "div2k" (the downloaded
    DIV2K training set, under `$SRGAN_DATA_DIR` or `data/`), or any folder of HR images
    (LR computed once per image with `bicubic_downscale`); `limit` keeps the first N.
    Raises validation.ParameterError naming `data` and its allowed values for anything else."""
    validation.check_data_source("data", str(source))
    if str(source) == "sample":
        return make_pairs(dict(list(sample_images().items())[:limit]), scale)
    if str(source).lower() == "div2k":
        from srgan_lib.downloads import data_dir

        return load_div2k(data_dir() / "DIV2K", "train", scale, limit)
    return make_pairs(load_folder(source, limit), scale)


# ------------------------------------------------------------------------- crops


def random_crop_pair(
    pair: ImagePair, hr_size: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """An aligned random crop: LR (hr_size/scale)^2 and the HR hr_size^2 it came from."""
    scale = pair.scale
    lr_size = hr_size // scale
    height, width = pair.lr.shape[:2]
    if height < lr_size or width < lr_size:
        raise ImageReadError(
            f"Image {pair.name!r} is {pair.hr.shape[0]}x{pair.hr.shape[1]}, smaller than the "
            f"{hr_size}x{hr_size} HR crop: remove it or use a smaller hr_size."
        )
    top = int(rng.integers(0, height - lr_size + 1))
    left = int(rng.integers(0, width - lr_size + 1))
    lr = pair.lr[top : top + lr_size, left : left + lr_size]
    hr = pair.hr[top * scale : (top + lr_size) * scale, left * scale : (left + lr_size) * scale]
    return lr, hr


def augment_pair(
    lr: np.ndarray, hr: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """The same random horizontal flip and 90-degree rotation applied to LR and HR."""
    if rng.random() < 0.5:
        lr, hr = lr[:, ::-1], hr[:, ::-1]
    turns = int(rng.integers(0, 4))
    return np.rot90(lr, turns), np.rot90(hr, turns)


def center_crops(pairs: Iterable[ImagePair], hr_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Fixed central crops for validation pictures: uint8 LR (N, s, s, 3), HR (N, S, S, 3)."""
    lrs, hrs = [], []
    for pair in pairs:
        lr_size = hr_size // pair.scale
        top = (pair.lr.shape[0] - lr_size) // 2
        left = (pair.lr.shape[1] - lr_size) // 2
        lrs.append(pair.lr[top : top + lr_size, left : left + lr_size])
        s = pair.scale
        hrs.append(pair.hr[top * s : (top + lr_size) * s, left * s : (left + lr_size) * s])
    return np.stack(lrs), np.stack(hrs)


class CropDataset(keras.utils.PyDataset):
    """Random aligned LR/HR crops with flips and rotations, for `model.fit` on any backend.

    Yields (lr, hr): lr float32 (B, hr_size/scale, hr_size/scale, 3) in [0, 1], hr float32
    (B, hr_size, hr_size, 3) in [-1, 1]. Batch `index` of epoch `epoch` depends only on
    (seed, epoch, index), so a resumed run sees exactly the batches it would have seen;
    set `epoch` before resuming. Images smaller than the crop are rejected up front.
    """

    def __init__(
        self,
        pairs: list[ImagePair],
        batch_size: int = 16,
        hr_size: int = 96,
        steps_per_epoch: int = 100,
        seed: int = 0,
        augment: bool = True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not pairs:
            raise ValueError("CropDataset needs at least one image pair.")
        validation.check_int("batch_size", batch_size, minimum=1)
        validation.check_int("hr_size", hr_size, minimum=pairs[0].scale)
        validation.check_int("steps_per_epoch", steps_per_epoch, minimum=1)
        for pair in pairs:
            if hr_size % pair.scale:
                raise ValueError(f"hr_size {hr_size} is not a multiple of scale {pair.scale}.")
            if min(pair.lr.shape[:2]) * pair.scale < hr_size:
                raise ImageReadError(
                    f"Image {pair.name!r} is {pair.hr.shape[0]}x{pair.hr.shape[1]}, smaller "
                    f"than the {hr_size}x{hr_size} HR crop: remove it or lower hr_size."
                )
        self.pairs = pairs
        self.batch_size = batch_size
        self.hr_size = hr_size
        self.steps_per_epoch = steps_per_epoch
        self.seed = seed
        self.augment = augment
        self.epoch = 0

    def __len__(self) -> int:
        return self.steps_per_epoch

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        return self.batch(self.epoch, index)

    def batch(self, epoch: int, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Batch `index` of `epoch`: a pure function of (seed, epoch, index), safe to call
        from several threads and ahead of time (see `training.feed.PrefetchFeed`)."""
        rng = np.random.default_rng([self.seed, epoch, index])
        choice = rng.integers(0, len(self.pairs), self.batch_size)
        scale = self.pairs[0].scale
        lr_size = self.hr_size // scale
        lrs = np.empty((self.batch_size, lr_size, lr_size, 3), np.uint8)
        hrs = np.empty((self.batch_size, self.hr_size, self.hr_size, 3), np.uint8)
        for k, i in enumerate(choice):
            lr, hr = random_crop_pair(self.pairs[i], self.hr_size, rng)
            if self.augment:
                lr, hr = augment_pair(lr, hr, rng)
            lrs[k], hrs[k] = lr, hr
        return to_lr_input(lrs), to_hr_target(hrs)

    def on_epoch_end(self) -> None:
        self.epoch += 1
