"""Grade one submitted notebook against the autograder's copy of its lesson."""

from __future__ import annotations

import copy
import shutil
import tempfile
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell

from srgan_course import runner
from srgan_course.grading import checks, kernel
from srgan_course.grading.cells import (
    GradingError,
    declared_parameters,
    exercises,
    hidden_parts,
    inject_parameters,
    is_check,
    nbgrader,
    read_submission,
    with_autograder_checks,
)
from srgan_course.grading.feedback import GRADER_KEY, write_feedback
from srgan_course.grading.report import CheckResult, GradeReport, error_line

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


def prepare_lesson(autograder) -> dict[str, checks.Prepared]:
    """{grade_id: prepared grader check} of a lesson: inputs and reference outputs computed
    in this process (run it before any kernel runs)."""
    return {
        grade_id: checks.prepare(part.spec, grade_id)
        for grade_id, part in hidden_parts(autograder).items()
        if part.spec is not None
    }


def scratch_root(hidden_folders: list[Path]) -> Path:
    """A fresh folder outside the autograder, submissions and output folders.

    Raises:
        GradingError: the system's temporary folder lies inside one of them.
    """
    temp = Path(tempfile.gettempdir()).resolve()
    for folder in hidden_folders:
        folder = Path(folder).resolve()
        if temp == folder or folder in temp.parents:
            raise GradingError(
                f"the temporary folder {temp} is inside {folder}: set TMPDIR to a folder "
                "outside the autograder, submissions and output folders"
            )
    return Path(tempfile.mkdtemp(prefix="srgan-grade-", dir=temp))


def _reply_failure(execution: kernel.Execution, cell, what: str) -> str | None:
    status = execution.status(cell)
    if status == "ok":
        return None
    if status == "timeout":
        return f"{what}: ran past the time limit and was interrupted"
    if status is None:
        return f"{what} not run: " + (execution.error or "the notebook stopped before it")
    reply = execution.replies.get(id(cell), {})
    return f"{what}: " + error_line(reply.get("ename", "Error"), reply.get("evalue", ""))


def grade(
    submission: str | Path,
    autograder_notebook: str | Path,
    executed_path: str | Path | None = None,
    timeout: int = CELL_TIMEOUT,
    parameters: dict | None = None,
    feedback_path: str | Path | None = None,
    *,
    autograder=None,
    prepared: dict | None = None,
    hidden_folders: list[Path] | None = None,
) -> GradeReport:
    """Grade one submitted notebook against the autograder's copy of the same lesson.

    The submission's check cells become the autograder's visible parts (edited, deleted or
    copied checks do not count), the lesson's grading parameters are injected after its
    parameters cell, and the notebook, hidden tests taken out, runs top to bottom in a fresh
    kernel working in a scratch folder of its own (see kernel.py). After its last cell the
    grader sends each check's hidden code and grader check (checks.py). A check earns its
    points when its visible part, its hidden code and its grader check all passed, by the
    kernel's replies and by the comparison made here, and the student's function does not
    just call the library's answer (the spec's `library`). `autograder` (the notebook,
    already read) and `prepared` (`prepare_lesson`) spare reading and preparing it again;
    `hidden_folders` are kept out of the kernel's reach (default: the folders of the files
    named here). `executed_path` keeps the executed notebook, hidden checks appended (for
    the teacher), and the kernel's stderr beside it; `feedback_path` the student's HTML."""
    autograder_notebook = Path(autograder_notebook)
    if autograder is None:
        autograder = nbformat.read(autograder_notebook, as_version=4)
    parts = hidden_parts(autograder)
    prepared = prepare_lesson(autograder) if prepared is None else prepared
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
    if hidden_folders is None:
        hidden_folders = [autograder_notebook.parent, Path(submission).parent]
        hidden_folders += [Path(p).parent for p in (executed_path, feedback_path) if p]
    root = scratch_root(hidden_folders)
    try:
        values = grading_parameters(autograder, autograder_notebook.stem, parameters, root / "work")
        inject_parameters(nb, values)
        nbformat.write(nb, root / "work" / autograder_notebook.name)
        mime = checks.new_mime()
        later, roles = [], {}
        for grade_id, part in parts.items():
            for role, code in (
                ("hidden", part.code),
                (
                    "grader",
                    checks.harness(prepared[grade_id], mime) if grade_id in prepared else "",
                ),
            ):
                if code:
                    cell = new_code_cell(code)
                    cell.metadata[GRADER_KEY] = {"grade_id": grade_id, "part": role}
                    later.append(cell)
                    roles[grade_id, role] = cell
        log = None
        if executed_path is not None:
            log = Path(executed_path).with_suffix(".kernel.log")
            log.parent.mkdir(parents=True, exist_ok=True)
        execution = kernel.run(nb, later, root, timeout, hidden_folders, log)
        if execution.died_at is not None and later:
            # the kernel died in a student cell: the checks before it still get their hidden
            # parts, in a fresh kernel that runs the cells before that one again
            before = nbformat.from_dict(nb)
            before.cells = copy.deepcopy(nb.cells[: execution.died_at])
            again = kernel.run(before, later, root, timeout, hidden_folders)
            execution.replies.update(again.replies)
            execution.timed_out |= again.timed_out
    finally:
        shutil.rmtree(root, ignore_errors=True)
    report.error = execution.error
    report.checks = _results(autograder, nb, execution, roles, prepared, mime)
    executed = nbformat.from_dict(nb)
    executed.cells = [*nb.cells, new_markdown_cell("## Hidden checks sent by the grader"), *later]
    if executed_path is not None:
        Path(executed_path).parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(executed, executed_path)
    if feedback_path is not None:
        secrets = {line for part in parts.values() for line in part.lines}
        write_feedback(executed, report, feedback_path, secrets)
    return report


def _results(autograder, nb, execution, roles, prepared, mime) -> list[CheckResult]:
    answers = {nbgrader(c).get("grade_id"): c for c in nb.cells if nbgrader(c).get("grade_id")}
    originals = {
        nbgrader(c)["grade_id"]: c for c in autograder.cells if nbgrader(c).get("grade_id")
    }
    results = []
    for exercise in exercises(autograder):
        if exercise.manual:
            answer = answers.get(exercise.grade_id)
            unanswered = answer is None or answer.source.strip() == (
                originals[exercise.grade_id].source.strip()
            )
            results.append(
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
            c for c in nb.cells if is_check(c) and nbgrader(c)["grade_id"] == exercise.grade_id
        )
        failure = _reply_failure(execution, cell, "check")
        if failure is None and (exercise.grade_id, "hidden") in roles:
            failure = _reply_failure(execution, roles[exercise.grade_id, "hidden"], "hidden test")
        check = prepared.get(exercise.grade_id)
        if failure is None and check is not None:
            harness_cell = roles[exercise.grade_id, "grader"]
            failure = _reply_failure(execution, harness_cell, "grader check") or checks.judge(
                check, harness_cell.outputs, mime
            )
            used = checks.library_call(nb, check.function, check.library)
            if used:
                failure = (
                    f"{check.function} calls {used}, the library's own answer to this "
                    "exercise: write it yourself (0 points)"
                )
        if failure and failure.startswith("check: "):
            failure = failure[len("check: ") :]
        earned = exercise.points if failure is None else 0.0
        results.append(CheckResult(exercise.grade_id, exercise.points, earned, failure))
    return results
