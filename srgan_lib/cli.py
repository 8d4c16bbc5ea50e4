"""The `srgan` command line: one subcommand per job.

srgan demo      build the models, upscale a sample image, save a comparison figure
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="srgan", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="build the models and upscale a sample image")
    demo.add_argument("--out", default="runs/demo", help="output folder")
    demo.add_argument("--num-blocks", type=int, default=16)
    demo.set_defaults(func=_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
