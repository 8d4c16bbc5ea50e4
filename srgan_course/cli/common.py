"""What the command groups share: the one error type, argument types and options declared
once, and the checks every command makes before it writes anything.

Nothing here imports Keras, TensorFlow or JAX: a command that needs no model answers at once.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from srgan_lib.choices import SETS


class CommandError(Exception):
    """A problem the user can fix: `main` prints it as one line on stderr, exit code 2."""


def one_line(err: BaseException | str) -> str:
    """The text of `err` on one line."""
    return " ".join(str(err).split())


def command_line() -> str:
    """The command line as typed, for model cards."""
    return " ".join(["srgan", *sys.argv[1:]])


def count(minimum: int):
    """An argparse type: an integer >= minimum, refused with the allowed values."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}, got {text!r}")
        return value

    return parse


def set_names(text: str) -> list[str]:
    """ "Set5, Set14" -> ["Set5", "Set14"]."""
    return [name.strip() for name in text.split(",") if name.strip()]


def parse_parameters(pairs: list[str]) -> dict[str, str]:
    """["epochs=5", "dataset=div2k"] -> {"epochs": "5", "dataset": "div2k"}: the text of
    each value; the course runner reads it by the type of the lesson's default."""
    parameters = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise CommandError(f"parameter {pair!r} is not KEY=VALUE (e.g. epochs=5)")
        parameters[key.strip()] = value
    return parameters


def add_overwrite(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--overwrite", action="store_true", help="replace existing output files (default: refuse)"
    )


def add_notebooks(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--notebooks", default=None, help="lesson folder (default: ./notebooks where you run it)"
    )


def lesson_folder(given: str | None) -> Path:
    """The lessons a course command works on: --notebooks, else ./notebooks where it runs;
    says which folder it uses.

    Raises:
        CommandError: no lesson notebooks (NN_name.ipynb) there.
    """
    folder = Path(given) if given else Path.cwd() / "notebooks"
    if not sorted(folder.glob("[0-9][0-9]_*.ipynb")):
        where = f"--notebooks {given}" if given else f"{folder} (./notebooks where you run it)"
        raise CommandError(
            f"no lesson notebooks (NN_name.ipynb) in {where}: run it in the course's folder "
            "or pass --notebooks with the lessons' folder"
        )
    print(f"lessons: {folder}")
    return folder


def add_parameters(parser: argparse.ArgumentParser, help_text: str, metavar="KEY=VALUE") -> None:
    parser.add_argument(
        "-p", "--parameter", action="append", default=[], metavar=metavar, help=help_text
    )


SETS_DEFAULT = ",".join(SETS)


def add_sets(parser: argparse.ArgumentParser, help_text: str = "comma-separated sets") -> None:
    parser.add_argument(
        "--sets", default=SETS_DEFAULT, help=f"{help_text} (default {SETS_DEFAULT})"
    )
    parser.add_argument(
        "--data-dir", help="folder holding Set5/HR, ... (default: $SRGAN_DATA_DIR or data/)"
    )


def add_generator_options(parser: argparse.ArgumentParser) -> None:
    from srgan_lib.choices import SCALES  # plain Python: no Keras import

    parser.add_argument(
        "--scale", type=int, choices=SCALES, default=4, help="scale the weights must have"
    )
    parser.add_argument(
        "--num-blocks", type=count(1), help="residual blocks the weights must have (default: any)"
    )
    parser.add_argument(
        "--tile", type=count(1), help="LR tile size in pixels (default: whole image)"
    )
    parser.add_argument(
        "--overlap",
        type=count(0),
        default=16,
        help="LR pixels of context around each tile (default 16; 2*blocks+8, i.e. 40 for "
        "16 blocks, makes tiles seamless)",
    )


def check_weights(path: str) -> str:
    """A weights file that exists, or a shipped model's name ("srresnet", "srgan";
    "bundled" is "srresnet"), checked without loading anything.

    Raises:
        CommandError: neither a file nor a shipped model.
    """
    from srgan_lib import shipped

    name = "srresnet" if path == "bundled" else path
    if Path(path).is_file():
        return path
    if name in shipped.pretrained_names():
        return name
    raise CommandError(
        f"no weights file at {path}: pass --weights with the .weights.h5 or .keras file "
        f"of a generator saved by srgan_lib, or a shipped model "
        f"({', '.join(shipped.pretrained_names())})."
    )


def load_generator(path: str, scale: int, num_blocks: int | None):
    """The generator in a weights file or a shipped model (see `check_weights`)."""
    from srgan_lib import models, shipped

    path = check_weights(path)
    if path in shipped.pretrained_names() and not Path(path).is_file():
        try:
            path = str(shipped.pretrained_path(path))
        except shipped.PretrainedIntegrityError as err:
            raise CommandError(one_line(err)) from err
    try:
        return models.load_generator(path, scale=scale, num_blocks=num_blocks)
    except models.WeightsMismatchError as err:
        raise CommandError(one_line(err)) from err


def check_writable_folder(folder: str) -> Path:
    """Check that `folder` exists and takes a file, or could be created; creates nothing.

    Raises:
        CommandError: a file stands at that path, or the folder or its nearest existing
            parent cannot be written.
    """
    import os

    path = Path(folder)
    if path.exists() and not path.is_dir():
        raise CommandError(f"output folder {path} is a file: pass -o/--out with a folder.")
    probe = path
    while not probe.exists():
        probe = probe.parent
    if not os.access(probe, os.W_OK | os.X_OK):
        raise CommandError(
            f"cannot write to output folder {path} ({probe} is not writable): "
            "pass -o/--out with a folder you can write to."
        )
    return path


def make_folder(folder: Path) -> Path:
    """Create `folder` (after every check) and check a file can be written in it."""
    from srgan_lib import files

    try:
        files.make_writable_folder(folder)
    except OSError as err:
        raise CommandError(
            f"cannot write to output folder {folder} ({err.strerror or err}): "
            "pass -o/--out with a folder you can write to."
        ) from err
    return folder


def data_root(data_dir: str | None) -> Path:
    """The folder holding the benchmark sets: --data-dir (or its benchmarks/), else the
    first that `downloads.find_benchmarks` finds; else --data-dir or the download cache,
    for the error message."""
    from srgan_lib import downloads

    found = downloads.find_benchmarks(data_dir)
    return found or downloads.data_dir(data_dir, create=False)
