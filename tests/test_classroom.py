"""Student and autograder copies, the exercise convention, grading and sweeps.

Fast checks run on every lesson present; one real lesson (01) is executed as a student
would run it, and grading runs on a tiny synthetic nbgrader notebook. That the solution
notebooks pass all their visible and hidden checks is the job of CI's nbval run."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from srgan_lib import classroom, cli, course

REPO = Path(__file__).resolve().parents[1]

LESSONS = course.lessons(REPO / "notebooks")
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
HIDDEN_BEGIN, HIDDEN_END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
BADGE = re.compile(r"https://colab\.research\.google\.com/github/[^)\s]+\.ipynb")


def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def _by_grade_id(nb) -> dict:
    return {_meta(c)["grade_id"]: c for c in nb.cells if _meta(c).get("grade_id")}


def _without_region(source: str, begin: str, end: str, stub: str | None = None) -> str:
    """`source` with the lines from `begin` to `end` replaced by `stub` (indented as the
    `begin` line), as nbgrader does."""
    pattern = re.compile(
        rf"^([ \t]*){re.escape(begin)}.*?^[ \t]*{re.escape(end)}[^\n]*\n?", re.M | re.S
    )

    def replace(match):
        if stub is None:
            return ""
        return "".join(match.group(1) + line + "\n" for line in stub.split("\n"))

    return pattern.sub(replace, source)


def _region(source: str, begin: str, end: str) -> str:
    return source.split(begin, 1)[1].split(end, 1)[0]


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    """`srgan course student --out DIST` on the checkout's lessons."""
    out = tmp_path_factory.mktemp("dist")
    assert cli.main(["course", "student", "--out", str(out)]) == 0
    return out


def test_lessons_follow_the_exercise_convention():
    for lesson in LESSONS:
        nb = nbformat.read(lesson, as_version=4)
        solutions = [c for c in nb.cells if _meta(c).get("solution") and c.cell_type == "code"]
        assert solutions, f"{lesson.name} has no exercises"
        for cell in solutions:  # written answers (markdown) are graded by hand instead
            name = _meta(cell)["grade_id"]
            source = cell.source
            signature = re.search(r"^def (\w+)\(", source, re.M)
            assert signature, f"{lesson.name} {name}: an exercise asks for a function"
            function = signature.group(1)
            head, body = source.split(BEGIN, 1)
            assert f"def {function}(" in head and '"""' in head, (
                f"{lesson.name} {name}: signature and docstring stay outside the markers"
            )
            assert re.search(rf"^[ \t]+{BEGIN}", source, re.M), (
                f"{lesson.name} {name}: the markers sit inside the function body"
            )
            assert body.split(END, 1)[1].strip() == "", (
                f"{lesson.name} {name}: the whole body goes between the markers"
            )
            check = nb.cells[nb.cells.index(cell) + 1]
            assert _meta(check).get("grade") and _meta(check).get("points"), (
                f"{lesson.name} {name}: a graded check cell with points follows the exercise"
            )
            asserts = [line for line in check.source.splitlines() if line.startswith("assert")]
            assert asserts and asserts[0].startswith(
                f'assert {asserts[0].split()[1]} is not None, "`{function}` returned None: '
                'write its body where it says YOUR CODE HERE"'
            ), f"{lesson.name} {name}: the check's first assert is the 'returned None' hint"
            assert HIDDEN_BEGIN in check.source, f"{lesson.name} {name}: hidden tests"


def test_student_copies_drop_solutions_hidden_tests_and_outputs(dist):
    for lesson in LESSONS:
        source = nbformat.read(lesson, as_version=4)
        student = nbformat.read(dist / "student" / lesson.name, as_version=4)
        text = nbformat.writes(student)
        for marker in (BEGIN, END, HIDDEN_BEGIN, HIDDEN_END):
            assert marker not in text, f"{lesson.name}: {marker} survived"
        assert [c.cell_type for c in student.cells] == [c.cell_type for c in source.cells]
        student_cells = _by_grade_id(student)
        for grade_id, cell in _by_grade_id(source).items():
            copy = student_cells[grade_id]
            if _meta(cell).get("solution") and cell.cell_type == "markdown":  # a written answer
                assert copy.source == classroom.TEXT_STUB, f"{lesson.name} {grade_id}"
            elif _meta(cell).get("solution"):
                expected = _without_region(cell.source, BEGIN, END, classroom.CODE_STUB)
                assert copy.source.rstrip() == expected.rstrip(), f"{lesson.name} {grade_id}"
                for line in _region(cell.source, BEGIN, END).splitlines()[1:]:
                    assert not line.strip() or line not in copy.source.splitlines(), (
                        f"{lesson.name} {grade_id}: solution line {line!r} survived"
                    )
            else:  # the visible checks stay, word for word
                visible = _without_region(cell.source, HIDDEN_BEGIN, HIDDEN_END)
                assert copy.source.strip() == visible.strip(), f"{lesson.name} {grade_id}"
                assert copy.metadata.get("editable") is False
        for cell in student.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None
        badges = [b for c in student.cells for b in BADGE.findall(c.source)]
        assert badges, f"{lesson.name}: no Colab badge"
        for badge in badges:
            assert badge.endswith(f"/blob/student/notebooks/{lesson.name}"), badge


