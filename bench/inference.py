"""Time and peak memory of `inference.upscale` with the paper's generator (16 blocks,
64 filters, x4, random weights), whole images and tiled, on the current Keras backend.

Each case runs in a fresh Python process, so its peak resident memory (ru_maxrss) is its
own: we report the peak during the upscale minus the resident memory just before it.
Times include tracing the predict function for each new input shape (once per whole
image; once per image for tiles, which share one window shape).

    python bench/inference.py                      # 128, 256, 512; whole and tile 128
    python bench/inference.py --sizes 128 256 --tile 96 --overlap 40
    python bench/inference.py --sizes 1024 --allow-huge   # whole 1024^2 needs ~20 GB

Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HUGE = 1024  # whole images at least this large need --allow-huge


def _rss_kib() -> int:
    """Current resident set size of this process, KiB (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status (Linux only)")


def run_case(size: int, tile: int | None, overlap: int) -> dict:
    """In this process: upscale one random size x size LR image and measure it."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import keras
    import numpy as np

    from srgan_lib import inference, models

    keras.utils.set_random_seed(0)
    generator = models.build_generator()
    image = np.random.default_rng(0).integers(0, 256, (size, size, 3), dtype=np.uint8)
    before = _rss_kib()
    start = time.perf_counter()
    sr = inference.upscale(generator, image, tile=tile, overlap=overlap)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {
        "backend": keras.backend.backend(),
        "size": size,
        "tile": tile,
        "overlap": overlap if tile else None,
        "seconds": seconds,
        "out_mpix_per_s": sr.shape[0] * sr.shape[1] / 1e6 / seconds,
        "peak_rss_increase_mib": max(0, peak - before) / 1024,
    }


def spawn(size: int, tile: int | None, overlap: int) -> dict:
    """Run one case in a fresh interpreter and return its measurements."""
    argv = [sys.executable, __file__, "--child", str(size), str(tile or 0), str(overlap)]
    done = subprocess.run(argv, capture_output=True, text=True, env=os.environ.copy())
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1:] or ["(no output)"]
        return {"size": size, "tile": tile, "error": f"exit {done.returncode}: {tail[0]}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def table(rows: list[dict]) -> str:
    lines = [
        "| LR size | output | mode | time (s) | output Mpx/s | peak RSS increase (MiB) |",
        "| --- | --- | --- | ---: | ---: | ---: |",
    ]
    for r in rows:
        mode = f"tile {r['tile']}, overlap {r.get('overlap')}" if r["tile"] else "whole"
        out = f"{4 * r['size']}^2"
        if "error" in r:
            lines.append(f"| {r['size']}^2 | {out} | {mode} | {r['error']} | | |")
            continue
        lines.append(
            f"| {r['size']}^2 | {out} | {mode} | {r['seconds']:.1f} | "
            f"{r['out_mpix_per_s']:.2f} | {r['peak_rss_increase_mib']:.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256, 512])
    parser.add_argument("--tile", type=int, default=128, help="LR tile size; 0: whole only")
    parser.add_argument("--overlap", type=int, default=16)
    parser.add_argument(
        "--allow-huge", action="store_true", help=f"also run whole images of >= {HUGE}^2"
    )
    parser.add_argument("--child", nargs=3, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        size, tile, overlap = args.child
        print(json.dumps(run_case(size, tile or None, overlap)))
        return
    rows = []
    for size in args.sizes:
        modes = [None] if size < HUGE or args.allow_huge else []
        if args.tile:
            modes.append(args.tile)
        for tile in modes:
            rows.append(spawn(size, tile, args.overlap))
            print(table(rows[-1:]).splitlines()[-1], file=sys.stderr, flush=True)
    backend = next((r["backend"] for r in rows if "backend" in r), "?")
    print(f"Keras backend {backend}, {os.cpu_count()} CPUs visible, 16 blocks, random weights\n")
    print(table(rows))


if __name__ == "__main__":
    main()
