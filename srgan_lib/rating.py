"""The class's own mean opinion score test (Ledig et al., CVPR 2017, Sec. 3.4, Table 2).

Each student scores crops of the benchmark images from 1 (bad) to 5 (excellent), one at a
time, in random order and blind: nearest neighbour, bicubic, the shipped SRResNet and
SRGAN, the student's own SRGAN when there is one, and the original. A calibration round
comes first, as in the paper: a nearest-neighbour crop is shown as a 1, the original as a 5.

Where the ratings go. A kernel cannot write its own notebook, and neither JupyterLab 4
nor Notebook 7 nor Colab lets a kernel or an output's JavaScript set the notebook's
metadata without a front-end extension. So the widget keeps the record in the rating
cell's output: one display, replaced after every click (never a second copy), whose data
holds the record under `MIME` beside a text summary. Every front end saves outputs with
the notebook, so the record travels with the handed-in file. `read_record` finds it
there (or in the notebook's top-level metadata under `METADATA_KEY`, where a tool such
as `store_in_metadata` or the classic notebook put it), and `store_in_metadata` writes
it into `metadata["srgan_mos"]`. The record: {"ratings": [{"image": "Set14/baboon",
"method": "srgan", "score": 4}, ...], "calibration": [{"image": ..., "method":
"nearest", "score": 1}, ...]}.

Under papermill or nbval (`widgets.live_front_end()` is None) nothing is recorded, and
`rating_activity` says so.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from srgan_lib.widgets import _png, in_live_kernel, live_front_end

#: The methods a crop can come from, in the paper's order (worst to best expected).
METHODS = ("nearest", "bicubic", "srresnet", "srgan", "yours", "original")
#: The notebook metadata key of the record, and the MIME type of the output that holds it.
METADATA_KEY = "srgan_mos"
MIME = "application/vnd.srgan.mos+json"
SCORES = (1, 2, 3, 4, 5)


@dataclass
class Crop:
    """One picture to rate: `image` ("Set14/baboon"), `method` (one of METHODS) and
    `pixels`, uint8 (size, size, 3)."""

    image: str
    method: str
    pixels: np.ndarray


def nearest_upscale(lr: np.ndarray, scale: int = 4) -> np.ndarray:
    """Nearest-neighbour upscaling: each LR pixel becomes a scale x scale block (uint8)."""
    return np.repeat(np.repeat(lr, scale, axis=0), scale, axis=1)


def benchmark_crops(
    root: str | Path,
    generators: Mapping[str, object],
    sets: Sequence[str] = ("Set5", "Set14"),
    images_per_set: int = 3,
    size: int = 128,
    scale: int = 4,
) -> list[Crop]:
    """The crops to rate: for the first `images_per_set` images of each set under `root`
    (<set>/HR, <set>/LR_bicubic_x<scale>), the centred `size` x `size` HR crop and the same
    region from nearest, bicubic and each generator ({method: keras.Model}, e.g.
    {"srresnet": ..., "srgan": ..., "yours": ...}). Generators see the LR crop with 8 LR
    pixels of context on each side (cut afterwards), so the crop has no border artefacts.
    Returns a list of Crop, one per (image, method)."""
    from srgan_lib import data, inference  # Keras: only where crops are made

    unknown = sorted(set(generators) - set(METHODS))
    if unknown:
        raise ValueError(f"Unknown method names {unknown}: use names from {METHODS}.")
    crops = []
    margin, lr_size = 8, size // scale
    for set_name in sets:
        for pair in data.load_benchmark(set_name, root, scale=scale, partial=True)[:images_per_set]:
            h, w = pair.lr.shape[:2]
            top, left = max(0, (h - lr_size) // 2), max(0, (w - lr_size) // 2)
            lr = pair.lr[top : top + lr_size, left : left + lr_size]
            hr = pair.hr[
                top * scale : (top + lr_size) * scale, left * scale : (left + lr_size) * scale
            ]
            name = f"{set_name}/{pair.name}"
            pictures = {
                "nearest": nearest_upscale(lr, scale),
                "bicubic": data.bicubic_upscale(lr, scale),
                "original": hr,
            }
            t0, l0 = max(0, top - margin), max(0, left - margin)
            context = pair.lr[t0 : top + lr_size + margin, l0 : left + lr_size + margin]
            for method, generator in generators.items():
                sr = inference.upscale(generator, context)
                y, x = (top - t0) * scale, (left - l0) * scale
                pictures[method] = sr[y : y + lr.shape[0] * scale, x : x + lr.shape[1] * scale]
            crops += [Crop(name, m, pictures[m]) for m in METHODS if m in pictures]
    return crops


class RatingSession:
    """The order and the record of one rater's session, without any display.

    First the calibration: for `calibration_images` images, the nearest crop (a 1) and
    the original (a 5), shown with their scores; then every crop once in random order
    (`seed`: None draws one). `rate(score)` scores the crop on show and moves on; rating
    the same (image, method) again replaces the earlier score.
    """

    def __init__(self, crops: Sequence[Crop], seed: int | None = None, calibration_images: int = 2):
        images = list(dict.fromkeys(c.image for c in crops))
        anchors = {(c.image, c.method): c for c in crops if c.method in ("nearest", "original")}
        self.calibration = [
            anchors[(image, method)]
            for image in images[:calibration_images]
            for method in ("nearest", "original")
            if (image, method) in anchors
        ]
        self.queue = list(crops)
        random.Random(seed).shuffle(self.queue)
        self.step = 0
        self.scores: dict[tuple[str, str], int] = {}

    @property
    def calibrating(self) -> bool:
        return self.step < len(self.calibration)

    @property
    def done(self) -> bool:
        return self.step >= len(self.calibration) + len(self.queue)

    def current(self) -> Crop | None:
        """The crop on show (None when the session is over)."""
        if self.calibrating:
            return self.calibration[self.step]
        index = self.step - len(self.calibration)
        return self.queue[index] if index < len(self.queue) else None

    def anchor_score(self) -> int | None:
        """During calibration, the score the crop on show stands for (1 or 5)."""
        crop = self.current()
        return (1 if crop.method == "nearest" else 5) if self.calibrating else None

    def next_calibration(self) -> None:
        """Leave the calibration crop on show (it needs no score)."""
        if self.calibrating:
            self.step += 1

    def rate(self, score: int) -> None:
        """Score the crop on show, 1..5, and move to the next one."""
        if score not in SCORES:
            raise ValueError(f"A score is one of {SCORES}, got {score!r}.")
        crop = self.current()
        if crop is None or self.calibrating:
            raise ValueError("No crop to rate: the calibration or the session is over.")
        self.scores[(crop.image, crop.method)] = int(score)
        self.step += 1

    def record(self) -> dict:
        """{"ratings": [{"image", "method", "score"}, ...], "calibration": [...]}: the
        scores given so far, and the calibration anchors shown."""
        shown = self.calibration[: min(self.step, len(self.calibration))]
        return {
            "ratings": [
                {"image": image, "method": method, "score": score}
                for (image, method), score in self.scores.items()
            ],
            "calibration": [
                {"image": c.image, "method": c.method, "score": 1 if c.method == "nearest" else 5}
                for c in shown
            ],
        }


def record_bundle(record: dict) -> dict:
    """The display data that carries a record in the notebook: {MIME: record,
    "text/plain": a one-line summary}."""
    n = len(record["ratings"])
    text = f"{n} rating{'s' * (n != 1)} recorded in this cell's output (saved with the notebook)"
    return {MIME: record, "text/plain": text}


def read_record(notebook: Mapping) -> dict | None:
    """The ratings a notebook carries (an nbformat dict): its metadata["srgan_mos"] if set,
    else the last rating record in its outputs; None if it has neither."""
    found = notebook.get("metadata", {}).get(METADATA_KEY)
    if found is not None:
        return found
    for cell in reversed(notebook.get("cells", [])):
        for output in reversed(cell.get("outputs", []) or []):
            if MIME in (output.get("data") or {}):
                return output["data"][MIME]
    return None


def store_in_metadata(notebook: Mapping) -> dict | None:
    """Copy the record `read_record` finds into notebook["metadata"]["srgan_mos"],
    replacing any earlier one; returns it (None: nothing to store, notebook unchanged)."""
    record = read_record(notebook)
    if record is not None:
        notebook.setdefault("metadata", {})[METADATA_KEY] = copy.deepcopy(record)
    return record


def _static_calibration(crops: Sequence[Crop]):
    import matplotlib.pyplot as plt

    session = RatingSession(crops, seed=0, calibration_images=1)
    fig, axes = plt.subplots(1, max(1, len(session.calibration)), figsize=(8, 4.4), squeeze=False)
    for ax, crop in zip(axes[0], session.calibration, strict=False):
        ax.imshow(crop.pixels)
        score = 1 if crop.method == "nearest" else 5
        ax.set_title(f"calibration: this is a {score} ({crop.method})")
        ax.set_axis_off()
    fig.tight_layout()
    return fig


def rating_activity(
    crops: Sequence[Crop], seed: int | None = None, interactive: bool | None = None
):
    """The rating widget for a live front end, or (papermill, nbval, a script) a static
    figure of the calibration pair after printing that nothing is recorded.

    interactive=None asks `widgets.live_front_end()`. Live: returns an ipywidgets VBox
    (core widgets only: ipywidgets 7.7 and 8) and displays the record's output under the
    cell, replaced after each score. Scores by the buttons 1-5, or by typing a digit in
    the text box. The box's `session` attribute is its RatingSession.
    """
    live = live_front_end() is not None if interactive is None else interactive
    if not (live and in_live_kernel()):
        print("No live front end (papermill, nbval or a script): no rating is recorded here.")
        return _static_calibration(crops)
    import ipywidgets as widgets
    from IPython.display import DisplayHandle

    session = RatingSession(crops, seed=seed)
    handle = DisplayHandle()
    handle.display(record_bundle(session.record()), raw=True)
    view = widgets.Image(format="png", width=2 * crops[0].pixels.shape[1])
    caption = widgets.HTML()
    buttons = [
        widgets.Button(description=str(s), layout=widgets.Layout(width="48px")) for s in SCORES
    ]
    onward = widgets.Button(description="Next", button_style="info")
    keys = widgets.Text(placeholder="or type 1-5", layout=widgets.Layout(width="110px"))

    def show() -> None:
        crop = session.current()
        handle.update(record_bundle(session.record()), raw=True)
        if crop is None:
            caption.value = f"<b>Done: {len(session.scores)} crops rated. Save the notebook.</b>"
            view.layout.display = "none"
            for button in [*buttons, onward]:
                button.disabled = True
            return
        view.value = _png(crop.pixels)
        if session.calibrating:
            n = session.step + 1
            caption.value = (
                f"Calibration {n} of {len(session.calibration)}: this picture is a "
                f"<b>{session.anchor_score()}</b> "
                + ("(the worst you will see)" if session.anchor_score() == 1 else "(the best)")
            )
        else:
            n = session.step - len(session.calibration) + 1
            caption.value = f"Crop {n} of {len(session.queue)}: 1 (bad) to 5 (excellent)?"
        onward.layout.display = None if session.calibrating else "none"
        for button in buttons:
            button.disabled = session.calibrating

    def score(value: int) -> None:
        if not session.calibrating and session.current() is not None:
            session.rate(value)
            show()

    for value, button in zip(SCORES, buttons, strict=True):
        button.on_click(lambda _, value=value: score(value))
    onward.on_click(lambda _: (session.next_calibration(), show()))

    def typed(change) -> None:
        text = change["new"].strip()
        if text and text[-1] in "12345":
            score(int(text[-1]))
        if text:
            keys.value = ""

    keys.observe(typed, "value")
    show()
    box = widgets.VBox([caption, view, widgets.HBox([*buttons, onward, keys])])
    box.session = session  # the record behind the widget, for a look from code
    return box
