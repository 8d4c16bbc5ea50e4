"""The `srgan` command line: one subcommand per job.

srgan demo      build the models, upscale a sample image, save a comparison figure
srgan upscale   super-resolve image files with trained generator weights
srgan evaluate  PSNR/SSIM on Set5, Set14, BSD100 beside the paper's Table 2
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path


def _demo(args: argparse.Namespace) -> int:
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


class CommandError(Exception):
    """A problem the user can fix: reported as one line on stderr, exit code 2."""


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split())


def _load_generator(path: str, scale: int, num_blocks: int | None):
    from srgan_lib import models

    if not Path(path).is_file():
        raise CommandError(
            f"no weights file at {path}: pass --weights with the .weights.h5 or .keras file "
            "of a generator saved by srgan_lib."
        )
    try:
        return models.load_generator(path, scale=scale, num_blocks=num_blocks)
    except models.WeightsMismatchError as err:
        raise CommandError(_one_line(err)) from err


def _writable_folder(folder: str) -> Path:
    """Create `folder` if needed and check a file can be written in it."""
    path = Path(folder)
    try:
        path.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=path).close()
    except OSError as err:
        raise CommandError(
            f"cannot write to output folder {path} ({err.strerror or err}): "
            "pass -o/--out with a folder you can write to."
        ) from err
    return path


def _upscale(args: argparse.Namespace) -> int:
    from srgan_lib import data, inference

    out = _writable_folder(args.out)
    generator = _load_generator(args.weights, args.scale, args.num_blocks)
    try:
        written = inference.upscale_files(
            generator, args.inputs, out, tile=args.tile, overlap=args.overlap
        )
    except (data.ImageReadError, ValueError) as err:
        raise CommandError(_one_line(err)) from err
    for source, target in zip(args.inputs, written, strict=True):
        print(f"{source} -> {target}")
    return 0


def _data_root(data_dir: str | None) -> Path:
    """--data-dir, else $SRGAN_DATA_DIR, else data/; then its benchmarks/ if present."""
    root = Path(data_dir or os.environ.get("SRGAN_DATA_DIR") or "data")
    return root / "benchmarks" if (root / "benchmarks").is_dir() else root


def _evaluate(args: argparse.Namespace) -> int:
    from srgan_lib import evaluation

    weights = args.weights or []
    names = args.names or [Path(w).name.split(".")[0] for w in weights]
    if len(names) != len(weights):
        raise CommandError(
            f"{len(weights)} --weights but {len(names)} --names: give one name per weights file."
        )
    sets = [s.strip() for s in args.sets.split(",") if s.strip()]
    root = _data_root(args.data_dir)
    for set_name in sets:
        if not (root / set_name / "HR").is_dir():
            raise CommandError(
                f"no benchmark {set_name} at {root / set_name} (expected HR/ and "
                f"LR_bicubic_x{args.scale}/): run `srgan data download {set_name}` or pass "
                "--data-dir with the folder that holds it."
            )
    out = _writable_folder(args.out) if args.out else None
    methods = {"bicubic": "bicubic"}
    for name, path in zip(names, weights, strict=True):
        methods[name] = _load_generator(path, args.scale, args.num_blocks)
    try:
        results = evaluation.evaluate(
            methods, sets=sets, root=root, scale=args.scale, tile=args.tile, overlap=args.overlap
        )
    except (FileNotFoundError, ValueError) as err:
        raise CommandError(_one_line(err)) from err
    print(evaluation.format_table(results))
    if out:
        evaluation.save_results(results, out)
        print(f"wrote {out}")
    return 0


def _add_generator_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scale", type=int, default=4, help="scale the weights must have")
    parser.add_argument(
        "--num-blocks", type=int, help="residual blocks the weights must have (default: any)"
    )
    parser.add_argument("--tile", type=int, help="LR tile size in pixels (default: whole image)")
    parser.add_argument(
        "--overlap",
        type=int,
        default=16,
        help="LR pixels of context around each tile (default 16; 2*blocks+8, i.e. 40 for "
        "16 blocks, makes tiles seamless)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="srgan", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="build the models and upscale a sample image")
    demo.add_argument("--out", default="runs/demo", help="output folder")
    demo.add_argument("--num-blocks", type=int, default=16)
    demo.set_defaults(func=_demo)

    upscale = commands.add_parser("upscale", help="super-resolve image files")
    upscale.add_argument("inputs", nargs="+", metavar="IN", help="image files")
    upscale.add_argument(
        "-o", "--out", required=True, help="output folder (PNG files named after the inputs)"
    )
    upscale.add_argument("--weights", required=True, help="generator .weights.h5 or .keras")
    _add_generator_options(upscale)
    upscale.set_defaults(func=_upscale)

    evaluate = commands.add_parser("evaluate", help="PSNR/SSIM on the benchmark sets")
    evaluate.add_argument("--weights", nargs="+", help="generator weights (default: bicubic only)")
    evaluate.add_argument(
        "--names", nargs="+", help="one name per weights file (SRResNet, SRGAN: paper rows)"
    )
    evaluate.add_argument("--sets", default="Set5,Set14,BSD100", help="comma-separated sets")
    evaluate.add_argument(
        "--data-dir", help="folder holding Set5/HR, ... (default: $SRGAN_DATA_DIR or data/)"
    )
    evaluate.add_argument("--out", help="run folder for per_image.csv, summary.csv, summary.md")
    _add_generator_options(evaluate)
    evaluate.set_defaults(func=_evaluate)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except CommandError as err:
        print(f"srgan {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
