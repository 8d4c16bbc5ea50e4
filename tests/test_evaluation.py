"""srgan_lib.evaluation, the `srgan upscale` and `srgan evaluate` commands, plots and the
before/after widget."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import keras
import matplotlib
import numpy as np
import pytest
from PIL import Image

from srgan_course import cli
from srgan_lib import data, evaluation, models, plots, widgets

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def _summary(run_dir: Path) -> dict[tuple[str, str], dict]:
    with (run_dir / "summary.csv").open() as f:
        return {(r["set"], r["method"]): r for r in csv.DictReader(f)}


# ------------------------------------------------------------------------ evaluate


@pytest.mark.parametrize(
    ("set_name", "expected"),
    [("Set5", 28.43), ("Set14", 25.99), ("BSD100", 25.96)],
)
def test_cli_evaluate_bicubic_reproduces_reference(
    benchmarks_dir, tmp_path, capsys, set_name, expected
):
    code = cli.main(
        ["evaluate", "--sets", set_name, "--data-dir", str(benchmarks_dir), "--out", str(tmp_path)]
    )
    assert code == 0
    row = _summary(tmp_path)[(set_name, "bicubic")]
    assert float(row["psnr"]) == pytest.approx(expected, abs=0.01)
    paper = evaluation.PAPER_TABLE2[set_name]["bicubic"]
    assert float(row["paper_psnr"]) == paper[0]
    # bicubic paints no sub-pixel grid: less periodic pattern than the originals' own
    assert float(row["grid"]) < float(row["grid_hr"]) < 0.5
    printed = capsys.readouterr().out
    assert f"| {set_name} | bicubic |" in printed and f"{paper[0]:.2f}" in printed
    assert "| detail | grid | HR grid |" in printed
    with (tmp_path / "per_image.csv").open() as f:
        assert len(list(csv.DictReader(f))) == int(row["images"])
    assert "paper PSNR" in (tmp_path / "summary.md").read_text()


def test_data_dir_with_benchmarks_subfolder(benchmarks_dir, tmp_path, monkeypatch, capsys):
    """$SRGAN_DATA_DIR pointing at the folder above `benchmarks/` is found too."""
    monkeypatch.setenv("SRGAN_DATA_DIR", str(benchmarks_dir.parent))
    assert cli.main(["evaluate", "--sets", "Set5"]) == 0
    assert "| Set5 | bicubic | 5 | 28.43 |" in capsys.readouterr().out


@pytest.mark.backend
def test_evaluate_generator_beside_paper(benchmarks_dir, weights):
    generator = models.load_generator(weights)
    results = evaluation.evaluate(
        {"bicubic": "bicubic", "SRGAN": generator, "mine": generator},
        sets=["Set5"],
        root=benchmarks_dir,
    )
    assert len(results.per_image) == 15
    by_method = {r["method"]: r for r in results.summary}
    assert by_method["SRGAN"]["paper_psnr"] == 29.40
    assert by_method["mine"]["paper_psnr"] is None
    # an untrained generator is far worse than bicubic
    assert by_method["SRGAN"]["psnr"] < by_method["bicubic"]["psnr"] - 3
    assert by_method["mine"]["psnr"] == by_method["SRGAN"]["psnr"]
    table = evaluation.format_table(results)
    assert "| Set5 | mine | 5 |" in table and "| – | " in table


def test_paper_table_lookup_ignores_case():
    assert evaluation.paper_figures("Set14", "srresnet") == (28.49, 0.8184)
    assert evaluation.paper_figures("Urban100", "SRGAN") == (None, None)


def test_each_variant_beside_its_own_paper_row():
    """SRGAN-MSE is Table 1's row (30.64 dB on Set5), not Table 2's SRGAN (SRGAN-VGG54,
    29.40); BSD100 has only Table 2's SRResNet-MSE and SRGAN-VGG54."""
    assert evaluation.paper_row("Set5", "SRGAN-MSE") == "Table 1 SRGAN-MSE"
    assert evaluation.paper_figures("Set5", "SRGAN-MSE") == (30.64, 0.8701)
    assert evaluation.paper_figures("Set14", "srgan-mse")[0] == 26.92
    assert evaluation.paper_figures("Set5", "SRResNet-VGG22")[0] == 30.51
    assert evaluation.paper_row("Set5", "SRGAN") == "Table 2 SRGAN (VGG54)"
    assert evaluation.paper_figures("BSD100", "SRGAN-VGG54") == (25.16, 0.6688)
    assert evaluation.paper_figures("BSD100", "SRResNet-MSE") == (27.58, 0.7620)
    assert evaluation.paper_figures("BSD100", "SRGAN-MSE") == (None, None)
    for set_name in ("Set5", "Set14"):  # the two tables agree where they share a row
        for variant, name in evaluation.TABLE2_NAMES.items():
            table1 = evaluation.PAPER_TABLE1[set_name][variant]
            assert table1 == evaluation.PAPER_TABLE2[set_name][name]
    assert evaluation.variant_name("srgan", "mse") == "SRGAN-MSE"
    assert evaluation.variant_name("srgan", "vgg54") == "SRGAN-VGG54"
    assert evaluation.variant_name("srresnet", "vgg54") == "SRResNet-MSE"


