"""What a training run is asked to do: `TrainConfig`, its presets and its one validator
(`TrainConfig.validate`, which `Recipe` reuses). No Keras here, so that `srgan --help` can
list the choices cheaply; the names options accept live in `srgan_lib.choices`."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

from srgan_lib.choices import CONTENT_LOSSES, PRECISIONS, PRESETS, SCALES, STAGES
from srgan_lib.files import atomic_write
from srgan_lib.validation import (
    ParameterError,
    check_choice,
    check_int,
    check_number,
    check_text,
)

# Settings the checkpointed variables depend on, per stage; everything else may change
# when a run resumes (learning rate, its schedule, epochs, precision, content loss...).
ARCHITECTURE = {
    "srresnet": ("stage", "scale", "num_blocks", "filters"),
    "srgan": (
        "stage",
        "scale",
        "num_blocks",
        "filters",
        "hr_size",
        "disc_filters",
        "freeze_generator_bn",
    ),  # fmt: skip
}


class ArchitectureMismatchError(ValueError):
    """A run is resumed with a configuration whose models differ from the checkpoint's."""


@dataclasses.dataclass
class TrainConfig:
    """Every hyper-parameter of one training stage. Saved as config.json with each run.

    Steps: `epochs` * `steps_per_epoch` updates; an SRGAN step is one D and one G update.
    Learning rate: `learning_rate`, then `lr_after_decay` from epoch
    `decay_epoch()` = round(`lr_decay_at` * `epochs`) on (`lr_decay_at`: a fraction of the
    run in (0, 1); None: never). Images: LR crops of `hr_size` / `scale` pixels in
    [0, 1], HR crops of `hr_size` pixels in [-1, 1].
    `data`: "sample" (the five images bundled with scikit-image), "div2k" (downloaded) or
    a folder of HR images; `max_images` keeps the first N (all 800 DIV2K training images
    take about 7.5 GB of memory).
    `vgg_weights`: "imagenet", "none" (random: not the paper's loss) or a weights file;
    None: $SRGAN_VGG_WEIGHTS, else "imagenet".
    `init_from`: SRGAN stage only, an SRResNet run dir or generator weights file.
    `icnr`: start G's sub-pixel convolutions with ICNR (no 4-pixel grid at the start;
    `models.build_generator`); False: plain random, as the shipped models were trained.
    `freeze_generator_bn`: SRGAN stage only: G's batch-norm layers stay in inference mode
    during its updates (moving statistics, scale and offset kept as `init_from` left
    them). For short fine-tunes on small batches, whose batch statistics would replace
    the trained ones (lesson 05); the paper trains them (False).
    `jit_compile`: "auto" (JAX: always; TensorFlow: XLA on GPU only) or a bool (TF only).
    `steps_per_execution`: updates per compiled call; on a GPU, 8 doubled the float32
    SRResNet step's speed (bench/README.md). Keep `steps_per_epoch` a multiple of it.
    `prefetch`: batches cut ahead in a background thread while the device computes (0: cut
    each when asked); the batches are the same either way (`training.feed`).
    `devices`: how many devices share each batch (data parallel, `training.devices`), or
    "all"; `batch_size` is the global batch and must split evenly over them.
    """

    stage: str = "srresnet"
    scale: int = 4
    hr_size: int = 96
    batch_size: int = 16
    num_blocks: int = 16
    filters: int = 64
    disc_filters: int = 64
    bn_momentum: float = 0.8
    epochs: int = 1000
    steps_per_epoch: int = 1000
    learning_rate: float = 1e-4
    lr_decay_at: float | None = None
    lr_after_decay: float = 1e-5
    beta_1: float = 0.9
    content_loss: str = "vgg54"
    adversarial_weight: float = 1e-3  # paper Eq. 3 (= losses.ADVERSARIAL_WEIGHT)
    vgg_weights: str | None = None
    init_from: str | None = None
    freeze_generator_bn: bool = False
    icnr: bool = True
    precision: str = "float32"
    jit_compile: bool | str = "auto"
    steps_per_execution: int = 1
    prefetch: int = 8
    devices: int | str = 1
    save_interval: int = 10
    data: str = "sample"
    max_images: int | None = None
    augment: bool = True
    seed: int = 0

    @classmethod
    def preset(cls, name: str, stage: str = "srresnet", **overrides) -> TrainConfig:
        """Named settings for `stage`, then `overrides` (any field).

        "paper" (Sec. 3.2): x4, 96x96 HR crops, batch 16, B = 16 blocks, Adam(beta1 0.9);
        SRResNet 10^6 steps at 1e-4; SRGAN 2 * 10^5 steps, 1e-4 then 1e-5 for the second
        half, VGG5,4 content loss, adversarial weight 1e-3.
        "quick": the same recipe, small enough for about a minute on two CPU cores with
        the sample images (4 blocks, 48x48 crops, batch 4, 3 epochs of 8 steps).
        """
        check_choice("stage", stage, STAGES)
        check_choice("preset", name, PRESETS)
        paper_epochs = {"srresnet": 1_000, "srgan": 200}  # epochs of 1000 steps
        settings = {
            "paper": {"epochs": paper_epochs[stage], "steps_per_epoch": 1000},
            "quick": {
                "num_blocks": 4,
                "hr_size": 48,
                "batch_size": 4,
                "epochs": 3,
                "steps_per_epoch": 8,
                "save_interval": 1,
            },
        }[name]
        decay = {"lr_decay_at": 0.5} if stage == "srgan" else {}
        return cls(stage=stage, **settings, **decay).replace(**overrides)

    def replace(self, **changes) -> TrainConfig:
        """A copy with `changes` applied, validated.

        Raises:
            ValueError: a change names no field of TrainConfig.
            validation.ParameterError: a value is impossible (see `validate`).
        """
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ValueError(f"TrainConfig has no field(s) {', '.join(sorted(unknown))}.")
        return dataclasses.replace(self, **changes).validate()

    def validate(self) -> TrainConfig:
        """Check every field's type and range, then the settings that depend on each
        other, so that `--config` JSON, presets, recipes and lesson parameters fail at
        once with the field's name (num_blocks -1, hr_size 0 or "48" are refused before
        any file is written).

        Returns:
            self.

        Raises:
            validation.ParameterError: (a ValueError) naming the first impossible setting,
                the value received and the values allowed.
        """
        c = self
        check_choice("stage", c.stage, STAGES)
        check_choice("scale", c.scale, SCALES)
        check_int("hr_size", c.hr_size, minimum=c.scale, multiple_of=c.scale)
        if c.stage == "srgan" and c.hr_size % 16:
            raise ParameterError(
                f"hr_size must be a multiple of 16 for the SRGAN stage (the discriminator's "
                f"four stride-2 convolutions), got {c.hr_size}."
            )
        for name in ("batch_size", "num_blocks", "filters", "disc_filters", "epochs"):
            check_int(name, getattr(c, name), minimum=1)
        for name in ("steps_per_epoch", "steps_per_execution", "save_interval"):
            check_int(name, getattr(c, name), minimum=1)
        if c.steps_per_epoch % c.steps_per_execution:
            raise ParameterError(
                f"steps_per_epoch={c.steps_per_epoch} is not a multiple of "
                f"steps_per_execution={c.steps_per_execution}."
            )
        check_number("bn_momentum", c.bn_momentum, 0.0, 1.0)
        check_number("learning_rate", c.learning_rate, 0.0, open_low=True)
        check_number("lr_after_decay", c.lr_after_decay, 0.0, open_low=True)
        if c.lr_decay_at is not None:
            check_number("lr_decay_at", c.lr_decay_at, 0.0, 1.0, open_low=True)
        check_number("beta_1", c.beta_1, 0.0, 1.0)
        check_choice("content_loss", c.content_loss, CONTENT_LOSSES)
        check_number("adversarial_weight", c.adversarial_weight, 0.0)
        check_text("vgg_weights", c.vgg_weights, allow_none=True)
        check_text("init_from", c.init_from, allow_none=True)
        check_choice("precision", c.precision, PRECISIONS)
        if c.jit_compile != "auto":
            check_choice("jit_compile", c.jit_compile, (True, False))
        check_text("data", c.data)
        if c.max_images is not None:
            check_int("max_images", c.max_images, minimum=1)
        check_choice("augment", c.augment, (True, False))
        check_choice("freeze_generator_bn", c.freeze_generator_bn, (True, False))
        check_choice("icnr", c.icnr, (True, False))
        check_int("prefetch", c.prefetch, minimum=0)
        if c.devices != "all":
            if isinstance(c.devices, bool) or not isinstance(c.devices, int) or c.devices < 1:
                raise ParameterError(
                    f'devices must be an integer >= 1 or "all", got {c.devices!r}.'
                )
            if c.batch_size % c.devices:
                raise ParameterError(
                    f"batch_size={c.batch_size} does not split over devices={c.devices}: "
                    "use a batch size that is a multiple of the number of devices."
                )
        check_int("seed", c.seed, minimum=0)
        return self

    @property
    def total_steps(self) -> int:
        return self.epochs * self.steps_per_epoch

    def decay_epoch(self) -> int | None:
        """The first (0-based) epoch trained at `lr_after_decay`, or None."""
        if self.lr_decay_at is None:
            return None
        return math.floor(self.lr_decay_at * self.epochs + 0.5)

    def learning_rate_at(self, epoch: int) -> float:
        """The schedule: the learning rate of (0-based) `epoch`."""
        decay = self.decay_epoch()
        return self.lr_after_decay if decay is not None and epoch >= decay else self.learning_rate

    def architecture(self) -> dict:
        """The settings a checkpoint's variables depend on (compared when resuming)."""
        return {key: getattr(self, key) for key in ARCHITECTURE[self.stage]}

    def check_resumable_from(self, saved: TrainConfig, where: str) -> None:
        """Raise ArchitectureMismatchError naming each setting that differs from the
        `saved` config in a way the checkpoint's variables cannot follow."""
        wanted = self.architecture()
        changed = [
            f"{key} is {value!r} there but {wanted.get(key)!r} here"
            for key, value in saved.architecture().items()
            if wanted.get(key) != value
        ]
        if changed:
            raise ArchitectureMismatchError(
                f"Cannot resume {where}: {'; '.join(changed)}. Its checkpoint holds "
                f"{saved.describe_architecture()}, but this run asks for "
                f"{self.describe_architecture()}. Resume with the saved values (drop the "
                "changed options) or start a new --run-dir."
            )

    def describe_architecture(self) -> str:
        """E.g. "srgan: x4 generator with 16 blocks of 64 filters, ..."."""
        text = (
            f"{self.stage}: x{self.scale} generator with {self.num_blocks} blocks of "
            f"{self.filters} filters"
        )
        if self.stage == "srgan":
            text += (
                f", discriminator of {self.disc_filters} filters on {self.hr_size}px crops, "
                f"{self.content_loss} content loss"
            )
        return f"{text}, {self.precision}"

    def to_json(self, path: str | Path | None = None) -> str:
        """The config as JSON text; also written (atomically) to `path` when given."""
        text = json.dumps(dataclasses.asdict(self), indent=2) + "\n"
        if path is not None:
            atomic_write(path, lambda tmp: tmp.write_text(text))
        return text

    @classmethod
    def from_json(cls, path: str | Path) -> TrainConfig:
        """Read a config from a JSON file (config.json of a run, or one written by hand)."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"No config file at {path}.")
        try:
            values = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise ValueError(f"{path} is not valid JSON: {err}.") from None
        return cls.from_dict(values)

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        """A validated config from a dict such as `dataclasses.asdict(config)`."""
        return cls().replace(**values)
