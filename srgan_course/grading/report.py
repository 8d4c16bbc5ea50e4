"""What grading one notebook gives: a result per graded cell, and the one-line reasons."""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass
class CheckResult:
    """One graded cell. Autograded checks: `earned` is `points` when every part of the
    check passed, else 0, and `failure` says why in one line. Manually graded cells
    (`manual`): `earned` is None until a mark is given, 0 when left unanswered."""

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


_NUMPY_HEADERS = ("Not equal to", "Arrays are not", "Items are not equal")
_NUMPY_DETAILS = re.compile(
    r"^\s*(Mismatch|Max absolute|Max relative|\(shapes|x:|y:|ACTUAL|DESIRED)"
)


def error_line(ename: str, evalue: str) -> str:
    """An error as one line ("AssertionError: hint"); for np.testing's failures the header
    and the hint the check gave (`err_msg`). A KeyboardInterrupt is what it says: the
    grader's own time limit is reported separately."""
    lines = [line.strip() for line in str(evalue).strip().splitlines()]
    text = lines[0] if lines else ""
    if text.startswith(_NUMPY_HEADERS):
        for line in lines[1:]:
            if not line or _NUMPY_DETAILS.match(line):
                break
            text += " " + line
    text = f"{ename}: {text}" if text else ename
    return text if len(text) <= 300 else text[:297] + "..."


def first_error(cell) -> str | None:
    """The first error of a cell's outputs as one line (see `error_line`)."""
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            return error_line(output.get("ename", "Error"), output.get("evalue", ""))
    return None
