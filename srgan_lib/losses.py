"""SRGAN's losses (Ledig et al., CVPR 2017, Sec. 2.2): pixel MSE, the VGG19 content loss
and the adversarial losses. Lesson 04 builds the content loss; lesson 05 uses them all.

All losses take images in [-1, 1], float, (B, H, W, 3), and return a scalar.
"""

from __future__ import annotations

from pathlib import Path

import keras
from keras import layers, ops

CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
VGG_FEATURE_SCALE = 1.0 / 12.75  # paper Sec. 3.2: brings VGG losses to the MSE's scale
ADVERSARIAL_WEIGHT = 1e-3  # paper Eq. 3
VGG_LAYERS = {
    "vgg22": "block2_conv2",  # paper's VGG2,2: 2nd conv (after ReLU) before the 2nd pooling
    "vgg54": "block5_conv4",  # paper's VGG5,4: 4th conv (after ReLU) before the 5th pooling
}
VGG19_NOTOP_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
VGG19_NOTOP_URL = (
    "https://storage.googleapis.com/tensorflow/keras-applications/vgg19/" + VGG19_NOTOP_FILE
)
_EPSILON = 1e-7


class VGGWeightsError(RuntimeError):
    """The VGG19 weights could not be downloaded or loaded."""


@keras.saving.register_keras_serializable(package="srgan_lib")
class VGGPreprocess(layers.Layer):
    """Images in [-1, 1], RGB -> VGG19's own ("caffe") input: [0, 255], BGR, ImageNet mean
    subtracted per channel. The same as `keras.applications.vgg19.preprocess_input` on
    [0, 255] RGB, as a layer that saves and loads without `Lambda`."""

    def call(self, inputs):
        x = (inputs + 1.0) * 127.5
        x = ops.flip(x, axis=-1)
        return x - ops.convert_to_tensor(CAFFE_MEAN_BGR, dtype=x.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape


def _vgg19_layer_names() -> list[str]:
    convs = {1: 2, 2: 2, 3: 4, 4: 4, 5: 4}
    return [f"block{b}_conv{c}" for b, n in convs.items() for c in range(1, n + 1)] + [
        f"block{b}_pool" for b in convs
    ]


def _keras_cache_path() -> Path:
    import os

    home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))
    return home / "models" / VGG19_NOTOP_FILE


def build_vgg_feature_extractor(
    layer: str = "block5_conv4", weights: str | Path | None = "imagenet"
) -> keras.Model:
    """A frozen VGG19 cut after `layer`, taking images in [-1, 1].

    Input: (B, H, W, 3) in [-1, 1], any H and W. Output: the layer's activations (after
    its ReLU), e.g. (B, H/16, W/16, 512) for "block5_conv4" or (B, H/2, W/2, 128) for
    "block2_conv2". `layer` also accepts the paper's names "vgg54" and "vgg22".
    `weights`: "imagenet" (downloaded once by Keras), a local VGG19 (no top) weights file,
    or None for random weights (the perceptual loss is then not the paper's).
    """
    layer = VGG_LAYERS.get(layer, layer)
    names = _vgg19_layer_names()
    if layer not in names:
        raise ValueError(f"VGG19 has no layer {layer!r}. Choose one of: {', '.join(names)}.")
    if weights == "imagenet":
        try:
            vgg = keras.applications.VGG19(include_top=False, weights="imagenet")
        except Exception as err:  # Keras raises a bare Exception on a failed fetch
            raise VGGWeightsError(
                f"Could not download the ImageNet VGG19 weights ({err}).\n"
                f"Keras caches them at {_keras_cache_path()}: download {VGG19_NOTOP_URL} "
                "on a machine with internet and place the file there, or pass a local "
                "weights file. weights=None (or --vgg-weights none, or "
                "SRGAN_VGG_WEIGHTS=none) runs with random VGG weights, which is fine for "
                "trying the code but is not the paper's perceptual loss."
            ) from err
    else:
        vgg = keras.applications.VGG19(include_top=False, weights=None)
        if weights is not None:
            path = Path(weights)
            if not path.is_file():
                raise VGGWeightsError(f"VGG19 weights file {path} does not exist.")
            try:
                vgg.load_weights(str(path))
            except Exception as err:
                raise VGGWeightsError(
                    f"{path} does not hold VGG19 (include_top=False) weights: {err}\n"
                    f"Use the Keras file {VGG19_NOTOP_FILE}, or one written by "
                    "`keras.applications.VGG19(include_top=False).save_weights(...)`."
                ) from err
    trunk = keras.Model(vgg.input, vgg.get_layer(layer).output, name=f"vgg19_to_{layer}")
    images = keras.Input(shape=(None, None, 3), name="image")
    features = trunk(VGGPreprocess(name="caffe_preprocess")(images))
    extractor = keras.Model(images, features, name=f"vgg19_{layer}")
    extractor.trainable = False
    return extractor


def pixel_mse(hr, sr):
    """Mean squared error over all pixels and channels (paper Eq. 4), images in [-1, 1]."""
    return ops.mean(ops.square(ops.cast(hr, "float32") - ops.cast(sr, "float32")))


def content_loss(vgg: keras.Model, hr, sr, feature_scale: float = VGG_FEATURE_SCALE):
    """VGG loss (paper Eq. 5): MSE between VGG features of HR and SR, each feature map
    multiplied by `feature_scale` (1/12.75) first. hr, sr: (B, H, W, 3) in [-1, 1]."""
    hr_features = ops.cast(vgg(hr, training=False), "float32") * feature_scale
    sr_features = ops.cast(vgg(sr, training=False), "float32") * feature_scale
    return ops.mean(ops.square(hr_features - sr_features))


def _binary_crossentropy(target: float, prob):
    prob = ops.clip(ops.cast(prob, "float32"), _EPSILON, 1.0 - _EPSILON)
    return -ops.mean(target * ops.log(prob) + (1.0 - target) * ops.log(1.0 - prob))


def generator_adversarial_loss(fake_prob):
    """-log D(G(LR)) averaged over the batch (paper Eq. 6, the non-saturating form).
    fake_prob: D's outputs on SR images, (B, 1) in (0, 1). Safe at 0 and 1."""
    return _binary_crossentropy(1.0, fake_prob)


def discriminator_loss(real_prob, fake_prob):
    """Binary cross-entropy of D: real HR labelled 1, SR labelled 0 (paper Eq. 2).
    real_prob, fake_prob: D's outputs, (B, 1) in (0, 1). Safe at 0 and 1."""
    return _binary_crossentropy(1.0, real_prob) + _binary_crossentropy(0.0, fake_prob)


def perceptual_loss(content, adversarial, adversarial_weight: float = ADVERSARIAL_WEIGHT):
    """SRGAN's generator loss (paper Eq. 3): content + 1e-3 * adversarial."""
    return content + adversarial_weight * adversarial
