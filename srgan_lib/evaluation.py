"""Benchmark evaluation as in the SRGAN paper's Table 2: x4 PSNR and SSIM on Set5, Set14
and BSD100, measured on the Y channel (ITU-R BT.601) with 4 border pixels removed.

Lesson 06 and `srgan evaluate` use it. `evaluate` upscales every LR image of each set
with each method (a generator, or "bicubic"), scores it against its HR image, and
averages per set; `format_table` puts the paper's figures of the same variant beside the
measured ones (Table 1 for the loss variants such as SRGAN-MSE, Table 2 for bicubic,
SRResNet and SRGAN-VGG54) and `save_results` writes them to a run folder. Beside PSNR and
SSIM stand `metrics.detail` (fine detail relative to HR) and `metrics.grid_strength` (the
sub-pixel grid, at the scale's period) of SR and of HR: a grid above HR's is an artefact,
not detail.

A single-channel (grey) benchmark image, such as Set14's img_003, is scored on its own
grey values (0..255), as MATLAB-based evaluation scripts do, not on the Y of its RGB copy
(which would add the 16 + 219/255 scaling of BT.601 and raise its PSNR by 1.32 dB).
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

# Ledig et al. (CVPR 2017), Table 2, x4: {set: {method: (PSNR dB, SSIM)}}; its SRResNet
# is SRResNet-MSE and its SRGAN is SRGAN-VGG54. The paper's SSIM came from a different
# implementation than `metrics.ssim`; its PSNR is comparable (bicubic here: 28.43, 25.99,
# 25.96 dB).
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

# Table 1, x4: the loss variants on Set5 and Set14, {set: {variant: (PSNR dB, SSIM)}}.
PAPER_TABLE1: dict[str, dict[str, tuple[float, float]]] = {
    "Set5": {
        "SRResNet-MSE": (32.05, 0.9019),
        "SRResNet-VGG22": (30.51, 0.8803),
        "SRGAN-MSE": (30.64, 0.8701),
        "SRGAN-VGG22": (29.84, 0.8468),
        "SRGAN-VGG54": (29.40, 0.8472),
    },
    "Set14": {
        "SRResNet-MSE": (28.49, 0.8184),
        "SRResNet-VGG22": (27.19, 0.7807),
        "SRGAN-MSE": (26.92, 0.7611),
        "SRGAN-VGG22": (26.44, 0.7518),
        "SRGAN-VGG54": (26.02, 0.7397),
    },
}
# Table 2's names for the variants it reports (its only rows for BSD100).
TABLE2_NAMES = {"SRResNet-MSE": "SRResNet", "SRGAN-VGG54": "SRGAN"}
# Table 2, mean opinion score (26 raters, 1 bad .. 5 excellent): {set: {method: MOS}}.
PAPER_MOS: dict[str, dict[str, float]] = {
    "Set5": {"bicubic": 1.97, "SRResNet": 3.37, "SRGAN": 3.58, "HR": 4.32},
    "Set14": {"bicubic": 1.80, "SRResNet": 2.98, "SRGAN": 3.72, "HR": 4.32},
    "BSD100": {"bicubic": 1.47, "SRResNet": 2.29, "SRGAN": 3.56, "HR": 4.46},
}

Method = keras.Model | str
PER_IMAGE_FIELDS = (
    "set",
    "method",
    "image",
    "channel",
    "psnr",
    "ssim",
    "detail",
    "grid",
    "grid_hr",
)
SUMMARY_FIELDS = (
    "set", "method", "variant", "images", "expected", "grey_images", "psnr", "ssim", "detail",
    "grid", "grid_hr", "paper_psnr", "paper_ssim", "paper_row",
)  # fmt: skip
_GREY_WEIGHTS = np.array([0.299, 0.587, 0.114])  # BT.601 luma without the 16..235 range


@dataclass
class Results:
    """Scores of an evaluation.

    per_image: one row per (set, method, image):
    {"set", "method", "image", "channel", "psnr", "ssim", "detail", "grid", "grid_hr"};
    channel "Y" (the BT.601 Y of an RGB image) or "grey" (a single-channel image's own
    grey values).
    summary: one row per (set, method) with the means over the set's images and the
    paper's figures of the method's variant where it has them: {"set", "method",
    "variant", "images", "expected", "grey_images", "psnr", "ssim", "detail", "grid",
    "grid_hr", "paper_psnr", "paper_ssim", "paper_row"} (paper_row: which row of which
    table, e.g. "Table 1 SRGAN-MSE"; paper_* None when the paper has no such entry, or
    when the set was scored in part: images < expected, and a part's mean is never set
    beside the paper's whole-set figure).
    PSNR in dB, SSIM in [-1, 1], detail: `metrics.detail` (1.0: as much fine detail as HR,
    periodic patterns not counted), grid and grid_hr: `metrics.grid_strength` of SR and of
    HR at the scale's period, in grey levels (HR's is the floor: the original's own).
    scale: the upscaling factor, also the border (pixels) removed from each side.
    """

    per_image: list[dict] = field(default_factory=list)
    summary: list[dict] = field(default_factory=list)
    scale: int = 4


def paper_row(set_name: str, method: str) -> str | None:
    """Which row of the paper holds `method` on `set_name`: a variant of Table 1
    ("SRGAN-MSE" on Set5 -> "Table 1 SRGAN-MSE"), else a method of Table 2 ("bicubic",
    "SRResNet", "SRGAN", or the variants it reports: SRResNet-MSE, SRGAN-VGG54), without
    regard to case; None if the paper has no such entry."""
    wanted = method.lower()
    for variant in PAPER_TABLE1.get(set_name, {}):
        if variant.lower() == wanted:
            return f"Table 1 {variant}"
    aliases = {variant.lower(): name.lower() for variant, name in TABLE2_NAMES.items()}
    for name in PAPER_TABLE2.get(set_name, {}):
        if name.lower() == aliases.get(wanted, wanted):
            return f"Table 2 {name}" + (" (VGG54)" if name == "SRGAN" else "")
    return None


def paper_figures(set_name: str, method: str) -> tuple[float | None, float | None]:
    """The paper's (PSNR, SSIM) for a set and a method or variant (`paper_row` says which
    row); (None, None) if the paper has no such entry."""
    row = paper_row(set_name, method)
    if row is None:
        return None, None
    table, name = row.split(" ")[1], row.split(" ")[2]
    return (PAPER_TABLE1 if table == "1" else PAPER_TABLE2)[set_name][name]


def variant_name(stage: str, content_loss: str = "mse") -> str:
    """The paper's name (Table 1) for a generator trained in `stage` ("srresnet",
    "srgan") with `content_loss` ("mse", "vgg22", "vgg54"): "SRGAN-MSE", "SRResNet-MSE"...
    SRResNet trains on the pixel MSE in this library whatever `content_loss` says."""
    if stage == "srresnet":
        return "SRResNet-MSE"
    return f"SRGAN-{content_loss.upper()}"


def grey_images(hr_folder: str | Path) -> set[str]:
    """Names (file stems) of the single-channel images in a benchmark's HR folder."""
    return {
        path.stem
        for path in data.list_images(hr_folder)
        if data.open_image(path).mode in data.GRAYSCALE_MODES
    }


