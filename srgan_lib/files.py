"""Writing files without losing anything: atomic replacement, and a check that refuses to
overwrite an input or an earlier output unless the caller asks for it; and `sha256`, the
one file digest the downloads, the shipped models' cards and grading compare."""

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
