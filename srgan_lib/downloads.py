"""Download and cache the image sets of the course: resumable, verified, atomic.

Every file is fetched to `<name>.part` (resumed with an HTTP Range request after a cut),
checked against its pinned sha256 and size, and only then renamed into place, so a file
that exists under its final name is complete. Only the standard library and tqdm are used.

Example:

```python
from srgan_lib.downloads import download

set5 = download("Set5")  # data/Set5/HR/img_001.png ... data/Set5/LR_bicubic_x4/img_005.png
```
"""

from __future__ import annotations

import errno
import http.client
import json
import os
import shutil
import urllib.error
import urllib.request
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from tqdm.auto import tqdm

from srgan_lib.archives import ArchiveError, extract_archive, size_cap
from srgan_lib.choices import BENCHMARK_SETS
from srgan_lib.files import make_writable_folder
from srgan_lib.files import sha256 as file_digest  # `sha256` names the pins here

__all__ = [
    "KNOWN_DATASETS",
    "ArchiveError",
    "REMOTES",
    "DownloadError",
    "Remote",
    "RemoteFile",
    "data_dir",
    "download",
    "download_file",
    "find_benchmarks",
]

_CHUNK = 1 << 20
_COMPLETE = ".complete"


class DownloadError(RuntimeError):
    """A download, verification or extraction failed; the message says how to fix it."""


@dataclass(frozen=True)
class RemoteFile:
    """One file of a data set: its URL, its path inside the set folder, and its pins."""

    url: str
    filename: str
    sha256: str | None = None
    size: int | None = None


@dataclass(frozen=True)
class Remote:
    """A named data set: the files that make it up."""

    name: str
    files: tuple[RemoteFile, ...]


def data_dir(path: str | Path | None = None, create: bool = True) -> Path:
    """Returns the cache root, created if missing (unless `create` is False).

    The root is `path` when given, else `$SRGAN_DATA_DIR`, else `data/` in the current
    working directory.

    Raises:
        DownloadError: the root cannot be created (a file of that name, no permission).
    """
    root = path or os.environ.get("SRGAN_DATA_DIR") or Path.cwd() / "data"
    root = Path(root).expanduser()
    if root.exists() and not root.is_dir():
        raise DownloadError(
            f"The data folder {root} is a file, not a folder: set SRGAN_DATA_DIR (or pass "
            "--root) to a folder."
        )
    if create:
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise DownloadError(
                f"Cannot create the data folder {root} ({err.strerror or err}): set "
                "SRGAN_DATA_DIR (or pass --root) to a folder you can write to."
            ) from err
    return root


def _holds_benchmarks(folder: Path) -> bool:
    return any((folder / name / "HR").is_dir() for name in BENCHMARK_SETS)


def find_benchmarks(path: str | Path | None = None) -> Path | None:
    """The folder that holds the benchmark sets (`<folder>/Set5/HR/`, `Set14/`, ...), or None.

    With `path`, only `path` and `path/benchmarks` are looked at. Without it, in order:
    where `srgan data download` puts them (`$SRGAN_DATA_DIR`, else `data/` in the current
    folder or its parent, so a lesson run from notebooks/ finds the repository's), each
    also with a `benchmarks/` subfolder; then the offline copy of a course machine,
    `$SRGAN_SHARED_DATA/benchmarks`, else `shared/data/benchmarks` beside the checkout or
    beside the current folder or its parent. Creates nothing.
    """
    if path:
        roots = [Path(path).expanduser()]
    else:
        cwd = Path.cwd()
        roots = [Path(os.environ["SRGAN_DATA_DIR"])] if os.environ.get("SRGAN_DATA_DIR") else []
        roots += [cwd / "data", cwd.parent / "data"]
        shared = os.environ.get("SRGAN_SHARED_DATA")
        beside = [Path(__file__).resolve().parents[2], cwd.parent, cwd.parent.parent]
        roots += [Path(shared)] if shared else [base / "shared" / "data" for base in beside]
    for root in roots:
        for folder in (root, root / "benchmarks"):
            if _holds_benchmarks(folder):
                return folder
    return None


# ---------------------------------------------------------------------------------------
# One file
# ---------------------------------------------------------------------------------------


def _mismatch(path: Path, sha256: str | None, size: int | None) -> str | None:
    """Says how `path` differs from its pins, or returns None when it matches them."""
    got_size = path.stat().st_size
    if size is not None and got_size != size:
        return f"expected {size} bytes, got {got_size}"
    if sha256 is not None:
        got = file_digest(path)
        if got != sha256.lower():
            return f"expected sha256 {sha256}, got {got}"
    return None


