"""A determined student against `srgan course grade` (issue 21): a cheater who rewrites the
autograder, forges the gradebook now and from a detached process later, patches numpy and
IPython's hooks, prints hidden tests and floods the output, graded before an honest student
with a wrong answer; a solution that calls the library's own answer; a student's own
KeyboardInterrupt; the same cheater under bubblewrap."""

from __future__ import annotations

import csv
import json
import time

import nbformat
import pytest
from test_grading import HIDDEN_ASSERT, _replace, _toy_lesson

from srgan_course import classroom, cli, grading
from srgan_course.grading import kernel

CHEAT = """\
import json, os, subprocess, sys
from pathlib import Path
import numpy as np
attempts = {{}}
try:  # print the hidden tests into my feedback
    print(Path({autograder!r}).read_text())
except Exception as err:
    print("no autograder:", type(err).__name__)
# rewrite every check for the students graded after me: by relative name, then by absolute path
for path in ["00_toy.ipynb", "../00_toy.ipynb", "../autograder/00_toy.ipynb", {autograder!r}]:
    try:
        nb = json.loads(Path(path).read_text())
        for cell in nb["cells"]:
            if cell["metadata"].get("nbgrader", {{}}).get("grade"):
                cell["source"] = 'print("ok")'
        Path(path).write_text(json.dumps(nb))
        attempts[path] = "rewritten"
    except Exception as err:
        attempts[path] = type(err).__name__
# forge the gradebook now, and later from a detached grandchild with no trace of the grader
row = "cheater,00_toy,x,,,,double_check,auto,2,2,ok,\\n"
for path in [{checks!r}, "checks.csv", "../checks.csv"]:
    try:
        with open(path, "a") as f:
            f.write(row)
        attempts[path] = "forged"
    except Exception as err:
        attempts[path] = type(err).__name__
late = ("import time; time.sleep(6); open({marker!r}, 'w').write('late'); "
        "open({checks!r}, 'a').write(" + repr(row) + ")")
spawn = ("import subprocess, sys; subprocess.Popen([sys.executable, '-c', " + repr(late) + "], "
         "start_new_session=True, env={{}})")
subprocess.run([sys.executable, "-c", spawn], env={{}})
# make every comparison pass, echo every cell, hide every error, blank every check
np.testing.assert_allclose = lambda *a, **k: None
np.allclose = lambda *a, **k: True
np.array_equal = lambda *a, **k: True
import operator
import srgan_lib.metrics
operator.mul = lambda a, b: 0  # the kernel's copies of what references are made of
srgan_lib.metrics.psnr = lambda *a, **k: 99.0
np.random.default_rng = lambda *a, **k: None  # and the globals checks could use
ip = get_ipython()
ip.events.register("pre_run_cell", lambda info: print("ECHO", info.raw_cell))
def forget(result):
    result.error_in_exec = None
ip.events.register("post_run_cell", forget)
ip.input_transformers_cleanup.append(
    lambda lines: [] if any("assert" in l or "grader" in l for l in lines) else lines)
print("ATTEMPTS", json.dumps(attempts))
print("\\n".join(str(i) for i in range(300_000)))
def double(x):
    return 0
"""
SNOOP = "print(In)\nprint(open('00_toy.ipynb').read())\nprint(sorted(globals()))"


def _cheat(source, autograder, checks, marker):
    nb = _replace(
        source,
        "double",
        CHEAT.format(autograder=str(autograder), checks=str(checks), marker=str(marker)),
    )
    nb = _replace(nb, "halve", "def halve(x):\n    return 0")
    nb.cells.append(nbformat.v4.new_code_cell(SNOOP))
    return nb


@pytest.fixture(scope="module")
def attacked(tmp_path_factory):
    """A class graded one at a time, without a sandbox (a teacher's laptop): the cheater
    first, then kim and zoe."""
    tmp = tmp_path_factory.mktemp("attacked")
    source = _toy_lesson()
    autograder = tmp / "autograder" / "00_toy.ipynb"
    autograder.parent.mkdir()
    nbformat.write(classroom.autograder_notebook(source), autograder)
    before = autograder.read_bytes()
    out, marker = tmp / "grading", tmp / "late.txt"
    submissions = {
        "aaron": _cheat(source, autograder, out / "checks.csv", marker),
        # the library's answer, through an alias; and a KeyboardInterrupt of her own
        "kim": _replace(
            _replace(
                source,
                "double",
                "from operator import mul as times\ndef double(x):\n    return times(2, x)",
            ),
            "halve",
            "def halve(x):\n    raise KeyboardInterrupt('stop')",
        ),
        # honest, with a wrong answer that passes the visible check (double(2) == 4)
        "zoe": _replace(source, "double", "def double(x):\n    return x + 2"),
    }
    for name, nb in submissions.items():
        (tmp / "submitted" / name).mkdir(parents=True)
        nbformat.write(nb, tmp / "submitted" / name / "00_toy.ipynb")
    argv = ["course", "grade", str(tmp / "submitted"), "--autograder", str(autograder.parent)]
    mp = pytest.MonkeyPatch()
    mp.setenv(kernel.SANDBOX_VARIABLE, "none")
    try:
        import io
        from contextlib import redirect_stdout

        printed = io.StringIO()
        with redirect_stdout(printed):
            assert cli.main([*argv, "--out", str(out), "--timeout", "60"]) == 0
    finally:
        mp.undo()
    with (out / "checks.csv").open() as f:
        checks = list(csv.DictReader(f))
    return tmp, out, autograder, before, marker, checks, printed.getvalue()


