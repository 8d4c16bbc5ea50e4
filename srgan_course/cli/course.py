"""`srgan course run | student | solutions | grade | gradebook | sweep | publish | mos | site`:
the teacher's commands (docs/teaching.md)."""

from __future__ import annotations

import argparse
import ast
import csv
import json
from pathlib import Path

from srgan_course.cli.common import (
    CommandError,
    add_notebooks,
    add_overwrite,
    add_parameters,
    lesson_folder,
    one_line,
    parse_parameters,
)


def register(commands: argparse._SubParsersAction) -> None:
    course_parser = commands.add_parser("course", help="run or hand out the lessons")
    course_commands = course_parser.add_subparsers(dest="course_command", required=True)
    run = course_commands.add_parser("run", help="execute every lesson in order (papermill)")
    add_notebooks(run)
    run.add_argument("--runs-dir", default="runs", help="where runs/course-<time>/ goes")
    add_parameters(run, "a papermill parameter for every lesson that declares it")
    run.add_argument("--only", nargs="*", help="lesson name prefixes, e.g. 00 05")
    run.set_defaults(func=run_course)

    student = course_commands.add_parser(
        "student", help="write student and autograder copies of the lessons (nbgrader)"
    )
    add_notebooks(student)
    student.add_argument(
        "--out", default="dist", help="writes OUT/student/ and OUT/autograder/ (default: dist)"
    )
    _add_badge_path(student, "student")
    add_overwrite(student)
    student.set_defaults(func=run_student)

    solutions = course_commands.add_parser(
        "solutions", help="write the worked solutions (hidden tests removed) to release"
    )
    add_notebooks(solutions)
    solutions.add_argument("--out", default="dist", help="writes OUT/solutions/ (default: dist)")
    _add_badge_path(solutions, "solutions")
    add_overwrite(solutions)
    solutions.set_defaults(func=run_solutions)

    grade = course_commands.add_parser(
        "grade", help="grade submitted notebooks (SUBMISSIONS_DIR/<student>/<lesson>.ipynb)"
    )
    grade.add_argument("submissions", metavar="SUBMISSIONS_DIR")
    _add_gradebook_options(grade)
    grade.add_argument(
        "--out", default="grading", help="folder for checks.csv, the gradebook and feedback"
    )
    grade.add_argument(
        "--timeout", type=int, default=600, help="seconds per cell before it is interrupted"
    )
    grade.add_argument(
        "--jobs", type=int, default=1, help="submissions graded at a time (one kernel each)"
    )
    add_parameters(
        grade, "a parameter for every lesson that declares it (over the grading defaults)"
    )
    again = grade.add_mutually_exclusive_group()
    again.add_argument(
        "--resume",
        action="store_true",
        help="keep an earlier grading's results for unchanged files, grade the rest",
    )
    again.add_argument(
        "--regrade", action="store_true", help="grade everything again into an --out in use"
    )
    grade.set_defaults(func=run_grade)

    book = course_commands.add_parser(
        "gradebook", help="rebuild the gradebook of a grading (new marks or roster)"
    )
    book.add_argument("grading_dir", metavar="GRADING_DIR", help="the --out of course grade")
    _add_gradebook_options(book)
    book.set_defaults(func=run_gradebook)

    sweep = course_commands.add_parser(
        "sweep", help="rerun one lesson for several parameter values and compare the results"
    )
    sweep.add_argument("lesson", metavar="LESSON", help="a lesson file or name prefix, e.g. 05")
    add_parameters(
        sweep, "values of a papermill parameter; several -p give every combination", "KEY=V1,V2"
    )
    sweep.add_argument("--out", required=True, help="folder for the runs and comparison.md")
    add_notebooks(sweep)
    sweep.add_argument(
        "--no-evaluation", action="store_true", help="do not follow each run of 05 with 06"
    )
    sweep.set_defaults(func=run_sweep)

    publish = course_commands.add_parser(
        "publish", help="point the lessons' Colab badges and setup-cell installs at a repository"
    )
    publish.add_argument("--repo", required=True, help="GitHub OWNER/NAME of your fork")
    publish.add_argument(
        "--ref", default="main", help="branch, tag or commit to install and open (default: main)"
    )
    publish.add_argument(
        "--student-ref", default="student", help="branch holding the student copies"
    )
    publish.add_argument(
        "--student", default=None, metavar="DIR", help="also rewrite the student copies in DIR"
    )
    publish.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a .github/workflows/pages.yml that differs from the course's",
    )
    add_notebooks(publish)
    publish.set_defaults(func=run_publish)

    mos = course_commands.add_parser(
        "mos", help="the class's mean opinion scores from the handed-in ratings (lesson 06)"
    )
    mos.add_argument("submissions", metavar="SUBMISSIONS_DIR", help="<student>/<lesson>.ipynb")
    mos.add_argument("--out", required=True, help="folder for mos.csv, significance.csv, mos.png")
    mos.add_argument("--overwrite", action="store_true", help="replace an earlier report in --out")
    mos.set_defaults(func=run_mos)

    site = course_commands.add_parser(
        "site", help="build the course website from an executed course (make site)"
    )
    site.add_argument("run_dir", metavar="RUN_DIR", help="a folder `srgan course run` wrote")
    site.add_argument("--out", required=True, help="folder for the website's HTML")
    site.add_argument(
        "--overwrite", action="store_true", help="replace the contents of a non-empty --out"
    )
    _add_badge_path(site, "student")
    add_notebooks(site)
    site.set_defaults(func=run_site)


