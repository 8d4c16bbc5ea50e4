"""Hand out the lessons as assignments, with nbgrader's own preprocessors, and rerun a
lesson for several parameter values.

The lessons are nbgrader "source" notebooks: each exercise is a solution cell (metadata
`nbgrader.solution = true`) holding a function whose body sits between `### BEGIN SOLUTION`
and `### END SOLUTION`, followed by a check cell (`nbgrader.grade = true`, `points`) whose
visible asserts carry hints and whose `### BEGIN HIDDEN TESTS` ... `### END HIDDEN TESTS`
part only the grader runs. This module runs nbgrader's preprocessors through their
`preprocess(nb, resources)` API, so no nbgrader database or course directory is needed:

    make_student(notebooks_dir, out_dir)       dist/student/: solutions and hidden tests
                                               removed, outputs cleared, Colab badges
                                               pointing at the student copies
    make_autograder(notebooks_dir, out_dir)    dist/autograder/: solutions removed, hidden
                                               tests kept
    make_solutions(notebooks_dir, out_dir)     dist/solutions/: solutions kept, hidden
                                               tests removed (release after the deadline)
    sweep(lesson, grid, out_dir)               run one lesson for several parameter values
                                               and tabulate final losses and PSNR / SSIM

Grading is in `srgan_course.grading`, the gradebook in `srgan_course.gradebook`. See
docs/teaching.md for the teacher's side.
"""

from __future__ import annotations

import copy
import csv
import itertools
import re
from pathlib import Path

import nbformat

from srgan_course import publish, runner

#: What replaces a solution's body in the student copy. nbgrader keeps the indentation of
#: the `### BEGIN SOLUTION` line, and `pass` makes the function return None, so the check
#: cell's first assert ("... returned None: write its body ...") is what the student sees.
CODE_STUB = "# YOUR CODE HERE\npass"
TEXT_STUB = "YOUR ANSWER HERE"
#: The part of each Colab badge that names the branch the notebooks are opened from.
STUDENT_BADGE_PATH = "/blob/student/notebooks/"
SOLUTIONS_BADGE_PATH = "/blob/solutions/notebooks/"


def _config():
    from traitlets.config import Config

    config = Config()
    config.ClearSolutions.code_stub = {"python": CODE_STUB}
    config.ClearSolutions.text_stub = TEXT_STUB
    return config


def _run_preprocessors(nb, names: list[str]):
    """Apply nbgrader preprocessors (by class name, in order) to a copy of `nb`."""
    from nbgrader import preprocessors

    nb = copy.deepcopy(nb)
    resources: dict = {}
    config = _config()
    for name in names:
        nb, resources = getattr(preprocessors, name)(config=config).preprocess(nb, resources)
    return nb


# The order of `nbgrader generate_assignment`, less what needs its database (SaveCells)
# or options the lessons do not use (IncludeHeaderFooter, InstantiateTests).
_STUDENT_STEPS = [
    "LockCells",
    "ClearSolutions",
    "ClearOutput",
    "CheckCellMetadata",
    "ComputeChecksums",
    "ClearHiddenTests",
    "ClearMarkScheme",
    "ComputeChecksums",
    "CheckCellMetadata",
]
_AUTOGRADER_STEPS = [
    "LockCells",
    "ClearSolutions",
    "ClearOutput",
    "CheckCellMetadata",
    "ComputeChecksums",
]


def student_notebook(nb, badge_path: str = STUDENT_BADGE_PATH):
    """The student version of one lesson (a NotebookNode; `nb` is not changed): each
    solution replaced by `CODE_STUB`, hidden tests removed, outputs cleared, graded cells
    locked, and the `/blob/REF/notebooks/` part of the Colab badges set to `badge_path`."""
    nb = _run_preprocessors(nb, _STUDENT_STEPS)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = publish.set_badge_path(cell.source, badge_path)
    return nb


def autograder_notebook(nb):
    """The autograder's version of one lesson: solutions replaced by `CODE_STUB`, hidden
    tests kept, outputs cleared."""
    return _run_preprocessors(nb, _AUTOGRADER_STEPS)


_SOLUTION_STEPS = ["ClearOutput", "ClearHiddenTests", "ClearMarkScheme"]
_MARKER_LINE = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[^\n]*\n?", re.M)


def solutions_notebook(nb, badge_path: str = SOLUTIONS_BADGE_PATH):
    """The worked solutions of one lesson, to release after the deadline: solutions kept
    (without their `### BEGIN/END SOLUTION` lines), hidden tests and outputs removed, and
    Colab badges pointing at `badge_path`."""
    nb = _run_preprocessors(nb, _SOLUTION_STEPS)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source = _MARKER_LINE.sub("", cell.source)
        elif cell.cell_type == "markdown":
            cell.source = publish.set_badge_path(cell.source, badge_path)
    return nb


