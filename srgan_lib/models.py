"""The SRResNet generator and the SRGAN discriminator (Ledig et al., CVPR 2017, Fig. 4).

Lesson 02 assembles the generator, lesson 03 the discriminator. Defaults are the paper's.
"""

from __future__ import annotations

import io
import math
import re
import zipfile
from pathlib import Path

import h5py
import keras
from keras import layers

from srgan_lib import files, validation
from srgan_lib.choices import SCALES
from srgan_lib.layers import prelu, residual_block, upsample_block
from srgan_lib.shipped import (  # noqa: F401  (public here: the lessons use models.pretrained_*)
    PRETRAINED_DIR,
    PretrainedIntegrityError,
    pretrained_card,
    pretrained_names,
    pretrained_path,
)


def build_generator(
    scale: int = 4,
    num_blocks: int = 16,
    filters: int = 64,
    bn_momentum: float = 0.8,
    icnr: bool = True,
) -> keras.Model:
    """SRResNet, the generator G of SRGAN (paper Sec. 2.1, Fig. 4, top).

    Input: LR images in [0, 1], float32, (B, h, w, 3), any h and w.
    Output: SR images in [-1, 1] (tanh), (B, scale*h, scale*w, 3).
    Layout: conv9x9-`filters` + PReLU; `num_blocks` residual blocks; conv3x3 + BN + the long
    skip from the first PReLU; log2(`scale`) x (conv3x3-4*`filters`, pixel shuffle x2,
    PReLU); conv9x9-3; tanh. With the defaults: 1,550,659 trainable parameters.
    The tanh is our addition (the paper's Fig. 4 ends with the convolution): it keeps SR
    in the range of the HR targets. `icnr`: the convolutions before the pixel shuffles
    start with `layers.ICNR` (default; Aitken et al., 2017), so the untrained generator
    paints no sub-pixel grid; False gives them Keras' plain initialisation.
    """
    validation.check_choice("scale", scale, SCALES)
    validation.check_int("num_blocks", num_blocks, minimum=1)
    validation.check_int("filters", filters, minimum=1)
    validation.check_number("bn_momentum", bn_momentum, 0.0, 1.0)
    lr = keras.Input(shape=(None, None, 3), name="lr")
    x = layers.Conv2D(filters, 9, padding="same", name="head_conv")(lr)
    x = head = prelu(name="head_prelu")(x)
    for i in range(num_blocks):
        x = residual_block(x, filters, bn_momentum, name=f"res{i + 1}")
    x = layers.Conv2D(filters, 3, padding="same", name="body_conv")(x)
    x = layers.BatchNormalization(momentum=bn_momentum, name="body_bn")(x)
    x = layers.Add(name="long_skip")([head, x])
    for i in range(int(math.log2(scale))):
        x = upsample_block(x, 4 * filters, name=f"up{i + 1}", icnr=icnr)
    # float32 even under a mixed-precision policy: SR images keep their full precision.
    sr = layers.Conv2D(3, 9, padding="same", activation="tanh", name="tail_conv", dtype="float32")(
        x
    )
    return keras.Model(lr, sr, name=f"srresnet_x{scale}_b{num_blocks}")