def _grey(image: np.ndarray) -> np.ndarray:
    """uint8 RGB (H, W, 3) -> its grey values, float (H, W) in [0, 1]: the luma of BT.601
    on the full 0..255 range (for a grey image stored as RGB, its grey value itself)."""
    return image.astype(np.float64) @ _GREY_WEIGHTS / 255.0


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
    variants: Mapping[str, str] | None = None,
) -> Results:
    """Score each method on each benchmark set found under `root`, at `scale`.

    methods: {name: generator or "bicubic"}; a generator takes LR in [0, 1] and returns
    SR in [-1, 1] (`inference.upscale` handles the conversions).
    variants: {name: the paper's variant it is, e.g. "SRGAN-MSE" (`variant_name`)}; each
    method gets the paper's figures of its variant, else of its name ("bicubic",
    "SRResNet", "SRGAN": Table 2, where SRGAN is SRGAN-VGG54), else none.
    root: the folder holding `<set>/HR/*.png` and `<set>/LR_bicubic_x<scale>/*.png`.
    tile, overlap: passed to `inference.upscale` (tile None: whole images).
    partial: score an incomplete set's images present (the table then says "4 of 5
    (partial)"); by default an incomplete or empty set raises data.IncompleteSetError
    naming the missing files.
    Returns Results with per-image and per-set PSNR (dB), SSIM, detail and grid strength
    (SR's and HR's) on the Y channel (a single-channel image: on its grey values),
    computed after removing `scale` pixels from each side. The paper's figures are x4 only.
    """
    variants = dict(variants or {})
    results = Results(scale=scale)
    for set_name in sets:
        pairs = data.load_benchmark(set_name, root, scale=scale, partial=partial)
        present, missing = data.benchmark_status(set_name, root, scale)
        expected = len(present) + len({Path(m).name for m in missing})
        grey = grey_images(Path(root) / set_name / "HR")
        grid_hr = {
            pair.name: metrics.grid_strength(
                _grey(pair.hr) if pair.name in grey else pair.hr, period=scale, crop_border=scale
            )
            for pair in pairs
        }
        for name, method in methods.items():
            rows = []
            for pair in tqdm(pairs, desc=f"{set_name} {name}", leave=False):
                sr, hr = _super_resolve(method, pair.lr, scale, tile, overlap), pair.hr
                if pair.name in grey:  # scored on its own grey values, not BT.601's Y
                    sr, hr = _grey(sr), _grey(hr)
                rows.append(
                    {
                        "set": set_name,
                        "method": name,
                        "image": pair.name,
                        "channel": "grey" if pair.name in grey else "Y",
                        "psnr": metrics.psnr(sr, hr, crop_border=scale),
                        "ssim": metrics.ssim(sr, hr, crop_border=scale),
                        "detail": metrics.detail(sr, hr, crop_border=scale, period=scale),
                        "grid": metrics.grid_strength(sr, period=scale, crop_border=scale),
                        "grid_hr": grid_hr[pair.name],
                    }
                )
            variant = variants.get(name, name)
            row = paper_row(set_name, variant) if scale == 4 else None
            paper_psnr, paper_ssim = paper_figures(set_name, variant) if row else (None, None)
            if len(rows) < expected:  # part of a set: its mean is not the set's figure
                paper_psnr = paper_ssim = row = None
            results.per_image.extend(rows)
            results.summary.append(
                {
                    "set": set_name,
                    "method": name,
                    "variant": variants.get(name, ""),
                    "images": len(rows),
                    "expected": expected,
                    "grey_images": sum(r["channel"] == "grey" for r in rows),
                    "psnr": float(np.mean([r["psnr"] for r in rows])),
                    "ssim": float(np.mean([r["ssim"] for r in rows])),
                    "detail": float(np.mean([r["detail"] for r in rows])),
                    "grid": float(np.mean([r["grid"] for r in rows])),
                    "grid_hr": float(np.mean([r["grid_hr"] for r in rows])),
                    "paper_psnr": paper_psnr,
                    "paper_ssim": paper_ssim,
                    "paper_row": row,
                }
            )
    return results


