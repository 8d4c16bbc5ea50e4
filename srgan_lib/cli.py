"""The `srgan` command line: one subcommand per job.

srgan demo      build the models, upscale a sample image, save a comparison figure
srgan train     train SRResNet or SRGAN into a run directory (resumable)
"""

from __future__ import annotations

import argparse
import sys


def _demo(args: argparse.Namespace) -> int:
    from pathlib import Path

    from srgan_lib import data, metrics, models

    out = Path(args.out)
    pair = data.make_pairs({"astronaut": data.sample_images()["astronaut"]}, scale=4)[0]
    generator = models.build_generator(num_blocks=args.num_blocks)
    sr = data.to_uint8(generator(data.to_lr_input(pair.lr[None]), training=False))[0]
    bicubic = data.bicubic_upscale(pair.lr)
    data.save_image(sr, out / "sr_untrained.png")
    data.save_image(bicubic, out / "bicubic.png")
    print(f"generator: {models.count_trainable(generator):,} trainable parameters")
    print(
        f"bicubic PSNR {metrics.psnr(bicubic, pair.hr):.2f} dB; "
        f"untrained generator PSNR {metrics.psnr(sr, pair.hr):.2f} dB"
    )
    print(f"wrote {out}")
    return 0


def _train_config(args: argparse.Namespace):
    """The TrainConfig a `srgan train` command line asks for, and its run directory.
    Precedence: options given > SRGAN_VGG_WEIGHTS > --config file (or the resumed run's
    config.json) > --preset."""
    import os
    from pathlib import Path

    from srgan_lib.training import TrainConfig

    options = {
        "stage": args.stage,
        "data": args.data,
        "epochs": args.epochs,
        "steps_per_epoch": args.steps_per_epoch,
        "batch_size": args.batch_size,
        "save_interval": args.save_interval,
        "init_from": args.init_from,
        "content_loss": args.content_loss,
        "vgg_weights": args.vgg_weights or os.environ.get("SRGAN_VGG_WEIGHTS"),
        "precision": args.backend_precision,
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


def _train(args: argparse.Namespace) -> int:
    from srgan_lib import losses, models, training

    known = (
        FileNotFoundError,
        FileExistsError,
        ValueError,
        losses.VGGWeightsError,
        models.WeightsMismatchError,
        training.NonFiniteLossError,
    )
    try:
        config, run_dir = _train_config(args)
        print(f"{config.describe_architecture()}; run directory {run_dir}")
        training.train(config, run_dir, resume=bool(args.resume), verbose=2)
    except known as err:
        print(f"srgan train: error: {err}", file=sys.stderr)
        return 1
    print(f"wrote {run_dir}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="srgan", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="build the models and upscale a sample image")
    demo.add_argument("--out", default="runs/demo", help="output folder")
    demo.add_argument("--num-blocks", type=int, default=16)
    demo.set_defaults(func=_demo)

    train = commands.add_parser("train", help="train SRResNet or SRGAN (resumable runs)")
    train.add_argument("--stage", choices=["srresnet", "srgan"], help="default: srresnet")
    train.add_argument("--preset", choices=["quick", "paper"], default="quick")
    train.add_argument("--config", help="a config.json to start from (instead of --preset)")
    train.add_argument("--data", help='"sample" (bundled images) or a folder of HR images')
    train.add_argument("--epochs", type=int)
    train.add_argument("--steps-per-epoch", type=int)
    train.add_argument("--batch-size", type=int)
    train.add_argument("--save-interval", type=int, help="epochs between samples/checkpoints")
    train.add_argument("--run-dir", help="output folder (default: runs/<stage>)")
    train.add_argument("--init-from", help="SRGAN stage: an SRResNet run dir or weights file")
    train.add_argument("--content-loss", choices=["vgg54", "vgg22", "mse"])
    train.add_argument(
        "--vgg-weights",
        help='"imagenet", "none" (random: not the paper\'s loss) or a VGG19 weights file; '
        "default: $SRGAN_VGG_WEIGHTS, else imagenet",
    )
    train.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR")
    train.add_argument(
        "--backend-precision", choices=["float32", "mixed_bfloat16", "mixed_float16"]
    )
    train.set_defaults(func=_train)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