def check_output(notebooks_dir: str | Path | None, out_dir: str | Path, overwrite: bool) -> None:
    """Refuse an output folder that is, holds or lies inside the source lessons' folder,
    and (unless `overwrite`) one that already holds a lesson of that name.

    Raises:
        ValueError: the output would write over or into the teacher's sources.
        FileExistsError: a lesson file is there already and `overwrite` is False.
    """
    lessons = runner.lessons(notebooks_dir)
    source, out = lessons[0].parent.resolve(), Path(out_dir).resolve()
    if out == source or out in source.parents or source in out.parents:
        raise ValueError(
            f"refusing to write to {out_dir}: it is, holds or lies inside the source lessons' "
            f"folder {lessons[0].parent}; pass an --out outside it"
        )
    existing = [p for p in (Path(out_dir) / lesson.name for lesson in lessons) if p.exists()]
    if existing and not overwrite:
        raise FileExistsError(
            f"{out_dir} already holds {len(existing)} of these lessons ({existing[0].name}, ...): "
            "pass --overwrite to replace them, or another --out"
        )


def _convert_folder(notebooks_dir, out_dir, convert, overwrite: bool) -> list[Path]:
    check_output(notebooks_dir, out_dir, overwrite)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for lesson in runner.lessons(notebooks_dir):
        target = out_dir / lesson.name
        nbformat.write(convert(nbformat.read(lesson, as_version=4)), target)
        written.append(target)
    return written


def make_student(
    notebooks_dir: str | Path,
    out_dir: str | Path,
    badge_path: str = STUDENT_BADGE_PATH,
    overwrite: bool = False,
) -> list[Path]:
    """Write the student version of every lesson in `notebooks_dir` to `out_dir` (for
    example dist/student/); return the paths written. Push that folder's notebooks to the
    branch `badge_path` names (default: a `student` branch, under notebooks/) so that the
    Colab badges open them."""
    return _convert_folder(
        notebooks_dir, out_dir, lambda nb: student_notebook(nb, badge_path), overwrite
    )


def make_autograder(
    notebooks_dir: str | Path, out_dir: str | Path, overwrite: bool = False
) -> list[Path]:
    """Write the autograder version of every lesson (hidden tests kept, solutions removed)
    to `out_dir` (for example dist/autograder/); return the paths written. Keep it away
    from students: the hidden tests are in it."""
    return _convert_folder(notebooks_dir, out_dir, autograder_notebook, overwrite)


def make_solutions(
    notebooks_dir: str | Path,
    out_dir: str | Path,
    badge_path: str = SOLUTIONS_BADGE_PATH,
    overwrite: bool = False,
) -> list[Path]:
    """Write the solutions of every lesson (hidden tests removed) to `out_dir` (for
    example dist/solutions/); return the paths written. Every make_* refuses an `out_dir`
    that is, holds or lies inside `notebooks_dir`, and one that holds these lessons already
    unless `overwrite` (see `check_output`)."""
    return _convert_folder(
        notebooks_dir, out_dir, lambda nb: solutions_notebook(nb, badge_path), overwrite
    )


# --- parameter sweeps ------------------------------------------------------------------


#: The lesson that scores lesson 05's weights, and what it runs with in a sweep of 05 (the
#: shipped generators are the same in every run, so they are left out of the table).
EVALUATION_LESSON = "06_evaluation"
EVALUATION_PARAMETERS = {"shipped": False}


def _run_name(index: int, parameters: dict, varied: list[str]) -> str:
    """A short folder name for a run: its number, then the values of the `varied`
    parameters ("02-20-False")."""
    values = "-".join(re.sub(r"[^A-Za-z0-9.]+", "", str(parameters[k]))[:12] for k in varied)
    return f"{index:02d}-{values}".rstrip("-")


def _final_figures(output_dir: Path) -> dict[str, str]:
    """What a lesson's output_dir ends with, as {column: value}: from the last row of
    every history.csv, "<run> epochs done" and "<run> final <metric>" (epoch means);
    from every evaluation summary.csv, "PSNR <set> <method> (dB)" and "SSIM <set> <method>"."""
    figures: dict[str, str] = {}
    for where, last in runner.final_rows(output_dir).items():
        prefix = "" if where == Path(".") else where.as_posix() + " "
        for key, value in last.items():
            if key and value not in (None, ""):
                name = "epochs done" if key == "epoch" else f"final {key}"
                figures[prefix + name] = value
    for summary in sorted(output_dir.rglob("summary.csv")):
        with summary.open() as f:
            for row in csv.DictReader(f):
                name = " ".join(filter(None, [row.get("set"), row.get("method")]))
                if row.get("psnr") not in (None, ""):
                    figures[f"PSNR {name} (dB)"] = row["psnr"]
                if row.get("ssim") not in (None, ""):
                    figures[f"SSIM {name}"] = row["ssim"]
    return figures


