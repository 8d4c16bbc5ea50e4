"""The shipped models' recipe: budgeted stages, resuming, cards, `srgan models`."""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path

import keras
import numpy as np
import pytest

from srgan_course import cli
from srgan_lib import files, models, recipe, training
from tests.conftest import shared_data_dir

TINY = ["--num-blocks", "1", "--hr-size", "32", "--batch-size", "2", "--steps-per-epoch", "2",
        "--steps-per-execution", "1", "--max-images", "3"]  # fmt: skip


def _schedule(path):
    with open(path, newline="") as handle:
        return [(int(r["epoch"]), float(r["learning_rate"])) for r in csv.DictReader(handle)]


@pytest.mark.backend
def test_learning_rate_set_by_the_schedule_takes_effect(tmp_path):
    """A rate of 0 from the second epoch on freezes G's and D's trainable weights (the
    first epoch, at 1e-2, moves them)."""
    config = training.TrainConfig(stage="srgan", num_blocks=1, hr_size=32, batch_size=2,
                                  epochs=3, steps_per_epoch=2, content_loss="mse")  # fmt: skip
    rates = iter([1e-2, 0.0, 0.0])
    schedule = recipe.WallClockSchedule(1e9, lambda progress: next(rates), tmp_path / "s.csv")
    seen = []

    class Snapshot(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.on_epoch_end(-1)

        def on_epoch_end(self, epoch, logs=None):
            weights = (
                self.model.generator.trainable_weights + self.model.discriminator.trainable_weights
            )
            seen.append([np.array(w) for w in weights])

    training.train(config, tmp_path / "run", callbacks=[schedule, Snapshot()], verbose=0)
    changed = [max(float(np.abs(a - b).max()) for a, b in zip(x, y, strict=True))
               for x, y in zip(seen, seen[1:], strict=False)]  # fmt: skip
    assert changed[0] > 0 and changed[1:] == [0.0, 0.0]
    assert [r for _, r in _schedule(tmp_path / "s.csv")] == [1e-2, 0.0, 0.0]


def test_schedule_stops_when_the_budget_is_spent_and_resumes_its_clock(tmp_path):
    config = training.TrainConfig(num_blocks=1, hr_size=16, batch_size=2, epochs=50,
                                  steps_per_epoch=2, save_interval=1)  # fmt: skip
    log = tmp_path / "run" / "schedule.csv"
    first = recipe.WallClockSchedule(0.0, lambda p: 1e-4, log)
    training.train(config, tmp_path / "run", callbacks=[first], verbose=0)
    assert [e for e, _ in _schedule(log)] == [1]  # a spent budget ends the first epoch
    spent = float(log.read_text().splitlines()[-1].split(",")[2])
    again = recipe.WallClockSchedule(1e9, lambda p: 2e-4, log)
    training.train(config.replace(epochs=3), tmp_path / "run", resume=True, callbacks=[again],
                   verbose=0)  # fmt: skip
    rows = log.read_text().splitlines()[1:]
    assert [int(r.split(",")[0]) for r in rows] == [1, 2, 3]
    seconds = [float(r.split(",")[2]) for r in rows]
    assert seconds[0] == spent and seconds == sorted(seconds)


def test_learning_rates_follow_the_recipe():
    plan = recipe.Recipe()
    assert plan.learning_rate("srresnet", 0.0) == pytest.approx(2e-4)
    assert plan.learning_rate("srresnet", 0.5) == pytest.approx(2e-6 + (2e-4 - 2e-6) / 2)
    assert plan.learning_rate("srresnet", 1.0) == pytest.approx(2e-6)
    assert plan.learning_rate("srgan", 0.49) == pytest.approx(1e-4)
    assert plan.learning_rate("srgan", 0.5) == pytest.approx(1e-5)
    assert plan.seconds("srresnet") == pytest.approx(300) and plan.seconds("srgan") == 120
    with pytest.raises(ValueError, match="srgan_share"):
        recipe.Recipe(srgan_share=1.5).validate()


def test_a_recipe_holds_one_train_config_per_stage():
    plan = recipe.Recipe.create(num_blocks=2, hr_size=48, content_loss="vgg54", seed=3)
    assert isinstance(plan.srresnet, training.TrainConfig) and plan.srgan.stage == "srgan"
    assert (plan.srresnet.num_blocks, plan.srgan.num_blocks, plan.srgan.seed) == (2, 2, 3)
    assert (plan.srresnet.learning_rate, plan.srgan.content_loss) == (2e-4, "vgg54")
    out = Path("out")
    assert plan.config("srgan", out).init_from == str(out / "srresnet.weights.h5")
    assert recipe.Recipe.from_dict(dataclasses.asdict(plan)) == plan
    # The one validator, TrainConfig.validate, checks the stages' settings.
    with pytest.raises(ValueError, match="hr_size must be a multiple of 4, got 50"):
        recipe.Recipe.create(hr_size=50)
    with pytest.raises(ValueError, match="content_loss must be one of 'mse', 'vgg54'"):
        recipe.Recipe.create(content_loss="vgg22")
    with pytest.raises(ValueError, match="no setting.*filters"):
        recipe.Recipe.create(filters=8)
    mismatched = dataclasses.replace(plan, srgan=plan.srgan.replace(num_blocks=4))
    with pytest.raises(ValueError, match="srgan.num_blocks must be one of 2"):
        mismatched.validate()


def test_models_train_runs_the_recipe_resumes_and_writes_cards(tmp_path, benchmarks_dir, capsys):
    folder = shared_data_dir() / "train" / "sunhays80"
    if not folder.is_dir():
        pytest.skip(f"offline training images not found at {folder}")
    out = tmp_path / "models"
    command = ["models", "train", "--out", str(out), "--budget-minutes", "0.1", "--data",
               str(folder), "--sets", "Set5", "--data-dir", str(benchmarks_dir), *TINY]  # fmt: skip
    assert cli.main(command) == 0
    state = json.loads((out / "recipe.json").read_text())
    assert all(
        state["stages"][s]["done"] and state["stages"][s]["steps"] > 0 for s in recipe.STAGES
    )
    rates = [r for _, r in _schedule(out / "srresnet" / "schedule.csv")]
    assert rates == sorted(rates, reverse=True)
    srgan_config = json.loads((out / "srgan" / "config.json").read_text())
    assert srgan_config["init_from"] == str(out / "srresnet.weights.h5")
    for stage in recipe.STAGES:
        card = json.loads((out / f"{stage}.json").read_text())
        assert card["weights"]["sha256"] == files.sha256(out / f"{stage}.weights.h5")
        assert files.recorded_digest(out / f"{stage}.weights.h5") == card["weights"]["sha256"]
        rows = {r["method"]: r for r in card["evaluation"]["rows"]}
        assert rows["bicubic"]["psnr"] == pytest.approx(28.43, abs=0.01)
        assert rows["bicubic"]["grid"] < rows["bicubic"]["grid_hr"] < 0.5
        assert set(rows) == {"bicubic", recipe.NAMES[stage]}
        assert card["training"]["steps"] == state["stages"][stage]["steps"]
        text = (out / f"{stage}.md").read_text()
        assert card["weights"]["sha256"] in text and "| Set5 | bicubic | 5 | 28.43 |" in text
        assert "| detail | grid | HR grid |" in text
    assert "SRGAN-MSE" in json.loads((out / "srgan.json").read_text())["variant"]
    before = {p.name: files.sha256(p) for p in out.glob("*.weights.h5")}
    capsys.readouterr()
    assert cli.main([*command, "--no-cards"]) == 0  # a finished recipe is kept, not retrained
    assert "srresnet: finished earlier, kept" in capsys.readouterr().out
    assert {p.name: files.sha256(p) for p in out.glob("*.weights.h5")} == before
    assert cli.main([*command[:-1], "4"]) == 2  # --max-images changed
    assert "holds a recipe with other settings (max_images)" in capsys.readouterr().err


def test_models_list_shows_the_cards_figures(capsys):
    assert cli.main(["models", "list"]) == 0
    out = capsys.readouterr().out
    for name in ("srresnet", "srgan"):
        card = models.pretrained_card(name)
        row = next(line for line in out.splitlines() if line.startswith(f"| {name} |"))
        set5 = next(r for r in card["evaluation"]["rows"]
                    if r["set"] == "Set5" and r["method"] != "bicubic")  # fmt: skip
        assert f"{set5['psnr']:.2f}" in row and f"{card['training']['steps']:,}" in row