def _disk_full(needed: int | None, folder: Path) -> DownloadError:
    amount = f"{needed:,} more bytes" if needed is not None else "more space"
    return DownloadError(
        f"The disk is full: the download needs {amount} in {folder}. Free space there, or "
        "set the environment variable SRGAN_DATA_DIR to a folder on a larger disk, then "
        "run the same command again to resume."
    )


def download_file(
    url: str,
    dest: Path,
    *,
    sha256: str | None = None,
    size: int | None = None,
    progress: bool = True,
    timeout: float = 30,
) -> Path:
    """Downloads `url` to `dest`, resuming a partial download, and verifies it.

    Returns `dest` at once when it already exists and matches `sha256` and `size` (those
    given). Otherwise the bytes go to `<dest>.part`, which is resumed with a Range request if
    present, checked, and renamed to `dest`.

    Raises:
        DownloadError: the host cannot be reached, the server answers an HTTP error, the
            connection is cut (the `.part` file is kept for the next call to resume), the
            disk is full, or the file does not match its checksum (the bad file is deleted).
    """
    dest = Path(dest)
    if dest.is_file() and _mismatch(dest, sha256, size) is None:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    offset = part.stat().st_size if part.exists() else 0

    request = urllib.request.Request(url, headers={"User-Agent": "srgan-course"})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as err:
        err.close()
        if not (err.code == 416 and offset):  # 416 after a Range: the part is complete.
            raise DownloadError(f"HTTP error {err.code} ({err.reason}) for {url}") from err
        response = None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as err:
        reason = getattr(err, "reason", err)
        raise DownloadError(
            f"Cannot reach {url} ({reason}). Check the network connection, or download the "
            f"file by hand and place it at:\n  {dest}"
        ) from err

    if response is not None:
        with response:
            if offset and response.status != 206:  # The server ignored the Range: restart.
                offset = 0
            length = response.headers.get("Content-Length")
            remaining = int(length) if length is not None else None
            total = offset + remaining if remaining is not None else size
            if remaining is not None and shutil.disk_usage(dest.parent).free < remaining:
                raise _disk_full(remaining, dest.parent)
            received, cut = 0, False
            try:
                with (
                    open(part, "ab" if offset else "wb") as f,
                    tqdm(
                        total=total,
                        initial=offset,
                        unit="B",
                        unit_scale=True,
                        unit_divisor=1024,
                        desc=dest.name,
                        disable=not progress,
                    ) as bar,
                ):
                    while chunk := response.read(_CHUNK):
                        f.write(chunk)
                        received += len(chunk)
                        bar.update(len(chunk))
            except OSError as err:
                if err.errno == errno.ENOSPC:
                    missing = remaining - received if remaining is not None else None
                    raise _disk_full(missing, dest.parent) from err
                if not isinstance(err, ConnectionError | TimeoutError):
                    raise
                cut = True
            except http.client.IncompleteRead:
                cut = True
            if cut or (remaining is not None and received < remaining):
                raise DownloadError(
                    f"The connection was cut while downloading {url}. The partial file is "
                    f"kept at {part}: run the same command again to resume."
                )

    problem = _mismatch(part, sha256, size)
    if problem is not None:
        part.unlink()
        raise DownloadError(
            f"Checksum mismatch for {url}: {problem}. The bad file {part} was removed; "
            "run the same command again to download it afresh."
        )
    os.replace(part, dest)
    return dest


# ---------------------------------------------------------------------------------------
# Data sets
# ---------------------------------------------------------------------------------------

_SELFEXSR = "https://raw.githubusercontent.com/jbhuang0604/SelfExSR/master/data"
_BENCHMARKS = {"Set5": 5, "Set14": 14, "BSD100": 100, "Urban100": 100}
_DIV2K = "https://data.vision.ee.ethz.ch/cvl/DIV2K"
# Sizes and sha256 published by TensorFlow Datasets in
# github.com/tensorflow/datasets, tensorflow_datasets/url_checksums/div2k.txt
# (commit 333639b37af6c6fedf3610a4a2d42f1c6ef6f7d5).
_DIV2K_PINS = {
    "DIV2K_train_HR.zip": (
        3530603713,
        "9d0b9c463f6e35b6c62cc6a930ee2224f670b34c1df841a57670f9acf0f6c335",
    ),
    "DIV2K_valid_HR.zip": (
        448993893,
        "20dd31fd84d777bc1cf5d6b7654a3f569c0aec74458ae094122ad1d0489900fc",
    ),
    "DIV2K_train_LR_bicubic_X4.zip": (
        246914039,
        "f006b837f4eb52b82909aa01478e6d6d199eefce932179491d0c9dbb706dde3a",
    ),
    "DIV2K_valid_LR_bicubic_X4.zip": (
        31505881,
        "a50a5d1c4b88de4e8d300d8fb2b904c52fe93b2b298a4899697760d7cbb6d553",
    ),
}


