"""Run the whole course: every lesson executed in order with papermill, with an executed
copy, an HTML copy and a summary written to `runs/course-<timestamp>/`.

Lessons that declare an `output_dir` parameter get `<run>/<lesson stem>/` and may leave
`history.csv` files (training) or `summary.md` (evaluation) there; the course summary
quotes them. A lesson that declares `weights_dir` (06) gets lesson 05's output folder.
Values the caller gives for these names are kept. Parameter values given as text (from
the command line) are read by the type of the lesson's default: `false` for a boolean,
`5` for a number, anything for a string.
"""

from __future__ import annotations

import ast
import csv
import json
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

KERNEL = "srgan-course"
TRAINING_LESSON = "05_alternating_training"


@dataclass
class LessonRun:
    """How one lesson's execution went: seconds of wall time and an error, if any."""

    name: str
    seconds: float
    error: str | None = None


def default_notebooks() -> Path:
    """`notebooks/` of the folder this runs in: the course commands work on the teacher's
    checkout where they stand, never on the one beside the installed package."""
    return Path.cwd() / "notebooks"


def lessons(folder: str | Path | None = None) -> list[Path]:
    """The lesson notebooks in `folder` (default: `default_notebooks()`), in course order
    (their names start 00_, 01_, ...)."""
    folder = default_notebooks() if folder is None else folder
    found = sorted(Path(folder).glob("[0-9][0-9]_*.ipynb"))
    if not found:
        raise FileNotFoundError(f"No lesson notebooks (NN_name.ipynb) in {folder}.")
    return found


def _kernel_name() -> str | None:
    """The project's kernel when `make setup` installed it, else the notebook's own."""
    from jupyter_client.kernelspec import KernelSpecManager

    return KERNEL if KERNEL in KernelSpecManager().find_kernel_specs() else None


_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


def parse_value(text: str, default=None):
    """A parameter value given as text, read as the type of the lesson's `default`:
    booleans from true/false (yes/no, on/off, 1/0, any case), numbers, strings as given.
    Without a typed default: booleans, None (none/null), numbers, JSON lists, else text.
    Raises ValueError with the fix when the text does not fit a boolean or number."""
    word = text.strip().lower()
    if isinstance(default, bool):
        if word in _TRUE or word in _FALSE:
            return word in _TRUE
        raise ValueError(f"expects true or false, not {text!r}")
    if isinstance(default, (int, float)):
        try:
            return (
                int(text)
                if isinstance(default, int) and word.lstrip("+-").isdigit()
                else float(text)
            )
        except ValueError:
            raise ValueError(f"expects a number, not {text!r}") from None
    if isinstance(default, str):
        return text
    if word in ("true", "false"):
        return word == "true"
    if word in ("none", "null"):
        return None
    try:
        return ast.literal_eval(text.strip())
    except (ValueError, SyntaxError):
        return text


def parameter_defaults(notebook: Path) -> dict:
    """{name: default value} of a lesson's parameters cell (None where not a literal)."""
    import papermill

    defaults = {}
    for name, info in papermill.inspect_notebook(str(notebook)).items():
        try:
            defaults[name] = ast.literal_eval(info["default"])
        except (ValueError, SyntaxError):
            defaults[name] = None
    return defaults


def typed_parameters(notebook: Path, parameters: dict) -> dict:
    """`parameters` with text values read by the type of the lesson's defaults
    (`parse_value`); a ValueError names the parameter and the lesson."""
    defaults = parameter_defaults(notebook)
    typed = {}
    for key, value in parameters.items():
        if isinstance(value, str) and key in defaults:
            try:
                value = parse_value(value, defaults[key])
            except ValueError as err:
                raise ValueError(f"parameter {key} of {notebook.stem} {err}") from None
        typed[key] = value
    return typed


def run_lesson(
    notebook: Path, out_dir: Path, parameters: dict | None = None, export_html: bool = True
) -> LessonRun:
    """Execute one lesson with papermill into `out_dir`; return its timing and error.
    `output_dir` and `weights_dir`, when the lesson declares them and `parameters` does
    not set them, point into `out_dir` (05's output for 06's weights). While it runs, a
    progress bar on stderr counts its cells ("cell 12 of 57"). The error, if any, is one
    line: the failing cell's execution count, the exception's name and its whole message."""
    import papermill

    parameters = typed_parameters(notebook, dict(parameters or {}))
    declared = papermill.inspect_notebook(str(notebook))
    if "output_dir" in declared:
        parameters.setdefault("output_dir", str((out_dir / notebook.stem).resolve()))
    if "weights_dir" in declared:
        parameters.setdefault("weights_dir", str((out_dir / TRAINING_LESSON).resolve()))
    ignored = sorted(set(parameters) - set(declared))
    if ignored:
        print(f"  {notebook.name} has no parameter {', '.join(ignored)}: not passed", flush=True)
    parameters = {k: v for k, v in parameters.items() if k in declared}
    executed = out_dir / notebook.name
    start = time.perf_counter()
    error = None
    try:
        papermill.execute_notebook(
            str(notebook),
            str(executed),
            parameters=parameters,
            kernel_name=_kernel_name(),
            cwd=str(notebook.parent),
            progress_bar={"desc": f"  {notebook.stem}", "unit": "cell", "leave": False},
        )
    except papermill.PapermillExecutionError as err:  # the failing cell and its whole error
        error = f"cell {err.exec_count}: {err.ename}: {' '.join(str(err.evalue).split())}"
    except Exception as err:  # the kernel died, a file could not be read...; keep going
        error = " ".join(str(err).split()) or repr(err)
    seconds = time.perf_counter() - start
    if export_html and executed.exists():
        from nbconvert import HTMLExporter

        body, _ = HTMLExporter().from_filename(str(executed))
        executed.with_suffix(".html").write_text(body, encoding="utf-8")
    return LessonRun(notebook.stem, seconds, error)