@pytest.mark.backend
def test_evaluate_puts_a_variant_beside_its_row(benchmarks_dir, weights):
    generator = models.load_generator(weights)
    results = evaluation.evaluate(
        {"SRGAN": generator}, sets=["Set5"], root=benchmarks_dir, variants={"SRGAN": "SRGAN-MSE"}
    )
    row = results.summary[0]
    assert (row["variant"], row["paper_psnr"], row["paper_row"]) == (
        "SRGAN-MSE",
        30.64,
        "Table 1 SRGAN-MSE",
    )
    table = evaluation.format_table(results)
    assert "| Set5 | SRGAN (SRGAN-MSE) | 5 |" in table and "| Table 1 SRGAN-MSE |" in table


def test_save_results_writes_three_files(tmp_path):
    results = evaluation.Results(
        per_image=[
            {"set": "Set5", "method": "m", "image": "a", "psnr": 30.0, "ssim": 0.9, "detail": 0.5}
        ],
        summary=[
            {
                "set": "Set5",
                "method": "m",
                "images": 1,
                "psnr": 30.0,
                "ssim": 0.9,
                "detail": 0.5,
                "paper_psnr": None,
                "paper_ssim": None,
            }
        ],
    )
    evaluation.save_results(results, tmp_path / "run")
    assert _summary(tmp_path / "run")[("Set5", "m")]["psnr"] == "30.0"
    text = (tmp_path / "run/summary.md").read_text()
    assert "| Set5 | m | 1 | 30.00 | – | 0.9000 | – | 0.50 |" in text
    assert "x4," in text and "4 border pixels" in text
    results.scale = 2
    evaluation.save_results(results, tmp_path / "x2")
    text = (tmp_path / "x2/summary.md").read_text()
    assert "x2," in text and "2 border pixels" in text and "x4" not in text


# ------------------------------------------------------------------------- upscale


@pytest.mark.backend
def test_cli_upscale_gray_rgba_and_odd_sizes(weights, tmp_path, capsys):
    rng = np.random.default_rng(0)
    inputs = {
        "gray.png": ("L", (21, 30)),
        "rgba.png": ("RGBA", (17, 26, 4)),
        "odd.jpg": ("RGB", (23, 37, 3)),
    }
    for name, (mode, shape) in inputs.items():
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode=mode).save(
            tmp_path / name
        )
    paths = [str(tmp_path / name) for name in inputs]
    for extra in ([], ["--tile", "8", "--overlap", "12"]):
        out = tmp_path / ("tiled" if extra else "whole")
        code = cli.main(["upscale", *paths, "-o", str(out), "--weights", str(weights), *extra])
        assert code == 0
        for name, (mode, shape) in inputs.items():
            with Image.open(out / f"{Path(name).stem}.png") as img:
                assert img.mode == mode
                assert img.size == (4 * shape[1], 4 * shape[0])
    for name in ("gray.png", "rgba.png", "odd.png"):  # overlap 12 covers 2 blocks: exact
        np.testing.assert_array_equal(
            np.asarray(Image.open(tmp_path / "tiled" / name)),
            np.asarray(Image.open(tmp_path / "whole" / name)),
        )
    assert "odd.jpg ->" in capsys.readouterr().out