def build_discriminator(
    hr_size: int = 96, filters: int = 64, bn_momentum: float = 0.8
) -> keras.Model:
    """The SRGAN discriminator D (paper Fig. 4, bottom).

    Input: HR or SR images in [-1, 1], float32, (B, `hr_size`, `hr_size`, 3).
    Output: the probability that each image is a real HR image, (B, 1), in (0, 1).
    Layout: 8 conv3x3 layers with filters, filters, 2f, 2f, 4f, 4f, 8f, 8f and stride 2 on
    every second one, BN after all but the first, LeakyReLU(0.2); then flatten, dense 1024,
    LeakyReLU(0.2), dense 1, sigmoid. With the defaults: 23,565,505 trainable parameters.
    """
    if hr_size % 16:
        raise ValueError(
            f"hr_size must be a multiple of 16 (four stride-2 convolutions), got {hr_size}."
        )
    hr = keras.Input(shape=(hr_size, hr_size, 3), name="image")
    x = hr
    for i, (mult, stride) in enumerate(
        [(1, 1), (1, 2), (2, 1), (2, 2), (4, 1), (4, 2), (8, 1), (8, 2)]
    ):
        x = layers.Conv2D(filters * mult, 3, strides=stride, padding="same", name=f"conv{i + 1}")(x)
        if i > 0:
            x = layers.BatchNormalization(momentum=bn_momentum, name=f"bn{i + 1}")(x)
        x = layers.LeakyReLU(negative_slope=0.2, name=f"lrelu{i + 1}")(x)
    # The paper flattens before the dense layers. (Some Keras 2 implementations apply Dense
    # to the 4-D feature map, which gives a per-location score instead; we follow the paper.)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(filters * 16, name="dense1024")(x)
    x = layers.LeakyReLU(negative_slope=0.2, name="lrelu_dense")(x)
    # float32 even under a mixed-precision policy, so the sigmoid does not saturate early.
    prob = layers.Dense(1, activation="sigmoid", name="prob", dtype="float32")(x)
    return keras.Model(hr, prob, name=f"discriminator_{hr_size}")


def count_trainable(model: keras.Model) -> int:
    """Number of trainable scalar parameters of `model`."""
    return sum(math.prod(w.shape) for w in model.trainable_weights)


class WeightsMismatchError(ValueError):
    """A weights file does not fit the model it is loaded into."""


