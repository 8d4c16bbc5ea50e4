"""How long `srgan` takes to answer the commands that need no model.

    python bench/cli_startup.py [--repeat 5]

Runs each command in a fresh process (as a user would) and prints the median wall time.
The target: under 2 s on a 2-core machine. Commands that load a model pay the Keras and
TensorFlow import (about 10 s on 2 busy cores) and are not listed here.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def commands(scratch: Path) -> dict[str, list[str]]:
    photo = scratch / "photo.png"
    photo.write_bytes(b"not read: the output check comes first")
    out = scratch / "out"
    out.mkdir()
    (out / "photo.png").write_bytes(b"an earlier result")
    return {
        "srgan --help": ["--help"],
        "srgan models list": ["models", "list"],
        "srgan data list": ["data", "list"],
        "srgan upscale (refused: output exists)": [
            "upscale", str(photo), "-o", str(out), "--weights", "srgan",
        ],
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print("| command | median wall time (s) | exit code |")
        print("| --- | ---: | ---: |")
        for label, argv in commands(Path(tmp)).items():
            times, code = [], None
            for _ in range(args.repeat):
                start = time.perf_counter()
                result = subprocess.run(
                    [sys.executable, "-m", "srgan_course.cli", *argv], capture_output=True
                )
                times.append(time.perf_counter() - start)
                code = result.returncode
            print(f"| {label} | {statistics.median(times):.2f} | {code} |")


if __name__ == "__main__":
    main()
