"""Training runs: losses fall, the two GAN updates stay apart, runs resume exactly, NaNs
stop a run cleanly, checkpoints are written atomically, and `srgan train` works.
Tiny models throughout (2 blocks of 8 filters, 32x32 HR crops, batch 2)."""

from __future__ import annotations

import csv

import keras
import numpy as np
import pytest

from srgan_lib import cli, data, models, training
from srgan_lib.training import TrainConfig

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


def snapshot(variables) -> list[np.ndarray]:
    return [np.array(v.numpy()) for v in variables]


def unchanged(before, variables) -> bool:
    return all(np.array_equal(a, v.numpy()) for a, v in zip(before, variables, strict=True))


def test_config_presets_and_json_round_trip(tmp_path):
    paper = TrainConfig.preset("paper", "srgan")
    assert (paper.scale, paper.hr_size, paper.batch_size, paper.num_blocks) == (4, 96, 16, 16)
    assert paper.total_steps == 200_000 and paper.lr_decay_at == 0.5
    assert (paper.learning_rate, paper.lr_after_decay, paper.beta_1) == (1e-4, 1e-5, 0.9)
    assert (paper.content_loss, paper.adversarial_weight) == ("vgg54", 1e-3)
    assert TrainConfig.preset("paper").total_steps == 1_000_000
    config = tiny("srgan", content_loss="vgg22")
    assert TrainConfig.from_json(config.to_json(tmp_path / "c.json")) == config
    assert TrainConfig.from_json(tmp_path / "c.json") == config
    with pytest.raises(ValueError, match="content_loss"):
        config.replace(content_loss="vgg33")


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
    g_before = snapshot(g.weights)
    d_before, g_opt = snapshot(d.weights), snapshot(gan.g_optimizer.variables)

    logs = gan.discriminator_step(lr, hr)
    assert unchanged(g_before, g.weights)
    assert unchanged(g_opt, gan.g_optimizer.variables)
    assert not unchanged(d_before, d.trainable_weights)
    assert not unchanged(d_before[-len(d.non_trainable_weights) :], d.non_trainable_weights)
    assert int(gan.d_optimizer.iterations.numpy()) == 1 and np.isfinite(logs["d_loss"])

    d_after, d_opt = snapshot(d.weights), snapshot(gan.d_optimizer.variables)
    logs = gan.generator_step(lr, hr)
    assert unchanged(d_after, d.weights)
    assert unchanged(d_opt, gan.d_optimizer.variables)
    assert not unchanged(g_before, g.weights)
    assert int(gan.g_optimizer.iterations.numpy()) == 1
    assert logs["g_loss"] == pytest.approx(logs["content_loss"] + 1e-3 * logs["adversarial_loss"])


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

    _, whole_w, whole_o = training.read_checkpoint(tmp_path / "whole" / training.CHECKPOINT)
    meta, resumed_w, resumed_o = training.read_checkpoint(tmp_path / "killed" / training.CHECKPOINT)
    assert meta["epoch"] == 3
    for a, b in zip(whole_w + whole_o, resumed_w + resumed_o, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert len(history(tmp_path / "killed")) == 3
    for a, b in zip(history(tmp_path / "whole"), history(tmp_path / "killed"), strict=True):
        assert a == pytest.approx(b, rel=1e-4)


def test_nan_loss_stops_and_keeps_last_checkpoint(tmp_path, monkeypatch):
    clean = data.CropDataset.__getitem__

    def poisoned(self, index):
        lr, hr = clean(self, index)
        return (lr * np.nan, hr) if (self.epoch, index) == (1, 1) else (lr, hr)

    monkeypatch.setattr(data.CropDataset, "__getitem__", poisoned)
    config = tiny(epochs=3)
    with pytest.raises(training.NonFiniteLossError, match=r"loss is nan at epoch 2, step 4"):
        training.train(config, tmp_path, verbose=0)
    checkpoint = tmp_path / training.CHECKPOINT
    meta, weights, optimizer = training.read_checkpoint(checkpoint)
    assert meta["epoch"] == 1 and all(np.isfinite(a).all() for a in weights + optimizer)
    model = training.build_training_model(config)
    assert training.load_checkpoint(model, checkpoint) == 1
    assert len(history(tmp_path)) == 1


def test_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    config = tiny(epochs=1)
    training.train(config, tmp_path, verbose=0)
    checkpoint = tmp_path / training.CHECKPOINT
    good = checkpoint.read_bytes()

    def disk_full(file, **arrays):
        with open(file, "wb") as handle:
            handle.write(b"PK\x03\x04 half a zip")
        raise OSError("No space left on device")

    monkeypatch.setattr(training.np, "savez", disk_full)
    with pytest.raises(OSError, match="No space"):
        training.train(config.replace(epochs=2), tmp_path, resume=True, verbose=0)
    assert checkpoint.read_bytes() == good
    assert sorted(p.name for p in checkpoint.parent.iterdir()) == ["last.npz"]
    assert training.read_checkpoint(checkpoint)[0]["epoch"] == 1


def test_resume_with_other_architecture_fails_clearly(tmp_path, capsys):
    training.train(tiny(epochs=1), tmp_path, verbose=0)
    with pytest.raises(training.ArchitectureMismatchError, match="2 blocks.*3 blocks"):
        training.train(tiny(epochs=2, num_blocks=3), tmp_path, resume=True, verbose=0)
    code = cli.main(["train", "--resume", str(tmp_path), "--precision", "mixed_bfloat16"])
    assert code == 1
    error = capsys.readouterr().err
    assert "8 filters, float32" in error and "8 filters, mixed_bfloat16" in error
    with pytest.raises(FileExistsError, match="--resume"):
        training.train(tiny(epochs=1), tmp_path, verbose=0)


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
    _, one, _ = training.read_checkpoint(tmp_path / "one" / training.CHECKPOINT)
    _, two, _ = training.read_checkpoint(tmp_path / "two" / training.CHECKPOINT)
    for a, b in zip(one, two, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="not a multiple of steps_per_execution=3"):
        tiny(steps_per_execution=3).validate()