# --------------------------------------------------------------------- bad inputs


def _fails(argv: list[str], capsys) -> str:
    """Run the command; assert exit code 2 and a one-line message; return it."""
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    message = captured.err.strip()
    assert "\n" not in message and "Traceback" not in message
    return message


@pytest.mark.backend
def test_mismatched_weights_name_what_they_hold(tmp_path, capsys):
    keras.utils.set_random_seed(0)
    x2 = tmp_path / "x2.weights.h5"
    models.build_generator(scale=2, num_blocks=1, filters=8).save_weights(x2)
    image = tmp_path / "a.png"
    data.save_image(np.zeros((8, 8, 3), np.uint8), image)
    message = _fails(
        ["upscale", str(image), "-o", str(tmp_path / "o"), "--weights", str(x2)], capsys
    )
    assert "x2 generator with 1 blocks" in message and "--scale 2" in message
    message = _fails(
        ["upscale", str(image), "-o", str(tmp_path / "o"), "--weights", str(x2), "--scale", "2",
         "--num-blocks", "16"],
        capsys,
    )  # fmt: skip
    assert "num_blocks=16" in message and "--num-blocks 1" in message


def test_missing_weights_file(tmp_path, capsys):
    image = tmp_path / "a.png"
    data.save_image(np.zeros((8, 8, 3), np.uint8), image)
    missing = tmp_path / "nope.weights.h5"
    message = _fails(
        ["upscale", str(image), "-o", str(tmp_path), "--weights", str(missing)], capsys
    )
    assert str(missing) in message and "--weights" in message


@pytest.mark.backend
def test_unreadable_image_is_named(weights, tmp_path, capsys):
    bad = tmp_path / "broken.png"
    bad.write_text("not an image")
    message = _fails(
        ["upscale", str(bad), "-o", str(tmp_path / "o"), "--weights", str(weights)], capsys
    )
    assert str(bad) in message


def test_unwritable_output_folder(weights, tmp_path, capsys):
    image = tmp_path / "a.png"
    data.save_image(np.zeros((8, 8, 3), np.uint8), image)
    blocker = tmp_path / "file.txt"
    blocker.write_text("a file where the output folder should be")
    message = _fails(
        ["upscale", str(image), "-o", str(blocker / "out"), "--weights", str(weights)], capsys
    )
    assert "cannot write to output folder" in message and "--out" in message


def test_missing_benchmark_set(tmp_path, capsys):
    message = _fails(["evaluate", "--sets", "Set5", "--data-dir", str(tmp_path)], capsys)
    assert "srgan data download Set5" in message and "--data-dir" in message


def test_names_must_match_weights(weights, capsys):
    message = _fails(["evaluate", "--weights", str(weights), "--names", "a", "b"], capsys)
    assert "one name per weights file" in message


# ------------------------------------------------------------------ plots, widgets


@pytest.fixture
def trio() -> tuple[dict[str, np.ndarray], np.ndarray]:
    rng = np.random.default_rng(0)
    hr = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    noisy = {
        name: np.clip(hr.astype(int) + rng.integers(-s, s + 1, hr.shape), 0, 255).astype(np.uint8)
        for name, s in (("bicubic", 40), ("SRResNet", 10), ("SRGAN", 20))
    }
    return noisy, hr


def test_compare_has_four_panels_with_insets(trio):
    images, hr = trio
    fig = plots.compare(images, hr=hr, box=(10, 20, 16))
    assert len(fig.axes) == 4
    titles = [ax.get_title() for ax in fig.axes]
    assert all("PSNR" in t and "dB" in t for t in titles[:3]) and titles[3] == "original"
    assert titles[1].startswith("SRResNet")
    for ax in fig.axes:  # the zoom rectangle on the image, and the inset showing it
        assert len(ax.patches) == 1 and len(ax.child_axes) == 1
    inset = fig.axes[3].child_axes[0].get_images()[0].get_array()
    np.testing.assert_array_equal(inset, hr[10:26, 20:36])
    plt.close(fig)