def _add_badge_path(parser: argparse.ArgumentParser, branch: str) -> None:
    parser.add_argument(
        "--badge-path",
        default=f"/blob/{branch}/notebooks/",
        help=f"replaces /blob/main/notebooks/ in the Colab badges (default: the {branch} "
        "branch, which the copies are pushed to)",
    )


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


def run_course(args: argparse.Namespace) -> int:
    from srgan_course import runner

    parameters = parse_parameters(args.parameter)
    try:
        run_dir = runner.run_course(
            lesson_folder(args.notebooks), args.runs_dir, parameters, args.only
        )
    except ValueError as err:
        raise CommandError(one_line(err)) from err
    print((run_dir / "summary.md").read_text())
    print(f"wrote {run_dir}")
    results = json.loads((run_dir / "summary.json").read_text())
    return 1 if any(r["error"] for r in results) else 0


def run_student(args: argparse.Namespace) -> int:
    from srgan_course import classroom

    notebooks, out = lesson_folder(args.notebooks), Path(args.out)
    try:  # both folders checked before either is written
        for folder in (out / "student", out / "autograder"):
            classroom.check_output(notebooks, folder, args.overwrite)
    except (ValueError, FileExistsError) as err:
        raise CommandError(one_line(err)) from err
    student = classroom.make_student(notebooks, out / "student", args.badge_path, True)
    autograder = classroom.make_autograder(notebooks, out / "autograder", True)
    print(f"wrote {len(student)} student notebooks to {out / 'student'}")
    print(
        f"wrote {len(autograder)} autograder notebooks to {out / 'autograder'} "
        "(hidden tests: keep them from students)"
    )
    return 0


def run_solutions(args: argparse.Namespace) -> int:
    from srgan_course import classroom

    notebooks, out = lesson_folder(args.notebooks), Path(args.out) / "solutions"
    try:
        written = classroom.make_solutions(notebooks, out, args.badge_path, args.overwrite)
    except (ValueError, FileExistsError) as err:
        raise CommandError(one_line(err)) from err
    print(f"wrote {len(written)} solution notebooks (hidden tests removed) to {out}")
    return 0


def run_grade(args: argparse.Namespace) -> int:
    from srgan_course import gradebook, grading

    parameters = parse_parameters(args.parameter)
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
            parameters=parameters,
            regrade=args.regrade,
            resume=args.resume,
        )
    except (grading.GradingError, gradebook.GradebookError, FileNotFoundError) as err:
        raise CommandError(one_line(err)) from err
    return 0