def run_course(
    folder: str | Path | None = None,
    runs_dir: str | Path = "runs",
    parameters: dict | None = None,
    only: list[str] | None = None,
) -> Path:
    """Execute every lesson (or those whose names start with a prefix in `only`) in order.
    Returns the run folder, which holds the executed notebooks, HTML copies, and
    `summary.md` / `summary.json` (per-lesson runtime, final losses, evaluation table)."""
    import papermill

    chosen = [
        notebook
        for notebook in lessons(folder)
        if not only or any(notebook.stem.startswith(prefix) for prefix in only)
    ]
    declared = {n: set(papermill.inspect_notebook(str(n))) for n in chosen}
    unused = sorted(set(parameters or {}) - set().union(*declared.values()))
    if unused:
        print(f"no lesson has a parameter {', '.join(unused)}: ignored", flush=True)
    mine = {
        notebook: typed_parameters(
            notebook, {k: v for k, v in (parameters or {}).items() if k in declared[notebook]}
        )
        for notebook in chosen
    }  # a value of the wrong type stops here, before any lesson runs
    check_vgg_weights(chosen, declared, parameters or {})
    run_dir = Path(runs_dir) / f"course-{datetime.now():%Y%m%d-%H%M%S}"
    run_dir.mkdir(parents=True)
    results = []
    for notebook in chosen:
        print(f"running {notebook.name} ...", flush=True)
        result = run_lesson(notebook, run_dir, mine[notebook])
        status = "ok" if result.error is None else f"FAILED: {result.error}"
        print(f"  {result.seconds:6.1f} s  {status}", flush=True)
        results.append(result)
    write_summary(run_dir, results)
    return run_dir


def check_vgg_weights(chosen: list[Path], declared: dict[Path, set], parameters: dict) -> None:
    """Before any lesson runs: when a chosen lesson takes `vgg_weights` and the setting
    (the parameter, else $SRGAN_VGG_WEIGHTS, else "imagenet") asks for the ImageNet VGG19
    weights, fetch them now (Keras caches them; 80 MB once). Raises ValueError, one line
    that says how to go on, when they cannot be had (offline)."""
    users = [notebook.stem for notebook in chosen if "vgg_weights" in declared[notebook]]
    if not users:
        return
    from srgan_lib import losses, runtime

    if runtime.vgg_weights_setting(parameters.get("vgg_weights") or None) != "imagenet":
        return
    try:
        losses.build_vgg_feature_extractor("block1_conv1", "imagenet")
    except losses.VGGWeightsError as err:
        cause = " ".join(str(err.__cause__ or err).split())[:160]
        raise ValueError(
            f"The ImageNet VGG19 weights could not be downloaded ({cause}); lessons "
            f"{', '.join(users)} use them. To run the course offline: SRGAN_VGG_WEIGHTS=none "
            "srgan course run (or SRGAN_VGG_WEIGHTS=none make course: random VGG weights, "
            f"the lessons say so); or download {losses.VGG19_NOTOP_URL} elsewhere and place it "
            "in Keras' cache (~/.keras/models/)."
        ) from err


def final_rows(folder: Path) -> dict[Path, dict[str, str]]:
    """The last row of every `history.csv` under `folder` (training runs write one row per
    epoch), keyed by the run's folder relative to `folder`."""
    found = {}
    for history in sorted(Path(folder).glob("**/history.csv")):
        with history.open(newline="") as f:
            rows = list(csv.DictReader(f))
        if rows:
            found[history.parent.relative_to(folder)] = rows[-1]
    return found


def write_summary(run_dir: Path, results: list[LessonRun]) -> Path:
    """`summary.md` and `summary.json` in `run_dir`: lesson runtimes, then the last row of
    any lesson's `history.csv` and the contents of any lesson's `summary.md`."""
    lines = ["# Course run", "", "| lesson | seconds | status |", "| --- | ---: | --- |"]
    lines += [
        f"| {r.name} | {r.seconds:.1f} | {'ok' if r.error is None else 'failed: ' + r.error} |"
        for r in results
    ]
    lines.append(f"| **total** | {sum(r.seconds for r in results):.1f} | |")
    for r in results:
        for where, last in final_rows(run_dir / r.name).items():
            text = ", ".join(f"{k} {float(v):.4g}" for k, v in last.items() if v)
            lines += ["", f"## Final losses ({Path(r.name) / where})", "", text]
        evaluation = run_dir / r.name / "summary.md"
        if evaluation.is_file():
            lines += ["", f"## Evaluation ({r.name})", "", evaluation.read_text().strip()]
    summary = run_dir / "summary.md"
    summary.write_text("\n".join(lines) + "\n")
    (run_dir / "summary.json").write_text(
        json.dumps([r.__dict__ for r in results], indent=2) + "\n"
    )
    return summary
