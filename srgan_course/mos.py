"""`srgan course mos`: the class's mean opinion scores from the handed-in notebooks.

Each notebook under SUBMISSIONS_DIR/<student>/ may carry its rater's record
(`srgan_lib.rating`: metadata["srgan_mos"], or the rating cell's output). The notebooks
are read as JSON, never executed. Per benchmark set and method: the number of ratings
and raters, the MOS (the mean of all ratings, as in Ledig et al., CVPR 2017, Table 2) and
a 95% interval from a bootstrap over raters; the paper's MOS beside it; and for each pair
of methods a Wilcoxon signed-rank test on the per-rater means (the paper's test), so
that a difference is called significant only where the raters agree on it.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from srgan_lib import files
from srgan_lib.rating import METHODS, SCORES, read_record

#: Ledig et al. (CVPR 2017), Table 2, x4 MOS (26 raters, 1 = bad, 5 = excellent), by our
#: method names: "srresnet" is the paper's SRResNet (MSE), "original" its HR.
PAPER_MOS: dict[str, dict[str, float]] = {
    "Set5": {"nearest": 1.28, "bicubic": 1.97, "srresnet": 3.37, "srgan": 3.58, "original": 4.32},
    "Set14": {"nearest": 1.20, "bicubic": 1.80, "srresnet": 2.98, "srgan": 3.72, "original": 4.32},
    "BSD100": {"nearest": 1.11, "bicubic": 1.47, "srresnet": 2.29, "srgan": 3.56, "original": 4.46},
}
FIELDS = ("set", "method", "ratings", "raters", "mos", "low", "high", "paper_mos")
TEST_FIELDS = (
    "set",
    "method_a",
    "method_b",
    "raters",
    "mean_a",
    "mean_b",
    "p_value",
    "significant",
)
ALPHA = 0.05


@dataclass
class Ratings:
    """The class's ratings: rows {"rater", "set", "image", "method", "score"}, and one
    note per notebook that was skipped or partly read."""

    rows: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _valid(entry) -> bool:
    return (
        isinstance(entry, Mapping)
        and isinstance(entry.get("image"), str)
        and "/" in entry["image"]
        and entry.get("method") in METHODS
        and type(entry.get("score")) is int
        and entry["score"] in SCORES
    )


def read_ratings(submissions: str | Path) -> Ratings:
    """Every rater's scores under `submissions` (<student>/<any>.ipynb). A student whose
    several notebooks carry a record is counted once, with the last file by name; a
    rating of the same (image, method) twice keeps the last. Unreadable notebooks,
    malformed records and bad entries are noted and skipped; they never stop the rest."""
    folder = Path(submissions)
    if not folder.is_dir():
        raise FileNotFoundError(
            f"No folder {folder}: pass the folder of hand-ins (<student>/<lesson>.ipynb)."
        )
    result = Ratings()
    for student in sorted(p for p in folder.iterdir() if p.is_dir()):
        found: dict[Path, dict] = {}
        unreadable = 0
        for path in sorted(student.rglob("*.ipynb")):
            if ".ipynb_checkpoints" in path.parts:
                continue
            try:
                record = read_record(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, UnicodeDecodeError, ValueError, AttributeError, TypeError) as err:
                result.notes.append(
                    f"{path}: not a readable notebook ({type(err).__name__}); skipped"
                )
                unreadable += 1
                continue
            if record is not None:
                found[path] = record
        if not found:
            if not unreadable:
                result.notes.append(f"{student.name}: no notebook carries ratings; skipped")
            continue
        path, record = list(found.items())[-1]
        if len(found) > 1:
            result.notes.append(
                f"{student.name}: {len(found)} notebooks carry ratings; used {path.name}"
            )
        entries = record.get("ratings") if isinstance(record, Mapping) else None
        if not isinstance(entries, list):
            result.notes.append(f"{path}: the srgan_mos record has no list of ratings; skipped")
            continue
        good = {(e["image"], e["method"]): e["score"] for e in entries if _valid(e)}
        if len(good) < len(entries):
            bad = sum(not _valid(e) for e in entries)
            if bad:
                result.notes.append(
                    f"{path}: {bad} of {len(entries)} ratings malformed; skipped them"
                )
        for (image, method), score in good.items():
            result.rows.append(
                {
                    "rater": student.name,
                    "set": image.split("/")[0],
                    "image": image,
                    "method": method,
                    "score": score,
                }
            )
    return result


def _rater_scores(rows: list[dict], set_name: str, method: str) -> dict[str, list[int]]:
    by_rater = defaultdict(list)
    for row in rows:
        if row["set"] == set_name and row["method"] == method:
            by_rater[row["rater"]].append(row["score"])
    return by_rater


def bootstrap_interval(
    by_rater: Mapping[str, list[int]], resamples: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """95% percentile interval of the MOS (mean of all ratings) when the raters are drawn
    again with replacement `resamples` times."""
    groups = [np.asarray(v, dtype=float) for v in by_rater.values()]
    sums, counts = np.array([g.sum() for g in groups]), np.array([len(g) for g in groups])
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(groups), size=(resamples, len(groups)))
    means = sums[picks].sum(axis=1) / counts[picks].sum(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(low), float(high)


def summarise(ratings: Ratings, resamples: int = 2000, seed: int = 0) -> list[dict]:
    """One row per (set, method) rated: {"set", "method", "ratings", "raters", "mos",
    "low", "high", "paper_mos"} (the interval: `bootstrap_interval`; paper_mos None where
    Table 2 has no such entry)."""
    sets = list(dict.fromkeys(r["set"] for r in ratings.rows))
    rows = []
    for set_name in sets:
        for method in METHODS:
            by_rater = _rater_scores(ratings.rows, set_name, method)
            if not by_rater:
                continue
            scores = [s for v in by_rater.values() for s in v]
            low, high = bootstrap_interval(by_rater, resamples, seed)
            rows.append(
                {
                    "set": set_name,
                    "method": method,
                    "ratings": len(scores),
                    "raters": len(by_rater),
                    "mos": float(np.mean(scores)),
                    "low": low,
                    "high": high,
                    "paper_mos": PAPER_MOS.get(set_name, {}).get(method),
                }
            )
    return rows


def significance(ratings: Ratings, alpha: float = ALPHA) -> list[dict]:
    """Wilcoxon signed-rank tests (two-sided) on the per-rater means, for every pair of
    methods rated in a set by the same raters: rows {"set", "method_a", "method_b",
    "raters", "mean_a", "mean_b", "p_value", "significant"}. With fewer than 6 raters no
    difference can reach p < 0.05 (the smallest exact p-value with 5 is 0.0625)."""
    from scipy.stats import wilcoxon

    tests = []
    for set_name in dict.fromkeys(r["set"] for r in ratings.rows):
        means = {}
        for method in METHODS:
            by_rater = _rater_scores(ratings.rows, set_name, method)
            means[method] = {rater: float(np.mean(v)) for rater, v in by_rater.items()}
        rated = [m for m in METHODS if means[m]]
        for i, a in enumerate(rated):
            for b in rated[i + 1 :]:
                raters = sorted(set(means[a]) & set(means[b]))
                if not raters:
                    continue
                xa = np.array([means[a][r] for r in raters])
                xb = np.array([means[b][r] for r in raters])
                p = 1.0 if np.allclose(xa, xb) else float(wilcoxon(xa, xb).pvalue)
                tests.append(
                    {
                        "set": set_name,
                        "method_a": a,
                        "method_b": b,
                        "raters": len(raters),
                        "mean_a": float(xa.mean()),
                        "mean_b": float(xb.mean()),
                        "p_value": p,
                        "significant": p < alpha,
                    }
                )
    return tests


def plot(summary: list[dict]):
    """Bars of the class's MOS per method with their 95% intervals, the paper's MOS
    beside them, one panel per set. Returns the matplotlib Figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sets = list(dict.fromkeys(r["set"] for r in summary))
    fig, axes = plt.subplots(1, len(sets), figsize=(4.8 * len(sets), 4), squeeze=False)
    for ax, set_name in zip(axes[0], sets, strict=True):
        rows = [r for r in summary if r["set"] == set_name]
        x = np.arange(len(rows))
        mos = np.array([r["mos"] for r in rows])
        errors = np.array(
            [[r["mos"] - r["low"] for r in rows], [r["high"] - r["mos"] for r in rows]]
        )
        ax.bar(x - 0.2, mos, 0.4, yerr=errors, capsize=3, label="class (95% interval)")
        paper = [(i, r["paper_mos"]) for i, r in enumerate(rows) if r["paper_mos"] is not None]
        if paper:
            ax.bar([i + 0.2 for i, _ in paper], [v for _, v in paper], 0.4, label="paper, Table 2")
        ax.set_xticks(x, [f"{r['method']}\n({r['raters']} raters)" for r in rows], fontsize=8)
        ax.set_ylim(1, 5.2)  # room for the top of an interval that reaches 5
        ax.set_ylabel("mean opinion score (1 bad .. 5 excellent)")
        ax.set_title(set_name)
        ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig


