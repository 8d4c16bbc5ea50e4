"""Model cards of the recipe's trained generators (`recipe.write_cards` writes them): what
each is, how it was trained, how it scores beside the paper, and its weights' sha256,
as a dict (NAME.json) and as Markdown (NAME.md)."""

from __future__ import annotations

import csv
from pathlib import Path

import keras

from srgan_lib import __version__, files

NAMES = {"srresnet": "SRResNet", "srgan": "SRGAN"}


def _final_loss(run_dir: Path, column: str) -> float | None:
    path = run_dir / "history.csv"
    if not path.is_file():
        return None
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    return float(rows[-1][column]) if rows and column in rows[-1] else None


def _variant(stage: str, recipe) -> str:
    if stage == "srresnet":
        return "SRResNet: the generator trained with pixel MSE only (paper Sec. 3.2)"
    if recipe.srgan.content_loss == "mse":
        return (
            "SRGAN-MSE: pixel MSE content loss + 1e-3 adversarial loss (paper Table 1), not "
            "the paper's SRGAN-VGG54 (which needs ImageNet VGG19 weights)"
        )
    weights = "ImageNet" if recipe.srgan.vgg_weights == "imagenet" else recipe.srgan.vgg_weights
    return f"SRGAN-VGG54: VGG19 block5_conv4 content loss ({weights} weights) + 1e-3 adversarial"


def model_card(
    out: Path, stage: str, recipe, state: dict, results, figure, evaluated, command, parameters
) -> dict:
    """The model card of `stage` of the recipe trained into `out`.

    Args:
        out: the recipe's folder; stage: "srresnet" or "srgan".
        recipe: its `recipe.Recipe`; state: its recipe.json.
        results: the `evaluation.Results` of its generators beside bicubic.
        figure: the crop figure's path, or None; evaluated: the evaluation's hardware.
        command: the evaluation's command line; parameters: the generator's count.

    Returns:
        The card as a dict (written as NAME.json; `card_markdown` renders it).
    """
    progress = state["stages"][stage]
    config = recipe.config(stage, out)
    weights = out / f"{stage}.weights.h5"
    name = NAMES[stage]
    rows = [
        {k: row[k] for k in ("set", "method", "images", "psnr", "ssim", "detail", "paper_psnr")}
        | {"grid": row["grid"], "grid_hr": row["grid_hr"]}
        | {"paper_ssim": row["paper_ssim"], "paper_row": row.get("paper_row")}
        for row in results.summary
        if row["method"] in ("bicubic", name)
    ]
    return {
        "name": stage,
        "title": f"{name} x{config.scale}, {config.num_blocks} residual blocks",
        "variant": _variant(stage, recipe),
        "architecture": {
            "scale": config.scale,
            "num_blocks": config.num_blocks,
            "filters": config.filters,
            "parameters": parameters,
            "input": "LR RGB in [0, 1]",
            "output": f"SR RGB in [-1, 1], {config.scale}x the LR size",
        },
        "training": {
            "data": config.data,
            "initialised_from": "srresnet (this recipe's first stage)"
            if stage == "srgan"
            else "random",
            "steps": progress["steps"],
            "batch_size": config.batch_size,
            "hr_crop": config.hr_size,
            "lr_crop": config.hr_size // config.scale,
            "precision": config.precision,
            "steps_per_execution": config.steps_per_execution,
            "learning_rate_schedule": recipe.describe_schedule(stage),
            "content_loss": "pixel MSE"
            if stage == "srresnet" or config.content_loss == "mse"
            else "VGG54",
            "adversarial_weight": config.adversarial_weight if stage == "srgan" else None,
            "budget_seconds": round(progress["seconds_budget"], 1),
            "wall_seconds": progress["seconds_spent"],
            "final_loss": _final_loss(out / stage, "loss" if stage == "srresnet" else "g_loss"),
            "hardware": state["hardware"],
            "command": state["command"],
            "started": state["started"],
        },
        "evaluation": {
            "protocol": PROTOCOL,
            "hardware": evaluated,
            "command": command,
            "rows": rows,
        },
        "figure": figure.name if figure else None,
        "weights": {"file": weights.name, "sha256": files.sha256(weights)},
        "srgan_lib": __version__,
        "keras": keras.__version__,
    }


PROTOCOL = (
    "x4, Y channel (ITU-R BT.601), 4 border pixels removed; detail = high-frequency energy "
    "of SR relative to HR, periodic pattern excluded (metrics.detail); grid, HR grid = "
    "strength of the 4-pixel periodic pattern (sub-pixel grid) of SR and of the original, "
    "grey levels of Y on 0..255 (metrics.grid_strength)"
)


def _number(value, digits: int) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def card_markdown(card: dict) -> str:
    """A model card (the dict `write_cards` writes as JSON) as Markdown."""
    t, e = card["training"], card["evaluation"]
    lines = [
        f"# {card['title']}",
        "",
        f"**Variant:** {card['variant']}.",
        "",
        "## Training",
        "",
        "| setting | value |",
        "| --- | --- |",
    ]
    for key in (
        "data",
        "initialised_from",
        "steps",
        "batch_size",
        "hr_crop",
        "lr_crop",
        "precision",
        "steps_per_execution",
        "learning_rate_schedule",
        "content_loss",
        "adversarial_weight",
        "budget_seconds",
        "wall_seconds",
        "final_loss",
        "hardware",
        "started",
    ):
        if t.get(key) is not None:
            lines.append(f"| {key.replace('_', ' ')} | {t[key]} |")
    lines += [
        "",
        f"Trained with: `{t['command']}`",
        "",
        "## Evaluation",
        "",
        f"{e['protocol']}. Evaluated on: {e['hardware']}"
        + (f", with `{e['command']}`." if e.get("command") else "."),
        "",
        "| set | method | images | PSNR (dB) | SSIM | detail | grid | HR grid | paper PSNR "
        "| paper SSIM | paper row |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for row in e["rows"]:
        lines.append(
            f"| {row['set']} | {row['method']} | {row['images']} | {_number(row['psnr'], 2)} | "
            f"{_number(row['ssim'], 4)} | {_number(row['detail'], 2)} | "
            f"{_number(row.get('grid'), 2)} | {_number(row.get('grid_hr'), 2)} | "
            f"{_number(row['paper_psnr'], 2)} | {_number(row['paper_ssim'], 4)} | "
            f"{row.get('paper_row') or '–'} |"
        )
    lines += [
        "",
        "The paper's figures (Ledig et al., CVPR 2017; the row named in the last column: "
        "Table 1 for the loss variants such as SRGAN-MSE, Table 2 for bicubic) come from "
        "10^6 SRResNet and 2x10^5 SRGAN updates on 350,000 ImageNet images; its SSIM used "
        "another implementation, so compare SSIM within a column.",
    ]
    if card.get("figure"):
        lines += ["", f"![Zoomed crops: bicubic, SRResNet, SRGAN, original]({card['figure']})"]
    lines += [
        "",
        f"Weights: `{card['weights']['file']}`, sha256 `{card['weights']['sha256']}`.",
        f"srgan_lib {card['srgan_lib']}, Keras {card['keras']}.",
        "",
    ]
    return "\n".join(lines)
