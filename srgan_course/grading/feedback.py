"""What a student may see of a graded submission, and the output limit.

Feedback holds the student's own cells with their outputs (capped), each check's visible
part, its result and hint, and a summary. Hidden checks run after the student's last cell,
as separate requests from the grader: nothing they printed, and none of their code, goes
into feedback; lines of the hidden tests that still show up in an output (code that read the
autograder by absolute path, without a sandbox) are blanked.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import nbformat
from nbformat.v4 import new_markdown_cell, new_output

from srgan_course.grading.cells import is_check, is_manual, nbgrader

#: nbgrader's LimitOutput: lines kept per output (half from the start, half from the end)
#: and traceback lines kept; with a cap on characters and on outputs per cell as well.
MAX_LINES = 1000
MAX_TRACEBACK = 100
MAX_CHARS = 100_000
MAX_OUTPUTS = 200
#: Metadata key of the cells the grader added to the executed notebook (hidden checks).
GRADER_KEY = "srgan_grader"


def _cut_text(text: str) -> str:
    lines = text.splitlines(keepends=True)
    if len(lines) > MAX_LINES:
        half = MAX_LINES // 2
        note = f"\n[... {len(lines) - MAX_LINES} lines cut by the grader's output limit ...]\n"
        text = "".join(lines[:half]) + note + "".join(lines[-half:])
    if len(text) > MAX_CHARS:
        half = MAX_CHARS // 2
        note = f"\n[... {len(text) - MAX_CHARS} characters cut by the grader's output limit ...]\n"
        text = text[:half] + note + text[-half:]
    return text


def limit_outputs(cell) -> None:
    """Cap a code cell's outputs in place, as nbgrader's LimitOutput does: a long text keeps
    its first and last lines with a note of what was cut; a traceback its first and last
    MAX_TRACEBACK / 2 lines; a cell its first and last MAX_OUTPUTS / 2 outputs."""
    outputs = cell.get("outputs", [])
    if len(outputs) > MAX_OUTPUTS:
        half = MAX_OUTPUTS // 2
        note = new_output(
            "stream",
            name="stdout",
            text=f"[... {len(outputs) - MAX_OUTPUTS} outputs cut by the output limit ...]\n",
        )
        outputs[:] = [*outputs[:half], note, *outputs[-half:]]
    for output in outputs:
        if "text" in output:
            output["text"] = _cut_text(output["text"])
        for key, value in output.get("data", {}).items():
            if isinstance(value, str):
                output["data"][key] = (
                    _cut_text(value)
                    if key.startswith("text/")
                    else (value if len(value) <= MAX_CHARS * 20 else "")
                )
        traceback = output.get("traceback")
        if traceback and len(traceback) > MAX_TRACEBACK:
            half = MAX_TRACEBACK // 2
            cut = len(traceback) - MAX_TRACEBACK
            output["traceback"] = [
                *traceback[:half],
                f"[... {cut} lines cut ...]",
                *traceback[-half:],
            ]
        if "evalue" in output:
            output["evalue"] = _cut_text(str(output["evalue"]))


def _variants(secret_lines: set[str]) -> set[str]:
    """The lines as written, and as they look inside a JSON or Python string (a notebook
    file read and printed whole)."""
    found = set()
    for line in secret_lines:
        found |= {line, json.dumps(line)[1:-1], repr(line)[1:-1]}
    return found


def _redact(text: str, secret_lines: set[str]) -> str:
    if not secret_lines:
        return text
    secrets = _variants(secret_lines)
    long = [s for s in secrets if len(s) >= 20]
    kept = []
    for line in text.splitlines(keepends=True):
        stripped = line.strip()
        hit = stripped in secrets or any(s in stripped for s in long)
        kept.append("[hidden test line removed]\n" if hit else line)
    return "".join(kept)


def _clean_output(output, secret_lines: set[str]) -> None:
    if "text" in output:
        output["text"] = _redact(output["text"], secret_lines)
    for key, value in output.get("data", {}).items():
        if isinstance(value, str) and key.startswith("text/"):
            output["data"][key] = _redact(value, secret_lines)
    if output.get("output_type") == "error":
        evalue = _redact(str(output.get("evalue", "")), secret_lines)
        output["evalue"] = evalue
        output["traceback"] = [f"{output.get('ename')}: {evalue}"]


def feedback_notebook(executed, report, secret_lines: set[str] | frozenset = frozenset()):
    """A copy of an executed submission a student may see: the grader's hidden-check cells
    dropped, tracebacks cut to their error line, outputs capped, lines of the hidden tests
    (`secret_lines`) blanked, each graded cell followed by its result, a summary on top."""
    nb = copy.deepcopy(executed)
    results = {check.grade_id: check for check in report.checks}
    cells = []
    for cell in nb.cells:
        if cell.get("metadata", {}).get(GRADER_KEY):
            continue
        cells.append(cell)
        grade_id = nbgrader(cell).get("grade_id")
        if cell.cell_type == "code":
            limit_outputs(cell)
            for output in cell.get("outputs", []):
                _clean_output(output, set(secret_lines))
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


def write_feedback(executed, report, path, secret_lines=frozenset()) -> Path:
    """`feedback_notebook` as a standalone HTML file at `path`."""
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter().from_notebook_node(feedback_notebook(executed, report, secret_lines))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body, encoding="utf-8")
    return path


def unreadable_feedback(report, path) -> Path:
    """Feedback for a file that could not be graded at all."""
    return write_feedback(nbformat.v4.new_notebook(), report, path)
