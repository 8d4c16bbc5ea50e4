import io

import keras
import numpy as np
import pytest
from PIL import Image

from srgan_lib import data, models


def save(tmp_path, image: Image.Image, name: str, **kwargs):
    path = tmp_path / name
    image.save(path, **kwargs)
    return path


def test_load_image_converts_every_mode_to_rgb_uint8(tmp_path, random_image):
    rgb = Image.fromarray(random_image)
    cases = {
        "gray.png": rgb.convert("L"),
        "rgba.png": rgb.convert("RGBA"),
        "palette.png": rgb.convert("P"),
        "cmyk.jpg": rgb.convert("CMYK"),
    }
    for name, image in cases.items():
        loaded = data.load_image(save(tmp_path, image, name))
        assert loaded.shape == (40, 52, 3) and loaded.dtype == np.uint8, name
    gray = data.load_image(tmp_path / "gray.png")
    assert np.array_equal(gray[..., 0], gray[..., 2])
    np.testing.assert_array_equal(data.load_image(tmp_path / "rgba.png"), random_image)


def test_load_image_scales_16_bit(tmp_path):
    values = np.array([[0, 257 * 128, 65535]], np.uint16)
    path = save(tmp_path, Image.fromarray(values), "deep.png")
    np.testing.assert_array_equal(data.load_image(path)[0, :, 0], [0, 128, 255])


def test_load_image_applies_exif_rotation(tmp_path, random_image):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    path = save(tmp_path, Image.fromarray(random_image), "rotated.jpg", exif=exif, quality=95)
    assert data.load_image(path).shape == (52, 40, 3)


def test_unreadable_images_raise_clear_errors(tmp_path, random_image):
    buffer = io.BytesIO()
    Image.fromarray(random_image).save(buffer, "PNG")
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    with pytest.raises(data.ImageReadError, match="truncated.png.*re-download or re-export"):
        data.load_image(truncated)
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(data.ImageReadError, match="notes.png"):
        data.load_image(tmp_path / "notes.png")
    with pytest.raises(data.ImageReadError, match="No image file"):
        data.load_image(tmp_path / "missing.png")


def test_bicubic_downscale_reproduces_matlab_lr_files(benchmarks_dir):
    """Measured (Set5 / Set14 / BSD100): 88.7 / 88.9 / 88.5 % of LR pixels identical to the
    distributed MATLAB-made files, 99.7 / 99.5 / 99.7 % within one grey level, mean absolute
    difference 0.12 grey levels; the rest differ at image borders."""
    diffs = [
        np.abs(data.bicubic_downscale(pair.hr, 4).astype(int) - pair.lr.astype(int)).ravel()
        for pair in data.load_benchmark("Set5", benchmarks_dir)
    ]
    diff = np.concatenate(diffs)
    assert np.mean(diff == 0) > 0.88
    assert np.mean(diff <= 1) > 0.997
    assert diff.mean() < 0.125


def test_bicubic_downscale_keeps_flat_images_and_checks_size():
    flat = np.full((16, 24, 3), 77, np.uint8)
    np.testing.assert_array_equal(data.bicubic_downscale(flat, 4), np.full((4, 6, 3), 77))
    with pytest.raises(ValueError, match="modcrop"):
        data.bicubic_downscale(np.zeros((10, 12, 3), np.uint8), 4)
    assert data.modcrop(np.zeros((10, 13, 3)), 4).shape == (8, 12, 3)
    assert data.bicubic_upscale(np.zeros((3, 5, 3), np.uint8), 4).shape == (12, 20, 3)


def nearest_pair(rng, height=12, width=15, scale=4) -> data.ImagePair:
    """A pair whose HR is LR repeated scale x scale times, so alignment is exact."""
    lr = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    hr = np.repeat(np.repeat(lr, scale, axis=0), scale, axis=1)
    return data.ImagePair("nearest", hr, lr)


def test_random_crops_are_aligned_after_augmentation(rng):
    pair = nearest_pair(rng)
    for _ in range(20):
        lr, hr = data.random_crop_pair(pair, 32, rng)
        lr, hr = data.augment_pair(lr, hr, rng)
        assert lr.shape == (8, 8, 3) and hr.shape == (32, 32, 3)
        np.testing.assert_array_equal(hr[::4, ::4], lr)


def test_image_smaller_than_crop_is_refused(rng):
    pair = nearest_pair(rng, height=5, width=30)
    with pytest.raises(data.ImageReadError, match="smaller than the 32x32 HR crop"):
        data.random_crop_pair(pair, 32, rng)
    with pytest.raises(data.ImageReadError, match="smaller than the 32x32 HR crop"):
        data.CropDataset([pair], hr_size=32)


def test_sample_images_are_natural_rgb_photographs():
    images = data.sample_images()
    assert len(images) == 5
    for image in images.values():
        assert image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8
        assert min(image.shape[:2]) >= 300 and image.std() > 20


