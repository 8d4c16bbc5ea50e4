"""`srgan models list | train | card`: the shipped models and the recipe that made them."""

from __future__ import annotations

import argparse
import os

from srgan_course.cli.common import (
    CommandError,
    add_sets,
    command_line,
    data_root,
    one_line,
    set_names,
)
from srgan_lib.choices import PRECISIONS, RECIPE_CONTENT_LOSSES, SETS


def register(commands: argparse._SubParsersAction) -> None:
    models_parser = commands.add_parser("models", help="the shipped models and their recipe")
    models_commands = models_parser.add_subparsers(dest="models_command", required=True)
    listing = models_commands.add_parser("list", help="the shipped models and their figures")
    listing.set_defaults(func=run_list)

    train = models_commands.add_parser(
        "train", help="SRResNet then SRGAN under a wall-clock budget, evaluated, with model cards"
    )
    train.add_argument("--out", required=True, help="folder for the runs and cards")
    train.add_argument(
        "--budget-minutes", type=float, help="training minutes, both stages (default 7)"
    )
    train.add_argument(
        "--srgan-share", type=float, help="the SRGAN stage's share of the budget (default 2/7)"
    )
    train.add_argument("--data", help='"sunhays80" (default), "div2k" or a folder of HR images')
    train.add_argument("--max-images", type=int, help="use the first N images")
    train.add_argument(
        "--content-loss",
        choices=RECIPE_CONTENT_LOSSES,
        help="SRGAN stage: mse (SRGAN-MSE, default) or vgg54 (needs ImageNet VGG19)",
    )
    train.add_argument("--vgg-weights", help='"imagenet" (default) or a weights file')
    train.add_argument("--num-blocks", type=int, help="residual blocks (default 16)")
    train.add_argument("--hr-size", type=int, help="HR crop size (default 96)")
    train.add_argument("--batch-size", type=int, help="default 16")
    train.add_argument("--precision", choices=PRECISIONS)
    train.add_argument("--steps-per-execution", type=int, help="default 8")
    train.add_argument("--steps-per-epoch", type=int, help="default 400")
    train.add_argument("--no-cards", action="store_true", help="train only")
    add_sets(train, "benchmarks for the cards")
    train.set_defaults(func=run_train)

    card = models_commands.add_parser(
        "card", help="evaluate a finished recipe again and rewrite its model cards"
    )
    card.add_argument("out", metavar="DIR", help="the --out of `srgan models train`")
    add_sets(card, "benchmarks for the cards")
    card.set_defaults(func=run_card)


def run_list(args: argparse.Namespace) -> int:
    from srgan_lib import shipped  # the cards are JSON: no Keras, no backend

    print("| model | variant | steps | data | " + " | ".join(f"{s} PSNR" for s in SETS) + " |")
    print("| --- | --- | ---: | --- |" + " ---: |" * len(SETS))
    for name in shipped.pretrained_names():
        card = shipped.pretrained_card(name)
        psnr = {
            row["set"]: f"{row['psnr']:.2f}"
            for row in card["evaluation"]["rows"]
            if row["method"] != "bicubic"
        }
        print(
            f"| {name} | {card['variant'].split(':')[0]} | {card['training']['steps']:,} | "
            f"{card['training']['data']} | " + " | ".join(psnr.get(s, "–") for s in SETS) + " |"
        )
    print(f"cards: {shipped.PRETRAINED_DIR}/<model>.md")
    return 0


def run_train(args: argparse.Namespace) -> int:
    from srgan_lib import recipe

    settings = {
        "budget_minutes": args.budget_minutes,
        "srgan_share": args.srgan_share,
        "data": args.data,
        "max_images": args.max_images,
        "content_loss": args.content_loss,
        "vgg_weights": args.vgg_weights or os.environ.get("SRGAN_VGG_WEIGHTS"),
        "num_blocks": args.num_blocks,
        "hr_size": args.hr_size,
        "batch_size": args.batch_size,
        "precision": args.precision,
        "steps_per_execution": args.steps_per_execution,
        "steps_per_epoch": args.steps_per_epoch,
    }
    try:
        plan = recipe.Recipe.create(**{k: v for k, v in settings.items() if v is not None})
        recipe.train_models(plan, args.out, command=command_line())
        if not args.no_cards:
            cards = recipe.write_cards(
                args.out, set_names(args.sets), data_root(args.data_dir), command=command_line()
            )
            print(f"wrote {', '.join(str(c) for c in cards)}")
    except (FileNotFoundError, ValueError) as err:
        raise CommandError(one_line(err)) from err
    print(f"wrote {args.out}")
    return 0


def run_card(args: argparse.Namespace) -> int:
    from srgan_lib import recipe

    try:
        cards = recipe.write_cards(
            args.out, set_names(args.sets), data_root(args.data_dir), command=command_line()
        )
    except (FileNotFoundError, ValueError) as err:
        raise CommandError(one_line(err)) from err
    print(f"wrote {', '.join(str(c) for c in cards)}")
    return 0