def _fmt(value: float | None, digits: int) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def format_table(results: Results) -> str:
    """The per-set means as a Markdown table, the paper's figures of each method's
    variant beside them and the row they come from: | set | method | images | PSNR (dB)
    | paper PSNR | SSIM | paper SSIM | detail | grid | HR grid | paper row |. grid and HR
    grid: the grid strength of SR and of the original, in grey levels ("–" for rows
    without them). A method with a variant reads "name (variant)"; images reads
    "14 (1 grey)" when single-channel images were scored on their grey values, "4 of 5
    (partial)" for part of a set."""
    lines = [
        "| set | method | images | PSNR (dB) | paper PSNR | SSIM | paper SSIM | detail | grid "
        "| HR grid | paper row |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for row in results.summary:
        images = row["images"]
        if images != row.get("expected", images):
            images = f"{images} of {row['expected']} (partial)"
        if row.get("grey_images"):
            images = f"{images} ({row['grey_images']} grey)"
        method = row["method"]
        if row.get("variant") and row["variant"] != method:
            method = f"{method} ({row['variant']})"
        lines.append(
            f"| {row['set']} | {method} | {images} | {_fmt(row['psnr'], 2)} | "
            f"{_fmt(row['paper_psnr'], 2)} | {_fmt(row['ssim'], 4)} | "
            f"{_fmt(row['paper_ssim'], 4)} | {_fmt(row['detail'], 2)} | "
            f"{_fmt(row.get('grid'), 2)} | {_fmt(row.get('grid_hr'), 2)} | "
            f"{row.get('paper_row') or '–'} |"
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
        "over each set's images; a single-channel (grey) image is scored on its own grey "
        'values, as MATLAB-based scripts do ("(1 grey)" in the images column). Paper: '
        "Ledig et al., CVPR 2017, the row named in the last column (Table 1: the loss "
        "variants; Table 2: bicubic, SRResNet = SRResNet-MSE, SRGAN = SRGAN-VGG54); its SSIM "
        "used another implementation, so compare SSIM only within a column. detail: high-frequency "
        "energy of SR relative to HR (`metrics.detail`; 1.0 = as much fine detail as HR, "
        "noise counts too, a periodic pattern does not). grid, HR grid: strength of the "
        f"{results.scale}-pixel periodic pattern (sub-pixel grid) of SR and of the original "
        "(`metrics.grid_strength`, grey levels of Y on 0..255; the original's is the floor).\n"
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