def _benchmark(name: str, count: int, pins: dict[str, dict]) -> Remote:
    files = []
    for i in range(1, count + 1):
        for kind, folder in (("HR", "HR"), ("LR", "LR_bicubic_x4")):
            filename = f"{folder}/img_{i:03d}.png"
            pin = pins.get(filename, {})
            url = f"{_SELFEXSR}/{name}/image_SRF_4/img_{i:03d}_SRF_4_{kind}.png"
            files.append(RemoteFile(url, filename, pin.get("sha256"), pin.get("size")))
    return Remote(name, tuple(files))


def _build_registry() -> dict[str, Remote]:
    # Set5, Set14 and BSD100 are pinned file by file in checksums.json. Urban100 is not
    # pinned (no verified copy was at hand): its files are only checked to exist.
    pins = json.loads(resources.files(__package__).joinpath("checksums.json").read_text())
    remotes = {
        name: _benchmark(name, count, pins.get(name, {})) for name, count in _BENCHMARKS.items()
    }
    div2k = tuple(
        RemoteFile(f"{_DIV2K}/{filename}", filename, sha256, size)
        for filename, (size, sha256) in _DIV2K_PINS.items()
    )
    remotes["DIV2K"] = Remote("DIV2K", div2k)
    return remotes


REMOTES: dict[str, Remote] = _build_registry()
KNOWN_DATASETS: tuple[str, ...] = tuple(REMOTES)


def _rebase(url: str, base_url: str | None) -> str:
    """Replaces the scheme and host of `url` by `base_url`, keeping the path."""
    if base_url is None:
        return url
    return urljoin(base_url.rstrip("/") + "/", urlsplit(url).path.lstrip("/"))


def _is_archive(filename: str) -> bool:
    return filename.endswith((".zip", ".tar", ".tar.gz", ".tgz"))


def is_cached(name: str, root: str | Path | None = None) -> bool:
    """Whether the data set `name` is complete in the cache `root` (default `data_dir()`)."""
    return (data_dir(root, create=False) / name / _COMPLETE).exists()


def download(
    name: str,
    root: str | Path | None = None,
    *,
    base_url: str | None = None,
    progress: bool = True,
) -> Path:
    """Downloads the data set `name` (or finds it cached) and returns its folder.

    Benchmarks land in `<root>/<name>/HR/img_NNN.png` and `<root>/<name>/LR_bicubic_x4/`;
    DIV2K's archives are extracted into `<root>/DIV2K/` and then deleted. `root` defaults
    to `data_dir()`. `base_url` (for mirrors and tests) replaces the scheme and host of
    every URL, keeping its path. A set is cached once its `.complete` marker exists; a
    second call then downloads nothing.

    Raises:
        ValueError: `name` is not one of `KNOWN_DATASETS`.
        DownloadError: a file could not be downloaded, verified or extracted.
    """
    if name not in REMOTES:
        raise ValueError(f"Unknown data set {name!r}; known: {', '.join(KNOWN_DATASETS)}.")
    folder = data_dir(root) / name
    if (folder / _COMPLETE).exists():
        return folder
    try:
        make_writable_folder(folder)
    except OSError as err:
        raise DownloadError(
            f"Cannot write to the data folder {folder} ({err.strerror or err}): set "
            "SRGAN_DATA_DIR (or pass --root) to a folder you can write to."
        ) from err
    files = REMOTES[name].files
    for remote in tqdm(files, desc=name, unit="file", disable=not progress or len(files) < 10):
        url = _rebase(remote.url, base_url)
        if not _is_archive(remote.filename):
            dest = folder / remote.filename
            download_file(url, dest, sha256=remote.sha256, size=remote.size, progress=False)
            continue
        extracted = folder / f".{remote.filename}.extracted"
        if extracted.exists():
            continue
        dest = folder / remote.filename
        archive = download_file(
            url, dest, sha256=remote.sha256, size=remote.size, progress=progress
        )
        cap = size_cap(remote.size) if remote.size else None
        extract_archive(archive, folder, max_bytes=cap)
        extracted.touch()
        archive.unlink()
    (folder / _COMPLETE).touch()
    return folder
