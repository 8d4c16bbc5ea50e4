"""Run the whole course: every lesson executed in order with papermill, with an executed
copy, an HTML copy and a summary written to `runs/course-<timestamp>/`.

Lessons that declare an `output_dir` parameter get `<run>/<lesson stem>/` and may leave
`history.csv` files (training) or `summary.md` (evaluation) there; the course summary
quotes them. A lesson that declares `weights_dir` (06) gets lesson 05's output folder.
"""

from __future__ import annotations

import csv
import json
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
KERNEL = "srgan-course"
TRAINING_LESSON = "05_alternating_training"


@dataclass
class LessonRun:
    """How one lesson's execution went: seconds of wall time and an error, if any."""

    name: str
    seconds: float
    error: str | None = None


def lessons(folder: str | Path | None = None) -> list[Path]:
    """The lesson notebooks in `folder` (default: the checkout's `notebooks/`), in course
    order (their names start 00_, 01_, ...)."""
    folder = NOTEBOOKS if folder is None else folder
    found = sorted(Path(folder).glob("[0-9][0-9]_*.ipynb"))
    if not found:
        raise FileNotFoundError(f"No lesson notebooks (NN_name.ipynb) in {folder}.")
    return found


def _kernel_name() -> str | None:
    """The project's kernel when `make setup` installed it, else the notebook's own."""
    from jupyter_client.kernelspec import KernelSpecManager

    return KERNEL if KERNEL in KernelSpecManager().find_kernel_specs() else None


def run_lesson(
    notebook: Path, out_dir: Path, parameters: dict | None = None, export_html: bool = True
) -> LessonRun:
    """Execute one lesson with papermill into `out_dir`; return its timing and error."""
    import papermill

    parameters = dict(parameters or {})
    declared = papermill.inspect_notebook(str(notebook))
    if "output_dir" in declared:
        parameters["output_dir"] = str((out_dir / notebook.stem).resolve())
    if "weights_dir" in declared:
        parameters["weights_dir"] = str((out_dir / TRAINING_LESSON).resolve())
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
            progress_bar=False,
        )
    except Exception as err:  # papermill's error names the failing cell; keep going
        error = str(err).strip().splitlines()[-1] if str(err).strip() else repr(err)
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

    run_dir = Path(runs_dir) / f"course-{datetime.now():%Y%m%d-%H%M%S}"
    run_dir.mkdir(parents=True)
    chosen = [
        notebook
        for notebook in lessons(folder)
        if not only or any(notebook.stem.startswith(prefix) for prefix in only)
    ]
    declared = {n: set(papermill.inspect_notebook(str(n))) for n in chosen}
    unused = sorted(set(parameters or {}) - set().union(*declared.values()))
    if unused:
        print(f"no lesson has a parameter {', '.join(unused)}: ignored", flush=True)
    results = []
    for notebook in chosen:
        print(f"running {notebook.name} ...", flush=True)
        mine = {k: v for k, v in (parameters or {}).items() if k in declared[notebook]}
        result = run_lesson(notebook, run_dir, mine)
        status = "ok" if result.error is None else f"FAILED: {result.error}"
        print(f"  {result.seconds:6.1f} s  {status}", flush=True)
        results.append(result)
    write_summary(run_dir, results)
    return run_dir


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