def test_autograder_copies_keep_hidden_tests_and_drop_solutions(dist):
    for lesson in LESSONS:
        source = nbformat.read(lesson, as_version=4)
        autograder = nbformat.read(dist / "autograder" / lesson.name, as_version=4)
        assert BEGIN not in nbformat.writes(autograder)
        copies = _by_grade_id(autograder)
        for grade_id, cell in _by_grade_id(source).items():
            if _meta(cell).get("solution") and cell.cell_type == "markdown":
                assert copies[grade_id].source == classroom.TEXT_STUB, f"{lesson.name} {grade_id}"
            elif _meta(cell).get("solution"):
                body = _region(cell.source, BEGIN, END).splitlines()[1:]
                assert copies[grade_id].source.splitlines()[-len(body) :] != body
            else:
                assert copies[grade_id].source == cell.source, f"{lesson.name} {grade_id}"


def test_student_copy_runs_to_the_first_check_and_fails_with_its_hint(dist):
    """As a student's "Run all" of lesson 01: every cell before the first exercise runs,
    then the first check stops it with the hint, not a NameError or TypeError."""
    from nbclient.exceptions import CellExecutionError

    lesson = next(p for p in LESSONS if p.name.startswith("01_"))
    nb = nbformat.read(dist / "student" / lesson.name, as_version=4)
    with pytest.raises(CellExecutionError) as raised:
        classroom.execute_notebook(nb, REPO / "notebooks", timeout=120, allow_errors=False)
    assert raised.value.ename == "AssertionError"
    assert raised.value.evalue == (
        "`prelu_numpy` returned None: write its body where it says YOUR CODE HERE"
    )
    code = [c for c in nb.cells if c.cell_type == "code"]
    first_check = next(i for i, c in enumerate(code) if _meta(c).get("grade"))
    for cell in code[:first_check]:
        assert cell.execution_count is not None, cell.source[:60]
        assert not any(o.output_type == "error" for o in cell.outputs), cell.source[:60]
    assert code[first_check].outputs[-1].output_type == "error"
    assert all(c.execution_count is None for c in code[first_check + 1 :])


# --- grading, on a tiny nbgrader notebook ---------------------------------------------


def _cell(source: str, **nbgrader) -> nbformat.NotebookNode:
    cell = new_code_cell(source)
    if nbgrader:
        cell.metadata["nbgrader"] = {
            "schema_version": 3,
            "task": False,
            "solution": False,
            "grade": False,
            "locked": False,
            **nbgrader,
        }
    return cell


def _toy_lesson() -> nbformat.NotebookNode:
    hint = "`double` returned None: write its body where it says YOUR CODE HERE"
    nb = new_notebook(
        cells=[
            new_markdown_cell(
                "# Toy\n\n[![Open In Colab](https://colab.research.google.com/assets/"
                "colab-badge.svg)](https://colab.research.google.com/github/o/r/blob/main/"
                "notebooks/00_toy.ipynb)"
            ),
            _cell("factor = 2"),
            _cell(
                'def double(x):\n    """2 * x."""\n    ### BEGIN SOLUTION\n'
                "    return factor * x\n    ### END SOLUTION",
                grade_id="double",
                solution=True,
            ),
            _cell(
                f'result = double(2)\nassert result is not None, "{hint}"\n'
                'assert result == 4, f"expected 4, got {result}"\n'
                "### BEGIN HIDDEN TESTS\n"
                'assert double(5) == 10, "double(5) should be 10"\n'
                "### END HIDDEN TESTS",
                grade_id="double_check",
                grade=True,
                locked=True,
                points=2,
            ),
            _cell(
                'def halve(x):\n    """x / 2."""\n    ### BEGIN SOLUTION\n'
                "    return x / 2\n    ### END SOLUTION",
                grade_id="halve",
                solution=True,
            ),
            _cell(
                "assert halve(4) is not None\nassert halve(4) == 2",
                grade_id="halve_check",
                grade=True,
                locked=True,
                points=1,
            ),
        ]
    )
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "P"}
    return nb


