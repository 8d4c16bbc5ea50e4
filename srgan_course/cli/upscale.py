"""`srgan upscale IN... -o OUT --weights W`: super-resolve image files."""

from __future__ import annotations

import argparse
from pathlib import Path

from srgan_course.cli.common import (
    CommandError,
    add_generator_options,
    add_overwrite,
    check_weights,
    check_writable_folder,
    load_generator,
    make_folder,
    one_line,
)


def register(commands: argparse._SubParsersAction) -> None:
    upscale = commands.add_parser("upscale", help="super-resolve image files")
    upscale.add_argument("inputs", nargs="+", metavar="IN", help="image files")
    upscale.add_argument(
        "-o", "--out", required=True, help="output folder (PNG files named after the inputs)"
    )
    upscale.add_argument(
        "--weights",
        required=True,
        help='generator .weights.h5 or .keras, or a shipped model: "srresnet" or "srgan" '
        "(see `srgan models list`)",
    )
    add_generator_options(upscale)
    add_overwrite(upscale)
    upscale.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from srgan_lib import files

    # Every check first, with no model loaded and nothing written.
    missing = [path for path in args.inputs if not Path(path).is_file()]
    if missing:
        raise CommandError(f"No image file at {missing[0]}. Check the path.")
    out = check_writable_folder(args.out)
    check_weights(args.weights)
    files.check_outputs(
        [out / f"{Path(p).stem}.png" for p in args.inputs], args.overwrite, inputs=args.inputs
    )
    generator = load_generator(args.weights, args.scale, args.num_blocks)
    from srgan_lib import data, inference

    make_folder(out)
    try:
        written = inference.upscale_files(
            generator, args.inputs, out, args.tile, args.overlap, args.overwrite
        )
    except (data.ImageReadError, ValueError) as err:
        raise CommandError(one_line(err)) from err
    for source, target in zip(args.inputs, written, strict=True):
        print(f"{source} -> {target}")
    return 0
