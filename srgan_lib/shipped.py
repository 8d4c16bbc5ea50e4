"""The models shipped with the library: their names, model cards and verified weights files.

Reading a card needs neither Keras nor a backend, so `srgan models list` answers at once;
`models.pretrained(name)` builds the generator from the file this module checks.
"""

from __future__ import annotations

import json
from pathlib import Path

from srgan_lib import files

PRETRAINED_DIR = Path(__file__).parent / "pretrained"


class PretrainedIntegrityError(files.DigestMismatchError):
    """A shipped weights file does not match the sha256 in its model card."""


def pretrained_names() -> list[str]:
    """The models shipped with the library ("srresnet", "srgan"): those with a card."""
    return sorted(path.stem for path in PRETRAINED_DIR.glob("*.json"))


def pretrained_card(name: str) -> dict:
    """The model card of a shipped model (`recipe.write_cards` wrote it): variant, training
    settings, hardware, command, the evaluation table and the weights' sha256."""
    path = PRETRAINED_DIR / f"{name}.json"
    if not path.is_file():
        raise ValueError(
            f"No shipped model {name!r}: choose one of {', '.join(pretrained_names())}."
        )
    return json.loads(path.read_text())


def pretrained_path(name: str) -> Path:
    """The weights file of a shipped model, after checking its sha256 against the card.

    Args:
        name: one of `pretrained_names()`.

    Returns:
        The path of its `.weights.h5` file.

    Raises:
        ValueError: no shipped model of that name.
        PretrainedIntegrityError: the file is missing or differs from the card's sha256.
    """
    card = pretrained_card(name)
    path = PRETRAINED_DIR / card["weights"]["file"]
    try:
        return files.check_digest(
            path,
            card["weights"]["sha256"],
            "its model card",
            "Reinstall srgan-course (pip install --force-reinstall srgan-course).",
        )
    except files.DigestMismatchError as err:
        raise PretrainedIntegrityError(str(err)) from err
