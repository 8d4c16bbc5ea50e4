"""`srgan evaluate`: PSNR/SSIM (Y channel, border cropped) on the benchmark sets beside the
paper's tables."""

from __future__ import annotations

import argparse
from pathlib import Path

from srgan_course.cli.common import (
    CommandError,
    add_generator_options,
    add_overwrite,
    add_sets,
    check_weights,
    check_writable_folder,
    data_root,
    load_generator,
    make_folder,
    one_line,
    set_names,
)


def register(commands: argparse._SubParsersAction) -> None:
    evaluate = commands.add_parser("evaluate", help="PSNR/SSIM on the benchmark sets")
    evaluate.add_argument(
        "--weights",
        nargs="+",
        help='generator weights, or "srresnet" / "srgan" (shipped); default: bicubic only',
    )
    evaluate.add_argument(
        "--names", nargs="+", help="one name per weights file (SRResNet, SRGAN: paper rows)"
    )
    evaluate.add_argument(
        "--variants",
        nargs="+",
        help="the paper's variant of each weights file, whose row it is set beside "
        "(SRResNet-MSE, SRGAN-MSE, SRGAN-VGG22, SRGAN-VGG54; default: a shipped model's "
        "card says it, else the name)",
    )
    add_sets(evaluate)
    evaluate.add_argument("--out", help="run folder for per_image.csv, summary.csv, summary.md")
    evaluate.add_argument(
        "--partial",
        action="store_true",
        help="score incomplete sets on the images present (the table says so)",
    )
    add_generator_options(evaluate)
    add_overwrite(evaluate)
    evaluate.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from srgan_lib import files

    weights = args.weights or []
    names = args.names or [Path(w).name.split(".")[0] for w in weights]
    if len(names) != len(weights):
        raise CommandError(
            f"{len(weights)} --weights but {len(names)} --names: give one name per weights file."
        )
    for path in weights:
        check_weights(path)
    variants = args.variants or [_shipped_variant(path) for path in weights]
    if len(variants) != len(weights):
        raise CommandError(
            f"{len(weights)} --weights but {len(variants)} --variants: give one per weights file."
        )
    sets = set_names(args.sets)
    root = data_root(args.data_dir)
    for set_name in sets:
        if not (root / set_name / "HR").is_dir():
            raise CommandError(
                f"no benchmark {set_name} at {root / set_name} (expected HR/ and "
                f"LR_bicubic_x{args.scale}/): run `srgan data download {set_name}` or pass "
                "--data-dir with the folder that holds it."
            )
    out = check_writable_folder(args.out) if args.out else None
    if out:
        names_out = ("per_image.csv", "summary.csv", "summary.md")
        files.check_outputs([out / name for name in names_out], args.overwrite)
    methods = {"bicubic": "bicubic"}
    for name, path in zip(names, weights, strict=True):
        methods[name] = load_generator(path, args.scale, args.num_blocks)
    from srgan_lib import evaluation

    try:
        results = evaluation.evaluate(
            methods,
            sets,
            root,
            args.scale,
            args.tile,
            args.overlap,
            partial=args.partial,
            variants={n: v for n, v in zip(names, variants, strict=True) if v},
        )
    except (FileNotFoundError, ValueError) as err:
        raise CommandError(one_line(err)) from err
    print(evaluation.format_table(results))
    if out:
        make_folder(out)
        evaluation.save_results(results, out, overwrite=args.overwrite)
        print(f"wrote {out}")
    return 0


def _shipped_variant(path: str) -> str:
    """The paper variant of a shipped model ("SRGAN-MSE" for the shipped SRGAN), from its
    card; "" for a weights file (its name then chooses the paper row)."""
    from srgan_lib import shipped

    name = "srresnet" if path == "bundled" else path
    if Path(path).is_file() or name not in shipped.pretrained_names():
        return ""
    variant = shipped.pretrained_card(name)["variant"].split(":")[0]
    return "SRResNet-MSE" if variant == "SRResNet" else variant
