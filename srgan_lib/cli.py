"""The `srgan` command line: one subcommand per job.

srgan demo                          build the models, upscale a sample, save pictures
srgan train --stage srresnet|srgan  train into a run directory (resumable)
srgan upscale IN... -o OUT --weights W   super-resolve image files
srgan evaluate [--weights W...]     PSNR/SSIM on Set5, Set14, BSD100 beside Table 2
srgan models list | train | card    the shipped models, the recipe that trains them
srgan data download NAME ...        fetch and cache data sets
srgan course run                    execute every lesson (papermill)
srgan course student [--out dist]   student and autograder copies of the lessons
srgan course solutions              the worked solutions, to release after the deadline
srgan course grade SUBMISSIONS_DIR  grade a class into a gradebook, with feedback
srgan course gradebook GRADING_DIR  rebuild the gradebook (manual marks, roster)
srgan course sweep LESSON -p epochs=5,20,100 --out DIR
                                    rerun one lesson per parameter value, compare
srgan course publish --repo OWNER/NAME --ref REF
                                    point the Colab badges and installs at a fork

Every command reports a problem as one line on stderr (`srgan --debug ...` shows the
traceback) and replaces no existing file unless given --overwrite.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path


def _demo(args: argparse.Namespace) -> int:
    from srgan_lib import data, files, metrics, models

    out = Path(args.out)
    files.check_outputs([out / "sr_untrained.png", out / "bicubic.png"], args.overwrite)
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

    args.stopped_hint = "run the same command again to resume the download"
    for name in args.names:
        folder = downloads.download(name, args.root, base_url=args.mirror)
        print(f"{name}: {folder}")
    return 0


def _parse_parameters(pairs: list[str]) -> dict[str, str]:
    """["epochs=5", "dataset=div2k"] -> {"epochs": "5", "dataset": "div2k"}: the text of
    each value; course.typed_parameters reads it by the type of the lesson's default."""
    parameters = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise CommandError(f"parameter {pair!r} is not KEY=VALUE (e.g. epochs=5)")
        parameters[key.strip()] = value
    return parameters


def _course_run(args: argparse.Namespace) -> int:
    import json

    from srgan_lib import course

    try:
        run_dir = course.run_course(
            args.notebooks, args.runs_dir, _parse_parameters(args.parameter), args.only
        )
    except ValueError as err:
        raise CommandError(_one_line(err)) from err
    print((run_dir / "summary.md").read_text())
    print(f"wrote {run_dir}")
    results = json.loads((run_dir / "summary.json").read_text())
    return 1 if any(r["error"] for r in results) else 0


def _course_student(args: argparse.Namespace) -> int:
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


def _course_solutions(args: argparse.Namespace) -> int:
    from srgan_lib import classroom

    out = Path(args.out) / "solutions"
    written = classroom.make_solutions(args.notebooks, out, args.badge_path)
    print(f"wrote {len(written)} solution notebooks (hidden tests removed) to {out}")
    return 0


def _course_grade(args: argparse.Namespace) -> int:
    from srgan_lib import gradebook, grading

    try:
        grading.grade_folder(
            args.submissions,
            args.autograder,
            args.out,
            roster=args.roster,
            marks=args.marks,
            lessons=args.lessons,
            timeout=args.timeout,
            jobs=args.jobs,
            parameters=_parse_parameters(args.parameter),
            regrade=args.regrade,
            resume=args.resume,
        )
    except (grading.GradingError, gradebook.GradebookError, FileNotFoundError) as err:
        raise CommandError(_one_line(err)) from err
    return 0


def _course_gradebook(args: argparse.Namespace) -> int:
    from srgan_lib import gradebook, grading

    try:
        grading.rebuild_gradebook(
            args.grading_dir, args.autograder, args.roster, args.marks, args.lessons
        )
    except (grading.GradingError, gradebook.GradebookError, FileNotFoundError) as err:
        raise CommandError(_one_line(err)) from err
    return 0


