"""The `srgan` command line: one subcommand per job.

srgan demo                          build the models, upscale a sample, save pictures
srgan train --stage srresnet|srgan  train into a run directory (resumable)
srgan upscale IN... -o OUT --weights W   super-resolve image files
srgan evaluate [--weights W...]     PSNR/SSIM on Set5, Set14, BSD100 beside Table 2
srgan data download NAME ...        fetch and cache data sets
srgan course run                    execute every lesson (papermill)
srgan course student [--out dist]   student and autograder copies of the lessons
srgan course grade SUBMISSIONS_DIR  grade a class's submitted notebooks into a CSV
srgan course sweep LESSON -p epochs=5,20,100 --out DIR
                                    rerun one lesson per parameter value, compare
"""

from __future__ import annotations

import argparse
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
    parameters = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"srgan: error: parameter {pair!r} is not KEY=VALUE (e.g. epochs=5)")
        parameters[key] = _json_or_text(value)
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


def _course_student(args: argparse.Namespace) -> int:
    from pathlib import Path

    from srgan_lib import classroom

    out = Path(args.out)
    student = classroom.make_student(args.notebooks, out / "student", args.badge_path)
    autograder = classroom.make_autograder(args.notebooks, out / "autograder")
    print(f"wrote {len(student)} student notebooks to {out / 'student'}")
    print(
        f"wrote {len(autograder)} autograder notebooks to {out / 'autograder'} "
        "(hidden tests: keep them from students)"
    )
    return 0


def _course_grade(args: argparse.Namespace) -> int:
    from srgan_lib import classroom

    out = classroom.grade_folder(
        args.submissions, args.autograder, args.out, args.executed, args.timeout
    )
    print(f"wrote {out}")
    return 0


def _course_sweep(args: argparse.Namespace) -> int:
    import csv

    from srgan_lib import classroom

    grid = {}
    for key, values in _parse_parameters(args.parameter).items():
        items = values if isinstance(values, list) else str(values).split(",")
        grid[key] = [_json_or_text(item) for item in items]
    if not grid:
        raise SystemExit("srgan: error: give at least one -p KEY=V1,V2,... (e.g. epochs=5,20)")
    comparison = classroom.sweep(args.lesson, grid, args.out, args.notebooks)
    print(comparison.read_text())
    print(f"wrote {comparison.parent}")
    with (comparison.parent / "comparison.csv").open() as f:
        return 1 if any(row["status"] != "ok" for row in csv.DictReader(f)) else 0


def _json_or_text(value):
    """A string's JSON value where it parses ("5" -> 5, "[1, 2]" -> [1, 2]), else the
    string itself; non-strings unchanged."""
    import json

    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


class CommandError(Exception):
    """A problem the user can fix: reported as one line on stderr, exit code 2."""


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split())


def _load_generator(path: str, scale: int, num_blocks: int | None):
    from srgan_lib import models

    if path == "bundled":
        path = str(models.PRETRAINED_SRRESNET)
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
    """--data-dir, else the download cache ($SRGAN_DATA_DIR, else data/); then its
    benchmarks/ if present."""
    from srgan_lib import downloads

    root = downloads.data_dir(data_dir)
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


