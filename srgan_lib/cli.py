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


def _data_download(args: argparse.Namespace) -> int:
    from srgan_lib import downloads

    for name in args.names:
        try:
            folder = downloads.download(name, args.root, base_url=args.mirror)
        except (downloads.DownloadError, ValueError) as err:
            print(f"srgan data download: {err}", file=sys.stderr)
            return 2
        print(f"{name}: {folder}")
    return 0


def _parse_parameters(pairs: list[str]) -> dict:
    """["epochs=5", "dataset=div2k"] -> {"epochs": 5, "dataset": "div2k"} (JSON values
    where they parse, strings otherwise)."""
    import json

    parameters = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"srgan: error: parameter {pair!r} is not KEY=VALUE (e.g. epochs=5)")
        try:
            parameters[key] = json.loads(value)
        except json.JSONDecodeError:
            parameters[key] = value
    return parameters


def _course_run(args: argparse.Namespace) -> int:
    import json

    from srgan_lib import course

    run_dir = course.run_course(
        args.notebooks, args.runs_dir, _parse_parameters(args.parameter), args.only
    )
    print((run_dir / "summary.md").read_text())
    print(f"wrote {run_dir}")
    results = json.loads((run_dir / "summary.json").read_text())
    return 1 if any(r["error"] for r in results) else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="srgan", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="build the models and upscale a sample image")
    demo.add_argument("--out", default="runs/demo", help="output folder")
    demo.add_argument("--num-blocks", type=int, default=16)
    demo.set_defaults(func=_demo)

    data_parser = commands.add_parser("data", help="download and cache data sets")
    data_commands = data_parser.add_subparsers(dest="data_command", required=True)
    download = data_commands.add_parser("download", help="download (or find cached) sets")
    download.add_argument(
        "names", nargs="+", metavar="NAME", help="Set5, Set14, BSD100, Urban100 or DIV2K"
    )
    download.add_argument(
        "--root", default=None, help="cache folder (default: $SRGAN_DATA_DIR, else data/)"
    )
    download.add_argument("--mirror", default=None, metavar="URL",
                          help="fetch from a mirror that serves the same paths")
    download.set_defaults(func=_data_download)

    course_parser = commands.add_parser("course", help="run or hand out the lessons")
    course_commands = course_parser.add_subparsers(dest="course_command", required=True)
    run = course_commands.add_parser("run", help="execute every lesson in order (papermill)")
    run.add_argument("--notebooks", default=None, help="lesson folder (default: notebooks/)")
    run.add_argument("--runs-dir", default="runs", help="where runs/course-<time>/ goes")
    run.add_argument(
        "-p",
        "--parameter",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a papermill parameter for every lesson that declares it",
    )
    run.add_argument("--only", nargs="*", help="lesson name prefixes, e.g. 00 05")
    run.set_defaults(func=_course_run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
