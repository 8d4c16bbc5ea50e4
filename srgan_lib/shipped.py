"""The models shipped with the library: their names, model cards and verified weights files.

Reading a card needs neither Keras nor a backend, so `srgan models list` answers at once;
`models.pretrained(name)` builds the generator from the file this module checks.
"""

from __future__ import annotations

import json
from pathlib import Path

from srgan_lib import files

PRETRAINED_DIR = Path(__file__).parent / "pretrained"


class PretrainedIntegrityError(ValueError):
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
    """The weights file of a shipped model, after checking its sha256 against the card
    (PretrainedIntegrityError when it differs or the file is missing)."""
    card = pretrained_card(name)
    path = PRETRAINED_DIR / card["weights"]["file"]
    digest = files.sha256(path) if path.is_file() else "missing"
    if digest != card["weights"]["sha256"]:
        raise PretrainedIntegrityError(
            f"{path} does not match its model card (sha256 {digest[:12]}..., expected "
            f"{card['weights']['sha256'][:12]}...): the file is damaged or was replaced. "
            "Reinstall srgan-course (pip install --force-reinstall srgan-course)."
        )
    return path
