"""The class opinion test: the rating session's record, where it travels in a notebook, and
`srgan course mos` grading five synthetic raters' hand-ins."""

from __future__ import annotations

import csv

import nbformat
import numpy as np
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output
from PIL import Image

from srgan_course import cli, mos
from srgan_lib import rating

IMAGES = ("Set5/img_001", "Set5/img_002", "Set14/img_001")
#: Each rater's score per method (the same for every image), and the two who differ.
RATERS = {
    "ada": {"nearest": 1, "bicubic": 2, "srresnet": 3, "srgan": 4, "original": 5},
    "bo": {"nearest": 1, "bicubic": 2, "srresnet": 2, "srgan": 4, "original": 5},
    "cy": {"nearest": 2, "bicubic": 2, "srresnet": 3, "srgan": 3, "original": 4},
    "di": {"nearest": 1, "bicubic": 1, "srresnet": 3, "srgan": 5, "original": 5},
    "ed": {"nearest": 1, "bicubic": 3, "srresnet": 4, "srgan": 4, "original": 5},
}


def _crops(size=8) -> list[rating.Crop]:
    pixels = np.zeros((size, size, 3), np.uint8)
    return [
        rating.Crop(image, m, pixels) for image in IMAGES for m in rating.METHODS if m != "yours"
    ]


def test_session_calibrates_then_shows_every_crop_once_and_replaces_a_rerating():
    crops = _crops()
    session = rating.RatingSession(crops, seed=3)
    assert [c.method for c in session.calibration] == ["nearest", "original"] * 2
    assert session.anchor_score() == 1
    with pytest.raises(ValueError, match="calibration"):
        session.rate(3)
    while session.calibrating:
        session.next_calibration()
    shown = []
    while not session.done:
        shown.append((session.current().image, session.current().method))
        session.rate(4)
    assert sorted(shown) == sorted((c.image, c.method) for c in crops)
    assert shown != [(c.image, c.method) for c in crops], "shuffled"
    record = session.record()
    assert len(record["ratings"]) == len(crops) and len(record["calibration"]) == 4
    session.step -= 1  # show the last crop again: a second score replaces the first
    session.rate(2)
    again = session.record()["ratings"]
    assert len(again) == len(crops) and again[-1]["score"] == 2
    with pytest.raises(ValueError, match="score"):
        rating.RatingSession(crops).rate(6)


def test_the_record_travels_in_the_output_and_lifts_into_the_metadata():
    record = {
        "ratings": [{"image": "Set5/img_001", "method": "srgan", "score": 4}],
        "calibration": [],
    }
    cell = new_code_cell(
        "rate()", outputs=[new_output("display_data", data=rating.record_bundle(record))]
    )
    nb = new_notebook(cells=[cell])
    text = nbformat.writes(nb)  # valid nbformat, and the record survives a save and a read
    again = nbformat.reads(text, as_version=4)
    assert rating.read_record(again) == record
    assert rating.store_in_metadata(again) == record
    assert again.metadata["srgan_mos"] == record
    newer = {"ratings": [], "calibration": []}
    again.metadata["srgan_mos"] = newer
    assert rating.read_record(again) == newer, "the metadata wins over an older output"
    assert rating.read_record(new_notebook()) is None


def test_under_papermill_nothing_is_recorded(capsys, monkeypatch):
    monkeypatch.setenv("SRGAN_WIDGETS", "static")
    figure = rating.rating_activity(_crops(32))
    assert "no rating is recorded" in capsys.readouterr().out
    assert len(figure.axes) == 2


def _hand_in(folder, student, record, where):
    nb = new_notebook(cells=[new_code_cell("print(1)")])
    if where == "metadata":
        nb.metadata["srgan_mos"] = record
    else:
        nb.cells[0].outputs = [new_output("display_data", data=rating.record_bundle(record))]
    (folder / student).mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / student / "06_evaluation.ipynb")


