"""The recipe behind the shipped models: SRResNet, then SRGAN initialised from it, each
trained for a share of one wall-clock budget, then evaluated and described by a model card.

`srgan models train --out DIR --budget-minutes 7` runs `train_models`, then `write_cards`:
1. SRResNet (paper Sec. 3.2, pixel MSE only), Adam(beta_1 0.9) starting at 2e-4 with a
   cosine decay to 1 % of it over its share of the budget (5/7 by default).
2. SRGAN from that SRResNet: one D and one G update per batch, content loss "mse" (the
   paper's SRGAN-MSE, Table 1) or "vgg54" (its SRGAN), adversarial weight 1e-3, learning
   rate 1e-4 for the first half of its share and 1e-5 for the second (the paper's
   10^5 + 10^5 steps, compressed into the budget).
Short budgets need a decaying rate to converge; the budget, not a step count, ends each
stage, so the same command fits any GPU. The rate is set at the start of each epoch from
the fraction of the stage's budget spent (`WallClockSchedule`).

DIR holds:
    recipe.json                    the settings, the command and each stage's progress
    srresnet/, srgan/              the stages' `training.train` run directories
    srresnet.weights.h5, srgan.weights.h5   the trained generators (float32)
    srresnet.json, srresnet.md, srgan.json, srgan.md   model cards
    crops.png                      zoomed crops: bicubic / SRResNet / SRGAN / original
    evaluation/                    per_image.csv, summary.csv, summary.md
Run the same command again to resume an interrupted recipe: each stage continues from its
last checkpoint with the budget it has left; a finished stage is not trained again.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
import os
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import keras

from srgan_lib import (
    cards,
    data,
    downloads,
    evaluation,
    files,
    inference,
    models,
    plots,
    runtime,
    training,
    validation,
)
from srgan_lib.cards import NAMES
from srgan_lib.choices import RECIPE_CONTENT_LOSSES, SETS, STAGES
from srgan_lib.training import TrainConfig

# The images of the crop figure: (set, file stem, title, (top, left, size) in HR pixels).
FIGURE_CROPS = (
    ("Set5", "img_003", "Set5 butterfly", (96, 96, 64)),
    ("Set14", "img_001", "Set14 baboon", (250, 16, 96)),
)


# TrainConfig fields both stages share, which `Recipe.create` (`srgan models train`) sets.
SHARED = (
    "data",
    "max_images",
    "num_blocks",
    "hr_size",
    "batch_size",
    "precision",
    "steps_per_execution",
    "steps_per_epoch",
    "seed",
)


def _stage_config(stage: str, **changes) -> TrainConfig:
    """The recipe's default TrainConfig of `stage`: the paper's models on 96x96 crops,
    8 steps per compiled call, epochs of 400 steps. `epochs` is only an upper bound: the
    budget ends the stage (`WallClockSchedule`), and the rate it sets overrides
    `learning_rate` (the rate the stage's schedule starts from) from the second epoch on."""
    settings = {
        "stage": stage,
        "steps_per_execution": 8,
        "steps_per_epoch": 400,
        "epochs": 100_000,
        "data": "sunhays80",
    }
    if stage == "srresnet":
        settings |= {"learning_rate": 2e-4, "save_interval": 5}
    else:
        settings |= {"learning_rate": 1e-4, "save_interval": 10}
        settings |= {"content_loss": "mse", "vgg_weights": "imagenet"}
    return TrainConfig(**settings).replace(**changes)


@dataclasses.dataclass
class Recipe:
    """The settings of `train_models`; saved as recipe.json.

    budget_minutes: wall-clock minutes for both stages' training (compilation included),
    `srgan_share` of it for the SRGAN stage.
    srresnet, srgan: each stage's TrainConfig (`Recipe.create` makes them from the
    options of `srgan models train`). Their `data` may be "sunhays80" (the 80 Sun-Hays
    scene photographs, looked up by `resolve_data`), "div2k" or a folder of HR images.
    The SRGAN stage's content_loss is "mse" (SRGAN-MSE) or "vgg54" (needs ImageNet
    VGG19); its init_from is set to the SRResNet stage's result when it trains.
    """

    budget_minutes: float = 7.0
    srgan_share: float = 2 / 7
    srresnet: TrainConfig = dataclasses.field(default_factory=lambda: _stage_config("srresnet"))
    srgan: TrainConfig = dataclasses.field(default_factory=lambda: _stage_config("srgan"))

    @classmethod
    def create(
        cls,
        budget_minutes: float = 7.0,
        srgan_share: float = 2 / 7,
        srresnet_learning_rate: float = 2e-4,
        srgan_learning_rate: float = 1e-4,
        content_loss: str = "mse",
        vgg_weights: str = "imagenet",
        **shared,
    ) -> Recipe:
        """A validated recipe from the options of `srgan models train`.

        Args:
            budget_minutes, srgan_share: as the fields.
            srresnet_learning_rate, srgan_learning_rate: each stage's starting rate.
            content_loss, vgg_weights: the SRGAN stage's.
            **shared: TrainConfig fields both stages share (`SHARED`: data, max_images,
                num_blocks, hr_size, batch_size, precision, steps_per_execution,
                steps_per_epoch, seed).

        Returns:
            The recipe.

        Raises:
            ValueError: an option is unknown; validation.ParameterError: a value is
                impossible.
        """
        unknown = sorted(set(shared) - set(SHARED))
        if unknown:
            raise ValueError(f"A recipe has no setting(s) {', '.join(unknown)}.")
        return cls(
            budget_minutes,
            srgan_share,
            _stage_config("srresnet", learning_rate=srresnet_learning_rate, **shared),
            _stage_config(
                "srgan",
                learning_rate=srgan_learning_rate,
                content_loss=content_loss,
                vgg_weights=vgg_weights,
                **shared,
            ),
        ).validate()

    @classmethod
    def from_dict(cls, values: dict) -> Recipe:
        """A recipe from `dataclasses.asdict(recipe)` (recipe.json), or from the flat
        options an older recipe.json holds (`create`'s arguments)."""
        if "srresnet" not in values:
            return cls.create(**values)
        stages = {stage: TrainConfig.from_dict(values[stage]) for stage in STAGES}
        return cls(values["budget_minutes"], values["srgan_share"], **stages).validate()

    def validate(self) -> Recipe:
        """Check the budget, its split and each stage's TrainConfig (with the one
        validator, `TrainConfig.validate`).

        Returns:
            self.

        Raises:
            validation.ParameterError: naming the first impossible setting.
        """
        validation.check_number("budget_minutes", self.budget_minutes, 0.0, open_low=True)
        validation.check_number("srgan_share", self.srgan_share, 0.0, 1.0, open_low=True)
        for stage in STAGES:
            config = getattr(self, stage).validate()
            validation.check_choice(f"{stage}.stage", config.stage, (stage,))
        validation.check_choice("content_loss", self.srgan.content_loss, RECIPE_CONTENT_LOSSES)
        for key in training.ARCHITECTURE["srresnet"][1:]:  # SRGAN starts from SRResNet
            validation.check_choice(
                f"srgan.{key}", getattr(self.srgan, key), (getattr(self.srresnet, key),)
            )
        return self

    def seconds(self, stage: str) -> float:
        """The wall-clock budget of `stage` in seconds."""
        share = self.srgan_share if stage == "srgan" else 1 - self.srgan_share
        return 60.0 * self.budget_minutes * share

    def config(self, stage: str, out: Path) -> TrainConfig:
        """The TrainConfig of `stage` trained into `out`: the SRGAN stage starts from
        the SRResNet stage's generator, out/srresnet.weights.h5."""
        if stage == "srresnet":
            return self.srresnet
        return self.srgan.replace(init_from=str(out / "srresnet.weights.h5"))

    def learning_rate(self, stage: str, progress: float) -> float:
        """The learning rate after `progress` (0..1) of the stage's budget: a cosine from
        srresnet_learning_rate down to 1 % of it, or SRGAN's step from
        srgan_learning_rate to a tenth of it halfway."""
        start = getattr(self, stage).learning_rate
        if stage == "srresnet":
            floor = 0.01 * start
            cosine = 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))
            return floor + (start - floor) * cosine
        return start * (1.0 if progress < 0.5 else 0.1)

    def describe_schedule(self, stage: str) -> str:
        """The stage's learning-rate schedule in words, for its model card."""
        config = getattr(self, stage)
        if stage == "srresnet":
            return (
                f"Adam(beta_1={config.beta_1:g}), {config.learning_rate:g} decayed by a cosine "
                f"to {0.01 * config.learning_rate:g} over the stage's wall-clock budget "
                f"(set at each epoch of {config.steps_per_epoch} steps)"
            )
        return (
            f"Adam(beta_1={config.beta_1:g}) for G and D, {config.learning_rate:g} for the "
            f"first half of the stage's wall-clock budget, then {0.1 * config.learning_rate:g}"
        )


