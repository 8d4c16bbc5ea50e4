"""The teacher's sources are never written by surprise (issue 21): `srgan course student`,
`solutions` and `publish` refuse an output that is, holds or lies inside the lessons'
folder, replace files only with --overwrite, and work on ./notebooks where they run."""

from __future__ import annotations

import nbformat
import pytest
from test_grading import _toy_lesson

from srgan_course import cli, publish


@pytest.fixture
def course(tmp_path, monkeypatch):
    """A course folder holding notebooks/00_toy.ipynb, as the current folder."""
    (tmp_path / "notebooks").mkdir()
    lesson = _toy_lesson()
    lesson.cells.insert(1, nbformat.v4.new_code_cell("import sys\n\n" + publish.setup_block("x")))
    nbformat.write(lesson, tmp_path / "notebooks" / "00_toy.ipynb")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0, err
    return err


def test_outputs_over_or_inside_the_sources_are_refused(course, capsys):
    source = course / "notebooks" / "00_toy.ipynb"
    before = source.read_text()
    # the case: the sources are src/student, the output src (so src/student again)
    src = course / "src"
    (src / "student").mkdir(parents=True)
    nbformat.write(_toy_lesson(), src / "student" / "00_toy.ipynb")
    teacher = (src / "student" / "00_toy.ipynb").read_text()
    args = ["--notebooks", str(src / "student"), "--out", str(src)]
    assert cli.main(["course", "student", *args]) == 2
    assert "source lessons' folder" in _one_line_error(capsys)
    assert (src / "student" / "00_toy.ipynb").read_text() == teacher
    assert not (src / "autograder").exists()  # nothing written, not even the other folder
    (src / "student").rename(src / "solutions")
    args = ["--notebooks", str(src / "solutions"), "--out", str(src), "--overwrite"]
    assert cli.main(["course", "solutions", *args]) == 2
    assert "source lessons' folder" in _one_line_error(capsys)
    assert (src / "solutions" / "00_toy.ipynb").read_text() == teacher
    # an output inside the lessons' folder
    assert cli.main(["course", "solutions", "--out", "notebooks"]) == 2
    assert "source lessons' folder" in _one_line_error(capsys)
    assert cli.main(["course", "publish", "--repo", "a/b", "--student", "notebooks"]) == 2
    assert "lessons' folder" in _one_line_error(capsys)
    assert source.read_text() == before


def test_existing_copies_are_replaced_only_with_overwrite(course, capsys):
    assert cli.main(["course", "student"]) == 0
    assert f"lessons: {course / 'notebooks'}" in capsys.readouterr().out
    handed_out = course / "dist" / "student" / "00_toy.ipynb"
    handed_out.write_text("edited by the teacher")
    assert cli.main(["course", "student"]) == 2
    assert "--overwrite" in _one_line_error(capsys)
    assert handed_out.read_text() == "edited by the teacher"
    assert cli.main(["course", "student", "--overwrite"]) == 0
    assert handed_out.read_text() != "edited by the teacher"
    assert cli.main(["course", "solutions"]) == 0
    assert cli.main(["course", "solutions"]) == 2
    assert "--overwrite" in _one_line_error(capsys)


def test_commands_use_the_lessons_where_they_run(course, tmp_path_factory, capsys, monkeypatch):
    assert cli.main(["course", "publish", "--repo", "alice/srgan-class", "--ref", "fall2026"]) == 0
    out = capsys.readouterr().out
    assert f"lessons: {course / 'notebooks'}" in out
    assert (
        "alice/srgan-class/blob/fall2026/notebooks/00_toy.ipynb"
        in (course / "notebooks" / "00_toy.ipynb").read_text()
    )
    elsewhere = tmp_path_factory.mktemp("no-course")
    monkeypatch.chdir(elsewhere)
    for argv in (["student"], ["solutions"], ["publish", "--repo", "a/b"], ["run"]):
        assert cli.main(["course", *argv]) == 2
        err = _one_line_error(capsys)
        assert f"no lesson notebooks (NN_name.ipynb) in {elsewhere / 'notebooks'}" in err
    assert not (elsewhere / "dist").exists() and not (elsewhere / "runs").exists()