def describe_generator_weights(path: str | Path) -> dict[str, int]:
    """Read the architecture a generator weights file holds, without building a model.

    path: a `.weights.h5` file written by `model.save_weights`, or a `.keras` file.
    Returns {"scale": ..., "num_blocks": ..., "filters": ...}. Raises
    WeightsMismatchError if the file holds no SRResNet generator.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No weights file at {path}.")
    try:
        if path.suffix == ".keras":
            with zipfile.ZipFile(path) as archive, archive.open("model.weights.h5") as raw:
                return _describe_h5(h5py.File(io.BytesIO(raw.read()), "r"), path)
        with h5py.File(path, "r") as weights:
            return _describe_h5(weights, path)
    except (OSError, KeyError, ValueError, TypeError, zipfile.BadZipFile) as err:
        raise WeightsMismatchError(
            f"{path} is not a Keras weights file ({err}). Pass a `.weights.h5` or `.keras` "
            "file saved from a generator of srgan_lib."
        ) from err


def _describe_h5(weights: h5py.File, path: Path) -> dict[str, int]:
    names = list(weights["layers"].keys()) if "layers" in weights else []
    kinds = [re.sub(r"_\d+$", "", name) for name in names]
    n_conv, n_bn = kinds.count("conv2d"), kinds.count("batch_normalization")
    if "dense" in kinds or "p_re_lu" not in kinds or n_bn % 2 == 0:
        raise WeightsMismatchError(
            f"{path} does not hold an SRResNet generator (it has {n_conv} convolutions, "
            f"{kinds.count('dense')} dense layers). Is it a discriminator's or another "
            "model's weights?"
        )
    num_blocks = (n_bn - 1) // 2
    upsamples = n_conv - 2 * num_blocks - 3
    filters = int(weights["layers"]["conv2d"]["vars"]["0"].shape[-1])
    return {"scale": 2**upsamples, "num_blocks": num_blocks, "filters": filters}


def load_generator(
    path: str | Path,
    scale: int | None = None,
    num_blocks: int | None = None,
    filters: int | None = None,
) -> keras.Model:
    """Build a generator and load weights into it, from `.weights.h5` or `.keras`.

    The architecture is read from the file. A file exported by the library has its
    sha256 beside it (NAME.sha256, `files.write_digest`): when present it is checked
    first, so a damaged file is refused rather than loaded into a model that outputs
    nonsense (HDF5 itself checks nothing).

    Args:
        path: a `.weights.h5` or `.keras` file of a generator of srgan_lib.
        scale, num_blocks, filters: the architecture expected (None: any).

    Returns:
        The generator: LR (B, h, w, 3) in [0, 1] -> SR (B, scale*h, scale*w, 3) in [-1, 1].

    Raises:
        FileNotFoundError: no file at `path`.
        WeightsMismatchError: the file differs from its recorded sha256, is damaged or
            not a generator's, or its architecture differs from the one asked for,
            naming both, e.g. "holds a x2 generator with 8 blocks; expected x4 with 16:
            pass --scale 2 ...".
    """
    expected = files.recorded_digest(path)
    if expected is not None:
        try:
            files.check_digest(
                path,
                expected,
                f"its digest file {files.digest_path(path).name}",
                "Export it again (or copy it again from the run folder it came from).",
            )
        except files.DigestMismatchError as err:
            raise WeightsMismatchError(str(err)) from err
    found = describe_generator_weights(path)
    wanted = {"scale": scale, "num_blocks": num_blocks, "filters": filters}
    wrong = {k: v for k, v in wanted.items() if v is not None and v != found[k]}
    if wrong:
        raise WeightsMismatchError(
            f"{path} holds a x{found['scale']} generator with {found['num_blocks']} blocks "
            f"of {found['filters']} filters; expected "
            + ", ".join(f"{k}={v}" for k, v in wrong.items())
            + ". Pass "
            + " ".join(f"--{k.replace('_', '-')} {found[k]}" for k in wrong)
            + " or use weights of the architecture you asked for."
        )
    try:
        if Path(path).suffix == ".keras":
            return keras.saving.load_model(path, safe_mode=True)
        generator = build_generator(**found)
        generator.load_weights(path)
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as err:
        if "safe_mode" in str(err):
            raise WeightsMismatchError(
                f"{path} holds code (a Lambda layer or a custom function) that safe mode "
                "refuses to run: a generator of srgan_lib needs none. Use its .weights.h5 "
                "file, or a .keras file saved by srgan_lib from a source you trust."
            ) from err
        raise WeightsMismatchError(
            f"Cannot load the weights in {path}: the file is damaged (cut or overwritten) or "
            "was not saved from a generator of srgan_lib. Export it again or use another copy."
        ) from err
    return generator


def pretrained(name: str = "srresnet") -> keras.Model:
    """A generator trained by the course's own recipe and shipped with the library:
    "srresnet" (pixel MSE) or "srgan" (SRResNet fine-tuned adversarially; see its card's
    `variant`). x4, 16 blocks; LR (B, h, w, 3) in [0, 1] -> SR (B, 4h, 4w, 3) in [-1, 1].
    The file's sha256 is checked against the card first (PretrainedIntegrityError).
    How each was trained and how it scores: `pretrained_card(name)`, `srgan models list`.
    """
    return load_generator(pretrained_path(name))


def pretrained_srresnet() -> keras.Model:
    """The shipped SRResNet: `pretrained("srresnet")`."""
    return pretrained("srresnet")


def interpolate_generators(
    first: keras.Model, second: keras.Model, alpha: float, into: keras.Model | None = None
) -> keras.Model:
    """Network interpolation (Wang et al., ESRGAN, ECCV-W 2018, Sec. 3.4): a generator
    whose every weight (BN statistics included) is (1 - alpha) * first's + alpha * second's.

    first, second: generators of one architecture (e.g. `pretrained("srresnet")` and
    `pretrained("srgan")`). alpha: 0 gives first, 1 second; values outside [0, 1]
    extrapolate. into: a generator of the same architecture to receive the weights (no
    new model is built, e.g. for a slider); by default a clone of `first`.
    Returns the interpolated generator (LR in [0, 1] -> SR in [-1, 1], as its parents).
    Raises ValueError when the two architectures differ.
    """
    a, b = first.get_weights(), second.get_weights()
    if len(a) != len(b) or any(x.shape != y.shape for x, y in zip(a, b, strict=False)):
        raise ValueError(
            f"Cannot interpolate {first.name} and {second.name}: their weights differ in number "
            "or shape. Interpolate two generators of one architecture (scale, blocks, filters)."
        )
    target = into if into is not None else keras.models.clone_model(first)
    target.set_weights([(1.0 - alpha) * x + alpha * y for x, y in zip(a, b, strict=True)])
    return target
