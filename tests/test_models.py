import keras
import numpy as np
import pytest

from srgan_lib import models, shipped

pytestmark = pytest.mark.backend


def test_paper_generator_has_1_550_659_trainable_parameters():
    assert models.count_trainable(models.build_generator()) == 1_550_659


def test_paper_discriminator_has_23_565_505_trainable_parameters():
    assert models.count_trainable(models.build_discriminator()) == 23_565_505


@pytest.mark.parametrize(
    "scale,size,expected", [(4, (23, 37), (92, 148)), (2, (5, 3), (10, 6)), (8, (3, 4), (24, 32))]
)
def test_generator_output_shape_and_range(scale, size, expected, rng):
    generator = models.build_generator(scale=scale, num_blocks=2, filters=16)
    lr = rng.random((2, *size, 3), dtype=np.float32)
    sr = keras.ops.convert_to_numpy(generator(lr, training=False))
    assert sr.shape == (2, *expected, 3)
    assert sr.min() >= -1.0 and sr.max() <= 1.0
    # Push the last convolution far out of [-1, 1]: tanh must squash it to +-1.
    tail = generator.get_layer("tail_conv")
    tail.bias.assign(np.array([10.0, -10.0, 0.0], "float32"))
    sr = keras.ops.convert_to_numpy(generator(lr, training=False))
    assert sr.min() >= -1.0 and sr.max() <= 1.0
    assert sr[..., 0].min() > 0.99 and sr[..., 1].max() < -0.99


def test_generator_rejects_unsupported_scale():
    with pytest.raises(ValueError, match="scale must be one of"):
        models.build_generator(scale=3)


def test_discriminator_outputs_probabilities(rng):
    discriminator = models.build_discriminator(hr_size=32, filters=8)
    prob = keras.ops.convert_to_numpy(discriminator(rng.uniform(-1, 1, (3, 32, 32, 3))))
    assert prob.shape == (3, 1)
    assert np.all((prob > 0) & (prob < 1))
    with pytest.raises(ValueError, match="multiple of 16"):
        models.build_discriminator(hr_size=40)


def test_discriminator_layout_follows_paper():
    discriminator = models.build_discriminator()
    convs = [layer for layer in discriminator.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [c.filters for c in convs] == [64, 64, 128, 128, 256, 256, 512, 512]
    assert [c.strides[0] for c in convs] == [1, 2, 1, 2, 1, 2, 1, 2]
    assert discriminator.get_layer("flatten").output.shape == (None, 6 * 6 * 512)
    assert discriminator.get_layer("dense1024").units == 1024
    assert "bn1" not in [layer.name for layer in discriminator.layers]


@pytest.mark.parametrize("which", ["generator", "discriminator"])
def test_keras_file_round_trip_in_safe_mode(which, tmp_path, rng):
    if which == "generator":
        model = models.build_generator(num_blocks=2, filters=16)
        x = rng.random((1, 9, 11, 3), dtype=np.float32)
    else:
        model = models.build_discriminator(hr_size=32, filters=8)
        x = rng.uniform(-1, 1, (2, 32, 32, 3)).astype("float32")
    path = tmp_path / f"{which}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded(x, training=False)),
        keras.ops.convert_to_numpy(model(x, training=False)),
        atol=1e-6,
    )


def test_load_generator_reads_architecture_from_weights(tmp_path, rng):
    generator = models.build_generator(scale=2, num_blocks=3, filters=8)
    generator.save_weights(tmp_path / "g.weights.h5")
    generator.save(tmp_path / "g.keras")
    for name in ("g.weights.h5", "g.keras"):
        assert models.describe_generator_weights(tmp_path / name) == {
            "scale": 2,
            "num_blocks": 3,
            "filters": 8,
        }
    loaded = models.load_generator(tmp_path / "g.weights.h5")
    x = rng.random((1, 5, 6, 3), dtype=np.float32)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded(x, training=False)),
        keras.ops.convert_to_numpy(generator(x, training=False)),
        atol=1e-6,
    )


def test_weights_of_another_architecture_are_refused_clearly(tmp_path):
    models.build_generator(scale=2, num_blocks=3, filters=8).save_weights(tmp_path / "g.weights.h5")
    with pytest.raises(
        models.WeightsMismatchError,
        match=r"holds a x2 generator with 3 blocks.*--scale 2 --num-blocks 3",
    ):
        models.load_generator(tmp_path / "g.weights.h5", scale=4, num_blocks=16)
    models.build_discriminator(hr_size=32, filters=8).save_weights(tmp_path / "d.weights.h5")
    with pytest.raises(models.WeightsMismatchError, match="discriminator"):
        models.load_generator(tmp_path / "d.weights.h5")
    (tmp_path / "junk.weights.h5").write_bytes(b"not hdf5")
    with pytest.raises(models.WeightsMismatchError, match="not a Keras weights file"):
        models.load_generator(tmp_path / "junk.weights.h5")


def test_outputs_stay_float32_under_mixed_precision():
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        generator = models.build_generator(num_blocks=1, filters=8)
        discriminator = models.build_discriminator(hr_size=16, filters=8)
    finally:
        keras.config.set_dtype_policy(previous)
    assert generator.get_layer("res1_conv1").compute_dtype == "bfloat16"
    sr = generator(np.zeros((1, 4, 4, 3), "float32"))
    assert keras.backend.standardize_dtype(sr.dtype) == "float32"
    prob = discriminator(np.zeros((1, 16, 16, 3), "float32"))
    assert keras.backend.standardize_dtype(prob.dtype) == "float32"