def _find_lesson(lesson: str | Path, notebooks_dir) -> Path:
    notebook = Path(lesson)
    if notebook.is_file():
        return notebook
    matches = [p for p in runner.lessons(notebooks_dir) if p.stem.startswith(str(lesson))]
    if len(matches) != 1:
        raise FileNotFoundError(
            f"{lesson!r} names {len(matches)} lessons; give a lesson file or a prefix "
            "that names exactly one (e.g. 05)"
        )
    return matches[0]


def sweep(
    lesson: str | Path,
    grid: dict[str, list],
    out_dir: str | Path,
    notebooks_dir: str | Path | None = None,
    evaluate: bool = True,
) -> Path:
    """Run one lesson once per combination of the values in `grid` (for example
    {"srgan_epochs": [5, 20, 100]}; text values are read by the type of the lesson's
    defaults) with papermill, each into `out_dir/<NN-values>/` (the executed notebook,
    its HTML copy, and the lesson's `output_dir`). A run of lesson 05 is followed by
    lesson 06 on its weights (`evaluate`), so each row has PSNR and SSIM. Then writes
    `out_dir/comparison.csv` and `out_dir/comparison.md`: one row per run with its
    parameters, run time, status, final losses (last row of each `history.csv`), PSNR /
    SSIM (each evaluation `summary.csv`) and links to the HTML copies. `lesson` is a path
    or a lesson name prefix ("05"). Returns the path of comparison.md."""
    notebook = _find_lesson(lesson, notebooks_dir)
    evaluation = notebook.parent / f"{EVALUATION_LESSON}.ipynb"
    chained = evaluate and notebook.stem == runner.TRAINING_LESSON and evaluation.is_file()
    keys = list(grid)
    combinations = [
        runner.typed_parameters(notebook, dict(zip(keys, values, strict=True)))
        for values in itertools.product(*(grid[key] for key in keys))
    ]  # a value of the wrong type stops the sweep before the first run
    varied = [key for key in keys if len(grid[key]) > 1] or keys
    out_dir = Path(out_dir)
    rows = []
    for index, parameters in enumerate(combinations, start=1):
        run_dir = out_dir / _run_name(index, parameters, varied)
        run_dir.mkdir(parents=True, exist_ok=True)
        print(f"{run_dir.name}: {notebook.name} with {parameters} ...", flush=True)
        result = runner.run_lesson(notebook, run_dir, parameters)
        status = "ok" if result.error is None else f"failed: {result.error}"
        row = {key: str(value) for key, value in parameters.items()}
        row.update(run=run_dir.name, seconds=f"{result.seconds:.1f}")
        html = [(notebook.stem[:2], run_dir / f"{notebook.stem}.html")]
        if chained:
            weights = run_dir / notebook.stem
            if result.error is None and (weights / "srgan.weights.h5").is_file():
                scored = runner.run_lesson(
                    evaluation, run_dir, {**EVALUATION_PARAMETERS, "weights_dir": str(weights)}
                )
                row["evaluation seconds"] = f"{scored.seconds:.1f}"
                if scored.error is not None:
                    status += f"; evaluation failed: {scored.error}"
                html.append((evaluation.stem[:2], run_dir / f"{evaluation.stem}.html"))
            else:
                status += "; not evaluated: no trained weights"
        print(f"  {result.seconds:6.1f} s  {status}", flush=True)
        row["status"] = status
        row.update(_final_figures(run_dir / notebook.stem))
        if chained:
            row.update(_final_figures(run_dir / evaluation.stem))
        row["html"] = " ".join(path.relative_to(out_dir).as_posix() for _, path in html)
        rows.append((row, html))
    columns = list(dict.fromkeys(key for row, _ in rows for key in row))
    with (out_dir / "comparison.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(row for row, _ in rows)
    lines = [
        f"# {notebook.stem}: {', '.join(keys)}",
        "",
        "| " + " | ".join(columns) + " |",
        "| " + " | ".join("---" for _ in columns) + " |",
    ]
    for row, html in rows:
        links = " ".join(
            f"[{label}]({path.relative_to(out_dir).as_posix()})" for label, path in html
        )
        cells = [links if c == "html" else _short(row.get(c, "")) for c in columns]
        lines.append("| " + " | ".join(cells) + " |")
    comparison = out_dir / "comparison.md"
    comparison.write_text("\n".join(lines) + "\n")
    return comparison


def _short(value: str) -> str:
    """Numbers to 4 significant figures for the Markdown table (the CSV keeps them all)."""
    try:
        number = float(value)
    except ValueError:
        return value.replace("|", "/")
    return value if number.is_integer() and "." not in value else f"{number:.4g}"
