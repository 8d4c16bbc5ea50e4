"""Re-measure the shipped models' cards with this library's metrics, weights untouched.

When a metric is added or redefined (issue 19: `grid`, `grid_hr`, and `detail` without
periodic energy; issue 18: a grey image scored on its grey values, each variant beside its
own paper row), the shipped cards in `srgan_lib/pretrained/` are evaluated again on the
sets they list: every row's figures are replaced by the new evaluation's, which must
reproduce the card's PSNR on every set without grey images (within 0.005 dB, else nothing
is written; a set with grey images prints its change), and the Markdown card is written
again from the JSON. Training facts and the weights' sha256 stay.

    python bench/refresh_cards.py --data-dir ../shared/data/benchmarks   # ~5 min on CPU
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from srgan_lib import cards as model_cards  # noqa: E402
from srgan_lib import downloads, evaluation, files, models, recipe, runtime  # noqa: E402

COMMAND = "python bench/refresh_cards.py"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", help="folder holding Set5/HR, ... (default: found)")
    args = parser.parse_args()
    root = Path(args.data_dir or downloads.find_benchmarks() or downloads.data_dir())
    cards = {name: models.pretrained_card(name) for name in models.pretrained_names()}
    methods = {"bicubic": "bicubic"}
    for name in cards:
        methods[recipe.NAMES[name]] = models.pretrained(name)
    sets = list(dict.fromkeys(r["set"] for c in cards.values() for r in c["evaluation"]["rows"]))
    variants = {
        recipe.NAMES[name]: card["variant"].split(":")[0].replace("SRResNet", "SRResNet-MSE")
        for name, card in cards.items()
    }
    results = evaluation.evaluate(methods, sets=sets, root=root, variants=variants)
    summary = {(r["set"], r["method"]): r for r in results.summary}
    for card in cards.values():
        for row in card["evaluation"]["rows"]:
            new = summary[(row["set"], row["method"])]
            change = new["psnr"] - row["psnr"]
            if new["grey_images"]:
                print(
                    f"{row['set']} {row['method']}: {row['psnr']:.2f} -> {new['psnr']:.2f} dB "
                    f"({new['grey_images']} grey image scored on its grey values)"
                )
            elif abs(change) > 0.005:
                raise SystemExit(f"{row} no longer reproduced: {new['psnr']:.3f} dB")
            keys = ("psnr", "ssim", "detail", "grid", "grid_hr", "paper_psnr", "paper_ssim")
            row.update({k: new[k] for k in keys} | {"paper_row": new["paper_row"]})
        card["evaluation"].update(
            protocol=model_cards.PROTOCOL, hardware=runtime.describe_runtime(), command=COMMAND
        )
    for name, card in cards.items():
        for path, text in (
            (models.PRETRAINED_DIR / f"{name}.json", json.dumps(card, indent=2) + "\n"),
            (models.PRETRAINED_DIR / f"{name}.md", model_cards.card_markdown(card)),
        ):
            files.atomic_write(path, lambda tmp, text=text: tmp.write_text(text))
        print(f"wrote {models.PRETRAINED_DIR / name}.json and .md")


if __name__ == "__main__":
    main()
