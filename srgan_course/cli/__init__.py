"""The `srgan` command line: one subcommand per job.

srgan demo                          build the models, upscale a sample, save pictures
srgan train --stage srresnet|srgan  train into a run directory (resumable)
srgan upscale IN... -o OUT --weights W   super-resolve image files
srgan evaluate [--weights W...]     PSNR/SSIM on Set5, Set14, BSD100 beside Table 2
srgan models list | train | card    the shipped models, the recipe that trains them
srgan data download NAME ... | list  fetch and cache data sets, or list them
srgan course run                    execute every lesson (papermill)
srgan course student [--out dist]   student and autograder copies of the lessons
srgan course solutions              the worked solutions, to release after the deadline
srgan course grade SUBMISSIONS_DIR  grade a class into a gradebook, with feedback
srgan course gradebook GRADING_DIR  rebuild the gradebook (manual marks, roster)
srgan course sweep LESSON -p epochs=5,20,100 --out DIR
                                    rerun one lesson per parameter value, compare
srgan course publish --repo OWNER/NAME --ref REF
                                    point the Colab badges and installs at a fork

Every command reports a problem as one line on stderr (`srgan --debug ...` shows the
traceback) and replaces no existing file unless given --overwrite.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import warnings
from collections.abc import Iterator

from srgan_course.cli import course, data, demo, evaluate, models, train, upscale
from srgan_course.cli.common import CommandError, one_line

# One module per command group, in the order `srgan --help` lists them.
GROUPS = (demo, train, upscale, evaluate, models, data, course)


def build_parser() -> argparse.ArgumentParser:
    """The `srgan` parser: each command group adds its own subcommands."""
    parser = argparse.ArgumentParser(prog="srgan", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--debug",
        action="store_true",
        help="show tracebacks and TensorFlow's log instead of one-line errors (any position)",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for group in GROUPS:
        group.register(commands)
    return parser


@contextlib.contextmanager
def _quiet_tensorflow() -> Iterator[None]:
    """Hide TensorFlow's log lines for the command. TF_CPP_MIN_LOG_LEVEL (set unless the
    user set it) hides most; the lines absl prints before its logging is initialised
    (oneDNN, CPU features) ignore it and go straight to file descriptor 2, so fd 2 points
    at /dev/null while Python's sys.stderr writes to a copy of the real one: srgan's own
    messages, warnings and progress bars still show. Under a captured sys.stderr (tests,
    notebooks) only the variable is set."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        fd = sys.stderr.fileno() if sys.stderr is sys.__stderr__ else None
    except (OSError, ValueError, AttributeError):
        fd = None
    if fd is None:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)
    sys.stderr = os.fdopen(os.dup(saved), "w", buffering=1)
    try:
        yield
    finally:
        sys.stderr.close()
        sys.stderr = sys.__stderr__
        os.dup2(saved, fd)
        os.close(saved)


def _note(command: str):
    """A warnings.showwarning that prints srgan_lib's own warnings as one line."""
    default = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if category.__module__.startswith("srgan_lib"):
            print(f"srgan {command}: note: {one_line(message)}", file=sys.stderr)
        else:
            default(message, category, filename, lineno, file, line)

    return show


def _message(err: BaseException) -> str:
    """One line for any exception: the library's own messages as they are; an OSError's
    reason and file; anything unexpected with its type and a pointer to --debug."""
    if isinstance(err, OSError) and err.strerror and err.filename:
        text = f"{err.strerror}: {err.filename}"
    else:
        text = one_line(err) or type(err).__name__
    expected = (CommandError, ValueError, OSError, RuntimeError, ArithmeticError)
    if not isinstance(err, expected):
        text = f"{type(err).__name__}: {text} (unexpected: `srgan --debug ...` shows where)"
    return text


def main(argv: list[str] | None = None) -> int:
    """Run one `srgan` command. `--debug` (anywhere) shows tracebacks and TensorFlow's
    log; without it every problem is one line on stderr, and Ctrl-C says how to go on.
    Exit codes: 0 done, 1 a training error, 2 any other error, 130 stopped by Ctrl-C."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    argv = [arg for arg in argv if arg != "--debug"]
    args = build_parser().parse_args(argv)
    command = " ".join(filter(None, [args.command, getattr(args, f"{args.command}_command", None)]))
    quiet = contextlib.nullcontext() if debug else _quiet_tensorflow()
    try:
        with quiet, warnings.catch_warnings():
            warnings.showwarning = _note(command)
            return args.func(args)
    except KeyboardInterrupt:
        if debug:
            raise
        hint = getattr(args, "stopped_hint", "run the same command again")
        print(f"srgan {command}: stopped; {hint}.", file=sys.stderr)
        return 130
    except Exception as err:
        if debug:
            raise
        print(f"srgan {command}: error: {_message(err)}", file=sys.stderr)
        return 1 if args.command == "train" and not isinstance(err, CommandError) else 2