def _optimizers(model: keras.Model) -> list:
    if isinstance(model, training.SRGAN):
        return [model.g_optimizer, model.d_optimizer]
    return [model.optimizer]


class WallClockSchedule(keras.callbacks.Callback):
    """Sets the learning rate at the start of each epoch from the fraction of a wall-clock
    budget spent, and stops training once the budget is spent (at an epoch's end).

    seconds: the budget; time counts from `on_train_begin`, so compilation is included.
    rate(progress) -> learning rate, progress in [0, 1].
    log: a CSV (epoch, learning_rate, seconds) rewritten after every epoch. On a resumed
    run its rows after the starting epoch are dropped and its last kept row's seconds
    count as already spent.
    """

    def __init__(self, seconds: float, rate: Callable[[float], float], log: Path):
        super().__init__()
        self.seconds, self.rate, self.log = seconds, rate, Path(log)
        self.rows: list[tuple[int, float, float]] | None = None
        self.origin = self.began = 0.0
        self.current = 0.0

    @property
    def spent(self) -> float:
        return time.monotonic() - self.origin

    def on_train_begin(self, logs=None):
        self.began, self.rows = time.monotonic(), None

    def on_epoch_begin(self, epoch, logs=None):
        if self.rows is None:  # the first epoch of this process: pick up earlier ones
            self.rows = _read_schedule(self.log)[:epoch]
            self.origin = self.began - (self.rows[-1][2] if self.rows else 0.0)
        progress = min(self.spent / self.seconds, 1.0) if self.seconds > 0 else 1.0
        self.current = self.rate(progress)
        for optimizer in _optimizers(self.model):
            optimizer.learning_rate = self.current

    def on_epoch_end(self, epoch, logs=None):
        self.rows.append((epoch + 1, self.current, round(self.spent, 2)))
        text = "epoch,learning_rate,seconds\n" + "".join(
            f"{e},{r:.6g},{s}\n" for e, r, s in self.rows
        )
        files.atomic_write(self.log, lambda tmp: tmp.write_text(text))
        if self.spent >= self.seconds:
            self.model.stop_training = True