def run_gradebook(args: argparse.Namespace) -> int:
    from srgan_course import gradebook, grading

    try:
        grading.rebuild_gradebook(
            args.grading_dir, args.autograder, args.roster, args.marks, args.lessons
        )
    except (grading.GradingError, gradebook.GradebookError, FileNotFoundError) as err:
        raise CommandError(one_line(err)) from err
    return 0


def run_sweep(args: argparse.Namespace) -> int:
    from srgan_course import classroom

    grid = {}
    for key, text in parse_parameters(args.parameter).items():
        try:
            values = ast.literal_eval(text) if text.strip().startswith("[") else text.split(",")
        except (ValueError, SyntaxError):
            raise CommandError(f"-p {key}={text}: not a list such as [1, 2]") from None
        grid[key] = [v.strip() if isinstance(v, str) else v for v in values]
    if not grid:
        raise CommandError("give at least one -p KEY=V1,V2,... (e.g. srgan_epochs=5,20)")
    try:
        notebooks = None if Path(args.lesson).is_file() else lesson_folder(args.notebooks)
        comparison = classroom.sweep(
            args.lesson, grid, args.out, notebooks, evaluate=not args.no_evaluation
        )
    except (ValueError, FileNotFoundError) as err:
        raise CommandError(one_line(err)) from err
    print(comparison.read_text())
    print(f"wrote {comparison.parent}")
    with (comparison.parent / "comparison.csv").open() as f:
        return 1 if any(row["status"] != "ok" for row in csv.DictReader(f)) else 0


def run_mos(args: argparse.Namespace) -> int:
    from srgan_course import mos
    from srgan_lib import files

    try:
        out, lines = mos.report(args.submissions, args.out, args.overwrite)
    except (ValueError, FileNotFoundError, files.OutputExistsError, IsADirectoryError) as err:
        raise CommandError(one_line(err)) from err
    print("\n".join(lines))
    print(f"wrote {out / 'mos.csv'}, {out / 'significance.csv'} and {out / 'mos.png'}")
    return 0


def run_publish(args: argparse.Namespace) -> int:
    from srgan_course import publish

    try:
        source = publish.InstallSource(args.repo, args.ref, args.student_ref)
        student = Path(args.student) if args.student else None
        if student is not None and not student.is_dir():
            raise FileNotFoundError(f"no folder {student}: run `srgan course student` first")
        notebooks = lesson_folder(args.notebooks)
        if student is not None:
            inside, there = notebooks.resolve(), student.resolve()
            if there == inside or there in inside.parents or inside in there.parents:
                raise ValueError(
                    f"--student {student} is, holds or lies inside the lessons' folder "
                    f"{notebooks}: pass the folder of the student copies (dist/student)"
                )
        workflow = publish.check_pages_workflow(notebooks, source, args.overwrite)
        written = publish.publish(source, notebooks, student)
    except (ValueError, FileNotFoundError) as err:
        raise CommandError(one_line(err)) from err
    if workflow is not None:
        publish.write_pages_workflow(workflow, source)
        print(f"wrote {workflow}: GitHub Pages builds the course website from {source.ref}")
    print(f"install source: {source.pip_url}")
    print(f"lessons open {source.badge_prefix()}<lesson>.ipynb")
    if student is not None:
        print(f"student copies open {source.badge_prefix(source.student_ref)}<lesson>.ipynb")
    print(f"rewrote {len(written)} notebooks" + "".join(f"\n  {p}" for p in written))
    return 0


def run_site(args: argparse.Namespace) -> int:
    from srgan_course import site

    try:
        out, seconds, warnings = site.build_site(
            args.run_dir, args.out, args.notebooks, args.badge_path, args.overwrite
        )
    except site.SiteError as err:
        raise CommandError(one_line(err)) from err
    for warning in warnings:
        print(warning)
    print(f"built the site in {seconds:.0f} s: open {out / 'index.html'}")
    return 0