def test_shipped_models_match_their_cards_on_set5(benchmarks_dir):
    """The shipped generators score what their cards say, SRGAN between bicubic and
    SRResNet in PSNR and above SRResNet in fine detail (the paper's trade-off)."""
    from srgan_lib import data, inference, metrics

    pairs = data.load_benchmark("Set5", benchmarks_dir)
    scores = {"bicubic": [(data.bicubic_upscale(p.lr), p.hr) for p in pairs]}
    for name in ("srresnet", "srgan"):
        generator = models.pretrained(name)
        assert models.count_trainable(generator) == 1_550_659
        scores[name] = [(inference.upscale(generator, p.lr), p.hr) for p in pairs]
    psnr = {k: np.mean([metrics.psnr(sr, hr) for sr, hr in v]) for k, v in scores.items()}
    detail = {k: np.mean([metrics.detail(sr, hr) for sr, hr in v]) for k, v in scores.items()}
    grid = {k: np.mean([metrics.grid_strength(sr) for sr, _ in v]) for k, v in scores.items()}
    for name in ("srresnet", "srgan"):
        card = {r["method"]: r for r in models.pretrained_card(name)["evaluation"]["rows"]
                if r["set"] == "Set5"}  # fmt: skip
        row = card[name.replace("srresnet", "SRResNet").replace("srgan", "SRGAN")]
        assert psnr[name] == pytest.approx(row["psnr"], abs=0.02)
        assert grid[name] == pytest.approx(row["grid"], abs=0.01)
        assert detail[name] == pytest.approx(row["detail"], abs=0.005)
    assert psnr["bicubic"] + 1.0 < psnr["srresnet"]
    assert psnr["bicubic"] < psnr["srgan"] < psnr["srresnet"]
    assert detail["bicubic"] < detail["srresnet"] < detail["srgan"]


def test_pretrained_checks_the_weights_against_the_card(tmp_path, monkeypatch):
    import shutil

    for path in models.PRETRAINED_DIR.glob("srgan.*"):
        shutil.copyfile(path, tmp_path / path.name)
    monkeypatch.setattr(shipped, "PRETRAINED_DIR", tmp_path)  # where models finds them
    assert models.pretrained_names() == ["srgan"]
    assert models.pretrained_path("srgan") == tmp_path / "srgan.weights.h5"
    raw = bytearray((tmp_path / "srgan.weights.h5").read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    (tmp_path / "srgan.weights.h5").write_bytes(bytes(raw))
    with pytest.raises(models.PretrainedIntegrityError, match="does not match its model card"):
        models.pretrained("srgan")
    with pytest.raises(ValueError, match="No shipped model 'srresnet'.*choose one of srgan"):
        models.pretrained("srresnet")


def test_interpolate_generators_blends_every_weight():
    first = models.build_generator(num_blocks=1, filters=8)
    second = models.build_generator(num_blocks=1, filters=8)
    for alpha in (0.0, 0.3, 1.0):
        blend = models.interpolate_generators(first, second, alpha)
        for w, x, y in zip(
            blend.get_weights(), first.get_weights(), second.get_weights(), strict=True
        ):
            np.testing.assert_allclose(w, (1 - alpha) * x + alpha * y, rtol=1e-6, atol=1e-7)
    lr = np.random.default_rng(0).random((1, 6, 6, 3), dtype=np.float32)
    np.testing.assert_allclose(
        models.interpolate_generators(first, second, 0.0)(lr), first(lr), atol=1e-6
    )
    into = models.build_generator(num_blocks=1, filters=8)
    assert models.interpolate_generators(first, second, 1.0, into=into) is into
    np.testing.assert_allclose(into(lr), second(lr), atol=1e-6)
    other = models.build_generator(num_blocks=2, filters=8)
    with pytest.raises(ValueError, match="one architecture"):
        models.interpolate_generators(first, other, 0.5)


def _grid_of_fresh_generator(icnr: bool, seed: int) -> float:
    """Grid strength of a freshly initialised generator's x4 output on a natural image."""
    import skimage.data
    from skimage.transform import resize

    from srgan_lib import inference, metrics

    hr = skimage.data.coffee()[:192, :256]
    lr = (resize(hr, (48, 64), anti_aliasing=True) * 255).round().astype(np.uint8)
    keras.utils.set_random_seed(seed)
    generator = models.build_generator(num_blocks=2, icnr=icnr)
    return metrics.grid_strength(inference.upscale(generator, lr), period=4)


@pytest.mark.parametrize("seed", [0, 1])
def test_icnr_generator_starts_without_a_grid(seed):
    """ICNR (the default) starts the generator without the sub-pixel grid that plain
    initialisation of the convolutions before the pixel shuffles paints."""
    icnr, plain = _grid_of_fresh_generator(True, seed), _grid_of_fresh_generator(False, seed)
    assert icnr < 0.2
    assert plain > 10 * icnr


def test_shipped_weights_load_unchanged_into_icnr_generators(tmp_path):
    """An initialiser only chooses starting values: the shipped weights load as saved."""
    import h5py

    from srgan_lib.layers import ICNR

    for name in models.pretrained_names():
        generator = models.pretrained(name)
        assert isinstance(generator.get_layer("up1_conv").kernel_initializer, ICNR)
        generator.save_weights(tmp_path / f"{name}.weights.h5")
        arrays = {}

        def collect(key, item, arrays=arrays):
            if isinstance(item, h5py.Dataset):
                arrays[key] = item[()]

        with h5py.File(models.pretrained_path(name), "r") as shipped:
            shipped.visititems(collect)
        with h5py.File(tmp_path / f"{name}.weights.h5", "r") as saved:
            for key, value in arrays.items():
                np.testing.assert_array_equal(saved[key][()], value, err_msg=key)
        assert len(arrays) > 100