def _course_sweep(args: argparse.Namespace) -> int:
    import ast
    import csv

    from srgan_lib import classroom

    grid = {}
    for key, text in _parse_parameters(args.parameter).items():
        try:
            values = ast.literal_eval(text) if text.strip().startswith("[") else text.split(",")
        except (ValueError, SyntaxError):
            raise CommandError(f"-p {key}={text}: not a list such as [1, 2]") from None
        grid[key] = [v.strip() if isinstance(v, str) else v for v in values]
    if not grid:
        raise CommandError("give at least one -p KEY=V1,V2,... (e.g. srgan_epochs=5,20)")
    try:
        comparison = classroom.sweep(
            args.lesson, grid, args.out, args.notebooks, evaluate=not args.no_evaluation
        )
    except (ValueError, FileNotFoundError) as err:
        raise CommandError(_one_line(err)) from err
    print(comparison.read_text())
    print(f"wrote {comparison.parent}")
    with (comparison.parent / "comparison.csv").open() as f:
        return 1 if any(row["status"] != "ok" for row in csv.DictReader(f)) else 0


def _course_publish(args: argparse.Namespace) -> int:
    from srgan_lib import publish

    try:
        source = publish.InstallSource(args.repo, args.ref, args.student_ref)
        student = Path(args.student) if args.student else None
        if student is not None and not student.is_dir():
            raise FileNotFoundError(f"no folder {student}: run `srgan course student` first")
        written = publish.publish(source, args.notebooks, student)
    except (ValueError, FileNotFoundError) as err:
        print(f"srgan course publish: {err}", file=sys.stderr)
        return 2
    print(f"install source: {source.pip_url}")
    print(f"lessons open {source.badge_prefix()}<lesson>.ipynb")
    if student is not None:
        print(f"student copies open {source.badge_prefix(source.student_ref)}<lesson>.ipynb")
    print(f"rewrote {len(written)} notebooks" + "".join(f"\n  {p}" for p in written))
    return 0


class CommandError(Exception):
    """A problem the user can fix: reported as one line on stderr, exit code 2."""


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split())


