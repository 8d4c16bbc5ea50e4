"""Grid strength and detail of the originals, bicubic and the shipped generators on the
benchmark sets (issue 19): is SRGAN's extra "detail" texture or a sub-pixel grid?

For each set and method, the mean over the set's images of PSNR (dB, Y, 4 border pixels
removed), `metrics.detail` (periodic pattern removed), the same detail with the periodic
pattern counted (period 1: the definition before issue 19) and `metrics.grid_strength`
at period 4 (grey levels); the "HR" row scores the originals themselves.

    python bench/grid.py                                  # Set5, Set14; about 1 min on CPU
    python bench/grid.py --sets Set5,Set14,BSD100 --data-dir ../shared/data/benchmarks
    python bench/grid.py --fresh      # untrained generators: ICNR against plain, 3 seeds

`--fresh` scores instead the output of freshly initialised generators (2 and 16 residual
blocks, 64 filters, x4) on a 64x96 LR crop of skimage's coffee photograph.

Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from srgan_lib import data, downloads, inference, metrics, models  # noqa: E402

SCALE = 4


def score(methods: dict, sets: list[str], root: Path) -> list[dict]:
    """One row per (set, method) with the means over the set's images."""
    rows = []
    for set_name in sets:
        pairs = data.load_benchmark(set_name, root, scale=SCALE)
        per_method: dict[str, list[dict]] = {"HR": []}
        for pair in pairs:
            per_method["HR"].append({"grid": metrics.grid_strength(pair.hr, SCALE)})
        for name, method in methods.items():
            start = time.perf_counter()
            per_method[name] = []
            for pair in pairs:
                if method == "bicubic":
                    sr = data.bicubic_upscale(pair.lr, SCALE)
                else:
                    sr = inference.upscale(method, pair.lr)
                per_method[name].append(
                    {
                        "psnr": metrics.psnr(sr, pair.hr, SCALE),
                        "detail": metrics.detail(sr, pair.hr, SCALE, period=SCALE),
                        "detail_with_grid": metrics.detail(sr, pair.hr, SCALE, period=1),
                        "grid": metrics.grid_strength(sr, SCALE),
                    }
                )
            print(f"{set_name} {name}: {time.perf_counter() - start:.1f} s", file=sys.stderr)
        for name, scores in per_method.items():
            mean = {k: float(np.mean([s[k] for s in scores])) for k in scores[0]}
            rows.append({"set": set_name, "method": name, "images": len(scores), **mean})
    return rows


def fresh(seeds=(0, 1, 2)) -> str:
    """Grid strength of untrained generators' outputs, ICNR and plain, as Markdown."""
    import keras
    import skimage.data
    from skimage.transform import resize

    image = skimage.data.coffee()
    lr = resize(image, (image.shape[0] // 4, image.shape[1] // 4), anti_aliasing=True)
    lr = (lr[:64, :96] * 255).round().astype(np.uint8)
    lines = [
        "| residual blocks | initialisation | " + " | ".join(f"seed {s}" for s in seeds) + " |",
        "| ---: | --- |" + " ---: |" * len(seeds),
    ]
    for num_blocks in (2, 16):
        for icnr in (True, False):
            grids = []
            for seed in seeds:
                keras.utils.set_random_seed(seed)
                generator = models.build_generator(num_blocks=num_blocks, icnr=icnr)
                grids.append(metrics.grid_strength(inference.upscale(generator, lr), SCALE))
            name = "ICNR" if icnr else "plain"
            cells = " | ".join(f"{g:.3f}" for g in grids)
            lines.append(f"| {num_blocks} | {name} | {cells} |")
    return "\n".join(lines)


def markdown(rows: list[dict]) -> str:
    def cell(row, key, digits):
        return f"{row[key]:.{digits}f}" if key in row else "–"

    lines = [
        "| set | method | images | PSNR (dB) | detail | detail, grid counted | grid |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        lines.append(
            f"| {row['set']} | {row['method']} | {row['images']} | {cell(row, 'psnr', 2)} | "
            f"{cell(row, 'detail', 3)} | {cell(row, 'detail_with_grid', 3)} | "
            f"{cell(row, 'grid', 3)} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", default="Set5,Set14")
    parser.add_argument("--data-dir", help="folder holding Set5/HR, ... (default: found)")
    parser.add_argument("--models", default="srresnet,srgan", help="shipped models to score")
    parser.add_argument("--fresh", action="store_true", help="untrained generators instead")
    args = parser.parse_args()
    if args.fresh:
        print(fresh())
        return
    root = Path(args.data_dir or downloads.find_benchmarks() or downloads.data_dir())
    methods = {"bicubic": "bicubic"}
    for name in filter(None, args.models.split(",")):
        methods[name] = models.pretrained(name)
    print(markdown(score(methods, args.sets.split(","), root)))


if __name__ == "__main__":
    main()
