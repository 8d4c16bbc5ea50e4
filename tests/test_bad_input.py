"""The bad-input suite: hostile archives, damaged files, wrong values, interrupted and
concurrent runs. Each case expects one clear line (an exception of the library's own
kind, or `srgan ...: error: ...` on stderr with no traceback) and nothing lost."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tarfile
import zipfile
import zlib
from pathlib import Path

import keras
import nbformat
import numpy as np
import pytest
from PIL import Image

from srgan_course import cli
from srgan_lib import data, downloads, inference, models, runlock, training, validation
from srgan_lib.archives import ArchiveError, extract_archive
from srgan_lib.downloads import DownloadError

REPO = Path(__file__).resolve().parents[1]

# ------------------------------------------------------------------------ archives


def _tar(path: Path, entries: list[tarfile.TarInfo | tuple[str, bytes]]) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for entry in entries:
            if isinstance(entry, tarfile.TarInfo):
                tf.addfile(entry)
            else:
                info = tarfile.TarInfo(entry[0])
                info.size = len(entry[1])
                tf.addfile(info, io.BytesIO(entry[1]))
    return path


def _link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info


def _refused(archive: Path, tmp_path: Path, match: str, **kwargs) -> None:
    """extract_archive refuses with one line matching `match`, writes nothing anywhere."""
    before = sorted(p.name for p in tmp_path.iterdir())
    target = tmp_path / "out" / "target"
    with pytest.raises(ArchiveError, match=match) as caught:
        extract_archive(archive, target, **kwargs)
    assert "\n" not in str(caught.value)
    assert not target.exists()
    assert list((tmp_path / "out").iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*before, "out"])


def test_tar_symlink_chain_out_of_the_target_is_refused(tmp_path):
    # y -> . then x -> y/y/y/../../../outside: each link alone looks harmless.
    archive = _tar(
        tmp_path / "chain.tar.gz",
        [_link("y", "."), _link("x", "y/y/y/../../../outside"), ("x/file", b"evil")],
    )
    _refused(archive, tmp_path, "member 'x' would be written outside")
    assert not (tmp_path / "outside").exists()


def test_tar_links_inside_the_target_are_kept(tmp_path):
    archive = _tar(
        tmp_path / "ok.tar.gz",
        [
            ("pack/a.txt", b"alpha"),
            _link("y", "."),
            _link("pack/to_a", "../y/pack/a.txt"),
            _link("pack/hard_a", "pack/a.txt", tarfile.LNKTYPE),
            _link("d", "pack"),
            ("d/b.txt", b"beta"),
        ],
    )
    target = extract_archive(archive, tmp_path / "out")
    assert (target / "pack" / "to_a").read_bytes() == b"alpha"
    assert (target / "pack" / "to_a").resolve().is_relative_to(target.resolve())
    assert (target / "pack" / "hard_a").read_bytes() == b"alpha"
    assert (target / "pack" / "b.txt").read_bytes() == b"beta"  # written through the link


def test_tar_link_loop_is_refused(tmp_path):
    archive = _tar(tmp_path / "loop.tar.gz", [_link("a", "b"), _link("b", "a"), ("a/f", b"x")])
    _refused(archive, tmp_path, "loop of symbolic links")


@pytest.mark.parametrize(
    "kind, words",
    [
        (tarfile.CHRTYPE, "character device"),
        (tarfile.BLKTYPE, "block device"),
        (tarfile.FIFOTYPE, "named pipe"),
    ],
)
def test_tar_device_is_refused_as_a_device(tmp_path, kind, words):
    device = tarfile.TarInfo("pack/null")
    device.type, device.devmajor, device.devminor = kind, 1, 3
    archive = _tar(tmp_path / "dev.tar.gz", [("pack/ok.txt", b"ok"), device])
    _refused(archive, tmp_path, f"member 'pack/null' is a {words}")


def test_zip_symlink_entry_is_refused(tmp_path):
    archive = tmp_path / "link.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("pack/ok.txt", b"ok")
        info = zipfile.ZipInfo("pack/link")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "../../outside")
    _refused(archive, tmp_path, "member 'pack/link' is a symbolic link")


def _declare(archive: Path, size: int) -> None:
    """Patch the uncompressed size a one-member zip declares (local and central headers)."""
    raw = bytearray(archive.read_bytes())
    raw[22:26] = size.to_bytes(4, "little")
    central = raw.rindex(b"PK\x01\x02")
    raw[central + 24 : central + 28] = size.to_bytes(4, "little")
    archive.write_bytes(bytes(raw))


def test_zip_declaring_3_gib_in_3_mb_is_refused_before_writing(tmp_path):
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("big.bin", os.urandom(3 << 20))
    _declare(archive, 3 << 30)
    assert zipfile.ZipFile(archive).infolist()[0].file_size == 3 << 30
    _refused(archive, tmp_path, "3,221,225,472 declared bytes")


def test_real_deflate_bomb_is_refused_by_the_cap(tmp_path):
    archive = tmp_path / "zeros.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("zeros.bin", bytes(20 << 20))
    assert archive.stat().st_size < 100_000
    _refused(archive, tmp_path, "decompression bomb", max_bytes=1 << 20)


def test_download_caps_extraction_from_the_pinned_archive_size():
    assert downloads.size_cap(3530603713) == 2 * 3530603713 + (64 << 20)


def test_full_disk_is_checked_before_extracting(tmp_path, monkeypatch):
    archive = _tar(tmp_path / "a.tar.gz", [("pack/a.bin", bytes(10_000))])
    usage = type("Usage", (), {"free": 5_000})
    monkeypatch.setattr(downloads.shutil, "disk_usage", lambda _: usage)
    _refused(archive, tmp_path, "The disk is full: extracting .* needs 10,000 bytes")


def test_damaged_archive_is_one_archive_error(tmp_path):
    good = _tar(tmp_path / "good.tar.gz", [("pack/a.bin", os.urandom(200_000))])
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(good.read_bytes()[:50_000])
    with pytest.raises(ArchiveError) as caught:
        extract_archive(cut, tmp_path / "out")
    assert "\n" not in str(caught.value)


def test_extracted_folders_are_not_private(tmp_path):
    archive = _tar(tmp_path / "a.tar.gz", [("pack/a.txt", b"a")])
    target = extract_archive(archive, tmp_path / "fresh")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o777 & ~umask
    assert stat.S_IMODE((target / "pack").stat().st_mode) == 0o777 & ~umask


# ------------------------------------------------------------------ the data folder


def test_data_dir_that_is_a_file(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("x")
    monkeypatch.setenv("SRGAN_DATA_DIR", str(tmp_path / "file"))
    with pytest.raises(DownloadError, match="is a file, not a folder"):
        downloads.data_dir()
    monkeypatch.setenv("SRGAN_DATA_DIR", str(tmp_path / "file" / "sub"))
    with pytest.raises(DownloadError, match="Cannot create the data folder"):
        downloads.data_dir()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_data_dir(tmp_path, monkeypatch):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(DownloadError, match="Cannot write to the data folder"):
            downloads.download("Set5", folder, progress=False)
    finally:
        folder.chmod(0o700)


# ------------------------------------------------------------------ the command line


def fails(argv: list[str], capsys, code: int = 2) -> str:
    """Run `srgan argv`; assert the exit code and one line on stderr, no traceback."""
    assert cli.main(argv) == code
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err, err
    return err


def _photo(path: Path, size=(12, 10), mode="RGB") -> Path:
    rng = np.random.default_rng(0)
    shape = (size[1], size[0]) + (() if mode == "L" else (len(mode),))
    Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode=mode).save(path)
    return path


def test_upscale_into_the_photos_own_folder_refuses(weights, tmp_path, monkeypatch, capsys):
    photo = _photo(tmp_path / "photo.png")
    before = photo.read_bytes()
    monkeypatch.chdir(tmp_path)
    message = fails(["upscale", "photo.png", "-o", ".", "--weights", str(weights)], capsys)
    assert "would replace the input" in message and "--overwrite" in message
    assert photo.read_bytes() == before


def test_second_upscale_needs_overwrite(weights, tmp_path, capsys):
    photo = _photo(tmp_path / "photo.jpg")
    argv = ["upscale", str(photo), "-o", str(tmp_path / "out"), "--weights", str(weights)]
    assert cli.main(argv) == 0
    first = (tmp_path / "out" / "photo.png").read_bytes()
    (tmp_path / "out" / "photo.png").write_bytes(b"earlier output")
    assert "would replace an existing file" in fails(argv, capsys)
    assert (tmp_path / "out" / "photo.png").read_bytes() == b"earlier output"
    assert cli.main([*argv, "--overwrite"]) == 0
    assert (tmp_path / "out" / "photo.png").read_bytes() == first
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["photo.png"]  # no temp file


def test_output_name_that_is_a_folder(weights, tmp_path, capsys):
    photo = _photo(tmp_path / "photo.jpg")
    (tmp_path / "out" / "photo.png").mkdir(parents=True)
    argv = ["upscale", str(photo), "-o", str(tmp_path / "out"), "--weights", str(weights)]
    assert "is a folder" in fails([*argv, "--overwrite"], capsys)


def _png_header(path: Path, width: int, height: int) -> Path:
    """A PNG that declares width x height pixels (a decompression bomb's header)."""
    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body).to_bytes(4, "big")
        return len(body).to_bytes(4, "big") + kind + body + crc

    idat = zlib.compress(bytes(1000))
    raw = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat)
    path.write_bytes(raw + chunk(b"IEND", b""))
    return path


