"""`srgan train`: one stage, SRResNet or SRGAN, into a run folder that resumes exactly."""

from __future__ import annotations

import argparse
from pathlib import Path

from srgan_course.cli.common import add_overwrite, count


def register(commands: argparse._SubParsersAction) -> None:
    from srgan_lib.training import config  # plain Python: no Keras import

    train = commands.add_parser("train", help="train SRResNet or SRGAN (resumable runs)")
    train.add_argument("--stage", choices=config.STAGES, help="default: srresnet")
    train.add_argument("--preset", choices=config.PRESETS, default="quick")
    train.add_argument("--config", help="a config.json to start from (instead of --preset)")
    train.add_argument(
        "--data", help='"sample" (bundled images), "div2k" (downloaded) or a folder of HR images'
    )
    train.add_argument(
        "--max-images", type=count(1), help="use the first N images of --data (DIV2K: 800 = 7.5 GB)"
    )
    train.add_argument("--epochs", type=count(1))
    train.add_argument("--steps-per-epoch", type=count(1))
    train.add_argument(
        "--steps-per-execution", type=count(1), help="updates per compiled call (GPU: try 8)"
    )
    train.add_argument("--batch-size", type=count(1))
    train.add_argument("--save-interval", type=count(1), help="epochs between samples/checkpoints")
    train.add_argument("--run-dir", help="output folder (default: runs/<stage>)")
    train.add_argument("--init-from", help="SRGAN stage: an SRResNet run dir or weights file")
    train.add_argument("--content-loss", choices=config.CONTENT_LOSSES)
    train.add_argument(
        "--vgg-weights",
        help='"imagenet", "none" (random: not the paper\'s loss) or a VGG19 weights file; '
        "default: $SRGAN_VGG_WEIGHTS, else imagenet",
    )
    train.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR")
    train.add_argument("--precision", choices=config.PRECISIONS)
    train.add_argument(
        "--devices",
        type=_devices,
        help='devices that share each batch (data parallel), or "all" (default 1)',
    )
    add_overwrite(train)
    train.set_defaults(func=run)


def _devices(text: str) -> int | str:
    """An argparse type: "all" or an integer >= 1."""
    return text if text == "all" else count(1)(text)


def train_config(args: argparse.Namespace):
    """The TrainConfig a `srgan train` command line asks for, and its run directory.
    Precedence: options given > --config file (or the resumed run's config.json) >
    --preset; a config that leaves vgg_weights unset uses $SRGAN_VGG_WEIGHTS."""
    from srgan_lib.training import TrainConfig

    options = {
        "stage": args.stage,
        "data": args.data,
        "max_images": args.max_images,
        "epochs": args.epochs,
        "steps_per_epoch": args.steps_per_epoch,
        "steps_per_execution": args.steps_per_execution,
        "batch_size": args.batch_size,
        "save_interval": args.save_interval,
        "init_from": args.init_from,
        "content_loss": args.content_loss,
        "vgg_weights": args.vgg_weights,
        "precision": args.precision,
        "devices": args.devices,
    }
    changes = {key: value for key, value in options.items() if value is not None}
    if args.resume:
        run_dir = Path(args.resume)
        saved = run_dir / "config.json"
        if not saved.is_file():
            raise FileNotFoundError(
                f"{run_dir} has no config.json: is it a run directory written by `srgan train`?"
            )
        return TrainConfig.from_json(saved).replace(**changes), run_dir
    if args.config:
        config = TrainConfig.from_json(args.config)
    else:
        config = TrainConfig.preset(args.preset, args.stage or "srresnet")
    config = config.replace(**changes)
    return config, Path(args.run_dir or Path("runs") / config.stage)


def run(args: argparse.Namespace) -> int:
    config, run_dir = train_config(args)
    from srgan_lib import training

    print(f"{config.describe_architecture()}; run directory {run_dir}")
    try:
        training.train(
            config, run_dir, resume=bool(args.resume), verbose=2, overwrite=args.overwrite
        )
    except KeyboardInterrupt:
        args.stopped_hint = (
            f"resume with `srgan train --resume {run_dir}`"
            if (run_dir / training.CHECKPOINT).is_file()
            else f"no checkpoint was written yet in {run_dir}; run the same command again"
        )
        raise
    print(f"wrote {run_dir}")
    return 0
