"""Grade submitted notebooks against the autograder copies, with nbgrader's safeguards.

    grade(submission, autograder_notebook)    one notebook: a GradeReport, points per check
    grade_folder(submissions_dir, autograder_dir, out_dir)
                                              a class, into a gradebook (see gradebook.py)
    feedback_notebook(executed, report)       what a student may see: hidden tests removed

A check earns its points when its cell ran and the kernel reported no error for it. The
error is read from the kernel's execute_reply, as nbgrader's autograde does, so a student
who silences error output (`get_ipython().set_custom_exc(...)`) still fails the check.
Each submission is graded on its own: an unreadable file, a timeout or a kernel that dies
is recorded for that submission and grading goes on with the next.
"""

from __future__ import annotations

import ast
import copy
import csv
import os
import re
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell

from srgan_course import gradebook, runner
from srgan_lib import files

#: Seconds one cell may run when grading before the kernel is interrupted.
CELL_TIMEOUT = 600
#: Parameters each lesson gets when graded: its checks do not depend on how long it trains
#: or how many images it scores, so grading runs the smallest settings (lesson 05 trains
#: for one step per stage instead of retraining at the stored size for every student).
#: `srgan course grade -p KEY=VALUE` overrides them.
GRADING_PARAMETERS = {
    "05_alternating_training": {
        "srresnet_epochs": 1,
        "srgan_epochs": 1,
        "extra_epochs": 1,
        "steps_per_epoch": 1,
        "batch_size": 2,
        "hr_size": 32,
        "num_blocks": 1,
        "vgg_weights": "none",
        "srgan_start": "srresnet",  # SRGAN from the 1-block run, not the 16-block shipped G
    },
    "06_evaluation": {"max_images": 1, "shipped": False, "own_max_side": 64},
}
#: Folder parameters that get a fresh empty folder per submission unless the teacher sets
#: them, so that no submission reads what another one wrote (lesson 06's weights_dir).
SCRATCH_PARAMETERS = ("output_dir", "weights_dir")
#: The columns of checks.csv, the record of grading written as it goes.
CHECK_FIELDS = [
    "student",
    "lesson",
    "file",
    "modified",
    "sha256",
    "duplicates",
    "grade_id",
    "kind",
    "points",
    "earned",
    "result",
    "submission_error",
]
_HIDDEN_TESTS = re.compile(
    r"^[ \t]*### BEGIN HIDDEN TESTS.*?^[ \t]*### END HIDDEN TESTS[^\n]*\n?", re.M | re.S
)


class GradingError(Exception):
    """A problem with the grading set-up (not with one submission) the teacher can fix."""


@dataclass
class CheckResult:
    """One graded cell. Autograded checks: `earned` is `points` when the kernel reported no
    error for the cell, else 0, and `failure` the first line of the error. Manually graded
    cells (`manual`): `earned` is None until a mark is given, 0 when left unanswered."""

    grade_id: str
    points: float
    earned: float | None
    failure: str | None = None
    manual: bool = False

    @property
    def result(self) -> str:
        if self.failure is not None:
            return self.failure
        return "needs manual grading" if self.earned is None else "ok"


@dataclass
class GradeReport:
    """The graded cells of one notebook, in notebook order; `error` says why a submission
    could not be graded in full (unreadable file, kernel died, ...)."""

    notebook: str
    checks: list[CheckResult] = field(default_factory=list)
    error: str | None = None

    @property
    def points(self) -> float:
        return sum(check.earned or 0.0 for check in self.checks)

    @property
    def max_points(self) -> float:
        return sum(check.points for check in self.checks)

    @property
    def pending(self) -> list[CheckResult]:
        """Manually graded cells that wait for a mark."""
        return [check for check in self.checks if check.earned is None]

    def __str__(self) -> str:
        lines = [f"{self.notebook}: {self.points:g} / {self.max_points:g}"]
        if self.pending:
            lines[0] += f" (+ {sum(c.points for c in self.pending):g} to grade by hand)"
        for check in self.checks:
            earned = "?" if check.earned is None else f"{check.earned:g}"
            lines.append(f"  {check.grade_id}: {earned}/{check.points:g}  {check.result}")
        if self.error:
            lines.append(f"  error: {self.error}")
        return "\n".join(lines)