def _load_generator(path: str, scale: int, num_blocks: int | None):
    """A weights file, or a shipped model's name ("srresnet", "srgan"; "bundled" is
    "srresnet")."""
    from srgan_lib import models

    name = "srresnet" if path == "bundled" else path
    if not Path(path).is_file() and name in models.pretrained_names():
        try:
            path = str(models.pretrained_path(name))
        except models.PretrainedIntegrityError as err:
            raise CommandError(_one_line(err)) from err
    elif not Path(path).is_file():
        raise CommandError(
            f"no weights file at {path}: pass --weights with the .weights.h5 or .keras file "
            f"of a generator saved by srgan_lib, or a shipped model "
            f"({', '.join(models.pretrained_names())})."
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
    from srgan_lib import data, files, inference

    out = _writable_folder(args.out)
    generator = _load_generator(args.weights, args.scale, args.num_blocks)
    files.check_outputs(
        [out / f"{Path(p).stem}.png" for p in args.inputs], args.overwrite, inputs=args.inputs
    )
    try:
        written = inference.upscale_files(
            generator, args.inputs, out, args.tile, args.overlap, args.overwrite
        )
    except (data.ImageReadError, ValueError) as err:
        raise CommandError(_one_line(err)) from err
    for source, target in zip(args.inputs, written, strict=True):
        print(f"{source} -> {target}")
    return 0


def _data_root(data_dir: str | None) -> Path:
    """The folder holding the benchmark sets: --data-dir (or its benchmarks/), else the
    first that `downloads.find_benchmarks` finds; else --data-dir or the download cache,
    for the error message."""
    from srgan_lib import downloads

    found = downloads.find_benchmarks(data_dir)
    return found or downloads.data_dir(data_dir, create=False)


def _evaluate(args: argparse.Namespace) -> int:
    from srgan_lib import evaluation, files

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
    if out:
        names_out = ("per_image.csv", "summary.csv", "summary.md")
        files.check_outputs([out / name for name in names_out], args.overwrite)
    methods = {"bicubic": "bicubic"}
    for name, path in zip(names, weights, strict=True):
        methods[name] = _load_generator(path, args.scale, args.num_blocks)
    try:
        results = evaluation.evaluate(
            methods, sets, root, args.scale, args.tile, args.overlap, partial=args.partial
        )
    except (FileNotFoundError, ValueError) as err:
        raise CommandError(_one_line(err)) from err
    print(evaluation.format_table(results))
    if out:
        evaluation.save_results(results, out, overwrite=args.overwrite)
        print(f"wrote {out}")
    return 0


def _models_train(args: argparse.Namespace) -> int:
    from srgan_lib import recipe

    settings = {
        "budget_minutes": args.budget_minutes,
        "srgan_share": args.srgan_share,
        "data": args.data,
        "max_images": args.max_images,
        "content_loss": args.content_loss,
        "vgg_weights": args.vgg_weights or os.environ.get("SRGAN_VGG_WEIGHTS"),
        "num_blocks": args.num_blocks,
        "hr_size": args.hr_size,
        "batch_size": args.batch_size,
        "precision": args.precision,
        "steps_per_execution": args.steps_per_execution,
        "steps_per_epoch": args.steps_per_epoch,
    }
    try:
        plan = recipe.Recipe(**{k: v for k, v in settings.items() if v is not None}).validate()
        recipe.train_models(plan, args.out, command=_command())
        if not args.no_cards:
            cards = recipe.write_cards(
                args.out, _sets(args.sets), _data_root(args.data_dir), command=_command()
            )
            print(f"wrote {', '.join(str(c) for c in cards)}")
    except (FileNotFoundError, ValueError) as err:
        raise CommandError(_one_line(err)) from err
    print(f"wrote {args.out}")
    return 0


def _models_card(args: argparse.Namespace) -> int:
    from srgan_lib import recipe

    try:
        cards = recipe.write_cards(
            args.out, _sets(args.sets), _data_root(args.data_dir), command=_command()
        )
    except (FileNotFoundError, ValueError) as err:
        raise CommandError(_one_line(err)) from err
    print(f"wrote {', '.join(str(c) for c in cards)}")
    return 0


def _models_list(args: argparse.Namespace) -> int:
    from srgan_lib import models

    print(
        "| model | variant | steps | data | " + " | ".join(f"{s} PSNR" for s in SETS_SHOWN) + " |"
    )
    print("| --- | --- | ---: | --- |" + " ---: |" * len(SETS_SHOWN))
    for name in models.pretrained_names():
        card = models.pretrained_card(name)
        psnr = {
            row["set"]: f"{row['psnr']:.2f}"
            for row in card["evaluation"]["rows"]
            if row["method"] != "bicubic"
        }
        print(
            f"| {name} | {card['variant'].split(':')[0]} | {card['training']['steps']:,} | "
            f"{card['training']['data']} | "
            + " | ".join(psnr.get(s, "–") for s in SETS_SHOWN)
            + " |"
        )
    print(f"cards: {models.PRETRAINED_DIR}/<model>.md")
    return 0


SETS_SHOWN = ("Set5", "Set14", "BSD100")


def _command() -> str:
    """The command line as typed, for model cards."""
    return " ".join(["srgan", *sys.argv[1:]])


def _sets(text: str) -> list[str]:
    return [s.strip() for s in text.split(",") if s.strip()]


def _count(minimum: int):
    """An argparse type: an integer >= minimum, refused with the allowed values."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}, got {text!r}")
        return value

    return parse


def _add_overwrite(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--overwrite", action="store_true", help="replace existing output files (default: refuse)"
    )


def _add_generator_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--scale", type=int, choices=(2, 4, 8), default=4, help="scale the weights must have"
    )
    parser.add_argument(
        "--num-blocks", type=_count(1), help="residual blocks the weights must have (default: any)"
    )
    parser.add_argument(
        "--tile", type=_count(1), help="LR tile size in pixels (default: whole image)"
    )
    parser.add_argument(
        "--overlap",
        type=_count(0),
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


def _train(args: argparse.Namespace) -> int:
    from srgan_lib import training

    config, run_dir = _train_config(args)
    print(f"{config.describe_architecture()}; run directory {run_dir}")
    try:
        training.train(config, run_dir, resume=bool(args.resume), verbose=2)
    except KeyboardInterrupt:
        args.stopped_hint = (
            f"resume with `srgan train --resume {run_dir}`"
            if (run_dir / training.CHECKPOINT).is_file()
            else f"no checkpoint was written yet in {run_dir}; run the same command again"
        )
        raise
    print(f"wrote {run_dir}")
    return 0


def _add_gradebook_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--autograder", default="dist/autograder", help="the autograder copies of the lessons"
    )
    parser.add_argument("--roster", help="CSV of students: student_id, name, email")
    parser.add_argument(
        "--marks", help="CSV of manual marks: student_id, grade_id, mark (needs-manual-grading.csv)"
    )
    parser.add_argument(
        "--lessons",
        nargs="+",
        metavar="PREFIX",
        help="gradebook lessons (default: those handed in)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="srgan", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--debug",
        action="store_true",
        help="show tracebacks and TensorFlow's log instead of one-line errors (any position)",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="build the models and upscale a sample image")
    demo.add_argument("--out", default="runs/demo", help="output folder")
    demo.add_argument("--num-blocks", type=_count(1), default=16)
    _add_overwrite(demo)
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

    solutions = course_commands.add_parser(
        "solutions", help="write the worked solutions (hidden tests removed) to release"
    )
    solutions.add_argument("--notebooks", default=None, help="lesson folder (default: notebooks/)")
    solutions.add_argument("--out", default="dist", help="writes OUT/solutions/ (default: dist)")
    solutions.add_argument(
        "--badge-path",
        default="/blob/solutions/notebooks/",
        help="replaces /blob/main/notebooks/ in the Colab badges",
    )
    solutions.set_defaults(func=_course_solutions)

    grade_parser = course_commands.add_parser(
        "grade", help="grade submitted notebooks (SUBMISSIONS_DIR/<student>/<lesson>.ipynb)"
    )
    grade_parser.add_argument("submissions", metavar="SUBMISSIONS_DIR")
    _add_gradebook_options(grade_parser)
    grade_parser.add_argument(
        "--out", default="grading", help="folder for checks.csv, the gradebook and feedback"
    )
    grade_parser.add_argument(
        "--timeout", type=int, default=600, help="seconds per cell before it is interrupted"
    )
    grade_parser.add_argument(
        "--jobs", type=int, default=1, help="submissions graded at a time (one kernel each)"
    )
    grade_parser.add_argument(
        "-p",
        "--parameter",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a parameter for every lesson that declares it (over the grading defaults)",
    )
    again = grade_parser.add_mutually_exclusive_group()
    again.add_argument(
        "--resume",
        action="store_true",
        help="keep an earlier grading's results for unchanged files, grade the rest",
    )
    again.add_argument(
        "--regrade", action="store_true", help="grade everything again into an --out in use"
    )
    grade_parser.set_defaults(func=_course_grade)

    book = course_commands.add_parser(
        "gradebook", help="rebuild the gradebook of a grading (new marks or roster)"
    )
    book.add_argument("grading_dir", metavar="GRADING_DIR", help="the --out of course grade")
    _add_gradebook_options(book)
    book.set_defaults(func=_course_gradebook)

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
    sweep.add_argument(
        "--no-evaluation", action="store_true", help="do not follow each run of 05 with 06"
    )
    sweep.set_defaults(func=_course_sweep)

    publish_parser = course_commands.add_parser(
        "publish", help="point the lessons' Colab badges and setup-cell installs at a repository"
    )
    publish_parser.add_argument("--repo", required=True, help="GitHub OWNER/NAME of your fork")
    publish_parser.add_argument(
        "--ref", default="main", help="branch, tag or commit to install and open (default: main)"
    )
    publish_parser.add_argument(
        "--student-ref", default="student", help="branch holding the student copies"
    )
    publish_parser.add_argument(
        "--student", default=None, metavar="DIR", help="also rewrite the student copies in DIR"
    )
    publish_parser.add_argument(
        "--notebooks", default=None, help="lesson folder (default: notebooks/)"
    )
    publish_parser.set_defaults(func=_course_publish)
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
    _add_generator_options(upscale)
    _add_overwrite(upscale)
    upscale.set_defaults(func=_upscale)

    evaluate = commands.add_parser("evaluate", help="PSNR/SSIM on the benchmark sets")
    evaluate.add_argument(
        "--weights",
        nargs="+",
        help='generator weights, or "srresnet" / "srgan" (shipped); default: bicubic only',
    )
    evaluate.add_argument(
        "--names", nargs="+", help="one name per weights file (SRResNet, SRGAN: paper rows)"
    )
    evaluate.add_argument("--sets", default="Set5,Set14,BSD100", help="comma-separated sets")
    evaluate.add_argument(
        "--data-dir", help="folder holding Set5/HR, ... (default: $SRGAN_DATA_DIR or data/)"
    )
    evaluate.add_argument("--out", help="run folder for per_image.csv, summary.csv, summary.md")
    evaluate.add_argument(
        "--partial",
        action="store_true",
        help="score incomplete sets on the images present (the table says so)",
    )
    _add_generator_options(evaluate)
    _add_overwrite(evaluate)
    evaluate.set_defaults(func=_evaluate)
    models_parser = commands.add_parser("models", help="the shipped models and their recipe")
    models_commands = models_parser.add_subparsers(dest="models_command", required=True)
    listing = models_commands.add_parser("list", help="the shipped models and their figures")
    listing.set_defaults(func=_models_list)
    recipe_parser = models_commands.add_parser(
        "train",
        help="SRResNet then SRGAN under a wall-clock budget, evaluated, with model cards",
    )
    recipe_parser.add_argument("--out", required=True, help="folder for the runs and cards")
    recipe_parser.add_argument(
        "--budget-minutes", type=float, help="training minutes, both stages (default 7)"
    )
    recipe_parser.add_argument(
        "--srgan-share", type=float, help="the SRGAN stage's share of the budget (default 2/7)"
    )
    recipe_parser.add_argument(
        "--data", help='"sunhays80" (default), "div2k" or a folder of HR images'
    )
    recipe_parser.add_argument("--max-images", type=int, help="use the first N images")
    recipe_parser.add_argument(
        "--content-loss",
        choices=["mse", "vgg54"],
        help="SRGAN stage: mse (SRGAN-MSE, default) or vgg54 (needs ImageNet VGG19)",
    )
    recipe_parser.add_argument("--vgg-weights", help='"imagenet" (default) or a weights file')
    recipe_parser.add_argument("--num-blocks", type=int, help="residual blocks (default 16)")
    recipe_parser.add_argument("--hr-size", type=int, help="HR crop size (default 96)")
    recipe_parser.add_argument("--batch-size", type=int, help="default 16")
    recipe_parser.add_argument(
        "--precision", choices=["float32", "mixed_bfloat16", "mixed_float16"]
    )
    recipe_parser.add_argument("--steps-per-execution", type=int, help="default 8")
    recipe_parser.add_argument("--steps-per-epoch", type=int, help="default 400")
    recipe_parser.add_argument("--no-cards", action="store_true", help="train only")
    recipe_parser.add_argument(
        "--sets", default="Set5,Set14,BSD100", help="benchmarks for the cards"
    )
    recipe_parser.add_argument("--data-dir", help="folder holding Set5/HR, ... (as evaluate)")
    recipe_parser.set_defaults(func=_models_train)
    card = models_commands.add_parser(
        "card", help="evaluate a finished recipe again and rewrite its model cards"
    )
    card.add_argument("out", metavar="DIR", help="the --out of `srgan models train`")
    card.add_argument("--sets", default="Set5,Set14,BSD100", help="benchmarks for the cards")
    card.add_argument("--data-dir", help="folder holding Set5/HR, ... (as evaluate)")
    card.set_defaults(func=_models_card)
    from srgan_lib.training import config as train_config  # no Keras import

    train = commands.add_parser("train", help="train SRResNet or SRGAN (resumable runs)")
    train.add_argument("--stage", choices=train_config.STAGES, help="default: srresnet")
    train.add_argument("--preset", choices=train_config.PRESETS, default="quick")
    train.add_argument("--config", help="a config.json to start from (instead of --preset)")
    train.add_argument(
        "--data", help='"sample" (bundled images), "div2k" (downloaded) or a folder of HR images'
    )
    train.add_argument(
        "--max-images",
        type=_count(1),
        help="use the first N images of --data (DIV2K: 800 = 7.5 GB)",
    )
    train.add_argument("--epochs", type=_count(1))
    train.add_argument("--steps-per-epoch", type=_count(1))
    train.add_argument(
        "--steps-per-execution", type=_count(1), help="updates per compiled call (GPU: try 8)"
    )
    train.add_argument("--batch-size", type=_count(1))
    train.add_argument("--save-interval", type=_count(1), help="epochs between samples/checkpoints")
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
    train.add_argument(
        "--devices",
        type=lambda text: text if text == "all" else _count(1)(text),
        help='devices that share each batch (data parallel), or "all" (default 1)',
    )
    train.set_defaults(func=_train)
    return parser


@contextlib.contextmanager
def _quiet_tensorflow() -> Iterator[None]:
    """Hide TensorFlow's log lines for the command. TF_CPP_MIN_LOG_LEVEL (set unless the
    user set it) hides most; the lines absl prints before its logging is initialised
    (oneDNN, CPU features) ignore it and go straight to file descriptor 2, so fd 2 points
    at /dev/null while Python's sys.stderr writes to a copy of the real one: srgan's own
    messages, warnings and progress bars still show. Under a captured sys.stderr (tests,
    notebooks) only the variable is set."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        fd = sys.stderr.fileno() if sys.stderr is sys.__stderr__ else None
    except (OSError, ValueError, AttributeError):
        fd = None
    if fd is None:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)
    sys.stderr = os.fdopen(os.dup(saved), "w", buffering=1)
    try:
        yield
    finally:
        sys.stderr.close()
        sys.stderr = sys.__stderr__
        os.dup2(saved, fd)
        os.close(saved)