def _train_config(args: argparse.Namespace):
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

    data_parser = commands.add_parser("data", help="download and cache data sets")
    data_commands = data_parser.add_subparsers(dest="data_command", required=True)
    download = data_commands.add_parser("download", help="download (or find cached) sets")
    download.add_argument(
        "names", nargs="+", metavar="NAME", help="Set5, Set14, BSD100, Urban100 or DIV2K"
    )
    download.add_argument(
        "--root", default=None, help="cache folder (default: $SRGAN_DATA_DIR, else data/)"
    )
    download.add_argument(
        "--mirror",
        default=None,
        metavar="URL",
        help="fetch from a mirror that serves the same paths",
    )
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

    student = course_commands.add_parser(
        "student", help="write student and autograder copies of the lessons (nbgrader)"
    )
    student.add_argument("--notebooks", default=None, help="lesson folder (default: notebooks/)")
    student.add_argument(
        "--out", default="dist", help="writes OUT/student/ and OUT/autograder/ (default: dist)"
    )
    student.add_argument(
        "--badge-path",
        default="/blob/student/notebooks/",
        help="replaces /blob/main/notebooks/ in the Colab badges (the branch students open)",
    )
    student.set_defaults(func=_course_student)

    grade_parser = course_commands.add_parser(
        "grade", help="grade submitted notebooks (SUBMISSIONS_DIR/<student>/<lesson>.ipynb)"
    )
    grade_parser.add_argument("submissions", metavar="SUBMISSIONS_DIR")
    grade_parser.add_argument(
        "--autograder", default="dist/autograder", help="the autograder copies of the lessons"
    )
    grade_parser.add_argument("--out", default="grades.csv", help="the CSV to write")
    grade_parser.add_argument(
        "--executed", default=None, metavar="DIR", help="keep the executed submissions here"
    )
    grade_parser.add_argument(
        "--timeout", type=int, default=600, help="seconds per cell before it is interrupted"
    )
    grade_parser.set_defaults(func=_course_grade)

    sweep = course_commands.add_parser(
        "sweep", help="rerun one lesson for several parameter values and compare the results"
    )
    sweep.add_argument("lesson", metavar="LESSON", help="a lesson file or name prefix, e.g. 05")
    sweep.add_argument(
        "-p",
        "--parameter",
        action="append",
        default=[],
        metavar="KEY=V1,V2",
        help="values of a papermill parameter; several -p give every combination",
    )
    sweep.add_argument("--out", required=True, help="folder for the runs and comparison.md")
    sweep.add_argument("--notebooks", default=None, help="lesson folder (default: notebooks/)")
    sweep.set_defaults(func=_course_sweep)
    upscale = commands.add_parser("upscale", help="super-resolve image files")
    upscale.add_argument("inputs", nargs="+", metavar="IN", help="image files")
    upscale.add_argument(
        "-o", "--out", required=True, help="output folder (PNG files named after the inputs)"
    )
    upscale.add_argument(
        "--weights",
        required=True,
        help='generator .weights.h5 or .keras, or "bundled" (the 6k-step SRResNet in srgan_lib)',
    )
    _add_generator_options(upscale)
    upscale.set_defaults(func=_upscale)

    evaluate = commands.add_parser("evaluate", help="PSNR/SSIM on the benchmark sets")
    evaluate.add_argument(
        "--weights", nargs="+", help='generator weights or "bundled" (default: bicubic only)'
    )
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
    from srgan_lib.training import config as train_config  # no Keras import

    train = commands.add_parser("train", help="train SRResNet or SRGAN (resumable runs)")
    train.add_argument("--stage", choices=train_config.STAGES, help="default: srresnet")
    train.add_argument("--preset", choices=train_config.PRESETS, default="quick")
    train.add_argument("--config", help="a config.json to start from (instead of --preset)")
    train.add_argument(
        "--data", help='"sample" (bundled images), "div2k" (downloaded) or a folder of HR images'
    )
    train.add_argument(
        "--max-images", type=int, help="use the first N images of --data (DIV2K: 800 = 7.5 GB)"
    )
    train.add_argument("--epochs", type=int)
    train.add_argument("--steps-per-epoch", type=int)
    train.add_argument(
        "--steps-per-execution", type=int, help="updates per compiled call (GPU: try 8)"
    )
    train.add_argument("--batch-size", type=int)
    train.add_argument("--save-interval", type=int, help="epochs between samples/checkpoints")
    train.add_argument("--run-dir", help="output folder (default: runs/<stage>)")
    train.add_argument("--init-from", help="SRGAN stage: an SRResNet run dir or weights file")
    train.add_argument("--content-loss", choices=train_config.CONTENT_LOSSES)
    train.add_argument(
        "--vgg-weights",
        help='"imagenet", "none" (random: not the paper\'s loss) or a VGG19 weights file; '
        "default: $SRGAN_VGG_WEIGHTS, else imagenet",
    )
    train.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR")
    train.add_argument("--precision", choices=train_config.PRECISIONS)
    train.set_defaults(func=_train)
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
