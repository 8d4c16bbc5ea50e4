"""Interactive views for the notebooks, with static fallbacks that work anywhere.

`before_after` shows two images of the same scene (e.g. bicubic and SRGAN) with a slider
that wipes from one to the other. In a live Jupyter kernel it returns an ipywidgets box;
elsewhere (a script, a test, nbconvert without a widget frontend) it returns a static
matplotlib figure instead, so calling it never blocks and never fails headless.
"""

from __future__ import annotations

import io

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from PIL import Image


def in_live_kernel() -> bool:
    """True inside a running IPython kernel (Jupyter, Colab), where widgets can render."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def wipe(a: np.ndarray, b: np.ndarray, position: float) -> np.ndarray:
    """`a` left of the vertical line at `position` (0..1 of the width), `b` right of it.
    a, b: uint8 images of the same shape; returns a new uint8 image of that shape."""
    column = int(round(position * a.shape[1]))
    out = np.array(b, copy=True)
    out[:, :column] = a[:, :column]
    return out


def _png(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.squeeze(image)).save(buffer, format="PNG")
    return buffer.getvalue()


def _static(a: np.ndarray, b: np.ndarray, labels: tuple[str, str]) -> Figure:
    fig, axes = plt.subplots(1, 2, figsize=(10, 5 * a.shape[0] / a.shape[1] + 0.6))
    for ax, image, label in zip(axes, (a, b), labels, strict=True):
        gray = image.ndim == 2 or image.shape[-1] == 1
        ax.imshow(np.squeeze(image), cmap="gray" if gray else None, vmin=0, vmax=255)
        ax.set_title(label)
        ax.set_axis_off()
    fig.tight_layout()
    return fig


def before_after(
    a: np.ndarray,
    b: np.ndarray,
    labels: tuple[str, str] = ("before", "after"),
    interactive: bool = True,
):
    """Compare two uint8 images of the same shape, (H, W, 3) or (H, W).

    interactive and in a live kernel: returns an ipywidgets VBox (a slider over a wipe
    between `a`, left, and `b`, right) for the notebook to display.
    Otherwise (interactive=False, or no kernel to drive widgets): returns a static
    matplotlib Figure with `a` and `b` side by side, titled with `labels`.
    """
    a, b = np.asarray(a, dtype=np.uint8), np.asarray(b, dtype=np.uint8)
    if a.shape != b.shape:
        raise ValueError(
            f"before_after needs images of one shape, got {a.shape} and {b.shape}: upscale "
            "or crop them to the same size first."
        )
    if not (interactive and in_live_kernel()):
        return _static(a, b, labels)
    import ipywidgets as widgets

    view = widgets.Image(value=_png(wipe(a, b, 0.5)), format="png")
    slider = widgets.FloatSlider(
        value=0.5, min=0.0, max=1.0, step=0.01, description=f"{labels[0]} | {labels[1]}"
    )
    slider.observe(lambda change: setattr(view, "value", _png(wipe(a, b, change.new))), "value")
    return widgets.VBox([view, slider])