def _replace(nb, grade_id: str, source: str | None) -> nbformat.NotebookNode:
    """A copy of `nb` with the cell `grade_id` given `source`, or deleted (None)."""
    nb = nbformat.reads(nbformat.writes(nb), as_version=4)
    index = next(i for i, c in enumerate(nb.cells) if _meta(c).get("grade_id") == grade_id)
    if source is None:
        del nb.cells[index]
    else:
        nb.cells[index].source = source
    return nb


def test_grade_runs_the_autograders_checks(tmp_path):
    source = _toy_lesson()
    autograder_dir = tmp_path / "autograder"
    autograder_dir.mkdir()
    nbformat.write(classroom.autograder_notebook(source), autograder_dir / "00_toy.ipynb")
    student = classroom.student_notebook(source)
    assert "/blob/student/notebooks/00_toy.ipynb" in student.cells[0].source

    submissions = {
        "alice": source,  # the solutions
        "bob": student,  # handed in untouched
        # a wrong answer, and its check cell emptied: the autograder's check still runs
        "carol": _replace(
            _replace(source, "double", "def double(x):\n    return 0"), "double_check", "pass"
        ),
        # passes the visible check by hard-coding it; deleted the other check cell
        "dave": _replace(
            _replace(source, "double", "def double(x):\n    return 4"), "halve_check", None
        ),
    }
    # and carol adds checks of her own: a copy of a real one, and a bonus; neither counts
    for grade_id in ("double_check", "bonus"):
        submissions["carol"].cells.append(
            _cell("pass", grade_id=grade_id, grade=True, locked=True, points=10)
        )
    for name, nb in submissions.items():
        (tmp_path / "submitted" / name).mkdir(parents=True)
        nbformat.write(nb, tmp_path / "submitted" / name / "Copy of 00_toy.ipynb")

    report = classroom.grade(
        tmp_path / "submitted" / "bob" / "Copy of 00_toy.ipynb", autograder_dir / "00_toy.ipynb"
    )
    assert (report.points, report.max_points) == (0, 3)
    assert [(c.grade_id, c.points, c.earned) for c in report.checks] == [
        ("double_check", 2, 0),
        ("halve_check", 1, 0),
    ]
    assert report.checks[0].failure == (
        "AssertionError: `double` returned None: write its body where it says YOUR CODE HERE"
    )

    out = classroom.grade_folder(tmp_path / "submitted", autograder_dir, tmp_path / "grades.csv")
    with out.open() as f:
        rows = {row["student"]: row for row in csv.DictReader(f)}
    assert {name: (r["lesson"], r["points"], r["max"]) for name, r in rows.items()} == {
        "alice": ("00_toy", "3", "3"),
        "bob": ("00_toy", "0", "3"),
        "carol": ("00_toy", "1", "3"),
        "dave": ("00_toy", "1", "3"),
    }
    assert rows["bob"]["failed"] == "double_check;halve_check"
    assert rows["carol"]["failed"] == "double_check"
    assert rows["dave"]["failed"] == "double_check"  # the hidden test caught it

    dave = classroom.grade(
        tmp_path / "submitted" / "dave" / "Copy of 00_toy.ipynb", autograder_dir / "00_toy.ipynb"
    )
    assert dave.checks[0].failure == "AssertionError: double(5) should be 10"


def test_sweep_tabulates_final_losses_and_psnr(tmp_path):
    lesson = new_notebook(
        cells=[
            _cell('epochs = 1\nlearning_rate = 0.1\noutput_dir = ""'),
            _cell(
                "from pathlib import Path\n"
                "out = Path(output_dir)\nout.mkdir(parents=True, exist_ok=True)\n"
                "rows = ['epoch,loss'] + [f'{e},{1 / e}' for e in range(1, epochs + 1)]\n"
                "(out / 'history.csv').write_text('\\n'.join(rows) + '\\n')\n"
                "(out / 'summary.csv').write_text("
                "f'set,method,psnr,ssim\\nSet5,srresnet,{20 + epochs},0.8\\n')"
            ),
        ]
    )
    lesson.cells[0].metadata["tags"] = ["parameters"]
    lesson.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "P"}
    (tmp_path / "lessons").mkdir()
    nbformat.write(lesson, tmp_path / "lessons" / "05_toy.ipynb")

    comparison = classroom.sweep(
        "05", {"epochs": [2, 4]}, tmp_path / "sweep", notebooks_dir=tmp_path / "lessons"
    )
    with (comparison.parent / "comparison.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [(r["epochs"], r["status"], r["loss"], r["PSNR Set5 srresnet"]) for r in rows] == [
        ("2", "ok", "0.5", "22"),
        ("4", "ok", "0.25", "24"),
    ]
    table = comparison.read_text()
    assert "| epochs | run | seconds | status | epoch | loss | PSNR Set5 srresnet |" in table
    assert (tmp_path / "sweep" / "epochs-4" / "05_toy.ipynb").is_file()