def test_load_benchmark_handles_grayscale_images(benchmarks_dir):
    pairs = data.load_benchmark("Set14", benchmarks_dir)
    assert len(pairs) == 14
    grayscale = [p for p in pairs if np.array_equal(p.hr[..., 0], p.hr[..., 1])]
    assert len(grayscale) == 2
    assert all(p.hr.shape[2] == 3 and p.scale == 4 for p in pairs)
    with pytest.raises(FileNotFoundError, match="srgan data download Set9"):
        data.load_benchmark("Set9", benchmarks_dir)


def test_load_folder_and_make_pairs(tmp_path, random_image):
    save(tmp_path, Image.fromarray(random_image), "a.png")
    (tmp_path / "readme.txt").write_text("ignored")
    pairs = data.make_pairs(data.load_folder(tmp_path), scale=4)
    assert [p.name for p in pairs] == ["a"]
    assert pairs[0].hr.shape == (40, 52, 3) and pairs[0].lr.shape == (10, 13, 3)
    with pytest.raises(FileNotFoundError, match="No images"):
        (tmp_path / "empty").mkdir()
        data.load_folder(tmp_path / "empty")


def test_crop_dataset_batches_are_deterministic_and_in_range(rng):
    pairs = [nearest_pair(rng, 20, 20), nearest_pair(rng, 16, 30)]
    feed = data.CropDataset(pairs, batch_size=3, hr_size=32, steps_per_epoch=4, seed=7)
    lr, hr = feed[1]
    assert lr.shape == (3, 8, 8, 3) and hr.shape == (3, 32, 32, 3)
    assert lr.dtype == np.float32 and lr.min() >= 0 and lr.max() <= 1
    assert hr.min() >= -1 and hr.max() <= 1
    np.testing.assert_array_equal(feed[1][0], lr)
    assert not np.array_equal(feed[2][0], lr)
    feed.on_epoch_end()
    assert not np.array_equal(feed[1][0], lr)
    feed.epoch = 0
    np.testing.assert_array_equal(feed[1][0], lr)


@pytest.mark.backend
def test_crop_dataset_feeds_model_fit(rng):
    keras.utils.set_random_seed(0)
    pairs = [nearest_pair(rng, 16, 16)]
    feed = data.CropDataset(pairs, batch_size=2, hr_size=32, steps_per_epoch=2)
    generator = models.build_generator(num_blocks=1, filters=8)
    generator.compile(optimizer="adam", loss="mse")
    history = generator.fit(feed, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2
    assert np.all(np.isfinite(history.history["loss"]))


def test_conversions_round_trip(random_image):
    np.testing.assert_array_equal(data.to_uint8(data.to_hr_target(random_image)), random_image)
    lr = data.to_lr_input(random_image)
    assert lr.dtype == np.float32
    np.testing.assert_allclose(lr * 255.0, random_image, atol=1e-4)  # [0, 1], exactly /255
    assert data.to_lr_input(np.array([0, 51, 255], np.uint8)).tolist() == pytest.approx([0, 0.2, 1])
    hr = data.to_hr_target(np.array([0, 51, 255], np.uint8))
    assert hr.tolist() == pytest.approx([-1.0, -0.6, 1.0])
    assert data.to_uint8(np.array([-2.0, -1.0, 0.0, 1.0, 2.0])).tolist() == [0, 0, 128, 255, 255]


def test_load_div2k_pairs_shipped_lr_images(tmp_path, random_image):
    hr_dir = tmp_path / "DIV2K_train_HR"
    lr_dir = tmp_path / "DIV2K_train_LR_bicubic" / "X4"
    lr_dir.mkdir(parents=True)
    hr_dir.mkdir()
    for stem in ("0001", "0002"):
        save(tmp_path, Image.fromarray(random_image), f"DIV2K_train_HR/{stem}.png")
        save(
            tmp_path,
            Image.fromarray(random_image[:10, :13]),
            f"DIV2K_train_LR_bicubic/X4/{stem}x4.png",
        )
    pairs = data.load_div2k(tmp_path, limit=1)
    assert [p.name for p in pairs] == ["0001"]
    assert pairs[0].hr.shape == (40, 52, 3) and pairs[0].lr.shape == (10, 13, 3)
    np.testing.assert_array_equal(pairs[0].lr, random_image[:10, :13])
    with pytest.raises(FileNotFoundError, match="srgan data download DIV2K"):
        data.load_div2k(tmp_path, split="valid")


def test_load_training_pairs_from_sample_and_folder(tmp_path, random_image):
    assert len(data.load_training_pairs("sample")) == 5
    assert [p.name for p in data.load_training_pairs("sample", limit=2)] == ["astronaut", "chelsea"]
    for name in ("b", "a", "c"):
        save(tmp_path, Image.fromarray(random_image), f"{name}.png")
    pairs = data.load_training_pairs(tmp_path, limit=2)
    assert [p.name for p in pairs] == ["a", "b"]