def test_course_mos_grades_five_raters(tmp_path, capsys):
    submissions = tmp_path / "submissions"
    for i, (student, scores) in enumerate(RATERS.items()):
        ratings = [
            {"image": im, "method": m, "score": s} for im in IMAGES for m, s in scores.items()
        ]
        if student == "ed":  # a malformed entry among good ones, and a rating given twice
            ratings += [{"image": "Set5/img_001", "method": "srgan", "score": 9}, ratings[3]]
        _hand_in(
            submissions,
            student,
            {"ratings": ratings, "calibration": []},
            ("metadata", "output")[i % 2],
        )
    (submissions / "fay").mkdir()
    (submissions / "fay" / "06_evaluation.ipynb").write_text("{ not json")
    _hand_in(submissions, "gus", {"ratings": "lost"}, "metadata")
    (submissions / "hal").mkdir()
    nbformat.write(new_notebook(), submissions / "hal" / "06_evaluation.ipynb")

    out = tmp_path / "mos"
    assert cli.main(["course", "mos", str(submissions), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "fay" in printed and "not a readable notebook" in printed and "fay:" not in printed
    assert "gus" in printed and "no list of ratings" in printed
    assert "hal: no notebook carries ratings" in printed
    assert "1 of 17 ratings malformed" in printed
    assert "no difference is significant" in printed  # 5 raters: the smallest p is 0.0625

    with open(out / "mos.csv") as f:
        rows = {(r["set"], r["method"]): r for r in csv.DictReader(f)}
    for set_name, images in (("Set5", 2), ("Set14", 1)):
        for method in ("nearest", "bicubic", "srresnet", "srgan", "original"):
            row = rows[(set_name, method)]
            per_rater = [RATERS[s][method] for s in RATERS]
            assert int(row["ratings"]) == 5 * images and int(row["raters"]) == 5
            assert float(row["mos"]) == pytest.approx(np.mean(per_rater), abs=1e-4)
            low, high = float(row["low"]), float(row["high"])
            assert min(per_rater) <= low <= float(row["mos"]) <= high <= max(per_rater)
            assert float(row["paper_mos"]) == mos.PAPER_MOS[set_name][method]
    assert float(rows[("Set5", "original")]["high"]) > float(rows[("Set5", "original")]["low"])
    assert float(rows[("Set5", "nearest")]["low"]) < 1.25  # 4 raters of 5 said 1
    with open(out / "significance.csv") as f:
        tests = list(csv.DictReader(f))
    pair = next(
        t
        for t in tests
        if (t["set"], t["method_a"], t["method_b"]) == ("Set5", "nearest", "original")
    )
    assert float(pair["p_value"]) == pytest.approx(0.0625) and pair["significant"] == "False"
    figure = Image.open(out / "mos.png")
    assert figure.size[0] > figure.size[1] > 300  # two panels, Set5 and Set14, side by side

    assert cli.main(["course", "mos", str(submissions), "--out", str(out)]) == 2, "no overwrite"
    assert "--overwrite" in capsys.readouterr().err


def test_ten_raters_find_the_paper_gap_significant(tmp_path):
    """With enough raters who all prefer SRGAN to SRResNet, the test says so."""
    for i in range(10):
        scores = {"srresnet": 2 + (i % 2), "srgan": 4 + (i % 2)}
        ratings = [{"image": "BSD100/img_001", "method": m, "score": s} for m, s in scores.items()]
        _hand_in(tmp_path / "in", f"s{i}", {"ratings": ratings, "calibration": []}, "metadata")
    _, lines = mos.report(tmp_path / "in", tmp_path / "out")
    assert any(line.startswith("significant: BSD100 srgan vs srresnet") for line in lines), lines


def test_no_ratings_is_one_clear_error(tmp_path, capsys):
    (tmp_path / "in" / "ann").mkdir(parents=True)
    assert cli.main(["course", "mos", str(tmp_path / "in"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "No ratings found" in err and len(err.strip().splitlines()) == 1


def test_rating_cells_for_lesson_06_record_nothing_under_a_kernel(tmp_path):
    """Lesson 06's rating cells: valid cells, run in a kernel after lesson 06's names,
    static there (no front end)."""
    import json
    from pathlib import Path

    from nbclient import NotebookClient

    lesson = json.loads(
        (Path(__file__).parents[1] / "notebooks" / "06_evaluation.ipynb").read_text()
    )
    cells = [c for c in lesson["cells"] if c.get("id") in ("srgan-mos-intro", "srgan-mos-rate")]
    assert [c["cell_type"] for c in cells] == ["markdown", "code"]
    assert "srgan course mos" in "".join(cells[0]["source"])
    assert "rating.rating_activity(" in "".join(cells[1]["source"])
    lesson_06_names = """import matplotlib.pyplot as plt
from IPython.display import display
from srgan_lib import downloads, models, widgets
interactive = None
benchmark_root = downloads.find_benchmarks(None)
methods, trained = {}, {}
def shipped_generator(name):
    raise AssertionError("no generator is needed where nothing is rated")"""
    nb = new_notebook(cells=[new_code_cell(lesson_06_names)])
    for cell in cells:
        nb.cells.append(nbformat.from_dict(dict(cell, source="".join(cell["source"]))))
    nbformat.validate(nb)
    NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    text = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.output_type == "stream")
    assert "no rating is recorded" in text or "No benchmark sets found" in text
    assert rating.read_record(nb) is None, "under a kernel without a front end nothing is recorded"