def _nbgrader(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def is_check(cell) -> bool:
    """An autograded test cell: graded code, not itself an answer."""
    meta = _nbgrader(cell)
    return cell.cell_type == "code" and bool(meta.get("grade")) and not meta.get("solution")


def is_manual(cell) -> bool:
    """A manually graded cell: a graded answer (`solution` and `grade`, e.g. a written
    answer in markdown) or a graded task."""
    meta = _nbgrader(cell)
    return bool(meta.get("grade")) and (bool(meta.get("solution")) or bool(meta.get("task")))


@dataclass(frozen=True)
class Exercise:
    """A graded cell of a lesson: its grade_id, points, and whether a person grades it."""

    grade_id: str
    points: float
    manual: bool


def exercises(autograder) -> list[Exercise]:
    """The graded cells of an autograder notebook, in order."""
    return [
        Exercise(
            _nbgrader(cell)["grade_id"], float(_nbgrader(cell).get("points", 0)), is_manual(cell)
        )
        for cell in autograder.cells
        if is_check(cell) or is_manual(cell)
    ]


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
        if is_check(cell):
            replacement = copy.deepcopy(cell)
            replacement.outputs, replacement.execution_count = [], None
            placed.append(replacement)
            if grade_id in position and is_check(nb.cells[position[grade_id]]):
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
        if is_check(cell) and not any(cell is check for check in placed):
            cell.metadata["nbgrader"].update(grade=False, points=0)
    return nb


# --- running a notebook ------------------------------------------------------------------


def _kernel_manager(extra_path: list[str], scratch: str | None):
    """A kernel manager for this Python (sys.executable), whatever kernels are installed,
    with `extra_path` in front of PYTHONPATH so that it imports this srgan_lib. With a
    `scratch` folder (POSIX) the kernel talks over local IPC sockets there instead of TCP:
    no "running over TCP without encryption" warning, no ports shared between kernels."""
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager

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

    # the async manager, as nbgrader uses: with a blocking one nbclient never notices that
    # the kernel died (it waits for output forever)
    manager = AsyncKernelManager(kernel_name="current-env", kernel_spec_manager=_CurrentEnvSpecs())
    if scratch is not None and os.name == "posix":
        manager.transport, manager.ip = "ipc", os.path.join(scratch, "kernel")
    return manager


def _record_reply_error(cell, cell_index, execute_reply) -> None:
    """nbgrader's safeguard (its Execute.on_cell_executed): when the kernel's reply says
    the cell failed but no matching error output was published (the student replaced the
    exception handler, or the cell timed out), add the reply's error to the outputs."""
    content = (execute_reply or {}).get("content", {})
    if content.get("status") != "error":
        return
    ename = content.get("ename", "Error")
    if any(o.get("output_type") == "error" and o.get("ename") == ename for o in cell.outputs):
        return
    cell.outputs.append(
        nbformat.v4.new_output(
            "error",
            ename=ename,
            evalue=content.get("evalue", ""),
            traceback=content.get("traceback")
            or ["ERROR: the kernel reported an error while error display was disabled"],
        )
    )


def execute_notebook(
    nb,
    cwd: str | Path,
    timeout: int = CELL_TIMEOUT,
    allow_errors: bool = True,
    kernel_log: str | Path | None = None,
) -> str | None:
    """Run the cells of `nb` in place in a fresh kernel of this Python (with this
    srgan_lib importable), keeping going after errors; every error the kernel reports
    for a cell ends up in its outputs, however the cell's code hid it. Returns None, or
    why execution stopped early (the kernel died). With `allow_errors=False` it stops at
    the first error instead, as "Run all" does, and raises nbclient's CellExecutionError.
    `kernel_log` takes what the kernel process writes to stderr (TensorFlow's start-up
    lines, a crash message) instead of the console."""
    from jupyter_core.utils import run_sync
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    package_root = str(Path(__file__).resolve().parents[1])
    with tempfile.TemporaryDirectory(prefix="srgan-kernel-") as scratch:
        kernel_manager = _kernel_manager([package_root], scratch)
        client = NotebookClient(
            nb,
            km=kernel_manager,
            timeout=timeout,
            interrupt_on_timeout=True,
            error_on_timeout={
                "ename": "CellTimeoutError",
                "evalue": f"the cell ran past the time limit ({timeout} s) and was interrupted",
                "traceback": [],
            },
            allow_errors=allow_errors,
            extra_arguments=["--HistoryManager.hist_file=:memory:"],
            on_cell_executed=_record_reply_error,
            resources={"metadata": {"path": str(cwd)}},
        )
        log = None if kernel_log is None else Path(kernel_log).open("w")  # noqa: SIM115
        try:
            client.execute(**({} if log is None else {"stderr": log}))
        except CellExecutionError:
            raise
        except Exception as err:  # DeadKernelError and the like: score what ran
            text = str(err).strip()
            return f"{type(err).__name__}: {text.splitlines()[0] if text else ''}".rstrip(": ")
        finally:  # nbclient leaves a kernel it did not start running
            if kernel_manager.has_kernel:
                run_sync(kernel_manager.shutdown_kernel)(now=True)
            if log is not None:
                log.close()
    return None


_NUMPY_HEADERS = ("Not equal to", "Arrays are not", "Items are not equal")
_NUMPY_DETAILS = re.compile(
    r"^\s*(Mismatch|Max absolute|Max relative|\(shapes|x:|y:|ACTUAL|DESIRED)"
)


def first_error(cell) -> str | None:
    """The first error of a cell's outputs as one line ("AssertionError: hint"); for
    np.testing's failures the header and the hint the check gave (`err_msg`)."""
    for output in cell.get("outputs", []):
        if output.get("output_type") != "error":
            continue
        ename, evalue = output.get("ename", "Error"), str(output.get("evalue", ""))
        if ename == "KeyboardInterrupt":
            return "interrupted: the cell ran past the time limit"
        lines = [line.strip() for line in evalue.strip().splitlines()]
        text = lines[0] if lines else ""
        if text.startswith(_NUMPY_HEADERS):
            for line in lines[1:]:
                if not line or _NUMPY_DETAILS.match(line):
                    break
                text += " " + line
        return f"{ename}: {text}" if text else ename
    return None


# --- grading one notebook ----------------------------------------------------------------


def declared_parameters(nb) -> dict:
    """{name: default} of the notebook's `parameters` cell (papermill's convention); the
    default is None where it is not a literal."""
    for cell in nb.cells:
        if cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", []):
            defaults = {}
            for node in ast.parse(cell.source).body:
                if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
                    try:
                        defaults[node.targets[0].id] = ast.literal_eval(node.value)
                    except ValueError:
                        defaults[node.targets[0].id] = None
            return defaults
    return {}


def _inject_parameters(nb, values: dict) -> None:
    """Put `values` in a cell right after the parameters cell, as papermill does."""
    if not values:
        return
    lines = ["# Parameters set by srgan course grade"]
    lines += [f"{key} = {value!r}" for key, value in values.items()]
    cell = new_code_cell("\n".join(lines))
    cell.metadata["tags"] = ["injected-parameters"]
    index = next(
        (
            i
            for i, c in enumerate(nb.cells)
            if c.cell_type == "code" and "parameters" in c.metadata.get("tags", [])
        ),
        -1,
    )
    nb.cells.insert(index + 1, cell)


def grading_parameters(autograder, lesson: str, given: dict | None, scratch: Path) -> dict:
    """What the lesson is run with when graded: GRADING_PARAMETERS, then fresh folders for
    SCRATCH_PARAMETERS, then the teacher's `given` values, for the names it declares."""
    declared = declared_parameters(autograder)
    values = dict(GRADING_PARAMETERS.get(lesson, {}))
    for name in SCRATCH_PARAMETERS:
        folder = scratch / name
        folder.mkdir(parents=True)
        values[name] = str(folder)
    for key, value in (given or {}).items():
        if isinstance(value, str) and key in declared:
            try:
                value = runner.parse_value(value, declared[key])
            except ValueError as err:
                raise GradingError(f"parameter {key} of {lesson} {err}") from None
        values[key] = value
    return {key: value for key, value in values.items() if key in declared}


def read_submission(path: str | Path):
    """The notebook in `path`; a clear one-line ValueError if it is not one."""
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as err:  # not JSON, not UTF-8, not a notebook, unreadable
        detail = " ".join(str(err).split())[:160] or type(err).__name__
        raise ValueError(f"unreadable: not a Jupyter notebook ({detail})") from err
    if not isinstance(nb.get("cells"), list):
        raise ValueError("unreadable: no cells (not a Jupyter notebook)")
    return nb


def grade(
    submission: str | Path,
    autograder_notebook: str | Path,
    executed_path: str | Path | None = None,
    timeout: int = CELL_TIMEOUT,
    cwd: str | Path | None = None,
    parameters: dict | None = None,
    feedback_path: str | Path | None = None,
) -> GradeReport:
    """Grade one submitted notebook against the autograder's copy of the same lesson.

    Each check cell of the submission is replaced by the autograder's (so edited or
    deleted checks do not count, and the hidden tests run), outputs are cleared, the
    lesson's grading parameters are injected after its parameters cell, and the notebook
    runs top to bottom in a fresh kernel of this Python (errors do not stop it; a cell is
    interrupted after `timeout` s). A check earns its points when its cell ran and the
    kernel reported no error for it; manually graded cells wait for a mark. An unreadable
    file gives a report with every cell at 0 and `error` set. `cwd` defaults to the
    autograder notebook's folder; `executed_path` keeps the executed notebook (hidden tests
    in it: for the teacher) and the kernel's stderr beside it (`.kernel.log`);
    `feedback_path` writes the student's HTML feedback."""
    autograder_notebook = Path(autograder_notebook)
    autograder = nbformat.read(autograder_notebook, as_version=4)
    report = GradeReport(Path(submission).name)
    try:
        submitted = read_submission(submission)
    except ValueError as err:
        report.error = str(err)
        report.checks = [
            CheckResult(e.grade_id, e.points, 0.0, f"not graded: {err}", e.manual)
            for e in exercises(autograder)
        ]
        return report
    nb = with_autograder_checks(submitted, autograder)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    with tempfile.TemporaryDirectory(prefix="srgan-grade-") as scratch:
        values = grading_parameters(autograder, autograder_notebook.stem, parameters, Path(scratch))
        _inject_parameters(nb, values)
        log = None
        if executed_path is not None:
            log = Path(executed_path).with_suffix(".kernel.log")
            log.parent.mkdir(parents=True, exist_ok=True)
        report.error = execute_notebook(nb, cwd or autograder_notebook.parent, timeout, True, log)
    answers = {_nbgrader(c).get("grade_id"): c for c in nb.cells if _nbgrader(c).get("grade_id")}
    originals = {_nbgrader(c)["grade_id"]: c for c in autograder.cells if is_manual(c)}
    for exercise in exercises(autograder):
        if exercise.manual:
            answer = answers.get(exercise.grade_id)
            unanswered = answer is None or answer.source.strip() == (
                originals[exercise.grade_id].source.strip()
            )
            report.checks.append(
                CheckResult(
                    exercise.grade_id,
                    exercise.points,
                    0.0 if unanswered else None,
                    "not answered" if unanswered else None,
                    manual=True,
                )
            )
            continue
        cell = next(
            c for c in nb.cells if is_check(c) and _nbgrader(c)["grade_id"] == exercise.grade_id
        )
        failure = first_error(cell)
        if failure is None and cell.get("execution_count") is None:
            failure = "not run: " + (report.error or "the notebook stopped before this cell")
        earned = exercise.points if failure is None else 0.0
        report.checks.append(CheckResult(exercise.grade_id, exercise.points, earned, failure))
    if executed_path is not None:
        Path(executed_path).parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, executed_path)
    if feedback_path is not None:
        write_feedback(nb, report, feedback_path)
    return report


