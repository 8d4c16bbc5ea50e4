"""The lessons' shape (COURSE_STYLE.md): read as files, not executed. CI executes them
separately with `pytest --nbval-lax --nbval-current-env notebooks`."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
LESSONS = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
EXPECTED = [
    "00_data_and_degradation",
    "01_residual_blocks_and_prelu",
    "02_subpixel_upsampling",
    "03_discriminator",
    "04_vgg_content_loss",
    "05_alternating_training",
    "06_evaluation",
    "07_perception_distortion",
]


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def source(cell: dict) -> str:
    return "".join(cell["source"])


def test_the_eight_lessons_are_there():
    assert [p.stem for p in LESSONS] == EXPECTED


@pytest.fixture(params=LESSONS, ids=lambda p: p.stem)
def lesson(request) -> tuple[Path, dict]:
    return request.param, load(request.param)


def test_title_badge_and_goals(lesson):
    path, notebook = lesson
    first = source(notebook["cells"][0])
    assert first.startswith("# ") and first.count("\n# ") == 0, "one H1 title first"
    install = json.loads((NOTEBOOKS / "install_source.json").read_text())
    badge = (
        f"https://colab.research.google.com/github/{install['repo']}/blob/{install['ref']}/"
        f"notebooks/{path.name}"
    )
    text = "".join(source(c) for c in notebook["cells"][:3])
    assert badge in text, f"Colab badge must point at {badge}"
    assert re.search(r"(?i)learning goals|you will", text)


def test_setup_installs_only_on_colab(lesson):
    _, notebook = lesson
    code = [source(c) for c in notebook["cells"] if c["cell_type"] == "code"]
    assert '"google.colab" in sys.modules' in code[0]
    assert '"pip", "install"' in code[0] and "SRGAN_SOURCE" in code[0]
    later = [c for c in code[1:] if "pip install" in c or '"pip", "install"' in c]
    assert not later, "nothing is installed later"


def test_parameters_cell_holds_plain_literals(lesson):
    _, notebook = lesson
    tagged = [c for c in notebook["cells"] if "parameters" in c["metadata"].get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged 'parameters'"
    for statement in ast.parse(source(tagged[0])).body:
        assert isinstance(statement, ast.Assign), ast.dump(statement)
        ast.literal_eval(statement.value)  # raises if a value is computed


def test_papermill_sees_every_parameter(lesson):
    """papermill skips a line it cannot parse (e.g. a comment holding '='), silently."""
    import papermill

    path, notebook = lesson
    tagged = next(c for c in notebook["cells"] if "parameters" in c["metadata"].get("tags", []))
    names = [t.id for s in ast.parse(source(tagged)).body for t in s.targets]
    assert list(papermill.inspect_notebook(str(path))) == names


def test_stored_clean(lesson):
    _, notebook = lesson
    assert "widgets" not in notebook["metadata"]
    for cell in notebook["cells"]:
        if cell["cell_type"] != "code":
            continue
        assert cell["execution_count"] is None
        if cell["outputs"]:  # only nbval's checked figures keep their (text) output
            assert source(cell).startswith("# NBVAL_CHECK_OUTPUT")
            assert all(o["output_type"] == "stream" for o in cell["outputs"])


def test_ends_with_summary_and_reading(lesson):
    _, notebook = lesson
    tail = "".join(source(c) for c in notebook["cells"][-2:])
    assert re.search(r"(?i)summary|what you learned", tail)
    assert "Ledig" in tail


def test_exercises_use_nbgrader_cells(lesson):
    path, notebook = lesson
    meta = [c["metadata"].get("nbgrader", {}) for c in notebook["cells"]]
    solutions = [m for m in meta if m.get("solution")]
    checks = [m for m in meta if m.get("grade") and not m.get("solution")]
    minimum = 1 if path.stem.startswith("00") else 2
    assert len(solutions) >= minimum and len(checks) >= minimum
    ids = [m["grade_id"] for m in meta if m]
    assert len(ids) == len(set(ids)), "grade_ids are unique"
    for cell in notebook["cells"]:
        meta = cell["metadata"].get("nbgrader", {})
        if meta.get("solution") and cell["cell_type"] == "code":
            assert "### BEGIN SOLUTION" in source(cell) and "### END SOLUTION" in source(cell)
        elif meta.get("solution"):  # a written answer: nbgrader replaces it whole, graded by hand
            assert meta.get("grade") and meta.get("points", 0) > 0, meta["grade_id"]


@pytest.mark.parametrize("path", LESSONS[1:], ids=lambda p: p.stem)
def test_predict_then_observe_with_written_answer(path):
    """Lessons 01-06 each hold an exercise that asks for a prediction before a run, with a
    written answer graded by hand (a markdown nbgrader cell) and the run after it."""
    cells = load(path)["cells"]
    answers = [
        i
        for i, cell in enumerate(cells)
        if cell["cell_type"] == "markdown" and cell["metadata"].get("nbgrader", {}).get("grade")
    ]
    assert answers, "a written answer graded by hand"
    prompts = {i: " ".join(source(cells[i - 1]).lower().split()) for i in answers}
    assert any(
        "before running" in prompts[i]
        and "predict" in prompts[i]
        and cells[i + 1]["cell_type"] == "code"
        for i in answers
    ), "a prompt asking for a prediction, the answer cell, then the code that shows the result"


@pytest.mark.parametrize("path", LESSONS[:5], ids=lambda p: p.stem)
def test_summary_ends_with_open_exercises(path):
    """Lessons 00-04 end (d2l's habit) with an "Exercises" list of 4-6 open questions
    between the summary and the further reading."""
    last = source(load(path)["cells"][-1])
    assert "## Summary" in last and "## Exercises" in last and "Further reading" in last
    exercises = last.split("## Exercises", 1)[1].split("Further reading", 1)[0]
    questions = re.findall(r"^\d+\. ", exercises, re.M)
    assert 4 <= len(questions) <= 6, f"{len(questions)} open exercises"