def _csv(rows: list[dict], fields) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (f"{v:.4f}" if isinstance(v, float) else v) for k, v in row.items()})
    return buffer.getvalue()


def report(
    submissions: str | Path, out: str | Path, overwrite: bool = False
) -> tuple[Path, list[str]]:
    """Read the ratings under `submissions` and write OUT/mos.csv, OUT/significance.csv
    and OUT/mos.png. Returns (out, the lines to print: notes, then the significant
    differences). Raises ValueError when no notebook carries a rating, OutputExistsError
    before writing anything when an output exists (unless `overwrite`)."""
    out = Path(out)
    ratings = read_ratings(submissions)
    if not ratings.rows:
        notes = "; ".join(ratings.notes[:3]) or "no student folders"
        raise ValueError(
            f"No ratings found under {submissions} ({notes}): hand in lesson 06 after rating."
        )
    targets = [out / name for name in ("mos.csv", "significance.csv", "mos.png")]
    files.check_outputs(targets, overwrite)
    summary, tests = summarise(ratings), significance(ratings)
    files.atomic_write(targets[0], lambda tmp: tmp.write_text(_csv(summary, FIELDS)))
    files.atomic_write(targets[1], lambda tmp: tmp.write_text(_csv(tests, TEST_FIELDS)))
    figure = plot(summary)
    files.atomic_write(targets[2], lambda tmp: figure.savefig(tmp, dpi=100, format="png"))
    lines = [f"note: {n}" for n in ratings.notes]
    for row in summary:
        paper = "" if row["paper_mos"] is None else f" (paper {row['paper_mos']:.2f})"
        lines.append(
            f"{row['set']} {row['method']}: MOS {row['mos']:.2f} "
            f"[{row['low']:.2f}, {row['high']:.2f}] from {row['ratings']} ratings "
            f"by {row['raters']} raters{paper}"
        )
    significant = [t for t in tests if t["significant"]]
    for t in significant:
        lines.append(
            f"significant: {t['set']} {t['method_b']} vs {t['method_a']} "
            f"({t['mean_b']:.2f} vs {t['mean_a']:.2f}, Wilcoxon p = {t['p_value']:.3f}, "
            f"{t['raters']} raters)"
        )
    if not significant:
        lines.append(
            f"no difference is significant at p < {ALPHA} (Wilcoxon signed-rank on per-rater "
            "means; fewer than 6 raters can never reach it)"
        )
    return out, lines
