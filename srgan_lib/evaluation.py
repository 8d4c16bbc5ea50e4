"""Benchmark evaluation as in the SRGAN paper's Table 2: x4 PSNR and SSIM on Set5, Set14
and BSD100, measured on the Y channel (ITU-R BT.601) with 4 border pixels removed.

Lesson 06 and `srgan evaluate` use it. `evaluate` upscales every LR image of each set
with each method (a generator, or "bicubic"), scores it against its HR image, and
averages per set; `format_table` puts the paper's figures beside the measured ones and
`save_results` writes them to a run folder.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
from tqdm.auto import tqdm

from srgan_lib import data, files, inference, metrics
from srgan_lib.choices import SETS

# Ledig et al. (CVPR 2017), Table 2, x4: {set: {method: (PSNR dB, SSIM)}}. The paper's
# SSIM came from a different implementation than `metrics.ssim`; its PSNR is comparable
# (bicubic here: 28.43, 26.09, 25.96 dB).
PAPER_TABLE2: dict[str, dict[str, tuple[float, float]]] = {
    "Set5": {
        "bicubic": (28.43, 0.8211),
        "SRResNet": (32.05, 0.9019),
        "SRGAN": (29.40, 0.8472),
    },
    "Set14": {
        "bicubic": (25.99, 0.7486),
        "SRResNet": (28.49, 0.8184),
        "SRGAN": (26.02, 0.7397),
    },
    "BSD100": {
        "bicubic": (25.94, 0.6935),
        "SRResNet": (27.58, 0.7620),
        "SRGAN": (25.16, 0.6688),
    },
}

Method = keras.Model | str
PER_IMAGE_FIELDS = ("set", "method", "image", "psnr", "ssim", "detail")
SUMMARY_FIELDS = (
    "set", "method", "images", "expected", "psnr", "ssim", "detail", "paper_psnr", "paper_ssim"
)  # fmt: skip


@dataclass
class Results:
    """Scores of an evaluation.

    per_image: one row per (set, method, image):
    {"set", "method", "image", "psnr", "ssim", "detail"}.
    summary: one row per (set, method) with the means over the set's images and the
    paper's figures where it has them: {"set", "method", "images", "expected", "psnr",
    "ssim", "detail", "paper_psnr", "paper_ssim"} (paper_* None when the paper has no such
    entry, or when the set was scored in part: images < expected, and a part's mean is
    never set beside the paper's whole-set figure).
    PSNR in dB, SSIM in [-1, 1], detail: `metrics.detail` (1.0: as much fine detail as HR).
    scale: the upscaling factor, also the border (pixels) removed from each side.
    """

    per_image: list[dict] = field(default_factory=list)
    summary: list[dict] = field(default_factory=list)
    scale: int = 4


def paper_figures(set_name: str, method: str) -> tuple[float | None, float | None]:
    """The paper's (PSNR, SSIM) for a set and method, matching the method name without
    regard to case ("srgan", "SRGAN"); (None, None) if the paper has no such entry."""
    by_name = {name.lower(): v for name, v in PAPER_TABLE2.get(set_name, {}).items()}
    return by_name.get(method.lower(), (None, None))


def _super_resolve(
    method: Method, lr: np.ndarray, scale: int, tile: int | None, overlap: int
) -> np.ndarray:
    if isinstance(method, str):
        if method != "bicubic":
            raise ValueError(f'Unknown method {method!r}: pass a generator or "bicubic".')
        return data.bicubic_upscale(lr, scale)
    return inference.upscale(method, lr, tile=tile, overlap=overlap)


def evaluate(
    methods: Mapping[str, Method],
    sets: Sequence[str] = SETS,
    root: str | Path = "data",
    scale: int = 4,
    tile: int | None = None,
    overlap: int = 16,
    partial: bool = False,
) -> Results:
    """Score each method on each benchmark set found under `root`, at `scale`.

    methods: {name: generator or "bicubic"}; a generator takes LR in [0, 1] and returns
    SR in [-1, 1] (`inference.upscale` handles the conversions). Names matching the
    paper's ("bicubic", "SRResNet", "SRGAN") get its figures beside them.
    root: the folder holding `<set>/HR/*.png` and `<set>/LR_bicubic_x<scale>/*.png`.
    tile, overlap: passed to `inference.upscale` (tile None: whole images).
    partial: score an incomplete set's images present (the table then says "4 of 5
    (partial)"); by default an incomplete or empty set raises data.IncompleteSetError
    naming the missing files.
    Returns Results with per-image and per-set Y-channel PSNR (dB) and SSIM, computed
    after removing `scale` pixels from each side. The paper's figures are x4 only.
    """
    results = Results(scale=scale)
    for set_name in sets:
        pairs = data.load_benchmark(set_name, root, scale=scale, partial=partial)
        present, missing = data.benchmark_status(set_name, root, scale)
        expected = len(present) + len({Path(m).name for m in missing})
        for name, method in methods.items():
            rows = []
            for pair in tqdm(pairs, desc=f"{set_name} {name}", leave=False):
                sr = _super_resolve(method, pair.lr, scale, tile, overlap)
                rows.append(
                    {
                        "set": set_name,
                        "method": name,
                        "image": pair.name,
                        "psnr": metrics.psnr(sr, pair.hr, crop_border=scale),
                        "ssim": metrics.ssim(sr, pair.hr, crop_border=scale),
                        "detail": metrics.detail(sr, pair.hr, crop_border=scale),
                    }
                )
            paper_psnr, paper_ssim = paper_figures(set_name, name) if scale == 4 else (None, None)
            if len(rows) < expected:  # part of a set: its mean is not the set's figure
                paper_psnr = paper_ssim = None
            results.per_image.extend(rows)
            results.summary.append(
                {
                    "set": set_name,
                    "method": name,
                    "images": len(rows),
                    "expected": expected,
                    "psnr": float(np.mean([r["psnr"] for r in rows])),
                    "ssim": float(np.mean([r["ssim"] for r in rows])),
                    "detail": float(np.mean([r["detail"] for r in rows])),
                    "paper_psnr": paper_psnr,
                    "paper_ssim": paper_ssim,
                }
            )
    return results


def _fmt(value: float | None, digits: int) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def format_table(results: Results) -> str:
    """The per-set means as a Markdown table, the paper's Table 2 figures beside them:
    | set | method | images | PSNR (dB) | paper PSNR | SSIM | paper SSIM | detail |."""
    lines = [
        "| set | method | images | PSNR (dB) | paper PSNR | SSIM | paper SSIM | detail |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in results.summary:
        images = row["images"]
        if images != row.get("expected", images):
            images = f"{images} of {row['expected']} (partial)"
        lines.append(
            f"| {row['set']} | {row['method']} | {images} | {_fmt(row['psnr'], 2)} | "
            f"{_fmt(row['paper_psnr'], 2)} | {_fmt(row['ssim'], 4)} | "
            f"{_fmt(row['paper_ssim'], 4)} | {_fmt(row['detail'], 2)} |"
        )
    return "\n".join(lines)


def _csv_text(rows: list[dict], fields: Sequence[str]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def save_results(results: Results, run_dir: str | Path, overwrite: bool = False) -> Path:
    """Write `per_image.csv`, `summary.csv` and `summary.md` (the `format_table` table,
    with a note on how the figures were measured) into `run_dir`, each atomically;
    returns run_dir. Raises files.OutputExistsError before writing anything if one of
    them exists, unless `overwrite`."""
    run_dir = Path(run_dir)
    note = (
        f"x{results.scale}, PSNR and SSIM on the Y channel (ITU-R BT.601), {results.scale} "
        "border pixels removed, mean "
        "over each set's images. Paper: Ledig et al., CVPR 2017, Table 2 (its SSIM used "
        "another implementation, so compare SSIM only within a column). detail: high-frequency "
        "energy of SR relative to HR (`metrics.detail`; 1.0 = as much fine detail as HR, "
        "noise counts too).\n"
    )
    texts = {
        "per_image.csv": _csv_text(results.per_image, PER_IMAGE_FIELDS),
        "summary.csv": _csv_text(results.summary, SUMMARY_FIELDS),
        "summary.md": format_table(results) + "\n\n" + note,
    }
    files.check_outputs([run_dir / name for name in texts], overwrite)
    for name, text in texts.items():
        files.atomic_write(run_dir / name, lambda tmp, text=text: tmp.write_text(text))
    return run_dir
