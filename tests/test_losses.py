import keras
import numpy as np
import pytest

from srgan_lib import losses, models

pytestmark = pytest.mark.backend


@pytest.fixture(scope="module")
def vgg22():
    return losses.build_vgg_feature_extractor("vgg22", weights=None)


def test_preprocess_matches_keras_vgg19_preprocess_input(rng):
    images = rng.uniform(-1, 1, (2, 5, 6, 3)).astype("float32")
    ours = keras.ops.convert_to_numpy(losses.VGGPreprocess()(images))
    theirs = keras.applications.vgg19.preprocess_input((images + 1.0) * 127.5)
    np.testing.assert_allclose(ours, keras.ops.convert_to_numpy(theirs), atol=1e-4)


def test_feature_extractor_shapes_and_frozen(vgg22):
    features = vgg22(np.zeros((1, 32, 48, 3), "float32"))
    assert features.shape == (1, 16, 24, 128)
    assert vgg22.trainable_weights == []
    vgg54 = losses.build_vgg_feature_extractor(weights=None)
    assert vgg54(np.zeros((1, 32, 32, 3), "float32")).shape == (1, 2, 2, 512)
    assert vgg54.layers[-1].layers[-1].name == "block5_conv4"


def test_unknown_layer_lists_the_choices():
    with pytest.raises(ValueError, match=r"no layer 'block6_conv1'.*block5_conv4"):
        losses.build_vgg_feature_extractor("block6_conv1", weights=None)


def test_imagenet_download_failure_says_where_to_put_the_file(monkeypatch, tmp_path):
    def offline(*args, **kwargs):
        raise Exception("URL fetch failure: no network")

    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr("keras.src.applications.vgg19.file_utils.get_file", offline)
    with pytest.raises(losses.VGGWeightsError) as err:
        losses.build_vgg_feature_extractor(weights="imagenet")
    message = str(err.value)
    assert str(tmp_path / "models" / losses.VGG19_NOTOP_FILE) in message
    assert losses.VGG19_NOTOP_URL in message and "weights=None" in message


def test_local_weights_file_is_used_and_wrong_files_are_refused(tmp_path, rng):
    vgg = keras.applications.VGG19(include_top=False, weights=None)
    path = tmp_path / "vgg19.weights.h5"
    vgg.save_weights(path)
    extractor = losses.build_vgg_feature_extractor("block1_conv2", weights=path)
    images = rng.uniform(-1, 1, (1, 8, 8, 3)).astype("float32")
    trunk = keras.Model(vgg.input, vgg.get_layer("block1_conv2").output)
    expected = trunk(keras.applications.vgg19.preprocess_input((images + 1.0) * 127.5))
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(extractor(images)),
        keras.ops.convert_to_numpy(expected),
        rtol=1e-4,
        atol=1e-3,
    )
    models.build_generator(num_blocks=2, filters=8).save_weights(tmp_path / "g.weights.h5")
    with pytest.raises(losses.VGGWeightsError, match="does not hold VGG19"):
        losses.build_vgg_feature_extractor(weights=tmp_path / "g.weights.h5")
    with pytest.raises(losses.VGGWeightsError, match="does not exist"):
        losses.build_vgg_feature_extractor(weights=tmp_path / "missing.h5")


def test_content_loss_is_scaled_feature_mse(vgg22, rng):
    hr = rng.uniform(-1, 1, (2, 16, 16, 3)).astype("float32")
    sr = rng.uniform(-1, 1, (2, 16, 16, 3)).astype("float32")
    assert float(losses.content_loss(vgg22, hr, hr)) == 0.0
    f_hr = keras.ops.convert_to_numpy(vgg22(hr)) / 12.75
    f_sr = keras.ops.convert_to_numpy(vgg22(sr)) / 12.75
    np.testing.assert_allclose(
        float(losses.content_loss(vgg22, hr, sr)), np.mean((f_hr - f_sr) ** 2), rtol=1e-4
    )


def test_pixel_mse(rng):
    hr = rng.uniform(-1, 1, (2, 4, 4, 3)).astype("float32")
    np.testing.assert_allclose(float(losses.pixel_mse(hr, hr + 0.5)), 0.25, rtol=1e-6)


def test_adversarial_losses_values_and_safety():
    half = np.full((4, 1), 0.5, "float32")
    np.testing.assert_allclose(float(losses.generator_adversarial_loss(half)), np.log(2), rtol=1e-5)
    # -log D(G(lr)): small when D takes SR for real (target 1, not 0: that would be log 4/3).
    quarter = np.full((4, 1), 0.25, "float32")
    np.testing.assert_allclose(
        float(losses.generator_adversarial_loss(quarter)), np.log(4), rtol=1e-5
    )
    real, fake = np.full((4, 1), 0.8, "float32"), np.full((4, 1), 0.1, "float32")
    np.testing.assert_allclose(
        float(losses.discriminator_loss(real, fake)), -np.log(0.8) - np.log(0.9), rtol=1e-5
    )
    np.testing.assert_allclose(
        float(losses.discriminator_loss(half, half)), 2 * np.log(2), rtol=1e-5
    )
    ones, zeros = np.ones((4, 1), "float32"), np.zeros((4, 1), "float32")
    assert float(losses.discriminator_loss(ones, zeros)) < 1e-5
    worst = float(losses.discriminator_loss(zeros, ones))
    assert np.isfinite(worst) and worst > 30
    assert np.isfinite(float(losses.generator_adversarial_loss(zeros)))
    np.testing.assert_allclose(float(losses.perceptual_loss(2.0, 10.0)), 2.01, rtol=1e-6)
