"""Tests of srgan_lib.downloads against a local HTTP server on 127.0.0.1 (no internet)."""

from __future__ import annotations

import hashlib
import io
import os
import re
import socket
import tarfile
import threading
import types
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import shared_data_dir

from srgan_lib import downloads
from srgan_lib.archives import ArchiveError, extract_archive
from srgan_lib.downloads import (
    KNOWN_DATASETS,
    REMOTES,
    DownloadError,
    Remote,
    RemoteFile,
    data_dir,
    download,
    download_file,
)

BENCHMARKS = shared_data_dir() / "benchmarks"
needs_shared = pytest.mark.skipif(
    not (BENCHMARKS / "Set5").is_dir(),
    reason=f"offline benchmark copy not found at {BENCHMARKS} (set SRGAN_SHARED_DATA)",
)
SELFEXSR_PATH = "jbhuang0604/SelfExSR/master/data"  # URL path of the benchmark files.


class _Handler(BaseHTTPRequestHandler):
    """Serves files under `server.root`; supports Range, counts requests, can cut once."""

    def log_message(self, *args) -> None:  # Keep the test output quiet.
        pass

    def do_GET(self) -> None:  # noqa: N802 - name required by BaseHTTPRequestHandler.
        srv = self.server
        byte_range = self.headers.get("Range")
        srv.requests.append((self.path, byte_range))
        path = srv.root / self.path.lstrip("/")
        if not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        start = 0
        if byte_range and not srv.ignore_range:
            start = int(byte_range.removeprefix("bytes=").rstrip("-"))
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if srv.cut_after is not None:  # Promise the whole body, send a part, hang up.
            body, srv.cut_after = body[: srv.cut_after], None
        self.wfile.write(body)


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    """Keeps urllib from sending 127.0.0.1 requests to a proxy set in the environment."""
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


@pytest.fixture
def server(tmp_path):
    """A local HTTP server whose root mirrors the URL paths of the real hosts."""
    root = tmp_path / "srv"
    root.mkdir()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.root, httpd.requests, httpd.cut_after, httpd.ignore_range = root, [], None, False
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}/"
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def set5_server(server):
    """The server, also serving Set5 at the paths of the GitHub URLs (links to shared/)."""
    if not (BENCHMARKS / "Set5").is_dir():
        pytest.skip(f"offline benchmark copy not found at {BENCHMARKS} (set SRGAN_SHARED_DATA)")
    folder = server.root / SELFEXSR_PATH / "Set5" / "image_SRF_4"
    folder.mkdir(parents=True)
    for i in range(1, 6):
        for kind, local in (("HR", "HR"), ("LR", "LR_bicubic_x4")):
            source = BENCHMARKS / "Set5" / local / f"img_{i:03d}.png"
            (folder / f"img_{i:03d}_SRF_4_{kind}.png").symlink_to(source)
    return server


def _shared_file(name: str, filename: str) -> bytes:
    return (BENCHMARKS / name / filename).read_bytes()


def _serve(server, relative: str, data: bytes) -> str:
    """Puts `data` on the server at `relative` and returns its URL."""
    path = server.root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return server.url + relative


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --------------------------------------------------------------------------------------
# Data sets
# --------------------------------------------------------------------------------------


def test_download_set5_verified_and_identical(set5_server, tmp_path):
    assert all(f.sha256 and f.size for f in REMOTES["Set5"].files)  # Pinned, so verified.
    folder = download("Set5", tmp_path / "cache", base_url=set5_server.url, progress=False)

    assert folder == tmp_path / "cache" / "Set5"
    assert len(set5_server.requests) == 10
    for remote in REMOTES["Set5"].files:
        assert (folder / remote.filename).read_bytes() == _shared_file("Set5", remote.filename)
    assert (folder / ".complete").exists()
    assert not list(folder.rglob("*.part"))


def test_cached_second_call_makes_no_request(set5_server, tmp_path):
    download("Set5", tmp_path, base_url=set5_server.url, progress=False)
    count = len(set5_server.requests)
    assert count == 10

    assert download("Set5", tmp_path, base_url=set5_server.url) == tmp_path / "Set5"
    assert len(set5_server.requests) == count


