"""Building blocks of the SRGAN generator (Ledig et al., CVPR 2017, Sec. 2.1, Fig. 4).

Lesson 01 meets the residual block, lesson 02 the pixel shuffle, its ICNR initialiser and
the upsampling block. Every layer and initialiser here is registered for serialization,
so models that use it save to `.keras` and load back with `safe_mode=True` (no `Lambda`
layers anywhere).
"""

from __future__ import annotations

import keras
from keras import layers, ops


@keras.saving.register_keras_serializable(package="srgan_lib")
class PixelShuffle(layers.Layer):
    """Sub-pixel convolution's rearrangement (Shi et al., CVPR 2016), a.k.a. depth-to-space.

    Input (B, H, W, C * scale**2) -> output (B, H * scale, W * scale, C), with the same
    channel order as `tf.nn.depth_to_space`: output pixel (h * scale + i, w * scale + j),
    channel c comes from input pixel (h, w), channel (i * scale + j) * C + c.
    Works for any H and W, including unknown (None) ones.
    """

    # pragma: no mutate start (Keras reads this signature; mutmut's wrapper hides it)
    def __init__(self, scale: int = 2, **kwargs):
        super().__init__(**kwargs)
        if scale < 1:
            raise ValueError(f"PixelShuffle scale must be a positive integer, got {scale}.")
        self.scale = int(scale)

    # pragma: no mutate end

    def call(self, inputs):
        r = self.scale
        shape = ops.shape(inputs)
        batch, height, width, channels = shape[0], shape[1], shape[2], inputs.shape[-1]
        out_channels = channels // (r * r)
        x = ops.reshape(inputs, (batch, height, width, r, r, out_channels))
        x = ops.transpose(x, (0, 1, 3, 2, 4, 5))  # (B, H, r, W, r, C)
        return ops.reshape(x, (batch, height * r, width * r, out_channels))

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        r = self.scale
        if channels is not None and channels % (r * r):
            raise ValueError(
                f"PixelShuffle(scale={r}) needs channels divisible by {r * r}, got {channels}."
            )
        return (
            batch,
            None if height is None else height * r,
            None if width is None else width * r,
            None if channels is None else channels // (r * r),
        )

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


@keras.saving.register_keras_serializable(package="srgan_lib")
class ICNR(keras.initializers.Initializer):
    """ICNR: initialisation of the convolution before a `PixelShuffle` so that the shuffle
    starts as nearest-neighbour upsampling (Aitken et al., 2017, "Checkerboard artifact
    free sub-pixel convolution", arXiv:1707.02937).

    A kernel of shape (kh, kw, c_in, C * scale**2) gets one kernel of shape
    (kh, kw, c_in, C) drawn from `initializer`, repeated for each of the scale**2
    sub-pixel positions (tiled along the last axis, in `PixelShuffle`'s channel order:
    channel s * C + c is a copy of channel c). All sub-pixels of an output cell then start
    equal, so a freshly initialised upsampler adds no periodic pattern; drawn
    independently (plain initialisation) they differ, and the output starts with a
    `scale`-pixel grid that training must undo (and, with an adversarial loss, may not).

    Args:
        scale: the pixel shuffle's factor (2 for the generator's x2 blocks).
        initializer: the initialiser of the sub-kernel (a name or an Initializer);
            Keras' Conv2D default "glorot_uniform" by default.
    """

    # pragma: no mutate start (Keras reads this signature; mutmut's wrapper hides it)
    def __init__(self, scale: int = 2, initializer="glorot_uniform"):
        if int(scale) != scale or scale < 1:
            raise ValueError(f"ICNR scale must be a positive integer, got {scale}.")
        self.scale = int(scale)
        self.initializer = keras.initializers.get(initializer)

    # pragma: no mutate end

    def __call__(self, shape, dtype=None):
        *window, channels = shape
        r2 = self.scale * self.scale
        if len(window) < 1 or channels % r2:
            raise ValueError(
                f"ICNR(scale={self.scale}) needs a kernel whose last dimension is divisible "
                f"by {r2}, got shape {tuple(shape)}."
            )
        kernel = self.initializer((*window, channels // r2), dtype=dtype)
        return ops.tile(kernel, (*([1] * len(window)), r2))

    def get_config(self):
        return {
            "scale": self.scale,
            "initializer": keras.initializers.serialize(self.initializer),
        }


def prelu(name: str | None = None) -> layers.PReLU:
    """PReLU with one learned slope per channel (shared over height and width), so the
    model accepts images of any size. Slopes start at 0.25, He et al.'s (2015) default:
    the SRGAN paper does not say how they start."""
    return layers.PReLU(
        alpha_initializer=keras.initializers.Constant(0.25), shared_axes=[1, 2], name=name
    )


def residual_block(x, filters: int = 64, bn_momentum: float = 0.8, name: str = "res"):
    """One of the generator's B residual blocks (paper Fig. 4):
    conv3x3-`filters`, BN, PReLU, conv3x3-`filters`, BN, then add the block's input.

    x: a (B, H, W, `filters`) tensor; returns a tensor of the same shape.
    `bn_momentum` 0.8 is common in Keras SRGAN code; the paper does not give one (Keras'
    own default is 0.99).
    """
    skip = x
    x = layers.Conv2D(filters, 3, padding="same", name=f"{name}_conv1")(x)
    x = layers.BatchNormalization(momentum=bn_momentum, name=f"{name}_bn1")(x)
    x = prelu(name=f"{name}_prelu")(x)
    x = layers.Conv2D(filters, 3, padding="same", name=f"{name}_conv2")(x)
    x = layers.BatchNormalization(momentum=bn_momentum, name=f"{name}_bn2")(x)
    return layers.Add(name=f"{name}_add")([skip, x])


def upsample_block(x, filters: int = 256, name: str = "up", icnr: bool = True):
    """x2 upsampling (paper Fig. 4): conv3x3-`filters`, pixel shuffle x2, PReLU.

    x: (B, H, W, C) -> (B, 2H, 2W, `filters` // 4).
    icnr: initialise the convolution with `ICNR(2)` (the default: no checkerboard at the
    start of training); False: Keras' plain "glorot_uniform", as the paper's code did.
    """
    initializer = ICNR(2) if icnr else "glorot_uniform"
    x = layers.Conv2D(
        filters, 3, padding="same", kernel_initializer=initializer, name=f"{name}_conv"
    )(x)
    x = PixelShuffle(2, name=f"{name}_shuffle")(x)
    return prelu(name=f"{name}_prelu")(x)