def _results(checks, student):
    return {r["grade_id"]: (r["earned"], r["result"]) for r in checks if r["student"] == student}


def test_the_cheater_and_the_student_after_get_what_they_earned(attacked):
    _, _, autograder, before, _, checks, printed = attacked
    assert "sandbox: none" in printed
    cheater = _results(checks, "aaron")
    assert cheater["double_check"][0] == "0" and cheater["halve_check"][0] == "0"
    assert "answers came back" in cheater["double_check"][1]  # the harness was blanked
    zoe = _results(checks, "zoe")
    assert zoe["double_check"] == ("0", "hidden test: AssertionError: double(5) should be 10")
    assert zoe["halve_check"] == ("1", "ok")
    assert autograder.read_bytes() == before  # rewritten by absolute path, put back
    assert f"{autograder} was changed while grading; put back" in printed


def _attempts(executed) -> dict:
    """What the cheater's file attacks gave, as it printed them."""
    nb = nbformat.read(executed, as_version=4)
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            for line in output.get("text", "").splitlines():
                if line.startswith("ATTEMPTS "):
                    return json.loads(line[len("ATTEMPTS ") :])
    raise AssertionError("the cheater printed no attempts")


def test_relative_paths_reach_only_the_scratch_folder(attacked):
    _, out, autograder, _, _, _, _ = attacked
    attempts = _attempts(out / "executed" / "aaron" / "00_toy.ipynb")
    assert attempts["00_toy.ipynb"] == "rewritten"  # its own copy, without hidden tests
    assert attempts["../autograder/00_toy.ipynb"] == "FileNotFoundError"
    assert attempts["checks.csv"] == "forged"  # a file in its scratch folder, never read
    assert attempts[str(autograder)] == "rewritten"  # no sandbox: the absolute path works


def test_the_gradebook_holds_only_what_the_grader_received(attacked):
    tmp, out, _, _, marker, checks, _ = attacked
    assert {r["student"] for r in checks} == {"aaron", "kim", "zoe"}
    assert len(checks) == 9
    gradebook = (out / "gradebook.csv").read_text()
    time.sleep(7)  # the detached grandchild would write by now
    assert not marker.exists()
    assert (out / "checks.csv").read_text().count("cheater") == 0
    assert (out / "gradebook.csv").read_text() == gradebook


def test_feedback_has_no_hidden_test_and_outputs_are_capped(attacked):
    _, out, _, _, _, _, _ = attacked
    feedback = out / "feedback" / "aaron" / "00_toy.html"
    executed = out / "executed" / "aaron" / "00_toy.ipynb"
    html = feedback.read_text()
    for secret in (HIDDEN_ASSERT, "HIDDEN TESTS", "GRADER CHECK", "rng.integers", "__srgan_grader"):
        assert secret not in html
    assert "lines cut by the grader" in html
    assert feedback.stat().st_size < 2_000_000 and executed.stat().st_size < 2_000_000
    assert HIDDEN_ASSERT in executed.read_text()  # the teacher's copy keeps the checks


def test_the_library_answer_scores_zero_and_interrupts_are_what_they_are(attacked):
    _, _, _, _, _, checks, _ = attacked
    kim = _results(checks, "kim")
    assert kim["double_check"][0] == "0"
    assert "calls operator.mul, the library's own answer" in kim["double_check"][1]
    assert kim["halve_check"] == ("0", "KeyboardInterrupt: stop")


@pytest.mark.skipif(not kernel._bwrap_works(), reason="bubblewrap is not installed here")
def test_under_bubblewrap_absolute_paths_are_out_of_reach(tmp_path, monkeypatch):
    source = _toy_lesson()
    autograder = tmp_path / "autograder" / "00_toy.ipynb"
    autograder.parent.mkdir()
    nbformat.write(classroom.autograder_notebook(source), autograder)
    before = autograder.read_bytes()
    out = tmp_path / "out"
    out.mkdir()
    (out / "checks.csv").write_text("")
    submitted = tmp_path / "submitted" / "00_toy.ipynb"
    submitted.parent.mkdir()
    nbformat.write(_cheat(source, autograder, out / "checks.csv", tmp_path / "late.txt"), submitted)
    monkeypatch.setenv(kernel.SANDBOX_VARIABLE, "bwrap")
    report = grading.grade(
        submitted,
        autograder,
        executed_path=tmp_path / "executed.ipynb",
        hidden_folders=[autograder.parent, submitted.parent, out],
        timeout=60,
    )
    assert [c.earned for c in report.checks[:2]] == [0, 0]
    assert autograder.read_bytes() == before
    assert (out / "checks.csv").read_text() == ""
    attempts = _attempts(tmp_path / "executed.ipynb")
    assert attempts["00_toy.ipynb"] == "rewritten"  # its own copy only
    assert attempts[str(autograder)] == "FileNotFoundError"  # not mounted
    assert attempts[str(out / "checks.csv")] == "OSError"  # an empty read-only folder