def _read_schedule(path: Path) -> list[tuple[int, float, float]]:
    if not path.is_file():
        return []
    lines = path.read_text().splitlines()[1:]
    return [(int(e), float(r), float(s)) for e, r, s in (line.split(",") for line in lines)]


def resolve_data(name: str) -> str:
    """The `TrainConfig.data` for a recipe's data name: "sunhays80" is looked up in the
    data cache (`downloads.data_dir() / "sunhays80"`) and in `$SRGAN_SHARED_DATA/train`;
    "sample", "div2k" and folders are passed on."""
    if name != "sunhays80":
        return name
    candidates = [downloads.data_dir() / "sunhays80"]
    if os.environ.get("SRGAN_SHARED_DATA"):
        candidates.append(Path(os.environ["SRGAN_SHARED_DATA"]) / "train" / "sunhays80")
    for folder in candidates:
        if folder.is_dir():
            return str(folder)
    raise FileNotFoundError(
        "No sunhays80 folder at " + " or ".join(str(c) for c in candidates) + ": put the 80 "
        "Sun-Hays photographs there, or pass --data div2k or --data FOLDER (any HR images)."
    )


def _state(out: Path) -> dict:
    path = out / "recipe.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def _save_state(out: Path, state: dict) -> None:
    text = json.dumps(state, indent=2) + "\n"
    files.atomic_write(out / "recipe.json", lambda tmp: tmp.write_text(text))


def train_models(
    recipe: Recipe, out: str | Path, command: str = "", verbose: int | str = 2
) -> dict:
    """Train SRResNet then SRGAN into `out` under `recipe`'s budget (see the module
    docstring for the files). Reruns resume: a stage with a checkpoint continues with the
    budget it has left; a finished stage is skipped. A rerun must use the same recipe.
    Returns the recipe state (recipe.json): settings, command, hardware, and per stage
    {"seconds_budget", "seconds_spent", "steps", "done"}."""
    out = Path(out)
    recipe.validate()
    state = _state(out)
    settings = dataclasses.asdict(recipe)
    if state and state["recipe"] != settings:
        changed = _differences(dataclasses.asdict(Recipe.from_dict(state["recipe"])), settings)
        raise ValueError(
            f"{out} holds a recipe with other settings ({', '.join(changed)}): rerun with "
            "the same options to resume it, or pass another --out."
        )
    state = state or {
        "recipe": settings,
        "command": command,
        "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "hardware": runtime.describe_runtime(),
        "stages": {},
    }
    _save_state(out, state)
    data_source = resolve_data(recipe.srresnet.data)
    for stage in STAGES:
        progress = state["stages"].get(stage, {})
        if progress.get("done"):
            print(f"{stage}: finished earlier, kept")
            continue
        run_dir = out / stage
        config = recipe.config(stage, out).replace(data=data_source)
        schedule = WallClockSchedule(
            recipe.seconds(stage),
            lambda p, stage=stage: recipe.learning_rate(stage, p),
            run_dir / "schedule.csv",
        )
        resume = (run_dir / training.CHECKPOINT).is_file()
        print(f"{stage}: {recipe.seconds(stage):.0f} s budget, {'resuming' if resume else 'new'}")
        training.train(config, run_dir, resume=resume, callbacks=[schedule], verbose=verbose)
        weights = out / f"{stage}.weights.h5"
        shutil.copyfile(run_dir / "generator.weights.h5", weights)
        files.write_digest(weights)  # checked by models.load_generator
        rows = _read_schedule(run_dir / "schedule.csv")
        state["stages"][stage] = {
            "seconds_budget": recipe.seconds(stage),
            "seconds_spent": rows[-1][2] if rows else 0.0,
            "epochs": len(rows),
            "steps": len(rows) * config.steps_per_epoch,
            "final_learning_rate": rows[-1][1] if rows else None,
            "done": True,
        }
        _save_state(out, state)
    return state


