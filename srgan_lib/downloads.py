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
import stat
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
import zlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from tqdm.auto import tqdm

from srgan_lib.choices import BENCHMARK_SETS
from srgan_lib.files import sha256 as file_digest  # `sha256` names the pins here

__all__ = [
    "KNOWN_DATASETS",
    "REMOTES",
    "DownloadError",
    "Remote",
    "RemoteFile",
    "data_dir",
    "download",
    "download_file",
    "extract_archive",
    "find_benchmarks",
    "size_cap",
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
# Archives
# ---------------------------------------------------------------------------------------


_MARGIN = 64 << 20
_MAX_LINK_DEPTH = 40


def size_cap(archive_size: int) -> int:
    """The most bytes an archive of `archive_size` bytes may unpack to: twice its size plus
    64 MiB. The course's archives hold PNG images, which hardly compress, so a legitimate
    archive stays far below; a decompression bomb (GBs declared in MBs) does not."""
    return 2 * archive_size + _MARGIN


@dataclass
class _Member:
    """One archive member, reduced to what extraction needs."""

    name: str
    kind: str  # "file", "dir", "symlink", "hardlink"
    size: int = 0
    link: str = ""
    source: object = None  # the zipfile.ZipInfo or tarfile.TarInfo


def _refuse(archive: Path, member: str, why: str) -> DownloadError:
    return DownloadError(
        f"Refusing to extract {archive}: member {member!r} {why}. Nothing was extracted; "
        "the archive is not trustworthy (delete it and download it again)."
    )


def _zip_members(archive: Path, zf: zipfile.ZipFile) -> list[_Member]:
    members = []
    for info in zf.infolist():
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise _refuse(archive, info.filename, "is a symbolic link (links in zip are refused)")
        if stat.S_IFMT(mode) and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            raise _refuse(archive, info.filename, "is a device or other special file")
        kind = "dir" if info.is_dir() else "file"
        members.append(_Member(info.filename, kind, info.file_size, source=info))
    return members


def _tar_members(archive: Path, tf: tarfile.TarFile) -> list[_Member]:
    members = []
    for info in tf.getmembers():
        if info.isreg():
            members.append(_Member(info.name, "file", info.size, source=info))
        elif info.isdir():
            members.append(_Member(info.name, "dir", source=info))
        elif info.issym():
            members.append(_Member(info.name, "symlink", link=info.linkname, source=info))
        elif info.islnk():
            members.append(_Member(info.name, "hardlink", link=info.linkname, source=info))
        else:
            what = {
                tarfile.CHRTYPE: "a character device",
                tarfile.BLKTYPE: "a block device",
                tarfile.FIFOTYPE: "a named pipe (FIFO)",
            }.get(info.type, f"a special file (tar type {info.type!r})")
            raise _refuse(archive, info.name, f"is {what}: only files, folders and links")
    return members


def _resolve(name: str, links: dict[str, str], follow_last: bool, depth: int = 0) -> list[str]:
    """The final path of `name` inside the target, as components, following the archive's
    own symlinks (`links`: resolved member path -> link text) as the OS would.
    Raises ValueError if the path leaves the target or links loop."""
    if depth > _MAX_LINK_DEPTH:
        raise ValueError("has a loop of symbolic links")
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise ValueError("has an absolute path")
    parts: list[str] = []
    components = [c for c in name.replace("\\", "/").split("/") if c not in ("", ".")]
    for i, component in enumerate(components):
        if component == "..":
            if not parts:
                raise ValueError("would be written outside the target folder")
            parts.pop()
            continue
        parts.append(component)
        key = "/".join(parts)
        if key in links and (follow_last or i < len(components) - 1):
            text = links[key]
            if text.startswith("/"):
                raise ValueError("is reached through a link to an absolute path")
            parts = _resolve("/".join([*parts[:-1], text]), links, True, depth + 1)
    return parts


def _plan(archive: Path, members: list[_Member]) -> list[tuple[_Member, list[str], list[str]]]:
    """Each member with its resolved path (and, for links, its resolved target), every one
    checked to stay inside the target. Raises DownloadError naming the first bad member."""
    links: dict[str, str] = {}
    plan = []
    for member in members:
        try:
            parts = _resolve(member.name, links, follow_last=False)
            target: list[str] = []
            if member.kind == "symlink":
                if member.link.startswith("/"):
                    raise ValueError("is a link to an absolute path")
                target = _resolve("/".join([*parts[:-1], member.link]), links, True)
            elif member.kind == "hardlink":
                target = _resolve(member.link, links, True)
        except ValueError as err:
            raise _refuse(archive, member.name, str(err)) from None
        if not parts and member.kind != "dir":
            raise _refuse(archive, member.name, "has no file name")
        if member.kind == "symlink":
            links["/".join(parts)] = member.link
        plan.append((member, parts, target))
    return plan


def _copy_capped(source, dest: Path, budget: list[int], archive: Path, name: str) -> None:
    """Copy a member's stream to a new file, counting bytes against budget[0]."""
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o666)
    with os.fdopen(fd, "wb") as out:
        while chunk := source.read(_CHUNK):
            budget[0] -= len(chunk)
            if budget[0] < 0:
                raise _refuse(archive, name, "unpacks to more bytes than the archive allows")
            out.write(chunk)


