"""Run a submission in a kernel that reaches as little as the machine allows, and end every
process it started.

Each submission runs in a fresh scratch folder under the system's temporary folder, outside
the autograder, submissions and output folders: the kernel's working folder holds only the
student's notebook with the hidden tests taken out. With bubblewrap (`bwrap`) installed and
working, the kernel runs under it: the whole file system read-only, the scratch folder the
only writable place, the autograder, submissions and output folders not mounted, its own
process and network namespaces, killed with the grader. Without it (the default on macOS,
Windows, or Linux without bwrap) those folders are out of reach by relative path only: code
that finds them by absolute path can read and write them as the teacher (see docs/teaching.md).
`SRGAN_GRADING_SANDBOX=none` turns bwrap off, `=bwrap` makes it required.

Whatever the mode, every process whose environment carries the submission's token, every
descendant of the kernel, and every orphan handed to the grader (it is made the Linux
"child subreaper") is killed when the submission is done, detached ones included.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import shutil
import signal
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import nbformat

from srgan_course.grading.feedback import limit_outputs

TOKEN_VARIABLE = "SRGAN_GRADING_TOKEN"
SANDBOX_VARIABLE = "SRGAN_GRADING_SANDBOX"
_LIVE_KERNELS: set[int] = set()
_LIVE_TOKENS: set[str] = set()  # of submissions being graded (their kernels may be starting)
_LOCK = threading.Lock()


@functools.cache
def _bwrap_works() -> bool:
    """Whether `bwrap` is installed and may make namespaces here (containers often refuse)."""
    if shutil.which("bwrap") is None:
        return False
    probe = ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    probe += ["--unshare-pid", "--unshare-net", "--die-with-parent", "true"]
    try:
        return subprocess.run(probe, capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def sandbox_mode() -> str:
    """ "bwrap" or "none": what the next kernel runs under (see the module's docstring).

    Raises:
        RuntimeError: SRGAN_GRADING_SANDBOX=bwrap where bwrap cannot run.
    """
    wanted = os.environ.get(SANDBOX_VARIABLE, "auto").strip().lower()
    if wanted == "none" or not sys.platform.startswith("linux"):
        return "none"
    if _bwrap_works():
        return "bwrap"
    if wanted == "bwrap":
        raise RuntimeError(
            f"{SANDBOX_VARIABLE}=bwrap but bwrap is missing or may not create namespaces here: "
            "install bubblewrap (apt-get install bubblewrap) or unset the variable"
        )
    return "none"


def sandbox_note(mode: str) -> str:
    """One line for the teacher: what the kernels can reach."""
    if mode == "bwrap":
        return (
            "sandbox: bwrap (each kernel writes only its scratch folder; the autograder, "
            "dist, submissions, output and ./notebooks folders are hidden from it)"
        )
    return (
        "sandbox: none (each kernel runs in its own scratch folder: other folders are out of "
        "reach by relative path only; install bubblewrap to hide them from absolute paths)"
    )


def _bwrap_prefix(root: Path, hidden: list[Path]) -> list[str]:
    argv = ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    keep = [Path(sys.prefix).resolve(), Path(__file__).resolve().parents[2], root]
    argv += ["--tmpfs", "/tmp"]
    for folder in keep[:2]:  # this Python and srgan_lib stay visible, even under /tmp
        if Path("/tmp") in folder.parents:
            argv += ["--ro-bind", str(folder), str(folder)]
    argv += ["--bind", str(root), str(root)]
    folders = {
        folder
        for folder in (Path(f).resolve() for f in hidden)
        if folder.is_dir() and not any(k == folder or folder in k.parents for k in keep)
    }
    for folder in sorted(folders):  # one mount per outermost folder
        if not any(other in folder.parents for other in folders):
            argv += ["--tmpfs", str(folder), "--remount-ro", str(folder)]  # empty, read-only
    argv += ["--unshare-pid", "--unshare-net", "--die-with-parent", "--chdir", str(root / "work")]
    # in its own PID namespace the kernel's parent is PID 1: no parent polling (bwrap's
    # --die-with-parent ends it with the grader); writable IPython and Matplotlib folders
    argv += ["--setenv", "JPY_PARENT_PID", "1", "--setenv", "IPYTHONDIR", str(root / "ipython")]
    argv += ["--setenv", "MPLCONFIGDIR", str(root / "matplotlib")]
    return argv


def _kernel_manager(root: Path, token: str, mode: str, hidden: list[Path]):
    """A kernel manager for this Python with this srgan_lib importable, talking over IPC
    sockets in `root` (POSIX), its environment marked with `token`."""
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager

    package_root = str(Path(__file__).resolve().parents[2])
    pythonpath = os.pathsep.join([package_root, *filter(None, [os.environ.get("PYTHONPATH")])])
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    spec = KernelSpec(
        argv=(_bwrap_prefix(root, hidden) if mode == "bwrap" else []) + argv,
        display_name="Python (current environment)",
        language="python",
        env={"PYTHONPATH": pythonpath, TOKEN_VARIABLE: token},
        # bwrap does not pass signals on: interrupt through the control channel
        interrupt_mode="message" if mode == "bwrap" else "signal",
    )

    class _CurrentEnvSpecs(KernelSpecManager):
        def get_kernel_spec(self, kernel_name):
            return spec

    manager = AsyncKernelManager(kernel_name="current-env", kernel_spec_manager=_CurrentEnvSpecs())
    manager.connection_file = str(root / "kernel.json")
    if os.name == "posix":
        manager.transport, manager.ip = "ipc", str(root / "ipc")
    return manager


# --- ending every process a submission started --------------------------------------------


def _enable_subreaper() -> None:
    """Make orphaned descendants (detached children of a dead kernel) children of this
    process (Linux), so they can be found and ended."""
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER


def _processes() -> dict[int, int]:
    """{pid: parent pid} of the processes this user can see (Linux /proc), else {}."""
    table = {}
    for entry in Path("/proc").glob("[0-9]*") if Path("/proc/self/stat").exists() else []:
        try:
            stat = (entry / "stat").read_text()
            table[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    return table


def _carries(pid: int, token: str) -> bool:
    try:
        return token.encode() in Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return False


def _strays(token: str, roots: set[int]) -> set[int]:
    """The processes to end: descendants of `roots`, those whose environment carries
    `token`, and orphans handed to this process that are neither a live kernel nor marked
    with the token of another submission being graded (a kernel still starting)."""
    table = _processes()
    me = os.getpid()
    with _LOCK:
        live, others = set(_LIVE_KERNELS), _LIVE_TOKENS - {token}
    found = {
        p
        for p, parent in table.items()
        if parent == me and p not in live and not any(_carries(p, t) for t in others)
    }
    found |= {p for p in table if p != me and _carries(p, token)}
    frontier = set(roots) | found
    while frontier:
        children = {p for p, parent in table.items() if parent in frontier} - found
        found |= children
        frontier = children
    return (found - {me}) - live


def end_processes(token: str, roots: set[int] = frozenset()) -> int:
    """Kill (SIGKILL) what `_strays` finds, a few rounds in case they fork; returns how
    many were ended."""
    ended = 0
    for _ in range(5):
        strays = _strays(token, roots)
        if not strays:
            break
        for pid in strays:
            try:
                os.kill(pid, signal.SIGKILL)
                ended += 1
            except OSError:
                pass
        for pid in strays:  # reap those that became this process's children
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(pid, 0)
    return ended


# --- running ------------------------------------------------------------------------------


def _record_reply(client, cell, cell_index, execute_reply) -> None:
    """Keep the kernel's reply for the cell (the grader reads the result from it), cap the
    outputs, and (nbgrader's safeguard) add the reply's error to the outputs when no
    matching error output was published."""
    content = (execute_reply or {}).get("content", {})
    client.replies[id(cell)] = content
    if content.get("status") == "error":
        ename = content.get("ename", "Error")
        if not any(
            o.get("output_type") == "error" and o.get("ename") == ename for o in cell.outputs
        ):
            cell.outputs.append(
                nbformat.v4.new_output(
                    "error",
                    ename=ename,
                    evalue=content.get("evalue", ""),
                    traceback=content.get("traceback")
                    or ["ERROR: the kernel reported an error while error display was disabled"],
                )
            )
    limit_outputs(cell)


class Execution:
    """What running a submission gave: the kernel's reply per cell (by `id(cell)`), the
    cells interrupted by the grader's time limit, and why execution stopped early (the
    kernel died), if it did."""

    def __init__(self):
        self.replies: dict[int, dict] = {}
        self.timed_out: set[int] = set()
        self.error: str | None = None
        self.died_at: int | None = None  # the notebook cell running when the kernel died
        self.sandbox = "none"

    def status(self, cell) -> str | None:
        """ "ok", "error", "timeout", or None if the cell never ran."""
        if id(cell) in self.timed_out:
            return "timeout"
        reply = self.replies.get(id(cell))
        return None if reply is None else reply.get("status", "error")


def run(
    nb,
    later: list,
    root: Path,
    timeout: int,
    hidden_folders: list[Path],
    kernel_log: Path | None = None,
) -> Execution:
    """Run the cells of `nb` in place, then the cells of `later` (the grader's hidden
    checks, not stored in the kernel's history), in one fresh kernel working in
    `root/work`; errors do not stop it, a cell past `timeout` s is interrupted. Every
    process the kernel started is ended before this returns."""
    from jupyter_core.utils import run_sync
    from nbclient import NotebookClient

    result = Execution()
    result.sandbox = sandbox_mode()
    token = uuid.uuid4().hex
    with _LOCK:
        _LIVE_TOKENS.add(token)
    _enable_subreaper()
    (root / "work").mkdir(exist_ok=True)
    manager = _kernel_manager(root, token, result.sandbox, hidden_folders)

    class _Client(NotebookClient):
        async def _async_handle_timeout(self, timeout, cell=None):
            if cell is not None:
                result.timed_out.add(id(cell))
            return await super()._async_handle_timeout(timeout, cell)

    client = _Client(
        nb,
        km=manager,
        timeout=timeout,
        interrupt_on_timeout=True,
        error_on_timeout={
            "ename": "CellTimeoutError",
            "evalue": f"the cell ran past the time limit ({timeout} s) and was interrupted",
            "traceback": [],
        },
        allow_errors=True,
        extra_arguments=["--HistoryManager.hist_file=:memory:"],
        resources={"metadata": {"path": str(root / "work")}},
    )
    client.replies = result.replies
    client.on_cell_executed = functools.partial(_record_reply, client)
    roots: set[int] = set()

    async def execute(**kwargs):
        try:
            async with client.async_setup_kernel(**kwargs):
                process = getattr(manager.provisioner, "process", None)
                if process is not None:
                    roots.add(process.pid)
                    with _LOCK:
                        _LIVE_KERNELS.add(process.pid)
                count = 0
                for index, cell in enumerate(nb.cells):
                    if cell.cell_type == "code":
                        count += 1
                    result.died_at = index
                    await client.async_execute_cell(cell, index, execution_count=count)
                result.died_at = None
                first = len(nb.cells)
                nb.cells.extend(later)  # nbclient stores each cell back by its index
                try:
                    for index, cell in enumerate(later, start=first):
                        await client.async_execute_cell(cell, index, store_history=False)
                finally:
                    del nb.cells[first:]
        finally:
            children = {p for p, parent in _processes().items() if parent in roots}
            end_processes(token, children)
            if client.kc is not None:
                client.kc.stop_channels()
            if manager.has_kernel:
                if await manager.is_alive():
                    await manager.shutdown_kernel(now=True)
                else:
                    await manager.cleanup_resources()

    log = None if kernel_log is None else Path(kernel_log).open("w")  # noqa: SIM115
    try:
        run_sync(execute)(**({} if log is None else {"stderr": log}))
    except Exception as err:  # DeadKernelError and the like: score what ran
        text = str(err).strip()
        result.error = f"{type(err).__name__}: {text.splitlines()[0] if text else ''}".rstrip(": ")
    finally:
        atexit.unregister(client._cleanup_kernel)
        with _LOCK:
            _LIVE_KERNELS.difference_update(roots)
        end_processes(token, roots)
        with _LOCK:
            _LIVE_TOKENS.discard(token)
        if log is not None:
            log.close()
    return result
