"""`srgan course run` on toy lessons: order, parameters, outputs handed from lesson 05 to
06, HTML copies, the summary, and a failing lesson that does not stop the others."""

from __future__ import annotations

import json

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from srgan_course import cli


def lesson(folder, name: str, parameters: str, body: str) -> None:
    notebook = new_notebook(cells=[new_code_cell(parameters), new_code_cell(body)])
    notebook.cells[0].metadata["tags"] = ["parameters"]
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "language": "python",
        "display_name": "Python 3",
    }
    nbformat.write(notebook, folder / f"{name}.ipynb")


def test_course_run_executes_lessons_in_order_and_summarises(tmp_path, capsys):
    lessons = tmp_path / "notebooks"
    lessons.mkdir()
    lesson(
        lessons,
        "05_alternating_training",
        'epochs = 1\noutput_dir = ""',
        "from pathlib import Path\nout = Path(output_dir)\nout.mkdir(parents=True)\n"
        "(out / 'srgan').mkdir()\n"
        "(out / 'srgan' / 'history.csv').write_text(f'epoch,g_loss\\n{epochs},0.125\\n')\n"
        "(out / 'srgan.weights.h5').write_text('weights')",
    )
    lesson(
        lessons,
        "06_evaluation",
        'weights_dir = ""\noutput_dir = ""',
        "from pathlib import Path\n"
        "assert (Path(weights_dir) / 'srgan.weights.h5').read_text() == 'weights'\n"
        "Path(output_dir).mkdir(parents=True)\n"
        "(Path(output_dir) / 'summary.md').write_text('| Set5 | SRGAN | 29.40 |')",
    )
    lesson(lessons, "01_broken", "size = 1", "raise ValueError('lesson 01 is broken')")

    code = cli.main(
        [
            "course",
            "run",
            "--notebooks",
            str(lessons),
            "--runs-dir",
            str(tmp_path / "runs"),
            "-p",
            "epochs=7",
            "-p",
            "colour=red",
        ]
    )
    out = capsys.readouterr().out
    assert code == 1  # one lesson failed, and the others still ran
    assert "no lesson has a parameter colour: ignored" in out
    assert out.index("01_broken") < out.index("05_alternating") < out.index("06_evaluation")
    (run,) = (tmp_path / "runs").iterdir()
    results = json.loads((run / "summary.json").read_text())
    assert [r["name"] for r in results] == ["01_broken", "05_alternating_training", "06_evaluation"]
    assert "lesson 01 is broken" in results[0]["error"]
    assert results[1]["error"] is None and results[2]["error"] is None
    summary = (run / "summary.md").read_text()
    assert "| 05_alternating_training |" in summary and "failed: " in summary
    assert "## Final losses (05_alternating_training/srgan)" in summary
    assert "epoch 7, g_loss 0.125" in summary
    assert "| Set5 | SRGAN | 29.40 |" in summary
    for name in ("05_alternating_training", "06_evaluation"):
        assert (run / f"{name}.ipynb").is_file() and (run / f"{name}.html").is_file()


def test_a_given_weights_dir_is_used_and_text_values_are_typed(tmp_path):
    """Lesson 06 scores the weights the user names, not lesson 05's output folder."""
    from srgan_course import runner

    lessons = tmp_path / "notebooks"
    lessons.mkdir()
    lesson(
        lessons,
        "06_evaluation",
        'weights_dir = ""\nshipped = True\noutput_dir = ""',
        "from pathlib import Path\nassert shipped is False, shipped\n"
        "Path(output_dir).mkdir(parents=True)\n"
        "(Path(output_dir) / 'used.txt').write_text(weights_dir)",
    )
    mine = tmp_path / "my-weights"
    (tmp_path / "run").mkdir()
    run = runner.run_lesson(
        lessons / "06_evaluation.ipynb",
        tmp_path / "run",
        {"weights_dir": str(mine), "shipped": "false"},
        export_html=False,
    )
    assert run.error is None
    assert (tmp_path / "run" / "06_evaluation" / "used.txt").read_text() == str(mine)


def test_a_failing_lesson_reports_its_whole_error_in_one_line(tmp_path, capsys):
    """The FAILED line names the cell and the exception and holds its whole message, even
    one of several lines; a progress bar counts the cells on stderr."""
    from srgan_course import runner

    lessons = tmp_path / "notebooks"
    lessons.mkdir()
    lesson(lessons, "01_broken", "size = 1", "raise RuntimeError('first part,\\nthen the fix')")
    runner.run_course(lessons, tmp_path / "runs")
    captured = capsys.readouterr()
    assert "FAILED: cell 2: RuntimeError: first part, then the fix" in captured.out
    assert "cell" in captured.err and "01_broken" in captured.err  # papermill's progress bar


def test_offline_vgg_weights_stop_the_run_first_in_one_line(tmp_path, monkeypatch, capsys):
    """Without the ImageNet VGG19 weights, a course whose lessons use them stops before any
    lesson runs, saying so and how to go on (SRGAN_VGG_WEIGHTS=none)."""
    from srgan_lib import losses

    def offline(layer, weights):
        raise losses.VGGWeightsError("Could not download the ImageNet VGG19 weights (no route).")

    monkeypatch.setattr(losses, "build_vgg_feature_extractor", offline)
    monkeypatch.delenv("SRGAN_VGG_WEIGHTS", raising=False)
    lessons = tmp_path / "notebooks"
    lessons.mkdir()
    lesson(lessons, "04_vgg_content_loss", 'vgg_weights = ""', "print('ran')")
    argv = ["course", "run", "--notebooks", str(lessons), "--runs-dir", str(tmp_path / "r")]
    code = cli.main(argv)
    captured = capsys.readouterr()
    assert code == 2 and not (tmp_path / "r").exists()
    first = captured.err.strip().splitlines()[0]
    assert "ImageNet VGG19 weights could not be downloaded" in first
    assert "SRGAN_VGG_WEIGHTS=none" in first and "04_vgg_content_loss" in first
    monkeypatch.setenv("SRGAN_VGG_WEIGHTS", "none")  # the way on: no download needed
    assert cli.main(argv) == 0
