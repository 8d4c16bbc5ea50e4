"""Hand out the lessons as assignments and grade them, with nbgrader's own preprocessors.

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
    grade(submission, autograder_notebook)     run a submission with the autograder's check
                                               cells; a GradeReport with points per check
    grade_folder(submissions_dir, autograder_dir, out_csv)
                                               the same for a class: one CSV row per student
                                               and lesson
    sweep(lesson, grid, out_dir)               run one lesson for several parameter values
                                               and tabulate final losses and PSNR

See docs/teaching.md for the teacher's side.
"""

from __future__ import annotations

import copy
import csv
import itertools
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from srgan_lib import course, publish

#: What replaces a solution's body in the student copy. nbgrader keeps the indentation of
#: the `### BEGIN SOLUTION` line, and `pass` makes the function return None, so the check
#: cell's first assert ("... returned None: write its body ...") is what the student sees.
CODE_STUB = "# YOUR CODE HERE\npass"
TEXT_STUB = "YOUR ANSWER HERE"
#: The part of each Colab badge that names the branch the notebooks are opened from.
STUDENT_BADGE_PATH = "/blob/student/notebooks/"
#: Seconds one cell may run when grading before the kernel is interrupted.
CELL_TIMEOUT = 600


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


def _convert_folder(notebooks_dir, out_dir, convert) -> list[Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for lesson in course.lessons(notebooks_dir):
        target = out_dir / lesson.name
        nbformat.write(convert(nbformat.read(lesson, as_version=4)), target)
        written.append(target)
    return written


def make_student(
    notebooks_dir: str | Path, out_dir: str | Path, badge_path: str = STUDENT_BADGE_PATH
) -> list[Path]:
    """Write the student version of every lesson in `notebooks_dir` to `out_dir` (for
    example dist/student/); return the paths written. Push that folder's notebooks to the
    branch `badge_path` names (default: a `student` branch, under notebooks/) so that the
    Colab badges open them."""
    return _convert_folder(notebooks_dir, out_dir, lambda nb: student_notebook(nb, badge_path))


def make_autograder(notebooks_dir: str | Path, out_dir: str | Path) -> list[Path]:
    """Write the autograder version of every lesson (hidden tests kept, solutions removed)
    to `out_dir` (for example dist/autograder/); return the paths written. Keep it away
    from students: the hidden tests are in it."""
    return _convert_folder(notebooks_dir, out_dir, autograder_notebook)


# --- grading ---------------------------------------------------------------------------


@dataclass
class CheckResult:
    """One graded check cell: `earned` is `points` when the cell raised nothing, else 0,
    and `failure` the first line of its error (None when it passed)."""

    grade_id: str
    points: float
    earned: float
    failure: str | None = None


@dataclass
class GradeReport:
    """The checks of one graded notebook, in notebook order."""

    notebook: str
    checks: list[CheckResult] = field(default_factory=list)
    error: str | None = None  # the kernel died or would not start

    @property
    def points(self) -> float:
        return sum(check.earned for check in self.checks)

    @property
    def max_points(self) -> float:
        return sum(check.points for check in self.checks)

    def __str__(self) -> str:
        lines = [f"{self.notebook}: {self.points:g} / {self.max_points:g}"]
        for check in self.checks:
            status = "ok" if check.failure is None else check.failure
            lines.append(f"  {check.grade_id}: {check.earned:g}/{check.points:g}  {status}")
        if self.error:
            lines.append(f"  error: {self.error}")
        return "\n".join(lines)


def _nbgrader(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def _is_check(cell) -> bool:
    """An autograded test cell: graded, not itself a solution (a written answer)."""
    meta = _nbgrader(cell)
    return cell.cell_type == "code" and bool(meta.get("grade")) and not meta.get("solution")


def with_autograder_checks(submission, autograder):
    """A copy of `submission` whose check cells are the autograder's (hidden tests
    included), matched by grade_id. A check the submission lost (deleted, or its metadata
    changed) is put back after the nearest earlier cell both notebooks share. Any other
    cell of the submission that claims to be a check (a copy, or one the student made) is
    no longer one, so only the autograder's checks are scored."""
    nb = copy.deepcopy(submission)
    placed = []
    position = {}
    for index, cell in enumerate(nb.cells):
        grade_id = _nbgrader(cell).get("grade_id")
        if grade_id:
            position[grade_id] = index
    previous_id = None
    for cell in autograder.cells:
        grade_id = _nbgrader(cell).get("grade_id")
        if not grade_id:
            continue
        if _is_check(cell):
            replacement = copy.deepcopy(cell)
            replacement.outputs, replacement.execution_count = [], None
            placed.append(replacement)
            if grade_id in position and _is_check(nb.cells[position[grade_id]]):
                replacement.id = nb.cells[position[grade_id]].get("id", replacement.get("id"))
                nb.cells[position[grade_id]] = replacement
            else:
                at = position[previous_id] + 1 if previous_id in position else len(nb.cells)
                nb.cells.insert(at, replacement)
                position = {
                    _nbgrader(c).get("grade_id"): i
                    for i, c in enumerate(nb.cells)
                    if _nbgrader(c).get("grade_id")
                }
        if grade_id in position:
            previous_id = grade_id
    for cell in nb.cells:
        if _is_check(cell) and not any(cell is check for check in placed):
            cell.metadata["nbgrader"].update(grade=False, points=0)
    return nb


def _kernel_manager(extra_path: list[str]):
    """A kernel manager for this Python (sys.executable), whatever kernels are installed,
    with `extra_path` in front of PYTHONPATH so that it imports this srgan_lib."""
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
    from jupyter_client.manager import KernelManager

    pythonpath = os.pathsep.join([*extra_path, *filter(None, [os.environ.get("PYTHONPATH")])])
    spec = KernelSpec(
        argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        display_name="Python (current environment)",
        language="python",
        env={"PYTHONPATH": pythonpath},
    )

    class _CurrentEnvSpecs(KernelSpecManager):
        def get_kernel_spec(self, kernel_name):
            return spec

    return KernelManager(kernel_name="current-env", kernel_spec_manager=_CurrentEnvSpecs())


def _first_error(cell) -> str | None:
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            ename, evalue = output.get("ename", "Error"), str(output.get("evalue", ""))
            if ename == "KeyboardInterrupt":
                return "interrupted: the cell ran past the time limit"
            first = evalue.strip().splitlines()[0] if evalue.strip() else ""
            return f"{ename}: {first}" if first else ename
    return None


def execute_notebook(
    nb, cwd: str | Path, timeout: int = CELL_TIMEOUT, allow_errors: bool = True
) -> str | None:
    """Run the cells of `nb` in place in a fresh kernel of this Python (with this
    srgan_lib importable), keeping going after errors. Returns None, or why execution
    stopped early (the kernel died). With `allow_errors=False` it stops at the first
    error instead, as "Run all" does, and raises nbclient's CellExecutionError."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    package_root = str(Path(__file__).resolve().parents[1])
    kernel_manager = _kernel_manager([package_root])
    client = NotebookClient(
        nb,
        km=kernel_manager,
        timeout=timeout,
        interrupt_on_timeout=True,
        allow_errors=allow_errors,
        resources={"metadata": {"path": str(cwd)}},
    )
    try:
        client.execute()
    except CellExecutionError:
        raise
    except Exception as err:  # DeadKernelError and the like: score what ran
        return f"{type(err).__name__}: {str(err).strip().splitlines()[0] if str(err) else ''}"
    finally:  # nbclient leaves a kernel it did not start running
        if kernel_manager.has_kernel:
            kernel_manager.shutdown_kernel(now=True)
    return None


def grade(
    submission: str | Path,
    autograder_notebook: str | Path,
    executed_path: str | Path | None = None,
    timeout: int = CELL_TIMEOUT,
    cwd: str | Path | None = None,
) -> GradeReport:
    """Grade one submitted notebook against the autograder's copy of the same lesson.

    Each check cell of the submission is replaced by the autograder's (so edited or
    deleted checks do not count, and the hidden tests run), outputs are cleared, and the
    notebook runs top to bottom in a fresh kernel of this Python (errors do not stop it;
    a cell is interrupted after `timeout` s). A check earns its points when it raised
    nothing. `cwd` defaults to the autograder notebook's folder (a lesson expects to run
    one level below the repository root); `executed_path` keeps the executed notebook."""
    autograder = nbformat.read(autograder_notebook, as_version=4)
    nb = with_autograder_checks(nbformat.read(submission, as_version=4), autograder)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    error = execute_notebook(nb, cwd or Path(autograder_notebook).parent, timeout)
    report = GradeReport(Path(submission).name, error=error)
    for cell in nb.cells:
        if not _is_check(cell):
            continue
        meta = _nbgrader(cell)
        failure = _first_error(cell)
        if failure is None and cell.get("execution_count") is None:
            failure = "not run: " + (error or "the notebook stopped before this cell")
        points = float(meta.get("points", 0))
        report.checks.append(
            CheckResult(meta["grade_id"], points, points if failure is None else 0.0, failure)
        )
    if executed_path is not None:
        Path(executed_path).parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, executed_path)
    return report


_LESSON_NUMBER = re.compile(r"(?<!\d)(\d\d)_")


def match_lesson(filename: str, autograder_notebooks: list[Path]) -> Path | None:
    """The autograder notebook a submitted file is for: its full name appears in the file
    name, else its two-digit number does ("Copy of 01_residual_blocks.ipynb" -> 01_...)."""
    for notebook in autograder_notebooks:
        if notebook.stem in filename:
            return notebook
    found = _LESSON_NUMBER.search(filename)
    if found:
        for notebook in autograder_notebooks:
            if notebook.name.startswith(found.group(1) + "_"):
                return notebook
    return None


def grade_folder(
    submissions_dir: str | Path,
    autograder_dir: str | Path,
    out_csv: str | Path = "grades.csv",
    executed_dir: str | Path | None = None,
    timeout: int = CELL_TIMEOUT,
) -> Path:
    """Grade a class: `submissions_dir/<student>/<lesson>.ipynb` (one folder per student;
    Colab's "Copy of ..." names are fine). Writes `out_csv` with one row per student and
    lesson: student, lesson, points, max, failed (the grade_ids that failed, `;`-joined),
    and returns its path. `executed_dir`, if given, keeps each executed submission as
    `<executed_dir>/<student>/<lesson>.ipynb` for feedback."""
    autograder_notebooks = course.lessons(autograder_dir)
    rows = []
    for student_dir in sorted(p for p in Path(submissions_dir).iterdir() if p.is_dir()):
        for submission in sorted(student_dir.glob("*.ipynb")):
            lesson = match_lesson(submission.name, autograder_notebooks)
            if lesson is None:
                print(f"{student_dir.name}/{submission.name}: no lesson of that name, skipped")
                continue
            executed = None if executed_dir is None else Path(executed_dir) / student_dir.name
            report = grade(
                submission,
                lesson,
                executed_path=None if executed is None else executed / lesson.name,
                timeout=timeout,
            )
            print(f"{student_dir.name}: {report}", flush=True)
            failed = [c.grade_id for c in report.checks if c.failure is not None]
            rows.append(
                {
                    "student": student_dir.name,
                    "lesson": lesson.stem,
                    "points": f"{report.points:g}",
                    "max": f"{report.max_points:g}",
                    "failed": ";".join(failed),
                }
            )
    out_csv = Path(out_csv)
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    with out_csv.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["student", "lesson", "points", "max", "failed"])
        writer.writeheader()
        writer.writerows(rows)
    return out_csv


# --- parameter sweeps ------------------------------------------------------------------


def _run_name(parameters: dict) -> str:
    text = "_".join(f"{key}-{value}" for key, value in parameters.items())
    return re.sub(r"[^A-Za-z0-9._=-]+", "-", text) or "defaults"


def _final_figures(output_dir: Path) -> dict[str, str]:
    """Final losses (the last row of every history.csv) and PSNR / SSIM (every
    evaluation summary.csv) under a lesson's output_dir, as {column: value}."""
    figures: dict[str, str] = {}
    for where, last in course.final_rows(output_dir).items():
        prefix = "" if where == Path(".") else where.as_posix() + " "
        for key, value in last.items():
            if key and value not in (None, ""):
                figures[prefix + key] = value
    for summary in sorted(output_dir.rglob("summary.csv")):
        with summary.open() as f:
            for row in csv.DictReader(f):
                name = " ".join(filter(None, [row.get("set"), row.get("method")]))
                for metric in ("psnr", "ssim"):
                    if row.get(metric) not in (None, ""):
                        figures[f"{metric.upper()} {name}".strip()] = row[metric]
    return figures


def sweep(
    lesson: str | Path,
    grid: dict[str, list],
    out_dir: str | Path,
    notebooks_dir: str | Path | None = None,
) -> Path:
    """Run one lesson once per combination of the values in `grid` (for example
    {"epochs": [5, 20, 100]}) with papermill, each into `out_dir/<name>/` (the executed
    notebook, its HTML copy, and the lesson's `output_dir`), then write
    `out_dir/comparison.csv` and `out_dir/comparison.md`: one row per run with its
    parameters, run time, status, final losses (last row of `history.csv`) and PSNR/SSIM
    (an evaluation `summary.csv`), as far as the lesson writes them. `lesson` is a path
    or a lesson name prefix ("05"). Returns the path of comparison.md."""
    notebook = Path(lesson)
    if not notebook.is_file():
        matches = [p for p in course.lessons(notebooks_dir) if p.stem.startswith(str(lesson))]
        if len(matches) != 1:
            raise FileNotFoundError(
                f"{lesson!r} names {len(matches)} lessons; give a lesson file or a prefix "
                "that names exactly one (e.g. 05)"
            )
        notebook = matches[0]
    out_dir = Path(out_dir)
    keys = list(grid)
    rows = []
    for values in itertools.product(*(grid[key] for key in keys)):
        parameters = dict(zip(keys, values, strict=True))
        run_dir = out_dir / _run_name(parameters)
        run_dir.mkdir(parents=True, exist_ok=True)
        print(f"running {notebook.name} with {parameters} ...", flush=True)
        result = course.run_lesson(notebook, run_dir, parameters)
        status = "ok" if result.error is None else f"failed: {result.error}"
        print(f"  {result.seconds:6.1f} s  {status}", flush=True)
        row = {key: str(value) for key, value in parameters.items()}
        row.update(run=run_dir.name, seconds=f"{result.seconds:.1f}", status=status)
        row.update(_final_figures(run_dir / notebook.stem))
        rows.append(row)
    columns = list(dict.fromkeys(key for row in rows for key in row))
    with (out_dir / "comparison.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    lines = [
        f"# {notebook.stem}: {', '.join(keys)}",
        "",
        "| " + " | ".join(columns) + " |",
        "| " + " | ".join("---" for _ in columns) + " |",
    ]
    for row in rows:
        lines.append("| " + " | ".join(_short(row.get(c, "")) for c in columns) + " |")
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