def test_cut_connection_keeps_part_and_resumes(set5_server, tmp_path):
    remote = REMOTES["Set5"].files[0]  # HR/img_001.png, pinned.
    url = downloads._rebase(remote.url, set5_server.url)
    dest = tmp_path / "img_001.png"
    part = tmp_path / "img_001.png.part"
    set5_server.cut_after = 10_000

    with pytest.raises(DownloadError, match="run the same command again to resume"):
        download_file(url, dest, sha256=remote.sha256, size=remote.size, progress=False)
    assert part.stat().st_size == 10_000
    assert not dest.exists()

    download_file(url, dest, sha256=remote.sha256, size=remote.size, progress=False)
    assert set5_server.requests[-1][1] == "bytes=10000-"
    assert dest.read_bytes() == _shared_file("Set5", remote.filename)
    assert not part.exists()


def test_server_ignoring_range_restarts_from_zero(server, tmp_path):
    data = os.urandom(50_000)
    url = _serve(server, "file.bin", data)
    dest = tmp_path / "file.bin"
    (tmp_path / "file.bin.part").write_bytes(b"stale bytes")
    server.ignore_range = True

    download_file(url, dest, sha256=hashlib.sha256(data).hexdigest(), progress=False)
    assert server.requests[-1][1] == "bytes=11-"
    assert dest.read_bytes() == data


def test_complete_part_is_accepted_after_416(server, tmp_path):
    data = os.urandom(5_000)
    url = _serve(server, "file.bin", data)
    dest = tmp_path / "file.bin"
    (tmp_path / "file.bin.part").write_bytes(data)

    download_file(url, dest, sha256=hashlib.sha256(data).hexdigest(), progress=False)
    assert server.requests == [("/file.bin", "bytes=5000-")]
    assert dest.read_bytes() == data


def test_checksum_mismatch_removes_bad_file(server, tmp_path):
    url = _serve(server, "file.bin", b"not what was pinned")
    dest = tmp_path / "file.bin"

    with pytest.raises(DownloadError, match="expected sha256 0{64}, got") as info:
        download_file(url, dest, sha256="0" * 64, progress=False)
    assert "was removed" in str(info.value)
    assert not dest.exists()
    assert not (tmp_path / "file.bin.part").exists()


def test_http_404_names_status_and_url(server, tmp_path):
    url = server.url + "missing.png"
    with pytest.raises(DownloadError, match="404") as info:
        download_file(url, tmp_path / "missing.png", progress=False)
    assert url in str(info.value)
    assert not (tmp_path / "missing.png").exists()


def test_refused_connection_names_manual_download_path(tmp_path):
    base_url = f"http://127.0.0.1:{_closed_port()}/"
    with pytest.raises(DownloadError, match="by hand") as info:
        download("Set5", tmp_path, base_url=base_url, progress=False)
    assert str(tmp_path / "Set5" / "HR" / "img_001.png") in str(info.value)
    assert not (tmp_path / "Set5" / ".complete").exists()


def test_full_disk_is_reported_before_writing(server, tmp_path, monkeypatch):
    url = _serve(server, "file.bin", os.urandom(2_000))
    monkeypatch.setattr(downloads.shutil, "disk_usage", lambda _: types.SimpleNamespace(free=0))
    with pytest.raises(DownloadError, match="2,000 more bytes.*SRGAN_DATA_DIR"):
        download_file(url, tmp_path / "file.bin", progress=False)
    assert not (tmp_path / "file.bin").exists()


