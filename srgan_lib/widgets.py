"""Interactive views for the notebooks, with static fallbacks that work anywhere.

`before_after` shows two images of the same scene (e.g. bicubic and SRGAN) with a slider
that wipes from one to the other. Where a live front end draws widgets (JupyterLab or
Jupyter Notebook, Colab, VS Code) it returns an ipywidgets box; elsewhere (papermill,
nbval, nbconvert, a script, a test) it returns a static matplotlib figure instead, so
calling it never blocks and never fails headless. The box uses only ipywidgets' core
widgets, which ipywidgets 7.7 (Colab's) and 8 both have.
"""

from __future__ import annotations

import io
import os
import sys

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from PIL import Image

#: Set to "static" or "live" to override the front-end detection of `live_front_end`.
WIDGETS_ENV = "SRGAN_WIDGETS"


def in_live_kernel() -> bool:
    """True inside a running IPython kernel (Jupyter, Colab, papermill, nbval)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def live_front_end() -> str | None:
    """The front end that draws this kernel's widgets: "colab", "vscode" or "jupyter"
    (JupyterLab, Jupyter Notebook), or None where no one will see them (papermill, nbval,
    nbconvert, a script). $SRGAN_WIDGETS=static (None) or =live ("live", in a kernel)
    overrides the guess."""
    forced = os.environ.get(WIDGETS_ENV, "").lower()
    if forced in ("static", "live"):
        return "live" if forced == "live" and in_live_kernel() else None
    if not in_live_kernel():
        return None
    from IPython import get_ipython

    if "google.colab" in sys.modules:
        return "colab"
    if "__vsc_ipynb_file__" in getattr(get_ipython(), "user_ns", {}):  # VS Code's Jupyter
        return "vscode"
    if os.environ.get("JPY_SESSION_NAME"):  # set by jupyter_server for the kernels it starts
        return "jupyter"
    return None


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
    interactive: bool | None = None,
):
    """Compare two uint8 images of the same shape, (H, W, 3) or (H, W).

    interactive=None (default) asks `live_front_end()`; True asks only for a kernel.
    Interactive: returns an ipywidgets VBox for the notebook to display: the wipe between
    `a` (left of the line) and `b` (right), and under it `labels[0]`, a slider that moves
    the line (0..1 of the width) and `labels[1]`, each label in full.
    Otherwise: returns a static matplotlib Figure with `a` and `b` side by side, titled
    with `labels`.
    """
    a, b = np.asarray(a, dtype=np.uint8), np.asarray(b, dtype=np.uint8)
    if a.shape != b.shape:
        raise ValueError(
            f"before_after needs images of one shape, got {a.shape} and {b.shape}: upscale "
            "or crop them to the same size first."
        )
    live = live_front_end() is not None if interactive is None else interactive
    if not (live and in_live_kernel()):
        return _static(a, b, labels)
    try:
        import ipywidgets as widgets
    except ImportError:
        return _static(a, b, labels)

    # natural size (the front end caps it at the output's width), the controls right under it
    view = widgets.Image(value=_png(wipe(a, b, 0.5)), format="png", width=a.shape[1])
    slider = widgets.FloatSlider(value=0.5, min=0.0, max=1.0, step=0.01, readout=False)
    slider.observe(lambda change: setattr(view, "value", _png(wipe(a, b, change["new"]))), "value")
    ends = [widgets.Label(f"\u25c0 {labels[0]}"), slider, widgets.Label(f"{labels[1]} \u25b6")]
    return widgets.VBox([view, widgets.HBox(ends, layout=widgets.Layout(flex_flow="row wrap"))])
