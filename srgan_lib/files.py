"""Writing files without losing anything: atomic replacement, and a check that refuses to
overwrite an input or an earlier output unless the caller asks for it; and `sha256`, the
one file digest the downloads, the shipped models' cards, exported generators (a
NAME.sha256 file beside each) and grading compare."""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Callable, Iterable
from pathlib import Path


def sha256(path: str | Path) -> str:
    """The SHA-256 of a file's bytes, as 64 hex digits, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


class DigestMismatchError(ValueError):
    """A file's bytes do not match the sha256 recorded for it."""


def digest_path(path: str | Path) -> Path:
    """Where the digest of `path` is kept: NAME.sha256 beside it."""
    path = Path(path)
    return path.with_name(f"{path.name}.sha256")


def write_digest(path: str | Path) -> Path:
    """Write the sha256 of `path` beside it, as `sha256sum` prints it ("HEX  NAME").

    Args:
        path: an existing file.

    Returns:
        The digest file, NAME.sha256.
    """
    path = Path(path)
    line = f"{sha256(path)}  {path.name}\n"
    return atomic_write(digest_path(path), lambda tmp: tmp.write_text(line))


def recorded_digest(path: str | Path) -> str | None:
    """The sha256 recorded for `path` in its NAME.sha256 file, or None without one."""
    sidecar = digest_path(path)
    if not sidecar.is_file():
        return None
    fields = sidecar.read_text().split()
    return fields[0].lower() if fields else ""


def check_digest(path: str | Path, expected: str, source: str, remedy: str) -> Path:
    """Check that the file `path` has the sha256 `expected`.

    Args:
        path: the file.
        expected: 64 hex digits.
        source: where `expected` comes from, for the message ("its model card").
        remedy: what to do when it differs, one sentence.

    Returns:
        `path`.

    Raises:
        DigestMismatchError: the file is missing or its digest differs.
    """
    path = Path(path)
    digest = sha256(path) if path.is_file() else "missing"
    if digest != expected:
        raise DigestMismatchError(
            f"{path} does not match {source} (sha256 {digest[:12]}..., expected "
            f"{expected[:12]}...): the file is damaged or was replaced. {remedy}"
        )
    return path


class OutputExistsError(FileExistsError):
    """An output would replace an existing file (or an input) and overwriting was not asked."""


def atomic_write(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Write a file so that `path` is always either the old or the complete new file.

    write(tmp) writes to a temporary name in the same folder (ending like `path`, so
    suffix-sensitive writers work); it is then fsynced and renamed over `path`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
    try:
        write(tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    with contextlib.suppress(OSError):  # not every file system can fsync a folder
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
    return path


def check_outputs(
    outputs: Iterable[str | Path], overwrite: bool = False, inputs: Iterable[str | Path] = ()
) -> None:
    """Refuse, before anything is written, outputs that are folders, and (unless
    `overwrite`) outputs that exist already, naming whether one is an input.

    Raises:
        IsADirectoryError: an output name is an existing folder (even with `overwrite`).
        OutputExistsError: an output exists and `overwrite` is False.
    """
    sources = {Path(p).resolve() for p in inputs}
    existing = []
    for output in map(Path, outputs):
        if output.is_dir():
            raise IsADirectoryError(
                f"The output {output} is a folder: move it away or write elsewhere (-o)."
            )
        if output.exists():
            existing.append(output)
    if existing and not overwrite:
        first = existing[0]
        what = "the input" if first.resolve() in sources else "an existing file"
        more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
        raise OutputExistsError(
            f"The output {first} would replace {what}{more}: write elsewhere (-o), or pass "
            "--overwrite (overwrite=True) to replace it."
        )


def make_writable_folder(folder: str | Path) -> Path:
    """Create `folder` (and its parents) and check that a file can be written in it.

    Raises:
        OSError: it cannot be created or written (callers say what to do instead).
    """
    import tempfile

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tempfile.TemporaryFile(dir=folder).close()
    return folder