def _differences(saved: dict, wanted: dict) -> list[str]:
    """The names of the settings that differ between two `asdict(Recipe)`s (a stage's
    field named once, e.g. "max_images")."""
    names = set()
    for key, value in wanted.items():
        if isinstance(value, dict):
            names |= {k for k in value if saved.get(key, {}).get(k) != value[k]}
        elif saved.get(key) != value:
            names.add(key)
    return sorted(names)


def crop_figure(generators: dict[str, keras.Model], root: Path, path: Path) -> Path | None:
    """Zoomed crops of Set5's butterfly and Set14's baboon (those found under `root`):
    bicubic, each generator and the original, one row per image. Returns the PNG's path,
    or None when neither image is there."""
    rows, boxes = {}, {}
    for set_name, stem, title, box in FIGURE_CROPS:
        if not (root / set_name / "HR" / f"{stem}.png").is_file():
            continue
        pair = next(p for p in data.load_benchmark(set_name, root) if p.name == stem)
        images = {"bicubic": data.bicubic_upscale(pair.lr)}
        for name, generator in generators.items():
            images[name] = inference.upscale(generator, pair.lr)
        images["original"] = pair.hr
        rows[title], boxes[title] = images, box
    if not rows:
        return None
    fig = plots.zoomed_crops(rows, boxes)
    path.parent.mkdir(parents=True, exist_ok=True)
    files.atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
    return path


def write_cards(
    out: str | Path,
    sets: Sequence[str] = SETS,
    benchmarks: str | Path | None = None,
    tile: int | None = None,
    command: str = "",
) -> list[Path]:
    """Evaluate `out`'s trained generators beside bicubic on the `sets` found under
    `benchmarks` (default: `downloads.find_benchmarks()`), draw crops.png, and write a
    model card per model (NAME.json and NAME.md); `command` is recorded as the
    evaluation's. Returns the card paths."""
    out = Path(out)
    state = _state(out)
    if not state or not all(state["stages"].get(s, {}).get("done") for s in STAGES):
        raise FileNotFoundError(
            f"{out} holds no finished recipe: run `srgan models train --out {out}` first."
        )
    root = Path(benchmarks or downloads.find_benchmarks() or downloads.data_dir())
    present = [s for s in sets if (root / s / "HR").is_dir()]
    generators = {NAMES[s]: models.load_generator(out / f"{s}.weights.h5") for s in STAGES}
    recipe = Recipe.from_dict(state["recipe"])
    variants = {
        NAMES["srresnet"]: evaluation.variant_name("srresnet"),
        NAMES["srgan"]: evaluation.variant_name("srgan", recipe.srgan.content_loss),
    }  # each beside its own row of the paper: SRGAN-MSE is Table 1's, not Table 2's SRGAN
    results = evaluation.evaluate(
        {"bicubic": "bicubic", **generators}, sets=present, root=root, tile=tile, variants=variants
    )
    evaluation.save_results(results, out / "evaluation", overwrite=True)
    figure = crop_figure(generators, root, out / "crops.png")
    evaluated = runtime.describe_runtime()
    written = []
    for stage in STAGES:
        parameters = models.count_trainable(generators[NAMES[stage]])
        card = cards.model_card(
            out, stage, recipe, state, results, figure, evaluated, command, parameters
        )
        files.atomic_write(
            out / f"{stage}.json",
            lambda tmp, c=card: tmp.write_text(json.dumps(c, indent=2) + "\n"),
        )
        files.atomic_write(
            out / f"{stage}.md", lambda tmp, c=card: tmp.write_text(cards.card_markdown(c))
        )
        written.append(out / f"{stage}.json")
    return written
