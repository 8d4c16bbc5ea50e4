"""The bad-input suite: hostile archives, damaged files, wrong values, interrupted and
concurrent runs. Each case expects one clear line (an exception of the library's own
kind, or `srgan ...: error: ...` on stderr with no traceback) and nothing lost."""

from __future__ import annotations

import io
import os
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from srgan_lib import downloads
from srgan_lib.downloads import DownloadError, extract_archive

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
    with pytest.raises(DownloadError, match=match) as caught:
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


def test_damaged_archive_is_one_download_error(tmp_path):
    good = _tar(tmp_path / "good.tar.gz", [("pack/a.bin", os.urandom(200_000))])
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(good.read_bytes()[:50_000])
    with pytest.raises(DownloadError) as caught:
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
