"""The graded cells of nbgrader notebooks: which cells are checks, what a submission is
graded with, and the hidden part of each check, which never goes into a file a kernel can
read.

A check cell of the autograder copy is split in three:

    visible   the asserts before `### BEGIN HIDDEN TESTS`: public (the student copy has
              them), run in the kernel where the cell stands
    hidden    the code between the HIDDEN TESTS markers less the grader check: sent to the
              kernel by the grader after the student's last cell ran
    spec      the `### BEGIN GRADER CHECK` ... `### END GRADER CHECK` block inside the
              hidden part: a Python dict literal the grader parses (never executes) and
              judges in its own process (see checks.py)
"""

from __future__ import annotations

import ast
import copy
import re
from dataclasses import dataclass

import nbformat
from nbformat.v4 import new_code_cell

HIDDEN_TESTS = re.compile(
    r"^[ \t]*### BEGIN HIDDEN TESTS[^\n]*\n(?P<body>.*?)^[ \t]*### END HIDDEN TESTS[^\n]*\n?",
    re.M | re.S,
)
GRADER_CHECK = re.compile(
    r"^[ \t]*### BEGIN GRADER CHECK[^\n]*\n(?P<body>.*?)^[ \t]*### END GRADER CHECK[^\n]*\n?",
    re.M | re.S,
)


class GradingError(Exception):
    """A problem with the grading set-up (not with one submission) the teacher can fix."""


def nbgrader(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def is_check(cell) -> bool:
    """An autograded test cell: graded code, not itself an answer."""
    meta = nbgrader(cell)
    return cell.cell_type == "code" and bool(meta.get("grade")) and not meta.get("solution")


def is_manual(cell) -> bool:
    """A manually graded cell: a graded answer (`solution` and `grade`, e.g. a written
    answer in markdown) or a graded task."""
    meta = nbgrader(cell)
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
            nbgrader(cell)["grade_id"], float(nbgrader(cell).get("points", 0)), is_manual(cell)
        )
        for cell in autograder.cells
        if is_check(cell) or is_manual(cell)
    ]


@dataclass
class HiddenPart:
    """What the grader, not the notebook, holds of one check: the hidden code (may be
    empty) and the grader check's spec (None when the check has none)."""

    grade_id: str
    code: str
    spec: dict | None
    lines: list[str]  # every line of the hidden region, to redact from feedback


def split_check(source: str, grade_id: str = "?") -> tuple[str, HiddenPart]:
    """(visible source, hidden part) of a check cell's source.

    Raises:
        GradingError: a GRADER CHECK block that is not a dict literal.
    """
    code, specs, lines = [], [], []
    for match in HIDDEN_TESTS.finditer(source):
        body = match.group("body")
        region = match.group(0).splitlines()
        lines += [line.strip() for line in region if len(line.strip()) >= 8]
        for block in GRADER_CHECK.finditer(body):
            try:
                spec = ast.literal_eval(block.group("body").strip())
            except (ValueError, SyntaxError) as err:
                raise GradingError(
                    f"the GRADER CHECK of {grade_id} is not a Python dict literal ({err})"
                ) from None
            if not isinstance(spec, dict) or "function" not in spec:
                raise GradingError(f"the GRADER CHECK of {grade_id} needs a dict with 'function'")
            specs.append(spec)
        code.append(GRADER_CHECK.sub("", body))
    if len(specs) > 1:
        raise GradingError(f"{grade_id} has {len(specs)} GRADER CHECK blocks: give one")
    hidden = "".join(code).strip()
    return HIDDEN_TESTS.sub("", source), HiddenPart(
        grade_id, hidden, specs[0] if specs else None, lines
    )


def hidden_parts(autograder) -> dict[str, HiddenPart]:
    """{grade_id: HiddenPart} of the autograder's check cells."""
    parts = {}
    for cell in autograder.cells:
        if is_check(cell):
            grade_id = nbgrader(cell)["grade_id"]
            parts[grade_id] = split_check(cell.source, grade_id)[1]
    return parts


def with_autograder_checks(submission, autograder):
    """A copy of `submission` whose check cells are the autograder's visible parts (hidden
    tests taken out: the grader sends them later), matched by grade_id. A check the
    submission lost (deleted, or its metadata changed) is put back after the nearest earlier
    cell both notebooks share. Any other cell of the submission that claims to be a check (a
    copy, or one the student made) is no longer one, so only the autograder's checks are
    scored."""
    nb = copy.deepcopy(submission)
    placed = []
    position = {}
    for index, cell in enumerate(nb.cells):
        grade_id = nbgrader(cell).get("grade_id")
        if grade_id:
            position[grade_id] = index
    previous_id = None
    for cell in autograder.cells:
        grade_id = nbgrader(cell).get("grade_id")
        if not grade_id:
            continue
        if is_check(cell):
            replacement = copy.deepcopy(cell)
            replacement.source = split_check(cell.source, grade_id)[0]
            replacement.outputs, replacement.execution_count = [], None
            placed.append(replacement)
            if grade_id in position and is_check(nb.cells[position[grade_id]]):
                replacement.id = nb.cells[position[grade_id]].get("id", replacement.get("id"))
                nb.cells[position[grade_id]] = replacement
            else:
                at = position[previous_id] + 1 if previous_id in position else len(nb.cells)
                nb.cells.insert(at, replacement)
                position = {
                    nbgrader(c).get("grade_id"): i
                    for i, c in enumerate(nb.cells)
                    if nbgrader(c).get("grade_id")
                }
        if grade_id in position:
            previous_id = grade_id
    for cell in nb.cells:
        if is_check(cell) and not any(cell is check for check in placed):
            cell.metadata["nbgrader"].update(grade=False, points=0)
            cell.source = HIDDEN_TESTS.sub("", cell.source)
    return nb


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


def inject_parameters(nb, values: dict) -> None:
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


def read_submission(path):
    """The notebook in `path`; a clear one-line ValueError if it is not one."""
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as err:  # not JSON, not UTF-8, not a notebook, unreadable
        detail = " ".join(str(err).split())[:160] or type(err).__name__
        raise ValueError(f"unreadable: not a Jupyter notebook ({detail})") from err
    if not isinstance(nb.get("cells"), list):
        raise ValueError("unreadable: no cells (not a Jupyter notebook)")
    return nb