# --- feedback ------------------------------------------------------------------------------


def feedback_notebook(executed, report: GradeReport):
    """A copy of an executed submission a student may see: hidden tests removed from the
    check cells, their error tracebacks cut to the error line (a traceback quotes the
    hidden test that failed), each graded cell followed by its result, and a summary on
    top."""
    nb = copy.deepcopy(executed)
    results = {check.grade_id: check for check in report.checks}
    cells = []
    for cell in nb.cells:
        cells.append(cell)
        grade_id = _nbgrader(cell).get("grade_id")
        if is_check(cell):
            cell.source = _HIDDEN_TESTS.sub("", cell.source)
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    output["traceback"] = [f"{output.get('ename')}: {output.get('evalue')}"]
        if grade_id in results and (is_check(cell) or is_manual(cell)):
            check = results[grade_id]
            earned = "to be graded" if check.earned is None else f"{check.earned:g}"
            cells.append(
                new_markdown_cell(f"**{grade_id}: {earned} / {check.points:g}** ({check.result})")
            )
    lines = [
        f"# Feedback: {report.notebook}",
        "",
        f"**{report.points:g} / {report.max_points:g} points**",
    ]
    if report.pending:
        lines[-1] += f", {sum(c.points for c in report.pending):g} more to be graded by hand"
    if report.error:
        lines += ["", f"Grading stopped early: {report.error}"]
    lines += ["", "| exercise | points | result |", "| --- | ---: | --- |"]
    for check in report.checks:
        earned = "?" if check.earned is None else f"{check.earned:g}"
        result = check.result.replace("|", "/")
        lines.append(f"| {check.grade_id} | {earned} / {check.points:g} | {result} |")
    nb.cells = [new_markdown_cell("\n".join(lines)), *cells]
    return nb


