"""Training runs: losses fall, the two GAN updates stay apart and push the right way, runs
resume exactly and honour a changed config, checkpoints are keyed by name and written
atomically, NaNs stop a run cleanly, Keras callbacks work in both stages, and
`srgan train` works. Tiny models throughout (2 blocks of 8 filters, 32x32 HR crops,
batch 2)."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import keras
import numpy as np
import pytest

from srgan_course import cli
from srgan_lib import data, files, losses, models, training
from srgan_lib.training import TrainConfig, feed

pytestmark = pytest.mark.backend

TINY = {
    "num_blocks": 2,
    "filters": 8,
    "disc_filters": 8,
    "hr_size": 32,
    "batch_size": 2,
    "steps_per_epoch": 2,
    "save_interval": 1,
    "vgg_weights": "none",
    "jit_compile": False,  # XLA compiles cost more than they save on tiny TF models
}


def tiny(stage: str = "srresnet", **changes) -> TrainConfig:
    return TrainConfig.preset("quick", stage, **{**TINY, **changes})


def history(run_dir) -> list[dict[str, float]]:
    with open(run_dir / "history.csv", newline="") as handle:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(handle)]


class KilledError(Exception):
    """Stands for the process being killed."""


class KillAt(keras.callbacks.Callback):
    def __init__(self, epoch: int, batch: int):
        super().__init__()
        self.at, self.epoch = (epoch, batch), None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self.epoch, batch) == self.at:
            raise KilledError


def snapshot(variables) -> dict[str, np.ndarray]:
    return {v.path: np.array(v.numpy()) for v in variables}


def changed(before: dict[str, np.ndarray], variables) -> set[str]:
    """Paths of the variables whose value differs from `before` (matched by path)."""
    now = snapshot(variables)
    assert set(now) == set(before)
    return {path for path, value in now.items() if not np.array_equal(value, before[path])}


def paths(variables) -> set[str]:
    return {v.path for v in variables}


def checkpoint_arrays(run_dir) -> dict[str, np.ndarray]:
    meta, weights, optimizer = training.read_checkpoint(run_dir / training.CHECKPOINT)
    return weights | optimizer


def assert_same_arrays(a: dict, b: dict, skip: str = "\0") -> None:
    assert set(a) == set(b)
    for key in a:
        if skip not in key:
            np.testing.assert_allclose(a[key], b[key], rtol=1e-5, atol=1e-6, err_msg=key)


def test_config_presets_and_json_round_trip(tmp_path):
    paper = TrainConfig.preset("paper", "srgan")
    assert (paper.scale, paper.hr_size, paper.batch_size, paper.num_blocks) == (4, 96, 16, 16)
    assert paper.total_steps == 200_000 and paper.lr_decay_at == 0.5
    assert (paper.learning_rate, paper.lr_after_decay, paper.beta_1) == (1e-4, 1e-5, 0.9)
    assert (paper.content_loss, paper.adversarial_weight) == ("vgg54", losses.ADVERSARIAL_WEIGHT)
    assert paper.adversarial_weight == 1e-3
    assert paper.decay_epoch() == 100  # step 10^5 of 2 * 10^5, as in the paper
    assert [paper.learning_rate_at(e) for e in (0, 99, 100, 199)] == [1e-4, 1e-4, 1e-5, 1e-5]
    assert TrainConfig.preset("paper").total_steps == 1_000_000
    assert TrainConfig.preset("paper").decay_epoch() is None
    config = tiny("srgan", content_loss="vgg22")
    config.to_json(tmp_path / "c.json")
    assert TrainConfig.from_json(tmp_path / "c.json") == config
    (tmp_path / "bad.json").write_text("{epochs: 3}")
    with pytest.raises(ValueError, match="bad.json is not valid JSON"):
        TrainConfig.from_json(tmp_path / "bad.json")
    with pytest.raises(ValueError, match="content_loss"):
        config.replace(content_loss="vgg33")
    with pytest.raises(ValueError, match="preset must be one of 'quick', 'paper', got the str"):
        TrainConfig.preset("fast")


def test_config_needs_no_keras_and_the_cli_offers_its_names():
    code = (
        "import sys; from srgan_lib.training import config, TrainConfig; "
        "assert 'keras' not in sys.modules, 'keras imported'; print(config.STAGES)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    train = cli.build_parser()._subparsers._group_actions[0].choices["train"]
    choices = {a.dest: tuple(a.choices) for a in train._actions if a.choices}
    assert choices == {
        "stage": training.STAGES,
        "preset": training.PRESETS,
        "content_loss": training.CONTENT_LOSSES,
        "precision": training.PRECISIONS,
    }


def test_python_api_honours_srgan_vgg_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("SRGAN_VGG_WEIGHTS", "none")  # else "imagenet": a download, offline
    config = tiny("srgan", content_loss="vgg22", vgg_weights=None, epochs=1, steps_per_epoch=1)
    with pytest.warns(UserWarning, match="random weights"):
        training.train(config, tmp_path, verbose=0)
    assert TrainConfig.from_json(tmp_path / "config.json").vgg_weights == "none"


def test_training_data_is_read_afresh_each_run(tmp_path, random_image):
    folder = tmp_path / "images"
    folder.mkdir()
    data.save_image(random_image, folder / "a.png")
    config = tiny(data=str(folder), epochs=1, steps_per_epoch=1)
    training.train(config, tmp_path / "one", verbose=0)
    data.save_image(255 - random_image, folder / "a.png")
    training.train(config, tmp_path / "two", verbose=0)
    grids = [data.load_image(tmp_path / r / "samples" / "epoch_0001.png") for r in ("one", "two")]
    hr_tile = (slice(0, 32), slice(3 * 36, 3 * 36 + 32))  # the 4th tile of the first row
    np.testing.assert_array_equal(grids[1][hr_tile], 255 - grids[0][hr_tile])


def test_srresnet_loss_falls_on_sample_images(tmp_path):
    config = tiny(epochs=3, steps_per_epoch=4, learning_rate=1e-3)
    training.train(config, tmp_path, verbose=0)
    rows = history(tmp_path)
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    assert rows[-1]["loss"] < 0.8 * rows[0]["loss"]


def test_gan_updates_touch_only_their_own_model():
    gan = training.build_training_model(tiny("srgan", content_loss="mse"))
    lr, hr = data.CropDataset(data.load_training_pairs("sample", 4), 2, 32, 1)[0]
    g, d = gan.generator, gan.discriminator

    def numpy(x) -> np.ndarray:
        return keras.ops.convert_to_numpy(x).astype("float64")

    # D's update sees HR and SR in one batch, in training mode (batch statistics).
    sr = g(lr, training=False)
    real, fake = np.split(numpy(d(keras.ops.concatenate([hr, sr], axis=0), training=True)), 2)
    g_before, d_before = snapshot(g.weights), snapshot(d.weights)
    g_opt, d_opt = snapshot(gan.g_optimizer.variables), snapshot(gan.d_optimizer.variables)

    logs = gan.discriminator_step(lr, hr)
    assert changed(g_before, g.weights) == set()
    assert changed(g_opt, gan.g_optimizer.variables) == set()
    assert changed(d_before, d.weights) == paths(d.weights)  # every weight, BN statistics too
    assert int(gan.d_optimizer.iterations.numpy()) == 1
    assert logs["d_real"] == pytest.approx(real.mean(), rel=1e-4)
    assert logs["d_fake"] == pytest.approx(fake.mean(), rel=1e-4)
    bce = -np.log(real).mean() - np.log(1 - fake).mean()  # Eq. 2
    assert logs["d_loss"] == pytest.approx(bce, rel=1e-3)

    # G's update: G in training mode, D in inference mode.
    sr = g(lr, training=True)
    content = np.mean((numpy(hr) - numpy(sr)) ** 2)
    adversarial = -np.log(numpy(d(sr, training=False))).mean()  # Eq. 6
    g_before = snapshot(g.weights)
    d_after, d_opt = snapshot(d.weights), snapshot(gan.d_optimizer.variables)
    logs = gan.generator_step(lr, hr)
    assert changed(d_after, d.weights) == set()
    assert changed(d_opt, gan.d_optimizer.variables) == set()
    assert changed(g_before, g.weights) == paths(g.weights)
    assert int(gan.g_optimizer.iterations.numpy()) == 1
    assert logs["content_loss"] == pytest.approx(content, rel=1e-4)
    assert logs["adversarial_loss"] == pytest.approx(adversarial, rel=1e-3)
    assert logs["g_loss"] == pytest.approx(content + 1e-3 * adversarial, rel=1e-4)


def test_frozen_generator_batch_norm_keeps_its_statistics():
    """freeze_generator_bn: G's update normalises with G's moving statistics (its output
    in training mode equals inference mode) and changes every G weight but the BN ones;
    a resume may not switch it (the optimizer holds other variables)."""
    gan = training.build_training_model(tiny("srgan", content_loss="mse", freeze_generator_bn=True))
    g = gan.generator
    lr, hr = data.CropDataset(data.load_training_pairs("sample", 4), 2, 32, 1)[0]
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(g(lr, training=True)),
        keras.ops.convert_to_numpy(g(lr, training=False)),
        atol=1e-6,
    )
    bn = [w for layer in g.layers if isinstance(layer, keras.layers.BatchNormalization)
          for w in layer.weights]  # fmt: skip
    assert bn and not any(w.trainable for w in bn)
    before = snapshot(g.weights)
    gan.discriminator_step(lr, hr)
    gan.generator_step(lr, hr)
    assert changed(before, g.weights) == paths(g.weights) - paths(bn)
    assert "freeze_generator_bn" in tiny("srgan").architecture()


def test_each_update_moves_its_model_the_right_way():
    """D's update raises D(HR) and lowers D(SR); G's update (adversarial term only)
    raises D(SR), i.e. G learns to fool D (-log D(G(lr)), not log)."""
    gan = training.build_training_model(
        tiny("srgan", content_loss="mse", learning_rate=1e-3, adversarial_weight=1e3)
    )
    lr, hr = data.CropDataset(data.load_training_pairs("sample", 4), 2, 32, 1)[0]

    def d_means(training: bool) -> tuple[float, float]:
        """D's mean output on HR and on SR, in one batch as in D's update."""
        sr = gan.generator(lr, training=False)
        probs = gan.discriminator(keras.ops.concatenate([hr, sr], axis=0), training=training)
        real, fake = np.split(keras.ops.convert_to_numpy(probs), 2)
        return float(real.mean()), float(fake.mean())

    real, fake = d_means(training=True)  # D's update runs D in training mode
    gan.discriminator_step(lr, hr)
    real_after, fake_after = d_means(training=True)
    assert real_after > real and fake_after < fake
    fake = d_means(training=False)[1]  # G's update runs D in inference mode
    for _ in range(3):
        gan.generator_step(lr, hr)
    assert d_means(training=False)[1] > fake


@pytest.mark.parametrize(
    "stage, content_loss", [("srresnet", "mse"), ("srgan", "mse"), ("srgan", "vgg22")]
)
def test_killed_and_resumed_run_equals_uninterrupted(tmp_path, stage, content_loss):
    config = tiny(stage, content_loss=content_loss, epochs=3)
    training.train(config, tmp_path / "whole", verbose=0)
    with pytest.raises(KilledError):  # dies in the 3rd epoch, after the 2nd epoch's checkpoint
        training.train(config, tmp_path / "killed", callbacks=[KillAt(2, 0)], verbose=0)
    assert training.read_checkpoint(tmp_path / "killed" / training.CHECKPOINT)[0]["epoch"] == 2
    training.train(None, tmp_path / "killed", resume=True, verbose=0)

    assert training.read_checkpoint(tmp_path / "killed" / training.CHECKPOINT)[0]["epoch"] == 3
    assert_same_arrays(
        checkpoint_arrays(tmp_path / "whole"), checkpoint_arrays(tmp_path / "killed")
    )
    assert len(history(tmp_path / "killed")) == 3
    for a, b in zip(history(tmp_path / "whole"), history(tmp_path / "killed"), strict=True):
        assert a == pytest.approx(b, rel=1e-4)


def test_nan_loss_stops_and_keeps_last_checkpoint(tmp_path, monkeypatch):
    clean = data.CropDataset.batch

    def poisoned(self, epoch, index):
        lr, hr = clean(self, epoch, index)
        return (lr * np.nan, hr) if (epoch, index) == (1, 1) else (lr, hr)

    monkeypatch.setattr(data.CropDataset, "batch", poisoned)
    config = tiny(epochs=3)
    with pytest.raises(training.NonFiniteLossError, match=r"loss is nan at epoch 2, step 4"):
        training.train(config, tmp_path, verbose=0)
    checkpoint = tmp_path / training.CHECKPOINT
    meta, weights, optimizer = training.read_checkpoint(checkpoint)
    assert meta["epoch"] == 1 and all(np.isfinite(a).all() for a in (weights | optimizer).values())
    model = training.build_training_model(config)
    assert training.load_checkpoint(model, checkpoint) == 1
    assert len(history(tmp_path)) == 1


def test_a_run_stopped_before_its_first_checkpoint_is_never_mixed_with_another(tmp_path):
    """Killed in epoch 3 with no checkpoint yet (save_interval 10): rerun with other
    settings it is refused, naming them, and nothing is touched; with its own settings,
    --resume or overwrite it starts again and history.csv holds that run only."""
    config = tiny(epochs=4, save_interval=10)
    with pytest.raises(KilledError):
        training.train(config, tmp_path, callbacks=[KillAt(2, 0)], verbose=0)
    assert not (tmp_path / training.CHECKPOINT).is_file()
    assert [r["epoch"] for r in history(tmp_path)] == [1, 2]
    before = {p: p.read_bytes() for p in (tmp_path / "config.json", tmp_path / "history.csv")}
    with pytest.raises(
        training.RunSettingsError, match="epochs is 4 there but 3 here.*--overwrite"
    ):
        training.train(config.replace(epochs=3), tmp_path, verbose=0)
    assert {p: p.read_bytes() for p in before} == before
    training.train(config.replace(epochs=3), tmp_path, overwrite=True, verbose=0)
    assert [r["epoch"] for r in history(tmp_path)] == [1, 2, 3]
    assert TrainConfig.from_json(tmp_path / "config.json").epochs == 3

    with pytest.raises(KilledError):
        training.train(config, tmp_path / "again", callbacks=[KillAt(1, 0)], verbose=0)
    training.train(config, tmp_path / "again", verbose=0)  # the same settings: starts again
    with pytest.raises(KilledError):
        training.train(config, tmp_path / "resumed", callbacks=[KillAt(1, 0)], verbose=0)
    training.train(None, tmp_path / "resumed", resume=True, verbose=0)
    for run in ("again", "resumed"):
        assert [r["epoch"] for r in history(tmp_path / run)] == [1, 2, 3, 4]
    assert_same_arrays(
        checkpoint_arrays(tmp_path / "again"), checkpoint_arrays(tmp_path / "resumed")
    )


def test_exported_generators_carry_a_digest_that_loading_checks(tmp_path, random_image, capsys):
    training.train(tiny(epochs=1), tmp_path / "run", verbose=0)
    for name in ("generator.weights.h5", "generator.keras"):
        path = tmp_path / "run" / name
        assert files.recorded_digest(path) == files.sha256(path)
        assert models.count_trainable(models.load_generator(path)) > 0
    weights = tmp_path / "run" / "generator.weights.h5"
    raw = bytearray(weights.read_bytes())
    middle = len(raw) // 2
    raw[middle : middle + 4096] = bytes(b ^ 0xFF for b in raw[middle : middle + 4096])
    weights.write_bytes(bytes(raw))
    with pytest.raises(models.WeightsMismatchError, match="generator.weights.h5.sha256"):
        models.load_generator(weights)
    photo = tmp_path / "photo.png"
    data.save_image(random_image[:16, :16], photo)
    argv = ["upscale", str(photo), "-o", str(tmp_path / "out"), "--weights", str(weights)]
    assert cli.main(argv) == 2
    error = capsys.readouterr().err
    assert len(error.strip().splitlines()) == 1
    assert str(weights) in error and "damaged" in error and "Export it again" in error
    assert not (tmp_path / "out" / "photo.png").exists()


def test_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    config = tiny(epochs=1)
    training.train(config, tmp_path, verbose=0)
    checkpoint = tmp_path / training.CHECKPOINT
    good = checkpoint.read_bytes()

    def disk_full(file, **arrays):
        with open(file, "wb") as handle:
            handle.write(b"PK\x03\x04 half a zip")
        raise OSError("No space left on device")

    monkeypatch.setattr(np, "savez", disk_full)
    with pytest.raises(OSError, match="No space"):
        training.train(config.replace(epochs=2), tmp_path, resume=True, verbose=0)
    assert checkpoint.read_bytes() == good
    assert sorted(p.name for p in checkpoint.parent.iterdir()) == ["last.npz"]
    assert training.read_checkpoint(checkpoint)[0]["epoch"] == 1


def test_resume_with_other_architecture_fails_clearly(tmp_path, capsys):
    training.train(tiny(epochs=1), tmp_path, verbose=0)
    with pytest.raises(
        training.ArchitectureMismatchError, match="num_blocks is 2 there but 3 here"
    ):
        training.train(tiny(epochs=2, num_blocks=3), tmp_path, resume=True, verbose=0)
    code = cli.main(["train", "--resume", str(tmp_path), "--stage", "srgan"])
    assert code == 1
    error = capsys.readouterr().err
    assert "stage is 'srresnet' there but 'srgan' here" in error
    with pytest.raises(FileExistsError, match="--resume"):
        training.train(tiny(epochs=1), tmp_path, verbose=0)


@pytest.mark.parametrize("stage", ["srresnet", "srgan"])
def test_resume_honours_a_changed_learning_rate_and_schedule(tmp_path, stage):
    """1 epoch at 1e-3, then resumed with a decay to 1e-5 from epoch 1 on, gives the run a
    LearningRateScheduler with the same rates gives, and not the run at 1e-3 throughout."""
    config = tiny(stage, content_loss="mse", epochs=2, learning_rate=1e-3, lr_decay_at=None)
    with pytest.raises(KilledError):
        training.train(config, tmp_path / "resumed", callbacks=[KillAt(1, 0)], verbose=0)
    decayed = config.replace(lr_decay_at=0.5, lr_after_decay=1e-5)
    training.train(decayed, tmp_path / "resumed", resume=True, verbose=0)
    schedule = keras.callbacks.LearningRateScheduler(lambda epoch, rate: [1e-3, 1e-5][epoch])
    training.train(config, tmp_path / "scheduled", callbacks=[schedule], verbose=0)
    training.train(config, tmp_path / "constant", verbose=0)

    resumed = checkpoint_arrays(tmp_path / "resumed")
    assert_same_arrays(resumed, checkpoint_arrays(tmp_path / "scheduled"))
    for role in ["g_optimizer", "d_optimizer"][: 1 + (stage == "srgan")]:
        assert resumed[f"{role}/adam/learning_rate"] == pytest.approx(1e-5)
    constant = checkpoint_arrays(tmp_path / "constant")
    kernel = "generator/head_conv/kernel"
    assert not np.allclose(resumed[kernel], constant[kernel], rtol=1e-5, atol=1e-6)
    assert TrainConfig.from_json(tmp_path / "resumed" / "config.json") == decayed


@pytest.mark.parametrize("precision", ["mixed_bfloat16", "mixed_float16"])
def test_resume_may_change_precision(tmp_path, precision):
    training.train(tiny(epochs=1), tmp_path, verbose=0)
    before = checkpoint_arrays(tmp_path)
    model = training.train(tiny(epochs=2, precision=precision), tmp_path, resume=True, verbose=0)
    meta, weights, optimizer = training.read_checkpoint(tmp_path / training.CHECKPOINT)
    assert meta["epoch"] == 2 and meta["config"]["precision"] == precision
    assert model.dtype_policy.name == precision
    assert int(optimizer["g_optimizer/adam/iteration"]) == 4  # continued from step 2
    assert not np.array_equal(
        weights["generator/head_conv/kernel"], before["generator/head_conv/kernel"]
    )
    assert ("g_optimizer/loss_scale/dynamic_scale" in optimizer) == (precision == "mixed_float16")


def test_checkpoint_is_keyed_by_name_and_checked(tmp_path):
    config = tiny("srgan", content_loss="mse", epochs=1)
    training.train(config, tmp_path, verbose=0)
    path = tmp_path / training.CHECKPOINT
    meta, weights, optimizer = training.read_checkpoint(path)
    assert {"generator/res1_bn1/moving_mean", "discriminator/bn2/gamma"} <= set(weights)
    assert "g_optimizer/adam/res1_bn1_gamma_momentum" in optimizer
    assert meta["backend"] == keras.backend.backend() and meta["step"] == 2

    def rewrite(arrays: dict, meta: dict) -> None:
        np.savez(path, **arrays, meta=np.array(json.dumps(meta)))

    everything = weights | optimizer
    rewrite(dict(reversed(everything.items())), meta)  # order does not matter, names do
    model = training.build_training_model(config)
    assert training.load_checkpoint(model, path) == 1
    for key, variable in training.model_variables(model).items():
        np.testing.assert_array_equal(variable.numpy(), everything[key], err_msg=key)

    rewrite({k: a for k, a in everything.items() if k != "discriminator/bn2/gamma"}, meta)
    with pytest.raises(training.ArchitectureMismatchError, match="bn2/gamma is only in this model"):
        training.load_checkpoint(model, path)
    other = "tensorflow" if keras.backend.backend() == "jax" else "jax"
    rewrite(everything, meta | {"backend": other})
    with pytest.raises(training.CheckpointError, match=f"written on the {other} backend"):
        training.load_checkpoint(model, path)
    rewrite(everything, meta | {"step": 5})
    with pytest.raises(training.CheckpointError, match="says step 5 but its optimizer made 2"):
        training.load_checkpoint(model, path)
    positional = {f"weight_{i:04d}": a for i, a in enumerate(weights.values())}
    rewrite(positional, {k: v for k, v in meta.items() if k != "format"})
    with pytest.raises(training.CheckpointError, match="older srgan_lib.*new --run-dir"):
        training.train(None, tmp_path, resume=True, verbose=0)


class Recorder(keras.callbacks.Callback):
    """Trainable weights and the learning rates at the end of each epoch."""

    def __init__(self):
        super().__init__()
        self.weights, self.rates = [], []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append(snapshot(self.model.trainable_weights))
        optimizers = getattr(self.model.optimizer, "optimizers", [self.model.optimizer])
        self.rates.append([float(keras.ops.convert_to_numpy(o.learning_rate)) for o in optimizers])


@pytest.mark.parametrize("stage", ["srresnet", "srgan"])
def test_keras_callbacks_work_in_both_stages(tmp_path, stage):
    config = tiny(stage, content_loss="mse", epochs=3, learning_rate=1e-3)
    loss = "g_loss" if stage == "srgan" else "loss"
    n = 1 + (stage == "srgan")

    # A rate of 0 from epoch 2 on freezes the trainable weights: the rate takes effect.
    recorder = Recorder()
    schedule = keras.callbacks.LearningRateScheduler(
        lambda epoch, rate: 1e-3 if epoch == 0 else 0.0
    )
    best = tmp_path / "best.weights.h5"
    saver = keras.callbacks.ModelCheckpoint(best, monitor=loss, mode="min", save_weights_only=True)
    board = keras.callbacks.TensorBoard(tmp_path / "tb")
    model = training.train(
        config, tmp_path / "a", callbacks=[schedule, saver, board, recorder], verbose=0
    )
    np.testing.assert_allclose(recorder.rates, [[1e-3] * n, [0.0] * n, [0.0] * n], rtol=1e-6)
    assert changed(recorder.weights[0], model.trainable_weights) == set()
    assert best.is_file()
    assert list((tmp_path / "tb" / "train").glob("events.out.tfevents.*"))

    # With an improvement of 1e9 asked for, every epoch after the first is a plateau:
    # ReduceLROnPlateau halves both rates, EarlyStopping stops after its patience (1).
    recorder = Recorder()
    plateau = keras.callbacks.ReduceLROnPlateau(loss, 0.5, patience=0, mode="min", min_delta=1e9)
    stop = keras.callbacks.EarlyStopping(loss, min_delta=1e9, patience=1, mode="min")
    config = config.replace(epochs=5)
    training.train(config, tmp_path / "b", callbacks=[plateau, stop, recorder], verbose=0)
    np.testing.assert_allclose(recorder.rates, [[1e-3] * n, [5e-4] * n], rtol=1e-6)
    assert len(history(tmp_path / "b")) == 2
    meta, _, optimizer = training.read_checkpoint(tmp_path / "b" / training.CHECKPOINT)
    assert meta["epoch"] == 2


def test_quick_cli_writes_a_complete_run(tmp_path):
    srresnet, srgan = tmp_path / "srresnet", tmp_path / "srgan"
    small = ["--preset", "quick", "--batch-size", "2", "--save-interval", "1"]
    assert cli.main(["train", *small, "--epochs", "2", "--steps-per-epoch", "2",
                     "--max-images", "3", "--run-dir", str(srresnet)]) == 0  # fmt: skip
    assert [r["epoch"] for r in history(srresnet)] == [1, 2]
    assert TrainConfig.from_json(srresnet / "config.json").max_images == 3
    assert (srresnet / "samples" / "epoch_0002.png").is_file()
    assert training.read_checkpoint(srresnet / training.CHECKPOINT)[0]["epoch"] == 2
    generator = models.load_generator(srresnet / "generator.keras", num_blocks=4)
    assert models.count_trainable(generator) > 0

    code = cli.main(["train", "--stage", "srgan", *small, "--epochs", "1", "--steps-per-epoch",
                     "1", "--content-loss", "mse", "--init-from", str(srresnet),
                     "--run-dir", str(srgan)])  # fmt: skip
    assert code == 0
    assert list(history(srgan)[0]) == ["epoch", *training.SRGAN_METRICS]
    assert (srgan / "samples" / "epoch_0001.png").is_file()
    assert models.describe_generator_weights(srgan / "generator.weights.h5")["num_blocks"] == 4


def test_steps_per_execution_gives_the_same_run(tmp_path):
    training.train(tiny(epochs=2), tmp_path / "one", verbose=0)
    training.train(tiny(epochs=2, steps_per_execution=2), tmp_path / "two", verbose=0)
    assert_same_arrays(checkpoint_arrays(tmp_path / "one"), checkpoint_arrays(tmp_path / "two"))
    with pytest.raises(ValueError, match="not a multiple of steps_per_execution=3"):
        tiny(steps_per_execution=3).validate()


def test_prefetch_feed_serves_each_key_its_own_batch():
    """Batches prepared ahead are handed out under (epoch, index) only: in order, across
    an epoch boundary, after a jump (a resume) and back, each is `CropDataset.batch`."""
    crops = data.CropDataset(data.load_training_pairs("sample", 4), 2, 32, 3, seed=5)
    fed = feed.PrefetchFeed(crops, depth=2)
    try:
        for epoch, index in [(0, 0), (0, 1), (0, 2), (1, 0), (4, 1), (4, 2), (0, 0)]:
            fed.epoch = epoch
            got, want = fed[index], crops.batch(epoch, index)
            for a, b in zip(got, want, strict=True):
                np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), b)
        assert not np.array_equal(crops.batch(0, 0)[1], crops.batch(1, 0)[1])
    finally:
        fed.close()


def test_prefetched_run_equals_one_fed_in_the_main_thread(tmp_path):
    training.train(tiny(epochs=2, prefetch=0), tmp_path / "main", verbose=0)
    training.train(tiny(epochs=2), tmp_path / "ahead", verbose=0)
    assert_same_arrays(checkpoint_arrays(tmp_path / "main"), checkpoint_arrays(tmp_path / "ahead"))
