"""`srgan demo`: build the models, upscale a sample, save the pictures."""

from __future__ import annotations

import argparse
from pathlib import Path

from srgan_course.cli.common import add_overwrite, count


def register(commands: argparse._SubParsersAction) -> None:
    demo = commands.add_parser("demo", help="build the models and upscale a sample image")
    demo.add_argument("--out", default="runs/demo", help="output folder")
    demo.add_argument("--num-blocks", type=count(1), default=16)
    add_overwrite(demo)
    demo.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from srgan_lib import files

    out = Path(args.out)
    files.check_outputs([out / "sr_untrained.png", out / "bicubic.png"], args.overwrite)
    from srgan_lib import data, metrics, models

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
