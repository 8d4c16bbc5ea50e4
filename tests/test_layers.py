import keras
import numpy as np
import pytest

from srgan_lib import layers

pytestmark = pytest.mark.backend


def depth_to_space_reference(x: np.ndarray, r: int) -> np.ndarray:
    """tf.nn.depth_to_space written with loops, as its documentation defines it."""
    b, h, w, c = x.shape
    out_c = c // (r * r)
    out = np.zeros((b, h * r, w * r, out_c), x.dtype)
    for i in range(h * r):
        for j in range(w * r):
            offset = ((i % r) * r + (j % r)) * out_c
            out[:, i, j, :] = x[:, i // r, j // r, offset : offset + out_c]
    return out


@pytest.mark.parametrize("scale,shape", [(2, (2, 3, 5, 12)), (3, (1, 4, 3, 18)), (2, (1, 1, 1, 4))])
def test_pixel_shuffle_matches_depth_to_space(scale, shape, rng):
    x = rng.standard_normal(shape).astype("float32")
    out = keras.ops.convert_to_numpy(layers.PixelShuffle(scale)(x))
    np.testing.assert_array_equal(out, depth_to_space_reference(x, scale))


def test_pixel_shuffle_in_a_model_with_unknown_size():
    inputs = keras.Input((None, None, 8))
    model = keras.Model(inputs, layers.PixelShuffle(2)(inputs))
    assert model.output_shape == (None, None, None, 2)
    assert model(np.zeros((1, 5, 7, 8), "float32")).shape == (1, 10, 14, 2)


def test_pixel_shuffle_rejects_bad_channels_and_scale():
    with pytest.raises(ValueError, match="divisible by 4"):
        layers.PixelShuffle(2).compute_output_shape((None, 4, 4, 6))
    with pytest.raises(ValueError, match="positive"):
        layers.PixelShuffle(0)


def test_pixel_shuffle_config_round_trip():
    layer = layers.PixelShuffle(4, name="shuffle")
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert isinstance(clone, layers.PixelShuffle)
    assert clone.scale == 4 and clone.name == "shuffle"


def test_residual_block_with_zero_second_conv_is_identity(rng):
    inputs = keras.Input((None, None, 16))
    model = keras.Model(inputs, layers.residual_block(inputs, filters=16, name="blk"))
    conv2 = model.get_layer("blk_conv2")
    conv2.set_weights([np.zeros_like(w) for w in conv2.get_weights()])
    x = rng.standard_normal((2, 6, 7, 16)).astype("float32")
    out = keras.ops.convert_to_numpy(model(x, training=False))
    np.testing.assert_allclose(out, x, atol=1e-6)


def test_residual_block_layout():
    inputs = keras.Input((None, None, 64))
    model = keras.Model(inputs, layers.residual_block(inputs, name="blk"))
    kinds = [type(layer).__name__ for layer in model.layers[1:]]
    assert kinds == ["Conv2D", "BatchNormalization", "PReLU", "Conv2D", "BatchNormalization", "Add"]
    prelu = model.get_layer("blk_prelu")
    assert prelu.get_weights()[0].shape == (1, 1, 64)  # one slope per channel
    assert model.get_layer("blk_bn1").momentum == 0.8


def test_upsample_block_doubles_size():
    inputs = keras.Input((None, None, 64))
    model = keras.Model(inputs, layers.upsample_block(inputs, 256))
    assert model(np.zeros((1, 3, 5, 64), "float32")).shape == (1, 6, 10, 64)


def test_icnr_repeats_one_kernel_over_the_sub_pixels():
    kernel = keras.ops.convert_to_numpy(layers.ICNR(2)((3, 3, 5, 4 * 6)))
    assert kernel.shape == (3, 3, 5, 24)
    for s in range(1, 4):  # channel s * C + c is a copy of channel c (PixelShuffle's order)
        np.testing.assert_array_equal(kernel[..., s * 6 : (s + 1) * 6], kernel[..., :6])
    assert np.std(kernel[..., :6]) > 0
    with pytest.raises(ValueError, match="divisible by 4"):
        layers.ICNR(2)((3, 3, 5, 6))
    with pytest.raises(ValueError, match="positive integer"):
        layers.ICNR(0)


@pytest.mark.parametrize("icnr", [True, False])
def test_icnr_upsampler_starts_as_nearest_neighbour(icnr, rng):
    """With ICNR each 2x2 output cell is one value (nearest-neighbour upsampling of the
    convolution's output); with plain initialisation the four sub-pixels differ."""
    inputs = keras.Input((None, None, 3))
    model = keras.Model(inputs, layers.upsample_block(inputs, 4 * 8, name="up", icnr=icnr))
    out = keras.ops.convert_to_numpy(model(rng.random((1, 6, 7, 3), dtype=np.float32)))
    cells = out.reshape(1, 6, 2, 7, 2, 8)
    spread = np.abs(cells - cells[:, :, :1, :, :1]).max()
    if icnr:
        assert spread < 1e-6
    else:
        assert spread > 0.01


def test_icnr_config_round_trip_and_keras_file_in_safe_mode(tmp_path, rng):
    init = layers.ICNR(4, keras.initializers.HeNormal(seed=3))
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(init))
    assert isinstance(clone, layers.ICNR) and clone.scale == 4
    assert isinstance(clone.initializer, keras.initializers.HeNormal)
    inputs = keras.Input((None, None, 3))
    model = keras.Model(inputs, layers.upsample_block(inputs, 16, name="up"))
    model.save(tmp_path / "up.keras")
    loaded = keras.saving.load_model(tmp_path / "up.keras", safe_mode=True)
    assert isinstance(loaded.get_layer("up_conv").kernel_initializer, layers.ICNR)
    x = rng.random((1, 5, 5, 3), dtype=np.float32)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded(x)), keras.ops.convert_to_numpy(model(x)), atol=1e-6
    )