def test_decompression_bomb_input_is_one_line(weights, tmp_path, capsys):
    bomb = _png_header(tmp_path / "bomb.png", 50_000, 50_000)
    message = fails(
        ["upscale", str(bomb), "-o", str(tmp_path / "o"), "--weights", str(weights)], capsys
    )
    assert "decompression bomb" in message and "2,500,000,000" not in message
    assert not (tmp_path / "o" / "bomb.png").exists()


def test_decompression_bomb_in_a_training_folder(tmp_path):
    _photo(tmp_path / "a.png", (64, 64))
    _png_header(tmp_path / "b.png", 50_000, 50_000)
    with pytest.raises(data.ImageReadError, match="b.png.*decompression bomb"):
        data.load_training_pairs(tmp_path)


def test_animated_gif_says_it_uses_the_first_frame(weights, tmp_path, capsys):
    frames = [Image.new("RGB", (10, 8), color) for color in ("red", "blue", "green")]
    gif = tmp_path / "anim.gif"
    frames[0].save(gif, save_all=True, append_images=frames[1:])
    argv = ["upscale", str(gif), "-o", str(tmp_path / "o"), "--weights", str(weights)]
    assert cli.main(argv) == 0
    err = capsys.readouterr().err
    assert "anim.gif is animated (3 frames): only its first frame is used" in err
    assert Image.open(tmp_path / "o" / "anim.png").size == (40, 32)


