"""What a training run is asked to do: `TrainConfig`, its presets and the names its
options accept. No Keras here, so that `srgan --help` can list the choices cheaply."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

STAGES = ("srresnet", "srgan")
CONTENT_LOSSES = ("vgg54", "vgg22", "mse")
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")
PRESETS = ("quick", "paper")
# Settings the checkpointed variables depend on, per stage; everything else may change
# when a run resumes (learning rate, its schedule, epochs, precision, content loss...).
ARCHITECTURE = {
    "srresnet": ("stage", "scale", "num_blocks", "filters"),
    "srgan": ("stage", "scale", "num_blocks", "filters", "hr_size", "disc_filters"),
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
        _check_choice("stage", stage, STAGES)
        _check_choice("preset", name, PRESETS)
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
        """A copy with `changes` applied, validated."""
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ValueError(f"TrainConfig has no field(s) {', '.join(sorted(unknown))}.")
        return dataclasses.replace(self, **changes).validate()

    def validate(self) -> TrainConfig:
        """Raise ValueError naming the first impossible setting; return self.
        Each check is one entry of `_CHECKS` (a function of the config returning an
        error message or None): add new ones there. Types and ranges of every field are
        checked first (`validation.check_train_config`)."""
        from srgan_lib import validation

        validation.check_train_config(self)
        for check in _CHECKS:
            message = check(self)
            if message:
                raise ValueError(message)
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
            from srgan_lib.files import atomic_write

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


def _check_choice(name: str, value, allowed) -> None:
    if value not in allowed:
        raise ValueError(f"{name}={value!r} is not one of {', '.join(allowed)}.")


def _choices(config: TrainConfig) -> str | None:
    for name, allowed in (
        ("stage", STAGES),
        ("content_loss", CONTENT_LOSSES),
        ("precision", PRECISIONS),
    ):
        if getattr(config, name) not in allowed:
            return f"{name}={getattr(config, name)!r} is not one of {', '.join(allowed)}."
    return None


def _positive(config: TrainConfig) -> str | None:
    for name in ("epochs", "steps_per_epoch", "steps_per_execution", "batch_size", "save_interval"):
        if getattr(config, name) < 1:
            return f"{name} must be at least 1, got {getattr(config, name)}."
    return None


def _crop_size(config: TrainConfig) -> str | None:
    if config.hr_size % config.scale or (config.stage == "srgan" and config.hr_size % 16):
        return (
            f"hr_size={config.hr_size} must be a multiple of the scale ({config.scale}) and, "
            "for the SRGAN stage, of 16 (the discriminator's four stride-2 convolutions)."
        )
    return None


def _steps(config: TrainConfig) -> str | None:
    if config.steps_per_epoch % config.steps_per_execution:
        return (
            f"steps_per_epoch={config.steps_per_epoch} is not a multiple of "
            f"steps_per_execution={config.steps_per_execution}."
        )
    return None


def _decay(config: TrainConfig) -> str | None:
    if config.lr_decay_at is not None and not 0 < config.lr_decay_at < 1:
        return f"lr_decay_at={config.lr_decay_at} is not a fraction in (0, 1) or None."
    return None


def _devices(config: TrainConfig) -> str | None:
    if config.devices != "all" and config.batch_size % config.devices:
        return (
            f"batch_size={config.batch_size} does not split over devices={config.devices}: "
            "use a batch size that is a multiple of the number of devices."
        )
    return None


_CHECKS = (_choices, _positive, _crop_size, _steps, _decay, _devices)