def test_compare_without_hr_has_no_metrics(trio):
    images, _ = trio
    fig = plots.compare(images)
    assert len(fig.axes) == 3 and all("PSNR" not in ax.get_title() for ax in fig.axes)
    plt.close(fig)


def test_grid_rows_and_columns(trio):
    images, hr = trio
    rows = {"img_001": images, "img_002": images}
    fig = plots.grid(rows, hrs={"img_001": hr, "img_002": hr})
    assert len(fig.axes) == 8
    assert "PSNR" in fig.axes[0].get_title() and fig.axes[3].get_title() == "img_001: HR"
    plt.close(fig)


def test_show_history_from_csv_and_dict(tmp_path):
    path = tmp_path / "history.csv"
    path.write_text("epoch,g_loss,val_g_loss,psnr\n0,1.0,1.2,20\n1,0.5,0.7,22\n2,0.3,0.5,23\n")
    fig = plots.show_history(path)
    assert len(fig.axes) == 2
    losses = fig.axes[0].get_lines()
    assert [line.get_label() for line in losses] == ["g_loss", "val_g_loss"]
    assert losses[0].get_color() == losses[1].get_color()
    np.testing.assert_array_equal(losses[0].get_xdata(), [0, 1, 2])
    plt.close(fig)
    fig = plots.show_history({"loss": [3.0, 2.0, 1.0]}, log_y=True)
    assert len(fig.axes) == 1 and fig.axes[0].get_yscale() == "log"
    plt.close(fig)


def test_before_after_falls_back_to_static_figure_headless(trio):
    images, hr = trio
    for interactive in (True, False):
        fig = widgets.before_after(images["bicubic"], hr, ("bicubic", "HR"), interactive)
        assert isinstance(fig, matplotlib.figure.Figure)
        assert [ax.get_title() for ax in fig.axes] == ["bicubic", "HR"]
        plt.close(fig)
    with pytest.raises(ValueError, match="same size"):
        widgets.before_after(hr, hr[:10])


def test_wipe_splits_at_the_slider():
    a, b = np.zeros((4, 10, 3), np.uint8), np.full((4, 10, 3), 255, np.uint8)
    out = widgets.wipe(a, b, 0.3)
    assert (out[:, :3] == 0).all() and (out[:, 3:] == 255).all()


def test_before_after_widget_in_a_live_kernel(trio, monkeypatch):
    ipywidgets = pytest.importorskip("ipywidgets")
    images, hr = trio
    monkeypatch.setattr(widgets, "in_live_kernel", lambda: True)
    box = widgets.before_after(images["bicubic"], hr, interactive=True)
    assert isinstance(box, ipywidgets.VBox)
    view, (_, slider, _) = box.children[0], box.children[1].children
    first = view.value
    slider.value = 0.9
    assert view.value != first
    shown = np.asarray(Image.open(io.BytesIO(view.value)))
    np.testing.assert_array_equal(shown, widgets.wipe(images["bicubic"], hr, 0.9))


@pytest.mark.backend
@pytest.mark.parametrize("name", ["srgan", "bundled"])
def test_cli_upscale_with_a_shipped_generator(tmp_path, name):
    from srgan_lib import inference, models

    rng = np.random.default_rng(1)
    source = tmp_path / "photo.png"
    pixels = rng.integers(0, 256, (13, 17, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(source)
    code = cli.main(["upscale", str(source), "-o", str(tmp_path / "out"), "--weights", name,
                     "--num-blocks", "16"])  # fmt: skip
    assert code == 0
    written = np.asarray(Image.open(tmp_path / "out" / "photo.png"))
    shipped = models.pretrained({"bundled": "srresnet"}.get(name, name))
    np.testing.assert_array_equal(written, inference.upscale(shipped, pixels))