def test_archive_set_is_extracted_then_cached(server, tmp_path, monkeypatch):
    png = os.urandom(3_000)
    archive = _zip_bytes({"DIV2K_valid_LR_bicubic/X4/0801x4.png": png})
    real = REMOTES["DIV2K"].files[-1]  # DIV2K_valid_LR_bicubic_X4.zip
    fake = RemoteFile(real.url, real.filename, hashlib.sha256(archive).hexdigest(), len(archive))
    monkeypatch.setitem(REMOTES, "DIV2K", Remote("DIV2K", (fake,)))
    _serve(server, "cvl/DIV2K/DIV2K_valid_LR_bicubic_X4.zip", archive)

    folder = download("DIV2K", tmp_path, base_url=server.url, progress=False)
    assert (folder / "DIV2K_valid_LR_bicubic" / "X4" / "0801x4.png").read_bytes() == png
    assert not (folder / real.filename).exists()  # The archive is deleted once extracted.
    assert server.requests == [("/cvl/DIV2K/DIV2K_valid_LR_bicubic_X4.zip", None)]

    download("DIV2K", tmp_path, base_url=server.url, progress=False)
    assert len(server.requests) == 1


def test_unknown_name_lists_known_ones(tmp_path):
    with pytest.raises(ValueError, match="Set5, Set14, BSD100, Urban100, DIV2K"):
        download("Set6", tmp_path)


def test_registry_pins():
    assert KNOWN_DATASETS == ("Set5", "Set14", "BSD100", "Urban100", "DIV2K")
    counts = {"Set5": 10, "Set14": 28, "BSD100": 200, "Urban100": 200, "DIV2K": 4}
    assert {name: len(REMOTES[name].files) for name in KNOWN_DATASETS} == counts
    for name in ("Set5", "Set14", "BSD100", "DIV2K"):
        assert all(len(f.sha256) == 64 and f.size > 0 for f in REMOTES[name].files), name
    assert all(f.sha256 is None for f in REMOTES["Urban100"].files)
    assert REMOTES["Urban100"].files[-1].url.endswith("Urban100/image_SRF_4/img_100_SRF_4_LR.png")


@needs_shared
@pytest.mark.parametrize("name", ["Set5", "Set14", "BSD100"])
def test_registry_matches_shared_copy(name):
    folder = BENCHMARKS / name
    shared = {p.relative_to(folder).as_posix(): p for p in folder.rglob("*.png")}
    assert {f.filename for f in REMOTES[name].files} == set(shared)
    assert all(shared[f.filename].stat().st_size == f.size for f in REMOTES[name].files)