def _note(command: str):
    """A warnings.showwarning that prints srgan_lib's own warnings as one line."""
    default = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if category.__module__.startswith("srgan_lib"):
            print(f"srgan {command}: note: {_one_line(message)}", file=sys.stderr)
        else:
            default(message, category, filename, lineno, file, line)

    return show


def _message(err: BaseException) -> str:
    """One line for any exception: the library's own messages as they are; an OSError's
    reason and file; anything unexpected with its type and a pointer to --debug."""
    if isinstance(err, OSError) and err.strerror and err.filename:
        text = f"{err.strerror}: {err.filename}"
    else:
        text = _one_line(err) or type(err).__name__
    expected = (CommandError, ValueError, OSError, RuntimeError, ArithmeticError)
    if not isinstance(err, expected):
        text = f"{type(err).__name__}: {text} (unexpected: `srgan --debug ...` shows where)"
    return text


def main(argv: list[str] | None = None) -> int:
    """Run one `srgan` command. `--debug` (anywhere) shows tracebacks and TensorFlow's
    log; without it every problem is one line on stderr, and Ctrl-C says how to go on.
    Exit codes: 0 done, 1 a training error, 2 any other error, 130 stopped by Ctrl-C."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    argv = [arg for arg in argv if arg != "--debug"]
    args = build_parser().parse_args(argv)
    command = " ".join(filter(None, [args.command, getattr(args, f"{args.command}_command", None)]))
    quiet = contextlib.nullcontext() if debug else _quiet_tensorflow()
    try:
        with quiet, warnings.catch_warnings():
            warnings.showwarning = _note(command)
            return args.func(args)
    except KeyboardInterrupt:
        if debug:
            raise
        hint = getattr(args, "stopped_hint", "run the same command again")
        print(f"srgan {command}: stopped; {hint}.", file=sys.stderr)
        return 130
    except Exception as err:
        if debug:
            raise
        print(f"srgan {command}: error: {_message(err)}", file=sys.stderr)
        return 1 if args.command == "train" and not isinstance(err, CommandError) else 2


if __name__ == "__main__":
    sys.exit(main())
