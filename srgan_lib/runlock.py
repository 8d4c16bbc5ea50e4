"""One writer per run folder: `hold(run_dir)` creates `run_dir/run.lock` (pid, host, start
time) for the duration of a training run and refuses a second `train` or `--resume` of
the same run while the first is alive. A lock left by a crashed run (its process gone on
this host, or an empty lock older than a minute) is replaced."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

LOCK_NAME = "run.lock"
_EMPTY_LOCK_GRACE_S = 60


class RunLockedError(RuntimeError):
    """Another live process is training in the same run folder."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _owner(path: Path) -> dict | None:
    """The lock's contents, or None if it is empty or unreadable (a crash mid-write)."""
    try:
        owner = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return owner if isinstance(owner, dict) and isinstance(owner.get("pid"), int) else None


def _stale(path: Path, owner: dict | None) -> bool:
    if owner is None:
        with contextlib.suppress(OSError):
            return time.time() - path.stat().st_mtime > _EMPTY_LOCK_GRACE_S
        return True
    return owner.get("host") == socket.gethostname() and not _alive(owner["pid"])


@contextlib.contextmanager
def hold(run_dir: str | Path) -> Iterator[Path]:
    """Hold the run folder's lock while the `with` block runs; yields the lock's path.
    Creates `run_dir` if needed and removes it again if it is left empty.

    Raises:
        RunLockedError: a live process (this one included) holds the lock.
    """
    run_dir = Path(run_dir)
    created = not run_dir.exists()
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / LOCK_NAME
    me = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.ctime()}
    try:
        for _ in range(3):
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                owner = _owner(path)
                if _stale(path, owner):
                    path.unlink(missing_ok=True)
                    continue
                who = (
                    f"process {owner['pid']} on {owner.get('host')} (since {owner.get('started')})"
                    if owner
                    else "another process"
                )
                raise RunLockedError(
                    f"{run_dir} is being trained by {who}: one run folder has one writer. "
                    f"Wait for it to finish or stop it; if no such process runs any more, "
                    f"delete {path}."
                ) from None
            with os.fdopen(fd, "w") as handle:
                json.dump(me, handle)
            break
        else:
            raise RunLockedError(f"Cannot take the lock {path}: it keeps reappearing.")
        try:
            yield path
        finally:
            if _owner(path) == me:
                path.unlink(missing_ok=True)
    finally:
        if created:
            with contextlib.suppress(OSError):
                run_dir.rmdir()  # only if empty: nothing was written
