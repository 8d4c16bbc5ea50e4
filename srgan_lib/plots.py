"""Figures for lesson 06 and the training lessons: side-by-side comparisons with a zoomed
inset, a grid over a benchmark set, and loss curves. Every function returns a matplotlib
Figure and never calls `plt.show()`: notebooks display the returned figure, scripts save
it with `fig.savefig(...)`.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from srgan_lib import metrics

Box = tuple[int, int, int]  # (top, left, size) in pixels of the displayed images


def _title(name: str, image: np.ndarray, hr: np.ndarray | None) -> str:
    """ "name" or "name\\nPSNR 28.43 dB, SSIM 0.811" when HR is given (Y channel, border 4)."""
    if hr is None or image is hr:
        return name
    return f"{name}\nPSNR {metrics.psnr(image, hr):.2f} dB, SSIM {metrics.ssim(image, hr):.3f}"


def _default_box(shape: tuple[int, ...]) -> Box:
    """A square a quarter of the shorter side, at the centre of the image."""
    size = max(8, min(shape[:2]) // 4)
    return (shape[0] - size) // 2, (shape[1] - size) // 2, size


def _show(ax, image: np.ndarray) -> None:
    gray = image.ndim == 2 or image.shape[-1] == 1
    ax.imshow(np.squeeze(image), cmap="gray" if gray else None, vmin=0, vmax=255)
    ax.set_axis_off()


def _inset(ax, image: np.ndarray, box: Box, color: str) -> None:
    """Outline `box` on the main image and show it enlarged in the lower-right corner."""
    top, left, size = box
    ax.add_patch(Rectangle((left - 0.5, top - 0.5), size, size, fill=False, ec=color, lw=1.5))
    zoom = ax.inset_axes([0.58, 0.0, 0.42, 0.42])
    _show(zoom, image[top : top + size, left : left + size])
    zoom.set_axis_on()
    zoom.set_xticks([])
    zoom.set_yticks([])
    for spine in zoom.spines.values():
        spine.set_edgecolor(color)
        spine.set_linewidth(1.5)


def compare(
    images: Mapping[str, np.ndarray],
    hr: np.ndarray | None = None,
    box: Box | None = None,
    hr_title: str = "original",
    panel_size: float = 4.0,
    color: str = "red",
) -> Figure:
    """One row of panels, e.g. bicubic / SRResNet / SRGAN / original, as in the paper's
    Fig. 2, each with the same region zoomed in an inset.

    images: {title: uint8 (H, W, 3) or (H, W)}, all of the same size.
    hr: the uint8 ground truth of that size; when given, every title shows PSNR (dB) and
    SSIM against it (Y channel, 4 border pixels removed) and it is drawn as the last
    panel, titled `hr_title`.
    box: (top, left, size) of the zoomed square in pixels; default: a centred square a
    quarter of the shorter side.
    Returns a Figure with one axes per panel plus one inset axes each.
    """
    panels = dict(images)
    if hr is not None:
        panels[hr_title] = hr
    shapes = {np.shape(image)[:2] for image in panels.values()}
    if len(shapes) != 1:
        raise ValueError(f"compare needs images of one size, got sizes {sorted(shapes)}.")
    shape = shapes.pop()
    box = box or _default_box(shape)
    aspect = shape[0] / shape[1]
    fig, axes = plt.subplots(
        1, len(panels), figsize=(panel_size * len(panels), panel_size * aspect + 0.8), squeeze=False
    )
    for ax, (name, image) in zip(axes[0], panels.items(), strict=True):
        _show(ax, image)
        _inset(ax, image, box, color)
        ax.set_title(_title(name, image, hr), fontsize=10)
    fig.tight_layout()
    return fig


def grid(
    rows: Mapping[str, Mapping[str, np.ndarray]],
    hrs: Mapping[str, np.ndarray] | None = None,
    panel_size: float = 3.0,
) -> Figure:
    """A grid over several images of a set: one row per image, one column per method
    (plus the HR image last when `hrs` is given).

    rows: {image name: {method: uint8 SR image}}; every row has the same methods.
    hrs: {image name: uint8 HR image}; when given, titles show PSNR (dB) / SSIM against it.
    Returns a Figure with len(rows) x columns axes.
    """
    names = list(rows)
    methods = list(rows[names[0]])
    columns = methods + (["HR"] if hrs is not None else [])
    fig, axes = plt.subplots(
        len(names),
        len(columns),
        figsize=(panel_size * len(columns), panel_size * len(names)),
        squeeze=False,
    )
    for r, name in enumerate(names):
        hr = None if hrs is None else hrs[name]
        panels = {**rows[name], **({"HR": hr} if hr is not None else {})}
        for c, column in enumerate(columns):
            _show(axes[r, c], panels[column])
            axes[r, c].set_title(_title(f"{name}: {column}", panels[column], hr), fontsize=9)
    fig.tight_layout()
    return fig


def _read_history(history: str | Path | Mapping[str, Sequence[float]]) -> dict[str, np.ndarray]:
    if isinstance(history, (str, Path)):
        with Path(history).open(newline="") as f:
            records = list(csv.DictReader(f))
        if not records:
            raise ValueError(f"{history} holds no rows of history.")
        history = {key: [float(r[key]) for r in records] for key in records[0]}
    return {key: np.asarray(values, dtype=float) for key, values in history.items()}


def show_history(
    history: str | Path | Mapping[str, Sequence[float]], log_y: bool = False
) -> Figure:
    """Loss curves of a training run.

    history: a CSV file with a header row (such as keras.callbacks.CSVLogger writes), or
    a dict of equal-length columns, e.g. `model.fit(...).history`. An "epoch" or "step"
    column, if present, is the x axis; otherwise the row number is.
    Columns with "loss" in their name are drawn in the left panel; any others (PSNR,
    SSIM, learning rate, ...) in a right panel, one curve each. A "val_" column shares
    its training column's colour, dashed.
    Returns the Figure (one or two axes).
    """
    columns = _read_history(history)
    x_name = next((k for k in ("epoch", "step") if k in columns), None)
    x = columns.pop(x_name) if x_name else np.arange(len(next(iter(columns.values()))))
    losses = [k for k in columns if "loss" in k]
    others = [k for k in columns if "loss" not in k]
    groups = [g for g in (losses, others) if g]
    fig, axes = plt.subplots(1, len(groups), figsize=(6 * len(groups), 4), squeeze=False)
    for ax, keys in zip(axes[0], groups, strict=True):
        colours = {}
        for key in keys:
            base = key.removeprefix("val_")
            colour = colours.setdefault(base, f"C{len(colours)}")
            style = "--" if key.startswith("val_") else "-"
            ax.plot(x, columns[key], style, color=colour, label=key)
        ax.set_xlabel(x_name or "row")
        ax.set_ylabel("loss" if keys is losses else "value")
        if log_y and keys is losses:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    return fig


def zoomed_crops(
    rows: Mapping[str, Mapping[str, np.ndarray]],
    boxes: Mapping[str, Box],
    panel_size: float = 2.6,
) -> Figure:
    """Enlarged crops side by side, to compare fine texture (the paper's Fig. 6 style).

    rows: {row title: {method: uint8 (H, W, 3) image}}, the same methods in each row, the
    images of a row all of one size (e.g. bicubic, SRResNet, SRGAN, original).
    boxes: {row title: (top, left, size)}, the square shown, in pixels of that row.
    Each panel shows its crop with nearest-neighbour enlargement, titled with the method
    and, against the row's last image, the crop's PSNR (dB, Y channel, no border removed).
    """
    methods = list(next(iter(rows.values())))
    fig, axes = plt.subplots(
        len(rows),
        len(methods),
        figsize=(panel_size * len(methods), (panel_size + 0.5) * len(rows)),
        squeeze=False,
    )
    for ax_row, (title, images) in zip(axes, rows.items(), strict=True):
        top, left, size = boxes[title]
        crops = {m: images[m][top : top + size, left : left + size] for m in methods}
        reference = crops[methods[-1]]
        for ax, method in zip(ax_row, methods, strict=True):
            ax.imshow(crops[method], interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            label = method
            if method != methods[-1]:
                label += f"\n{metrics.psnr(crops[method], reference, crop_border=0):.1f} dB"
            ax.set_title(label, fontsize=9)
        ax_row[0].set_ylabel(title, fontsize=10)
    fig.tight_layout(h_pad=1.0)
    return fig