def _unpack(archive: Path, root: Path, max_bytes: int) -> None:
    """Write the archive's members under `root` (an empty folder), links last."""
    is_zip = zipfile.is_zipfile(archive)
    with zipfile.ZipFile(archive) if is_zip else tarfile.open(archive) as handle:
        members = _zip_members(archive, handle) if is_zip else _tar_members(archive, handle)
        declared = sum(m.size for m in members)
        if declared > max_bytes:
            raise _refuse(
                archive,
                max(members, key=lambda m: m.size).name,
                f"is part of {declared:,} declared bytes, more than the {max_bytes:,} this "
                "archive may unpack to (a decompression bomb?)",
            )
        free = shutil.disk_usage(root).free
        if declared > free:
            raise DownloadError(
                f"The disk is full: extracting {archive} needs {declared:,} bytes and "
                f"{root.parent} has {free:,} free. Free space there, or set SRGAN_DATA_DIR "
                "to a folder on a larger disk, then run the same command again."
            )
        budget = [max_bytes]
        plan = _plan(archive, members)
        for member, parts, target in plan:
            dest = root.joinpath(*parts)
            if member.kind == "dir":
                dest.mkdir(parents=True, exist_ok=True)
            elif member.kind == "file":
                dest.parent.mkdir(parents=True, exist_ok=True)
                opened = handle.open(member.source) if is_zip else handle.extractfile(member.source)
                with opened as source:
                    _copy_capped(source, dest, budget, archive, member.name)
            elif member.kind == "hardlink":
                original = root.joinpath(*target)
                if not original.is_file() or original.is_symlink():
                    raise _refuse(archive, member.name, "is a hard link to no earlier file")
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(original, dest)
        for member, parts, target in plan:
            if member.kind == "symlink":
                dest = root.joinpath(*parts)
                dest.parent.mkdir(parents=True, exist_ok=True)
                relative = os.path.relpath(root.joinpath(*target), dest.parent)
                os.symlink(relative, dest)


def extract_archive(archive: Path, target: Path, max_bytes: int | None = None) -> Path:
    """Extracts a zip or tar(.gz) archive into the folder `target` and returns `target`.

    Safe by construction on every Python this project allows (it does not rely on
    tarfile's extraction filters): every member's final path is resolved, following the
    archive's own symbolic links, and must stay inside `target`; links in zip archives,
    devices and other special files are refused; the total size declared by the members
    must stay under `max_bytes` (default `size_cap(archive size)`), and so must the bytes
    actually written; the free disk space is checked first. Regular files and folders are
    written by this function itself, links last (as relative links inside `target`). The
    archive is unpacked into a temporary folder beside `target`, whose top-level entries
    are then renamed into `target` (replacing entries of the same name), so an interrupted
    or refused extraction leaves nothing behind. Folders get the usual permissions
    (0o777 minus the umask).

    Raises:
        DownloadError: one line saying why: not an archive, a damaged archive, a member
            that would land outside `target` (absolute path, `..`, a link chain), a link
            in a zip, a device, too many bytes, or a full disk.
    """
    archive, target = Path(archive), Path(target)
    if not (zipfile.is_zipfile(archive) or tarfile.is_tarfile(archive)):
        raise DownloadError(
            f"{archive} is not a zip or tar archive. Delete it and run the command again."
        )
    max_bytes = size_cap(archive.stat().st_size) if max_bytes is None else max_bytes
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-extract-", dir=target.parent))
    try:
        umask = os.umask(0)
        os.umask(umask)
        tmp.chmod(0o777 & ~umask)  # mkdtemp makes 0o700; the data folder should not be
        try:
            _unpack(archive, tmp.resolve(), max_bytes)
        except (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error) as err:
            raise DownloadError(
                f"{archive} is damaged ({err}). Delete it and run the command again."
            ) from err
        except OSError as err:
            if err.errno == errno.ENOSPC:
                raise _disk_full(None, target.parent) from err
            raise DownloadError(
                f"Cannot extract {archive} into {target} ({err.strerror or err})."
            ) from err
        if not target.exists():
            os.replace(tmp, target)
            return target
        for entry in tmp.iterdir():
            dest = target / entry.name
            if dest.is_dir() and not dest.is_symlink():
                shutil.rmtree(dest)
            elif dest.exists() or dest.is_symlink():
                dest.unlink()
            os.replace(entry, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


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
        folder.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()
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