def write_feedback(executed, report: GradeReport, path: str | Path) -> Path:
    """`feedback_notebook` as a standalone HTML file at `path`."""
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter().from_notebook_node(feedback_notebook(executed, report))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body, encoding="utf-8")
    return path


def unreadable_feedback(report: GradeReport, path: str | Path) -> Path:
    """Feedback for a file that could not be graded at all."""
    return write_feedback(nbformat.v4.new_notebook(), report, path)


# --- grading a class -----------------------------------------------------------------------

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


@dataclass
class Submission:
    """The file graded for one student and lesson (the newest if there are several)."""

    student: str
    lesson: Path
    path: Path
    duplicates: list[Path] = field(default_factory=list)

    @property
    def modified(self) -> str:
        stamp = datetime.fromtimestamp(self.path.stat().st_mtime, tz=timezone.utc)
        return stamp.strftime("%Y-%m-%d %H:%M:%S UTC")


def find_submissions(submissions_dir: str | Path, autograder_notebooks: list[Path]):
    """`submissions_dir/<student>/*.ipynb` matched to lessons: a list of Submission (one
    per student and lesson; with several files for a lesson the most recently modified is
    graded and the others are listed as duplicates), and the students' folder names."""
    root = Path(submissions_dir)
    if not root.is_dir():
        raise GradingError(
            f"no submissions folder at {root}: pass the folder that holds one folder per student"
        )
    found, students = [], []
    for student_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        students.append(student_dir.name)
        by_lesson: dict[Path, list[Path]] = {}
        for path in sorted(student_dir.glob("*.ipynb")):
            lesson = match_lesson(path.name, autograder_notebooks)
            if lesson is None:
                print(f"{student_dir.name}/{path.name}: no lesson of that name, skipped")
                continue
            by_lesson.setdefault(lesson, []).append(path)
        for lesson, paths in sorted(by_lesson.items()):
            paths.sort(key=lambda p: (p.stat().st_mtime, p.name), reverse=True)
            found.append(Submission(student_dir.name, lesson, paths[0], paths[1:]))
    return found, students


