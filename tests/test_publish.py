"""One install source for the Colab badges and setup cells, and `srgan course publish`."""

from __future__ import annotations

import copy
import json
import shutil
import sys
import types
from pathlib import Path

import nbformat
import pytest

from srgan_course import classroom, cli, publish, runner

REPO = Path(__file__).resolve().parents[1]
FORK = publish.InstallSource("ada-lovelace/srgan-fork", "3f2a1bc9d0e4")


@pytest.fixture
def lessons_copy(tmp_path):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    for lesson in runner.lessons(REPO / "notebooks"):
        shutil.copy(lesson, folder)
    shutil.copy(REPO / "notebooks" / publish.SOURCE_FILE, folder)
    return folder


def _cells(nb) -> list[tuple[str, str, dict]]:
    return [(c.cell_type, c.source, copy.deepcopy(dict(c.metadata))) for c in nb.cells]


def _outside_install_block(code: str) -> tuple[list[str], list[str]]:
    """The setup cell's lines before the install block, and from its end on."""
    lines = code.split("\n")
    start = next(i for i, line in enumerate(lines) if line.startswith(publish.INSTALL_GUARD))
    end = next(i for i in range(start + 1, len(lines)) if lines[i][:1].strip())
    return lines[:start], lines[end:]


def test_lessons_agree_with_the_install_source():
    source = publish.read_source(REPO / "notebooks")
    for lesson in runner.lessons(REPO / "notebooks"):
        nb = nbformat.read(lesson, as_version=4)
        published = publish.rewrite_notebook(
            copy.deepcopy(nb), source.pip_url, source.badge_prefix()
        )
        assert _cells(published) == _cells(nb), (
            f"{lesson.name} differs from {publish.SOURCE_FILE}: run `srgan course publish "
            f"--repo {source.repo} --ref {source.ref}`"
        )


def test_publish_rewrites_badges_and_setup_only(lessons_copy):
    before = {p.name: nbformat.read(p, as_version=4) for p in runner.lessons(lessons_copy)}
    written = publish.publish(FORK, lessons_copy)
    assert sorted(p.name for p in written) == sorted(before)
    assert publish.read_source(lessons_copy) == FORK
    for name, old in before.items():
        new = nbformat.read(lessons_copy / name, as_version=4)
        badge = f"https://colab.research.google.com/github/{FORK.repo}/blob/{FORK.ref}/notebooks/"
        assert f"{badge}{name})" in new.cells[0].source
        setup_index = next(i for i, c in enumerate(new.cells) if c.cell_type == "code")
        setup = new.cells[setup_index]
        assert 'SRGAN_SOURCE = "git+https://github.com/ada-lovelace/srgan-fork@3f2a1bc9d0e4"' in (
            setup.source
        )
        assert len(new.cells) == len(old.cells)
        changed = [
            i for i, (a, b) in enumerate(zip(_cells(old), _cells(new), strict=True)) if a != b
        ]
        assert changed == [0, setup_index], f"{name}: only the title and setup cells change"
        assert _outside_install_block(setup.source) == _outside_install_block(
            old.cells[setup_index].source
        )
    assert publish.publish(FORK, lessons_copy) == []  # already published: nothing rewritten


def test_student_copies_open_the_student_branch(lessons_copy, tmp_path):
    pytest.importorskip("nbgrader")
    publish.publish(FORK, lessons_copy)
    student_dir = tmp_path / "student"
    classroom.make_student(lessons_copy, student_dir)
    for path in runner.lessons(student_dir):
        text = path.read_text()
        assert f"github/{FORK.repo}/blob/student/notebooks/{path.name}" in text
        assert FORK.pip_url in text
    other = publish.InstallSource("bob/srgan", "main", student_ref="class-2026")
    written = publish.publish(other, lessons_copy, student_dir)
    assert len(written) == 2 * len(runner.lessons(lessons_copy))
    for path in runner.lessons(student_dir):
        text = path.read_text()
        assert f"github/bob/srgan/blob/class-2026/notebooks/{path.name}" in text
        assert "git+https://github.com/bob/srgan@main" in text and FORK.repo not in text
        assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text


@pytest.mark.parametrize(
    ("repo", "ref"), [("not-a-repo", "main"), ("a/b", "bad ref"), ("a/b", "x/../y"), ("a/b", "")]
)
def test_bad_install_source_is_refused(repo, ref):
    with pytest.raises(ValueError, match="OWNER/NAME|branch, tag or commit"):
        publish.InstallSource(repo, ref)


def test_cli_publish(lessons_copy, tmp_path, capsys):
    assert cli.main(["course", "publish", "--repo", "a/b", "--notebooks", str(lessons_copy)]) == 0
    assert "git+https://github.com/a/b@main" in capsys.readouterr().out
    assert json.loads((lessons_copy / publish.SOURCE_FILE).read_text())["repo"] == "a/b"
    args = ["course", "publish", "--repo", "nope", "--notebooks", str(lessons_copy)]
    assert cli.main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "OWNER/NAME" in err
    args = ["course", "publish", "--repo", "a/b", "--student", str(tmp_path / "missing")]
    assert cli.main(args) == 2
    assert "srgan course student" in capsys.readouterr().err


def _install_block(pip_url: str) -> str:
    return "import sys\n\n" + publish.setup_block(pip_url)


def test_setup_block_does_nothing_off_colab(monkeypatch):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    namespace: dict = {}
    exec(_install_block("file:///nonexistent"), namespace)
    assert "SRGAN_SOURCE" not in namespace


def test_setup_block_says_what_to_do_when_pip_fails(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    missing = (tmp_path / "no-such-checkout").as_uri()
    with pytest.raises(RuntimeError, match="Could not install srgan-course from") as err:
        exec(_install_block(missing), {})
    assert missing in str(err.value) and "no runtime restart" in str(err.value)
    assert "no-such-checkout" in capsys.readouterr().out  # pip's own error is shown


def test_publish_writes_a_pages_workflow_and_keeps_a_different_one(lessons_copy, capsys):
    workflow = lessons_copy.parent / ".github" / "workflows" / "pages.yml"
    args = ["course", "publish", "--repo", "a/b", "--ref", "v1", "--notebooks", str(lessons_copy)]
    assert cli.main(args) == 0
    text = workflow.read_text()
    assert 'branches: ["v1"]' in text and "make site SITE=_site" in text
    assert "actions/deploy-pages" in text and "path: _site" in text
    assert cli.main(args) == 0  # the same workflow again: nothing to refuse
    workflow.write_text("# the teacher's own\n")
    source = json.loads((lessons_copy / publish.SOURCE_FILE).read_text())
    args[5] = "v2"
    capsys.readouterr()
    assert cli.main(args) == 2  # refused before any notebook is rewritten
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--overwrite" in err
    assert workflow.read_text() == "# the teacher's own\n"
    assert json.loads((lessons_copy / publish.SOURCE_FILE).read_text()) == source
    assert cli.main([*args, "--overwrite"]) == 0
    assert 'branches: ["v2"]' in workflow.read_text()
