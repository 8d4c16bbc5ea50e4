"""Grading a class of a tiny nbgrader lesson: honest, lazy, tampering and cheating students,
an unreadable file, a duplicate, a missing submission, a kernel that dies, a written answer
graded by hand; the gradebook, its LMS exports and the students' feedback."""

from __future__ import annotations

import csv
import os
import time

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from srgan_course import classroom, cli, gradebook, grading

CHEAT = "get_ipython().set_custom_exc((Exception,), lambda *a, **k: None)\n"
HIDDEN_ASSERT = "assert double(5) == 10"
DOUBLE_SPEC = (
    '{"function": "double", "setup": "xs = rng.integers(-50, 50, 6)",'
    ' "cases": ["call(5)", "call(-3)", "call(xs)"], "reference": "lambda x: 2 * x",'
    ' "library": ["operator.mul"], "hint": "twice x, for any x"}'
)
HALVE_SPEC = (
    '{"function": "halve", "cases": ["call(7)", "call(np.arange(5.0))"],'
    ' "reference": "lambda x: x / 2", "library": ["operator.truediv"]}'
)


def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def _cell(source: str, markdown: bool = False, **nbgrader) -> nbformat.NotebookNode:
    cell = new_markdown_cell(source) if markdown else new_code_cell(source)
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
                f'{HIDDEN_ASSERT}, "double(5) should be 10"\n'
                "### BEGIN GRADER CHECK\n"
                f"{DOUBLE_SPEC}\n"
                "### END GRADER CHECK\n"
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
                "assert halve(4) is not None\nassert halve(4) == 2\n"
                "### BEGIN HIDDEN TESTS\n### BEGIN GRADER CHECK\n"
                f"{HALVE_SPEC}\n"
                "### END GRADER CHECK\n### END HIDDEN TESTS",
                grade_id="halve_check",
                grade=True,
                locked=True,
                points=1,
            ),
            _cell(
                "Why does doubling then halving give back x?\n\n"
                "### BEGIN SOLUTION\nBecause 2x / 2 = x.\n### END SOLUTION",
                markdown=True,
                grade_id="explain",
                solution=True,
                grade=True,
                points=3,
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


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """A class graded with `srgan course grade --jobs 2` against a roster."""
    tmp = tmp_path_factory.mktemp("class")
    source = _toy_lesson()
    autograder = tmp / "autograder"
    autograder.mkdir()
    nbformat.write(classroom.autograder_notebook(source), autograder / "00_toy.ipynb")
    student = classroom.student_notebook(source)
    wrong = "def double(x):\n    return 0"
    submissions = {
        "alice": source,  # the solutions, and a written answer
        "bob": student,  # handed in untouched
        # a wrong answer, and its check cell emptied: the autograder's check still runs
        "carol": _replace(_replace(source, "double", wrong), "double_check", "pass"),
        # passes the visible check by hard-coding it; deleted the other check cell
        "dave": _replace(
            _replace(source, "double", "def double(x):\n    return 4"), "halve_check", None
        ),
        # hides every error from the notebook: nbgrader's autograde gives this 0
        "mallory": _replace(
            _replace(source, "double", CHEAT + wrong), "halve", "def halve(x):\n    return 0"
        ),
        # the kernel dies in the second exercise: the first still counts
        "hal": _replace(source, "halve", "import os\nos._exit(1)"),
    }
    # and carol adds checks of her own: a copy of a real one, and a bonus; neither counts
    for grade_id in ("double_check", "bonus"):
        submissions["carol"].cells.append(
            _cell("pass", grade_id=grade_id, grade=True, locked=True, points=10)
        )
    root = tmp / "submitted"
    for name, nb in submissions.items():
        (root / name).mkdir(parents=True)
        nbformat.write(nb, root / name / "Copy of 00_toy.ipynb")
    (root / "erin").mkdir()
    (root / "erin" / "00_toy.ipynb").write_text("this is not JSON {")
    # frank handed in twice: an older wrong copy and a newer right one
    (root / "frank").mkdir()
    nbformat.write(_replace(source, "double", wrong), root / "frank" / "00_toy.ipynb")
    nbformat.write(source, root / "frank" / "00_toy (1).ipynb")
    old = time.time() - 3600
    os.utime(root / "frank" / "00_toy.ipynb", (old, old))
    roster = tmp / "roster.csv"
    roster.write_text(
        "Student ID,Name,Email\n"
        + "".join(f"{s},{s.title()} Example,{s}@example.org\n" for s in sorted(submissions))
        + "gina,Gina Example,gina@example.org\nerin,Erin Example,erin@example.org\n"
        + "frank,Frank Example,frank@example.org\n"
    )
    out = tmp / "grading"
    argv = ["course", "grade", str(root), "--autograder", str(autograder), "--out", str(out)]
    assert cli.main([*argv, "--roster", str(roster), "--jobs", "2", "--timeout", "60"]) == 0
    with (out / "gradebook.csv").open() as f:
        rows = {row["student_id"]: row for row in csv.DictReader(f)}
    return tmp, out, rows, argv


def test_each_student_gets_one_row_with_points_per_exercise(graded):
    _, _, rows, _ = graded
    lesson, total = "00_toy (/6)", "total (/6)"
    assert list(rows) == [
        "alice", "bob", "carol", "dave", "hal", "mallory", "gina", "erin", "frank"
    ]  # fmt: skip
    points = {
        s: (r["double_check (/2)"], r["halve_check (/1)"], r["explain (/3, manual)"], r[lesson])
        for s, r in rows.items()
    }
    assert points == {
        "alice": ("2", "1", "needs manual grading", "3"),
        "bob": ("0", "0", "0", "0"),  # the stub's written answer is "not answered"
        "carol": ("0", "1", "needs manual grading", "1"),
        "dave": ("0", "1", "needs manual grading", "1"),  # the hidden test caught it
        "hal": ("2", "0", "needs manual grading", "2"),
        "mallory": ("0", "0", "needs manual grading", "0"),  # the cheat scores nothing
        "gina": ("missing", "missing", "missing", "missing"),
        "erin": ("0", "0", "0", "0"),
        "frank": ("2", "1", "needs manual grading", "3"),
    }
    assert rows["alice"]["name"] == "Alice Example"
    assert rows["alice"]["email"] == "alice@example.org"
    assert rows["alice"][total] == "3" and rows["gina"][total] == "0"
    assert rows["alice"]["00_toy status"] == "needs manual grading"
    assert rows["bob"]["00_toy status"] == "graded"
    assert rows["gina"]["00_toy status"] == "missing" and rows["gina"]["00_toy file"] == ""
    assert rows["erin"]["00_toy status"].startswith("unreadable: not a Jupyter notebook")
    assert rows["hal"]["00_toy status"].startswith("incomplete: DeadKernelError")
    assert "needs manual grading: explain (3)" in rows["alice"]["notes"]
    assert rows["alice"]["00_toy file"] == "Copy of 00_toy.ipynb"
    assert rows["alice"]["00_toy modified"].endswith(" UTC")


def test_a_duplicate_is_flagged_and_the_newest_file_graded(graded):
    _, _, rows, _ = graded
    assert rows["frank"]["00_toy file"] == "00_toy (1).ipynb"
    assert (
        "duplicate 00_toy: graded the newest file, 00_toy (1).ipynb; also handed in "
        in (rows["frank"]["notes"])
    )
    assert rows["frank"]["notes"].endswith("00_toy.ipynb")


def test_the_cheat_fails_as_with_nbgrader(graded):
    """The error the kernel reports for a check counts, even when no error was shown."""
    _, out, _, _ = graded
    with (out / "checks.csv").open() as f:
        checks = [r for r in csv.DictReader(f) if r["student"] == "mallory"]
    assert [(r["grade_id"], r["earned"]) for r in checks] == [
        ("double_check", "0"),
        ("halve_check", "0"),
        ("explain", ""),
    ]
    assert checks[0]["result"] == "AssertionError: expected 4, got 0"
    executed = nbformat.read(out / "executed" / "mallory" / "00_toy.ipynb", as_version=4)
    check = next(c for c in executed.cells if _meta(c).get("grade_id") == "double_check")
    # no error was shown: the one in the outputs comes from the kernel's reply
    assert [o.output_type for o in check.outputs] == ["error"]
    assert check.outputs[0].traceback == [
        "ERROR: the kernel reported an error while error display was disabled"
    ]


def test_feedback_has_each_result_and_no_hidden_tests(graded):
    _, out, _, _ = graded
    for student in ("alice", "dave", "mallory"):
        html = (out / "feedback" / student / "00_toy.html").read_text()
        assert HIDDEN_ASSERT not in html and "HIDDEN TESTS" not in html
        assert "double_check" in html and "halve_check" in html
    dave = (out / "feedback" / "dave" / "00_toy.html").read_text()
    assert "double(5) should be 10" in dave  # the hint of the failed hidden test
    assert "1 / 6 points" in dave
    assert "not a Jupyter notebook" in (out / "feedback" / "erin" / "00_toy.html").read_text()
    executed = (out / "executed" / "dave" / "00_toy.ipynb").read_text()
    assert HIDDEN_ASSERT in executed  # the teacher's copy keeps them


def test_manual_marks_merge_into_the_totals(graded):
    tmp, out, _, argv = graded
    with (out / "needs-manual-grading.csv").open() as f:
        todo = list(csv.DictReader(f))
    assert {(r["student_id"], r["grade_id"], r["points"]) for r in todo} == {
        (s, "explain", "3") for s in ("alice", "carol", "dave", "hal", "mallory", "frank")
    }
    marks = tmp / "marks.csv"
    with marks.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(todo[0]))
        writer.writeheader()
        writer.writerows({**r, "mark": "2.5" if r["student_id"] == "alice" else ""} for r in todo)
    rebuild = ["course", "gradebook", str(out), "--autograder", argv[4]]
    assert cli.main([*rebuild, "--marks", str(marks), "--roster", str(tmp / "roster.csv")]) == 0
    with (out / "gradebook.csv").open() as f:
        rows = {row["student_id"]: row for row in csv.DictReader(f)}
    assert rows["alice"]["explain (/3, manual)"] == "2.5"
    assert rows["alice"]["00_toy (/6)"] == "5.5" and rows["alice"]["total (/6)"] == "5.5"
    assert rows["alice"]["00_toy status"] == "graded"
    assert rows["carol"]["explain (/3, manual)"] == "needs manual grading"
    marks.write_text("student_id,grade_id,mark\nalice,explain,4\n")
    assert cli.main([*rebuild, "--marks", str(marks)]) == 2  # more than the cell's 3 points


