"""Safe extraction of zip and tar archives (DIV2K's downloads): every member must land
inside the target folder, links included, and the unpacked size is capped."""

from __future__ import annotations

import errno
import os
import shutil
import stat
import tarfile
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ArchiveError", "extract_archive", "size_cap"]


_CHUNK = 1 << 20


class ArchiveError(RuntimeError):
    """An archive that is damaged, not trustworthy or too large to extract, or no room
    for it: one line saying why and what to do."""


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


def _refuse(archive: Path, member: str, why: str) -> ArchiveError:
    return ArchiveError(
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
    checked to stay inside the target. Raises ArchiveError naming the first bad member."""
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
            raise ArchiveError(
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
        ArchiveError: one line saying why: not an archive, a damaged archive, a member
            that would land outside `target` (absolute path, `..`, a link chain), a link
            in a zip, a device, too many bytes, or a full disk.
    """
    archive, target = Path(archive), Path(target)
    if not (zipfile.is_zipfile(archive) or tarfile.is_tarfile(archive)):
        raise ArchiveError(
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
            raise ArchiveError(
                f"{archive} is damaged ({err}). Delete it and run the command again."
            ) from err
        except OSError as err:
            if err.errno == errno.ENOSPC:
                raise ArchiveError(
                    f"The disk is full: extracting {archive} needs more space in {target.parent}. "
                    "Free space there, or set SRGAN_DATA_DIR to a folder on a larger disk, then "
                    "run the same command again."
                ) from err
            raise ArchiveError(
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