def test_data_dir_precedence(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SRGAN_DATA_DIR", raising=False)
    assert data_dir() == tmp_path / "data" and (tmp_path / "data").is_dir()
    monkeypatch.setenv("SRGAN_DATA_DIR", str(tmp_path / "env"))
    assert data_dir() == tmp_path / "env" and (tmp_path / "env").is_dir()
    assert data_dir(tmp_path / "explicit") == tmp_path / "explicit"


def _make_set(folder: Path, name: str = "Set5") -> Path:
    (folder / name / "HR").mkdir(parents=True)
    return folder


def test_find_benchmarks_where_download_puts_them(tmp_path, monkeypatch):
    """A set downloaded into data/ of the repository is found from its notebooks/ folder,
    and $SRGAN_DATA_DIR wins over it; nothing is created while looking."""
    repo = tmp_path / "repo"
    (repo / "notebooks").mkdir(parents=True)
    monkeypatch.delenv("SRGAN_DATA_DIR", raising=False)
    monkeypatch.setenv("SRGAN_SHARED_DATA", str(tmp_path / "no-shared"))
    monkeypatch.chdir(repo / "notebooks")
    assert downloads.find_benchmarks() is None
    assert not (repo / "notebooks" / "data").exists() and not (repo / "data").exists()
    _make_set(repo / "data")
    assert downloads.find_benchmarks() == repo / "data"
    monkeypatch.setenv("SRGAN_DATA_DIR", str(tmp_path / "cache"))
    _make_set(tmp_path / "cache" / "benchmarks", "Set14")
    assert downloads.find_benchmarks() == tmp_path / "cache" / "benchmarks"


def test_find_benchmarks_explicit_and_shared(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SRGAN_DATA_DIR", raising=False)
    _make_set(tmp_path / "shared" / "benchmarks", "BSD100")
    monkeypatch.setenv("SRGAN_SHARED_DATA", str(tmp_path / "shared"))
    assert downloads.find_benchmarks() == tmp_path / "shared" / "benchmarks"
    (tmp_path / "empty").mkdir()
    assert downloads.find_benchmarks(tmp_path / "empty") is None
    _make_set(tmp_path / "mine")
    assert downloads.find_benchmarks(str(tmp_path / "mine")) == tmp_path / "mine"


# --------------------------------------------------------------------------------------
# Archives
# --------------------------------------------------------------------------------------


def _zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def _write_tar(
    path: Path, members: dict[str, bytes], symlinks: dict[str, str] | None = None
) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        for name, target in (symlinks or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tf.addfile(info)
    return path


def _evil_archive(tmp_path: Path, kind: str) -> tuple[Path, str]:
    """An archive with one good member and one escaping member; returns it and that name."""
    good = {"pack/ok.txt": b"fine"}
    if kind == "zip-dotdot":
        name = "../evil.txt"
    elif kind in ("zip-absolute", "tar-absolute"):
        name = str(tmp_path / "abs_evil.txt")
    elif kind == "tar-dotdot":
        name = "pack/../../evil.txt"
    else:  # tar-symlink: a link out of the target.
        path = _write_tar(tmp_path / "a.tar.gz", good, {"pack/link": "../../outside"})
        return path, "pack/link"
    if kind.startswith("zip"):
        path = tmp_path / "a.zip"
        path.write_bytes(_zip_bytes({**good, name: b"evil"}))
    else:
        path = _write_tar(tmp_path / "a.tar.gz", {**good, name: b"evil"})
    return path, name


@pytest.mark.parametrize(
    "kind", ["zip-dotdot", "zip-absolute", "tar-dotdot", "tar-absolute", "tar-symlink"]
)
def test_escaping_member_is_refused_and_nothing_extracted(tmp_path, kind):
    archive, member = _evil_archive(tmp_path, kind)
    target = tmp_path / "out" / "target"
    with pytest.raises(ArchiveError, match=re.escape(f"member '{member}'")):
        extract_archive(archive, target)
    assert not target.exists()
    assert list((tmp_path / "out").iterdir()) == []  # No temporary folder left behind.
    assert not (tmp_path / "evil.txt").exists()
    assert not (tmp_path / "abs_evil.txt").exists()


@pytest.mark.parametrize("fmt", ["zip", "tar.gz"])
def test_good_archive_extracts_and_merges(tmp_path, fmt):
    first = {"pack/a.txt": b"alpha", "pack/sub/b.bin": os.urandom(1_000)}
    second = {"other/c.txt": b"gamma"}
    archives = []
    for i, members in enumerate((first, second)):
        path = tmp_path / f"{i}.{fmt}"
        if fmt == "zip":
            path.write_bytes(_zip_bytes(members))
        else:
            _write_tar(path, members)
        archives.append(path)
    target = tmp_path / "out"

    assert extract_archive(archives[0], target) == target
    extract_archive(archives[1], target)  # Into an existing folder: entries are merged.
    for name, data in {**first, **second}.items():
        assert (target / name).read_bytes() == data
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0." + fmt, "1." + fmt, "out"]


def test_not_an_archive_is_refused(tmp_path):
    bogus = tmp_path / "bogus.zip"
    bogus.write_bytes(b"<html>not found</html>")
    with pytest.raises(ArchiveError, match="not a zip or tar archive"):
        extract_archive(bogus, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_cli_downloads_then_finds_the_cache(set5_server, tmp_path, capsys):
    from srgan_course import cli

    args = ["data", "download", "Set5", "--root", str(tmp_path), "--mirror", set5_server.url]
    assert cli.main(args) == 0
    assert len(set5_server.requests) == 10
    assert cli.main(args) == 0
    assert len(set5_server.requests) == 10
    assert f"Set5: {tmp_path / 'Set5'}" in capsys.readouterr().out
    refused = [
        "data",
        "download",
        "Set5",
        "--root",
        str(tmp_path / "other"),
        "--mirror",
        f"http://127.0.0.1:{_closed_port()}/",
    ]
    assert cli.main(refused) == 2
    error = capsys.readouterr().err
    assert "by hand" in error and str(tmp_path / "other" / "Set5" / "HR" / "img_001.png") in error