def test_lms_exports_follow_the_documented_headers(graded):
    """Canvas's gradebook import: Student, ID, SIS User ID, SIS Login ID, Section, then one
    column per assignment, and a "Points Possible" row. Moodle's CSV grade import: a user
    column it maps to useridnumber ("ID number") or useremail ("Email address")."""
    _, out, _, _ = graded
    with (out / "canvas.csv").open() as f:
        canvas = list(csv.reader(f))
    assert canvas[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "00_toy"]
    assert canvas[1] == ["Points Possible", "", "", "", "", "6"]
    by_id = {row[2]: row for row in canvas[2:]}
    assert by_id["bob"] == ["Bob Example", "", "bob", "", "", "0"]
    assert by_id["gina"][-1] == "" and by_id["carol"][-1] == ""  # missing; still to grade
    with (out / "moodle.csv").open() as f:
        moodle = list(csv.DictReader(f))
    assert list(moodle[0]) == ["ID number", "Email address", "Full name", "00_toy"]
    assert {r["ID number"]: r["00_toy"] for r in moodle}["bob"] == "0"
    assert {r["ID number"]: r["Email address"] for r in moodle}["bob"] == "bob@example.org"


def test_an_earlier_grading_is_kept_and_resumed(graded, capsys):
    tmp, out, _, argv = graded
    before = (out / "checks.csv").read_text()
    assert cli.main(argv) == 2  # neither --resume nor --regrade: nothing is touched
    assert (out / "checks.csv").read_text() == before
    # a late change to bob's file: only bob is graded again
    nbformat.write(_toy_lesson(), tmp / "submitted" / "bob" / "Copy of 00_toy.ipynb")
    capsys.readouterr()
    assert cli.main([*argv, "--resume"]) == 0
    out_text = capsys.readouterr().out
    assert "kept the results of 7 unchanged submissions" in out_text
    assert "bob: Copy of 00_toy.ipynb: 3 / 6" in out_text and "alice:" not in out_text
    with (out / "checks.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(before.splitlines()) - 1
    assert {r["earned"] for r in rows if r["student"] == "bob" and r["kind"] == "auto"} == {
        "2",
        "1",
    }


def test_a_cell_past_the_timeout_fails_and_the_rest_runs(tmp_path):
    source = _toy_lesson()
    nbformat.write(classroom.autograder_notebook(source), tmp_path / "00_toy.ipynb")
    slow = "def double(x):\n    import time\n    time.sleep(30)\n    return 2 * x"
    nbformat.write(_replace(source, "double", slow), tmp_path / "slow.ipynb")
    report = grading.grade(tmp_path / "slow.ipynb", tmp_path / "00_toy.ipynb", timeout=3)
    assert [(c.grade_id, c.earned) for c in report.checks] == [
        ("double_check", 0),
        ("halve_check", 1),
        ("explain", None),
    ]
    assert report.checks[0].failure == "ran past the time limit and was interrupted"


def test_np_testing_failures_keep_the_hint():
    long_hint = "upsample with PixelShuffle after the convolution, then add the skip connection"
    for hint in ("short hint", long_hint):
        try:
            import numpy as np

            np.testing.assert_allclose([1.0, 2.0], [1.0, 3.0], err_msg=hint)
        except AssertionError as err:
            cell = new_code_cell("")
            cell.outputs = [
                new_output("error", ename="AssertionError", evalue=str(err), traceback=[])
            ]
        message = grading.first_error(cell)
        assert message.startswith("AssertionError: Not equal to tolerance")
        assert message.endswith(hint)


def test_a_roster_without_an_id_column_is_one_clear_error(tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("Name,Email\nAda,ada@example.org\n")
    with pytest.raises(gradebook.GradebookError, match="no student id column"):
        gradebook.read_roster(roster)


def test_grading_parameters_fit_the_lessons_and_give_fresh_folders(tmp_path):
    """Lesson 05 trains at the smallest size, and every submission gets empty folders of
    its own for output_dir / weights_dir (06 never reads another student's weights);
    the teacher's values win, read by the type of the lesson's defaults."""
    from pathlib import Path

    notebooks = Path(__file__).resolve().parents[1] / "notebooks"
    for stem, values in grading.GRADING_PARAMETERS.items():
        declared = grading.declared_parameters(nbformat.read(notebooks / f"{stem}.ipynb", 4))
        assert set(values) <= set(declared), f"{stem} has no {set(values) - set(declared)}"
        for key, value in values.items():
            assert type(value) is type(declared[key]), (stem, key)
    lesson = nbformat.read(notebooks / "06_evaluation.ipynb", 4)
    first = grading.grading_parameters(lesson, "06_evaluation", None, tmp_path / "a")
    assert first["weights_dir"] == str(tmp_path / "a" / "weights_dir")
    assert (tmp_path / "a" / "weights_dir").is_dir() and first["shipped"] is False
    given = {"weights_dir": "/teacher/run", "shipped": "true", "max_images": "3"}
    second = grading.grading_parameters(lesson, "06_evaluation", given, tmp_path / "b")
    assert (second["weights_dir"], second["shipped"], second["max_images"]) == (
        "/teacher/run",
        True,
        3,
    )
    with pytest.raises(grading.GradingError, match="expects true or false"):
        grading.grading_parameters(lesson, "06_evaluation", {"shipped": "maybe"}, tmp_path / "c")


def test_a_broken_grader_check_is_one_clear_error():
    with pytest.raises(grading.GradingError, match="GRADER CHECK of c1 is not a Python dict"):
        grading.split_check(
            "### BEGIN HIDDEN TESTS\n### BEGIN GRADER CHECK\n{oops\n### END GRADER CHECK\n"
            "### END HIDDEN TESTS\n",
            "c1",
        )
    spec = {"function": "f", "cases": ["call(1)"], "reference": "lambda x: 1 / 0"}
    with pytest.raises(grading.GradingError, match="c2 fails in the grader: ZeroDivisionError"):
        grading.prepare_lesson(
            new_notebook(
                cells=[
                    _cell(
                        f"pass\n### BEGIN HIDDEN TESTS\n### BEGIN GRADER CHECK\n"
                        f"{spec!r}\n### END GRADER CHECK\n### END HIDDEN TESTS",
                        grade_id="c2",
                        grade=True,
                        points=1,
                    )
                ]
            )
        )


def test_calls_into_the_library_are_found_through_aliases_and_helpers():
    from srgan_course.grading import checks

    library = ["srgan_lib.metrics.psnr"]

    def found(*sources):
        nb = new_notebook(cells=[new_code_cell(s) for s in sources])
        return checks.library_call(nb, "psnr_y", library)

    assert found("def psnr_y(a, b):\n    return metrics.psnr(a, b)") == library[0]
    assert found("from srgan_lib.metrics import psnr as p", "def psnr_y(a, b):\n    return p(a, b)")
    assert found("m = metrics.psnr", "def psnr_y(a, b):\n    return m(a, b)")
    assert found(
        "def helper(a):\n    return metrics.psnr(a, a)", "def psnr_y(a, b):\n    return helper(a)"
    )
    assert found("def psnr_y(a, b):\n    return 1.0", "psnr_y = lambda a, b: metrics.psnr(a, b)")
    # its own work, a local variable of the same name, magics: nothing to report
    assert found("%matplotlib inline\ndef psnr_y(a, b):\n    psnr = 10.0\n    return psnr") is None
    assert found("x = metrics.psnr(1, 1)", "def psnr_y(a, b):\n    return 10.0") is None