def _damage(path: Path, how: str) -> Path:
    raw = path.read_bytes()
    damaged = {
        "cut": raw[: len(raw) // 2],
        "empty": b"",
        "flipped": raw[:1000] + bytes(b ^ 0xFF for b in raw[1000:1400]) + raw[1400:],
        "header": bytes(b ^ 0xFF for b in raw[:512]) + raw[512:],
        "random": np.random.default_rng(1).bytes(len(raw)),
    }[how]
    copy = path.parent / f"{how}-{path.name}"
    copy.write_bytes(damaged)
    return copy


@pytest.mark.parametrize("how", ["cut", "empty", "header", "random"])
def test_damaged_weights_file_is_one_line(weights, tmp_path, capsys, how):
    photo = _photo(tmp_path / "photo.png")
    bad = _damage(weights, how)
    message = fails(
        ["upscale", str(photo), "-o", str(tmp_path / "o"), "--weights", str(bad)], capsys
    )
    assert str(bad) in message and "allow_pickle" not in message


def test_keras_file_refused_by_safe_mode_never_suggests_turning_it_off(tmp_path, capsys):
    inputs = keras.Input((None, None, 3))
    model = keras.Model(inputs, keras.layers.Lambda(lambda x: x * 2)(inputs))
    unsafe = tmp_path / "unsafe.keras"
    model.save(unsafe)
    with pytest.raises(models.WeightsMismatchError) as caught:
        models.load_generator(unsafe)
    assert "safe_mode=False" not in str(caught.value)
    photo = _photo(tmp_path / "photo.png")
    message = fails(
        ["upscale", str(photo), "-o", str(tmp_path / "o"), "--weights", str(unsafe)], capsys
    )
    assert "safe_mode=False" not in message


def test_ctrl_c_says_how_to_go_on(weights, tmp_path, monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(inference, "upscale_files", interrupted)
    photo = _photo(tmp_path / "photo.png")
    argv = ["upscale", str(photo), "-o", str(tmp_path / "o"), "--weights", str(weights)]
    assert "srgan upscale: stopped; run the same command again" in fails(argv, capsys, 130)


def test_debug_shows_the_traceback(tmp_path):
    with pytest.raises(cli.CommandError, match="No image file at"):
        cli.main(["--debug", "upscale", str(tmp_path / "x.png"), "-o", str(tmp_path), "--weights",
                  "bundled"])  # fmt: skip


def test_unexpected_error_is_still_one_line(weights, tmp_path, monkeypatch, capsys):
    def broken(*args, **kwargs):
        raise KeyError("boom")

    monkeypatch.setattr(inference, "upscale_files", broken)
    photo = _photo(tmp_path / "photo.png")
    argv = ["upscale", str(photo), "-o", str(tmp_path / "o"), "--weights", str(weights)]
    assert "KeyError: 'boom' (unexpected: `srgan --debug ...` shows where)" in fails(argv, capsys)


@pytest.mark.parametrize("value", ["-1", "0", "x"])
def test_cli_numbers_are_checked_by_argparse(value, capsys):
    with pytest.raises(SystemExit):
        cli.main(["upscale", "a.png", "-o", ".", "--weights", "bundled", "--tile", value])
    assert "--tile: must be an integer >= 1" in capsys.readouterr().err


def test_data_download_into_a_file_data_dir(tmp_path, monkeypatch, capsys):
    (tmp_path / "file").write_text("x")
    monkeypatch.setenv("SRGAN_DATA_DIR", str(tmp_path / "file"))
    assert "is a file, not a folder" in fails(["data", "download", "Set5"], capsys)


# ------------------------------------------------------------------------ evaluation


def test_evaluate_data_dir_typo_creates_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert "no benchmark Set5" in fails(
        ["evaluate", "--sets", "Set5", "--data-dir", "typo"], capsys
    )
    assert not (tmp_path / "typo").exists()


@pytest.fixture
def set5_copy(benchmarks_dir, tmp_path) -> Path:
    root = tmp_path / "bench"
    shutil.copytree(benchmarks_dir / "Set5", root / "Set5")
    return root


def test_evaluate_refuses_a_set_with_a_missing_file(set5_copy, capsys):
    (set5_copy / "Set5" / "HR" / "img_003.png").unlink()
    argv = ["evaluate", "--sets", "Set5", "--data-dir", str(set5_copy)]
    message = fails(argv, capsys)
    assert "Set5" in message and "missing HR/img_003.png" in message and "--partial" in message
    assert cli.main([*argv, "--partial"]) == 0
    row = next(
        line for line in capsys.readouterr().out.splitlines() if "| Set5 | bicubic |" in line
    )
    assert "| 4 of 5 (partial) |" in row
    assert row.split("|")[5].strip() == "–", "a part of Set5 is not set beside the paper's 28.43 dB"


def test_evaluate_refuses_an_empty_set(set5_copy, capsys):
    for folder in ("HR", "LR_bicubic_x4"):
        shutil.rmtree(set5_copy / "Set5" / folder)
        (set5_copy / "Set5" / folder).mkdir()
    argv = ["evaluate", "--sets", "Set5", "--data-dir", str(set5_copy), "--partial"]
    message = fails(argv, capsys)
    assert "missing HR/img_001.png" in message and "nan" not in message


def test_evaluate_out_keeps_earlier_results(set5_copy, tmp_path, capsys):
    out = tmp_path / "eval"
    argv = ["evaluate", "--sets", "Set5", "--data-dir", str(set5_copy), "--out", str(out)]
    assert cli.main(argv) == 0
    (out / "summary.md").write_text("earlier")
    assert "would replace an existing file" in fails(argv, capsys)
    assert (out / "summary.md").read_text() == "earlier"
    assert cli.main([*argv, "--overwrite"]) == 0


# -------------------------------------------------------------------------- training

TINY = dict(num_blocks=1, filters=8, hr_size=16, batch_size=1, epochs=1, steps_per_epoch=1,
            save_interval=1, max_images=1, vgg_weights="none")  # fmt: skip


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    """A finished one-epoch SRResNet run of a 1-block generator."""
    run = tmp_path_factory.mktemp("runs") / "srresnet"
    training.train(training.TrainConfig.preset("quick", "srresnet", **TINY), run, verbose=0)
    return run


@pytest.mark.parametrize(
    "settings, words",
    [
        ({"num_blocks": -1}, "num_blocks must be an integer >= 1, got -1"),
        ({"hr_size": 0}, "hr_size must be an integer >= 4, got 0"),
        ({"hr_size": "48"}, "hr_size must be an integer >= 4, got the string '48'"),
        ({"content_loss": "vgg"}, "content_loss must be one of 'vgg54', 'vgg22', 'mse'"),
        ({"epochs": 2.5}, "epochs must be an integer >= 1, got 2.5"),
    ],
)
def test_config_json_values_are_checked_before_anything_is_written(
    tmp_path, capsys, settings, words
):
    config = tmp_path / "config.json"
    config.write_text(json.dumps(settings))
    run = tmp_path / "run"
    message = fails(["train", "--config", str(config), "--run-dir", str(run)], capsys, code=1)
    assert words in message
    assert not run.exists()


def test_library_api_checks_values():
    with pytest.raises(validation.ParameterError, match="num_blocks must be an integer >= 1"):
        models.build_generator(num_blocks=-1)
    with pytest.raises(validation.ParameterError, match="hr_size must be an integer >= 4"):
        training.train(training.TrainConfig(hr_size=0), "unused")


def _copy_run(run: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    return copy


@pytest.mark.parametrize("how", ["cut", "empty", "flipped", "random"])
def test_damaged_checkpoint_is_one_line(tiny_run, tmp_path, capsys, how):
    run = _copy_run(tiny_run, tmp_path)
    checkpoint = run / training.CHECKPOINT
    checkpoint.write_bytes(_damage(checkpoint, how).read_bytes())
    history = (run / "history.csv").read_bytes()
    message = fails(["train", "--resume", str(run), "--epochs", "2"], capsys, code=1)
    assert "is damaged" in message and "allow_pickle" not in message
    assert (run / "history.csv").read_bytes() == history
    assert not (run / runlock.LOCK_NAME).exists()


def test_second_writer_is_refused_and_a_stale_lock_replaced(tiny_run, tmp_path, capsys):
    run = _copy_run(tiny_run, tmp_path)
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from srgan_lib import runlock\n"
         "with runlock.hold(sys.argv[1]):\n    print('held', flush=True); time.sleep(120)",
         str(run)],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        message = fails(["train", "--resume", str(run), "--epochs", "2"], capsys, code=1)
        assert f"is being trained by process {holder.pid}" in message
    finally:
        holder.kill()  # SIGKILL: the lock stays behind, as after a crash
        holder.wait()
    assert (run / runlock.LOCK_NAME).exists()
    assert cli.main(["train", "--resume", str(run), "--epochs", "2"]) == 0
    assert not (run / runlock.LOCK_NAME).exists()
    raw = (run / "history.csv").read_bytes()
    # header, epochs 1 and 2, with one line ending throughout (CSVLogger's \r\n)
    assert raw.count(b"\r\n") == raw.count(b"\n") == 3


def test_ctrl_c_during_training_says_how_to_resume(tiny_run, tmp_path, monkeypatch, capsys):
    run = _copy_run(tiny_run, tmp_path)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(training, "train", interrupted)
    message = fails(["train", "--resume", str(run), "--epochs", "3"], capsys, code=130)
    assert message == f"srgan train: stopped; resume with `srgan train --resume {run}`."
    message = fails(["train", "--run-dir", str(tmp_path / "new")], capsys, code=130)
    assert "no checkpoint was written yet" in message


# --------------------------------------------------------------------------- lessons


def _run_cells(lesson: str, marker: str, overrides: dict) -> dict:
    """Execute a lesson's parameters cell, then `overrides` (as papermill would), then
    the code cell holding `marker`; returns the namespace."""
    notebook = nbformat.read(REPO / "notebooks" / lesson, as_version=4)
    params = next(c.source for c in notebook.cells if "parameters" in c.metadata.get("tags", []))
    cell = next(c.source for c in notebook.cells if c.cell_type == "code" and marker in c.source)
    namespace: dict = {}
    exec(params, namespace)
    namespace.update(overrides)
    exec(
        "import shutil\nfrom pathlib import Path\n"
        "from srgan_lib import data, models, runtime, training, validation\n" + cell,
        namespace,
    )
    return namespace


@pytest.mark.parametrize(
    "overrides, words",
    [
        ({"hr_crop_size": 50}, "hr_crop_size must be a multiple of 4, got 50"),
        ({"hr_crop_size": 4000}, "hr_crop_size must be an integer >= 4 and <= 300"),
        ({"num_crops": 0}, "num_crops must be an integer >= 1 and <= 32, got 0"),
        ({"image_name": "cat"}, "image_name must be one of 'astronaut', 'chelsea'"),
        ({"scale": "4"}, "scale must be one of 2, 4, 8, got the string '4'"),
    ],
)
def test_lesson_00_names_the_parameter(overrides, words):
    with pytest.raises(validation.ParameterError, match=re.escape(words)):
        _run_cells("00_data_and_degradation.ipynb", "# Check the parameters", overrides)


@pytest.mark.parametrize(
    "overrides, words",
    [
        ({"hr_size": 50}, "hr_size must be a multiple of 16, got 50"),
        ({"dataset": "nosuchset"}, 'dataset must be "sample"'),
        ({"num_blocks": -1}, "num_blocks must be an integer >= 1, got -1"),
        ({"content_loss": "l1"}, "content_loss must be one of 'vgg54', 'vgg22', 'mse'"),
    ],
)
def test_lesson_05_checks_parameters_before_touching_the_previous_run(
    tiny_run, tmp_path, overrides, words
):
    out = tmp_path / "lesson05"
    _copy_run(tiny_run, out)  # out/run: rename to the lesson's stage folder
    (out / "run").rename(out / "srresnet")
    (out / "srresnet.weights.h5").write_bytes(b"weights of the previous run")
    before = sorted(str(p.relative_to(out)) for p in out.rglob("*"))
    with pytest.raises(validation.ParameterError, match=re.escape(words)):
        _run_cells(
            "05_alternating_training.ipynb",
            "# Check every parameter",
            {**overrides, "output_dir": str(out), "vgg_weights": "none"},
        )
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*")) == before


def test_lesson_05_keeps_the_previous_run_aside(tiny_run, tmp_path):
    out = tmp_path / "lesson05"
    _copy_run(tiny_run, out)
    (out / "run").rename(out / "srresnet")
    (out / "srgan").mkdir()  # a run that never reached a checkpoint: nothing to keep
    namespace = _run_cells(
        "05_alternating_training.ipynb",
        "# Check every parameter",
        {"output_dir": str(out), "vgg_weights": "none"},
    )
    previous = namespace["previous_dir"]
    assert (previous / "srresnet" / training.CHECKPOINT).is_file()
    assert not (out / "srresnet").exists() and not (out / "srgan").exists()
    assert not (previous / "srgan").exists()


def test_a_real_srgan_process_prints_one_line_without_tensorflow_noise(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run(
        [sys.executable, "-m", "srgan_course.cli", "upscale", str(tmp_path / "missing.png"),
         "-o", str(tmp_path / "out"), "--weights", "bundled"],
        capture_output=True, text=True, env={**env, "PYTHONPATH": str(REPO)}, timeout=300,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"srgan upscale: error: No image file at {tmp_path / 'missing.png'}. Check the path."
    ]


def test_unknown_training_data_names_the_allowed_values(tmp_path, capsys):
    argv = ["train", "--data", "nosuchset", "--run-dir", str(tmp_path / "run")]
    message = fails(argv, capsys, code=1)
    assert 'data must be "sample"' in message and "'nosuchset'" in message
    assert not (tmp_path / "run").exists()