def _sha256(path: Path) -> str:
    """The file's digest, or "" when it cannot be read (graded as unreadable)."""
    try:
        return files.sha256(path)
    except OSError:
        return ""


def _grade_one(item: Submission, out_dir: Path, timeout: int, parameters: dict | None):
    """Grade one submission; whatever goes wrong stays in its report."""
    stem = item.lesson.stem
    feedback = out_dir / "feedback" / item.student / f"{stem}.html"
    try:
        report = grade(
            item.path,
            item.lesson,
            executed_path=out_dir / "executed" / item.student / f"{stem}.ipynb",
            timeout=timeout,
            parameters=parameters,
            feedback_path=feedback,
        )
    except Exception as err:  # a grading failure is this submission's, not the class's
        report = GradeReport(item.path.name, error=f"grading failed: {type(err).__name__}: {err}")
        autograder = nbformat.read(item.lesson, as_version=4)
        report.checks = [
            CheckResult(e.grade_id, e.points, 0.0, f"not graded: {report.error}", e.manual)
            for e in exercises(autograder)
        ]
    if not feedback.is_file():
        unreadable_feedback(report, feedback)
    return report


def grade_folder(
    submissions_dir: str | Path,
    autograder_dir: str | Path,
    out_dir: str | Path = "grading",
    *,
    roster: str | Path | None = None,
    marks: str | Path | None = None,
    lessons: list[str] | None = None,
    timeout: int = CELL_TIMEOUT,
    jobs: int = 1,
    parameters: dict | None = None,
    regrade: bool = False,
    resume: bool = False,
) -> Path:
    """Grade a class: `submissions_dir/<student>/<lesson>.ipynb` (one folder per student;
    Colab's "Copy of ..." names are fine), `jobs` submissions at a time. Writes into
    `out_dir`, as grading goes: `checks.csv` (one row per graded cell of each submission),
    `executed/<student>/<lesson>.ipynb` (for the teacher: hidden tests inside) and
    `feedback/<student>/<lesson>.html` (for the student); then the gradebook and its
    exports (see `gradebook.write_all`). `roster` is a CSV of students (else the folder
    names), `marks` a CSV of manual marks, `lessons` name prefixes for the gradebook's
    columns (default: every lesson someone handed in). Returns the gradebook's path.
    An earlier `checks.csv` in `out_dir` is kept unless `regrade` (grade everything again)
    or `resume` (keep its results for files that have not changed since, grade the rest:
    to continue a grading that was stopped, or after late submissions)."""
    out_dir = Path(out_dir)
    records = out_dir / "checks.csv"
    if records.exists() and not (regrade or resume):
        raise GradingError(
            f"{records} holds an earlier grading: pass --resume to grade only what it lacks, "
            "--regrade to grade everything again, or run `srgan course gradebook` to "
            "rebuild the gradebook from it"
        )
    autograder_notebooks = _autograder_lessons(autograder_dir)
    submissions, folders = find_submissions(submissions_dir, autograder_notebooks)
    structure = class_structure(autograder_notebooks)
    _check_parameters(autograder_notebooks, parameters)
    # a bad roster, marks file or lesson prefix stops here, not after grading
    if roster:
        gradebook.read_roster(roster)
    if marks:
        gradebook.read_marks(marks, structure)
    gradebook.build([], structure, lessons=lessons)
    kept = []
    if resume and not regrade and records.is_file():
        with records.open(newline="") as f:
            current = {(s.student, s.lesson.stem): _sha256(s.path) for s in submissions}
            kept = [
                row
                for row in csv.DictReader(f)
                if row["sha256"] and current.get((row["student"], row["lesson"])) == row["sha256"]
            ]
        done = {(row["student"], row["lesson"]) for row in kept}
        submissions = [s for s in submissions if (s.student, s.lesson.stem) not in done]
        print(f"kept the results of {len(done)} unchanged submissions", flush=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    with records.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CHECK_FIELDS)
        writer.writeheader()
        writer.writerows(kept)
    print(f"grading {len(submissions)} submissions, {max(1, jobs)} at a time", flush=True)
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {
            pool.submit(_grade_one, item, out_dir, timeout, parameters): item
            for item in submissions
        }
        for future in as_completed(futures):
            item = futures[future]
            report = future.result()
            _append_records(records, item, report)
            print(f"{item.student}: {report}", flush=True)
            gradebook.write_all(out_dir, structure, roster, marks, lessons, folders, quiet=True)
    return gradebook.write_all(out_dir, structure, roster, marks, lessons, folders)


def _check_parameters(autograder_notebooks: list[Path], parameters: dict | None) -> None:
    """Stop before grading when a parameter has the wrong type or no lesson declares it."""
    declared = set()
    with tempfile.TemporaryDirectory() as scratch:
        for notebook in autograder_notebooks:
            autograder = nbformat.read(notebook, as_version=4)
            declared |= set(declared_parameters(autograder))
            folder = Path(scratch) / notebook.stem
            folder.mkdir()
            grading_parameters(autograder, notebook.stem, parameters, folder)
    unknown = sorted(set(parameters or {}) - declared)
    if unknown:
        raise GradingError(
            f"no lesson has a parameter {', '.join(unknown)}: use the names in a lesson's "
            "parameters cell"
        )


def _append_records(records: Path, item: Submission, report: GradeReport) -> None:
    base = {
        "student": item.student,
        "lesson": item.lesson.stem,
        "file": item.path.name,
        "modified": item.modified,
        "sha256": _sha256(item.path),
        "duplicates": ";".join(p.name for p in item.duplicates),
        "submission_error": report.error or "",
    }
    with records.open("a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CHECK_FIELDS)
        for check in report.checks:
            writer.writerow(
                {
                    **base,
                    "grade_id": check.grade_id,
                    "kind": "manual" if check.manual else "auto",
                    "points": f"{check.points:g}",
                    "earned": "" if check.earned is None else f"{check.earned:g}",
                    "result": check.result,
                }
            )
        f.flush()


def class_structure(autograder_notebooks: list[Path]) -> dict[str, list[Exercise]]:
    """{lesson stem: its graded cells} for the autograder notebooks."""
    return {
        notebook.stem: exercises(nbformat.read(notebook, as_version=4))
        for notebook in autograder_notebooks
    }


def rebuild_gradebook(
    out_dir: str | Path,
    autograder_dir: str | Path,
    roster: str | Path | None = None,
    marks: str | Path | None = None,
    lessons: list[str] | None = None,
) -> Path:
    """Write the gradebook again from `out_dir/checks.csv` (no notebook runs): to merge
    new manual marks, or another roster."""
    records = Path(out_dir) / "checks.csv"
    if not records.is_file():
        raise GradingError(f"no {records}: run `srgan course grade` with --out {out_dir} first")
    structure = class_structure(_autograder_lessons(autograder_dir))
    return gradebook.write_all(out_dir, structure, roster, marks, lessons)


def _autograder_lessons(autograder_dir: str | Path) -> list[Path]:
    try:
        return runner.lessons(autograder_dir)
    except FileNotFoundError:
        raise GradingError(
            f"no autograder notebooks (NN_name.ipynb) in {autograder_dir}: run "
            "`srgan course student` (it writes dist/autograder) or pass --autograder"
        ) from None
