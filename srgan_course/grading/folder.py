"""Grade a class: find each student's submissions, grade them one by one (or a few at a
time), and keep the results in this process until they are written out.

The autograder notebooks are read, and their grader checks prepared, once before any kernel
runs; grading uses those copies only. Results go to checks.csv and the gradebook from
memory (the file is rewritten whole after each submission, never read back while grading).
When grading ends, an autograder file that changed on disk is put back as it was, and a
written output that changed is named: without a sandbox, code that finds them by absolute
path can write them (see kernel.py).
"""

from __future__ import annotations

import csv
import re
import tempfile
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import nbformat

from srgan_course import gradebook, runner
from srgan_course.grading import kernel
from srgan_course.grading.cells import Exercise, GradingError, declared_parameters, exercises
from srgan_course.grading.feedback import unreadable_feedback
from srgan_course.grading.grade import (
    CELL_TIMEOUT,
    grade,
    grading_parameters,
    prepare_lesson,
)
from srgan_course.grading.report import CheckResult, GradeReport
from srgan_lib import files

#: The columns of checks.csv, the record of grading written as it goes.
CHECK_FIELDS = [
    "student",
    "lesson",
    "file",
    "modified",
    "sha256",
    "duplicates",
    "grade_id",
    "kind",
    "points",
    "earned",
    "result",
    "submission_error",
]


_LESSON_NUMBER = re.compile(r"(?<!\d)(\d\d)_")


def match_lesson(filename: str, autograder_notebooks: list[Path]) -> Path | None:
    """The autograder notebook a submitted file is for: its full name appears in the file
    name, else its two-digit number does ("Copy of 01_residual_blocks.ipynb" -> 01_...)."""
    for notebook in autograder_notebooks:
        if notebook.stem in filename:
            return notebook
    found = _LESSON_NUMBER.search(filename)
    if found:
        for notebook in autograder_notebooks:
            if notebook.name.startswith(found.group(1) + "_"):
                return notebook
    return None


@dataclass
class Submission:
    """The file graded for one student and lesson (the newest if there are several)."""

    student: str
    lesson: Path
    path: Path
    duplicates: list[Path] = field(default_factory=list)

    @property
    def modified(self) -> str:
        stamp = datetime.fromtimestamp(self.path.stat().st_mtime, tz=timezone.utc)
        return stamp.strftime("%Y-%m-%d %H:%M:%S UTC")


def find_submissions(submissions_dir: str | Path, autograder_notebooks: list[Path]):
    """`submissions_dir/<student>/*.ipynb` matched to lessons: a list of Submission (one
    per student and lesson; with several files for a lesson the most recently modified is
    graded and the others are listed as duplicates), and the students' folder names."""
    root = Path(submissions_dir)
    if not root.is_dir():
        raise GradingError(
            f"no submissions folder at {root}: pass the folder that holds one folder per student"
        )
    found, students = [], []
    for student_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        students.append(student_dir.name)
        by_lesson: dict[Path, list[Path]] = {}
        for path in sorted(student_dir.glob("*.ipynb")):
            lesson = match_lesson(path.name, autograder_notebooks)
            if lesson is None:
                print(f"{student_dir.name}/{path.name}: no lesson of that name, skipped")
                continue
            by_lesson.setdefault(lesson, []).append(path)
        for lesson, paths in sorted(by_lesson.items()):
            paths.sort(key=lambda p: (p.stat().st_mtime, p.name), reverse=True)
            found.append(Submission(student_dir.name, lesson, paths[0], paths[1:]))
    return found, students


def _sha256(path: Path) -> str:
    """The file's digest, or "" when it cannot be read (graded as unreadable)."""
    try:
        return files.sha256(path)
    except OSError:
        return ""


@dataclass
class Lesson:
    """An autograder notebook as read before grading began: its text (to put back if a
    submission changed the file), the notebook, and its prepared grader checks."""

    path: Path
    text: bytes
    notebook: object
    prepared: dict
    exercises: list[Exercise]


def _read_lessons(autograder_notebooks: list[Path]) -> dict[Path, Lesson]:
    lessons = {}
    for path in autograder_notebooks:
        text = path.read_bytes()
        notebook = nbformat.reads(text.decode("utf-8"), as_version=4)
        lessons[path] = Lesson(path, text, notebook, prepare_lesson(notebook), exercises(notebook))
    return lessons


def _grade_one(item: Submission, lesson: Lesson, out_dir: Path, timeout: int, parameters, hidden):
    """Grade one submission; whatever goes wrong stays in its report."""
    stem = item.lesson.stem
    feedback = out_dir / "feedback" / item.student / f"{stem}.html"
    executed = out_dir / "executed" / item.student / f"{stem}.ipynb"
    try:
        report = grade(
            item.path,
            item.lesson,
            executed_path=executed,
            timeout=timeout,
            parameters=parameters,
            feedback_path=feedback,
            autograder=lesson.notebook,
            prepared=lesson.prepared,
            hidden_folders=hidden,
        )
    except Exception as err:  # a grading failure is this submission's, not the class's
        report = GradeReport(item.path.name, error=f"grading failed: {type(err).__name__}: {err}")
        report.checks = [
            CheckResult(e.grade_id, e.points, 0.0, f"not graded: {report.error}", e.manual)
            for e in lesson.exercises
        ]
    if not feedback.is_file():
        unreadable_feedback(report, feedback)
    written = {path: _sha256(path) for path in (feedback, executed) if path.is_file()}
    return report, written


def _restore(lessons: dict[Path, Lesson]) -> list[Path]:
    """Put back any autograder file that is no longer what was read; return those."""
    changed = []
    for lesson in lessons.values():
        try:
            same = lesson.path.read_bytes() == lesson.text
        except OSError:
            same = False
        if not same:
            lesson.path.write_bytes(lesson.text)
            changed.append(lesson.path)
    return changed


def grade_folder(
    submissions_dir: str | Path,
    autograder_dir: str | Path,
    out_dir: str | Path = "grading",
    *,
    roster: str | Path | None = None,
    marks: str | Path | None = None,
    lessons: list[str] | None = None,
    timeout: int = CELL_TIMEOUT,
    jobs: int = 1,
    parameters: dict | None = None,
    regrade: bool = False,
    resume: bool = False,
) -> Path:
    """Grade a class: `submissions_dir/<student>/<lesson>.ipynb` (one folder per student;
    Colab's "Copy of ..." names are fine), `jobs` submissions at a time. Writes into
    `out_dir`, as grading goes: `checks.csv` (one row per graded cell of each submission),
    `executed/<student>/<lesson>.ipynb` (for the teacher: hidden checks inside) and
    `feedback/<student>/<lesson>.html` (for the student); then the gradebook and its
    exports (see `gradebook.write_all`). `roster` is a CSV of students (else the folder
    names), `marks` a CSV of manual marks, `lessons` name prefixes for the gradebook's
    columns (default: every lesson someone handed in). Returns the gradebook's path.
    An earlier `checks.csv` in `out_dir` is kept unless `regrade` (grade everything again)
    or `resume` (keep its results for files that have not changed since, grade the rest:
    to continue a grading that was stopped, or after late submissions)."""
    out_dir = Path(out_dir)
    records_path = out_dir / "checks.csv"
    if records_path.exists() and not (regrade or resume):
        raise GradingError(
            f"{records_path} holds an earlier grading: pass --resume to grade only what it "
            "lacks, --regrade to grade everything again, or run `srgan course gradebook` to "
            "rebuild the gradebook from it"
        )
    autograder_notebooks = _autograder_lessons(autograder_dir)
    submissions, folders = find_submissions(submissions_dir, autograder_notebooks)
    read = _read_lessons(autograder_notebooks)  # before any kernel runs
    structure = {path.stem: lesson.exercises for path, lesson in read.items()}
    _check_parameters(read, parameters)
    # a bad roster, marks file or lesson prefix stops here, not after grading
    if roster:
        gradebook.read_roster(roster)
    if marks:
        gradebook.read_marks(marks, structure)
    gradebook.build([], structure, lessons=lessons)
    try:
        mode = kernel.sandbox_mode()
    except RuntimeError as err:
        raise GradingError(str(err)) from None
    records: list[dict] = []
    if resume and not regrade and records_path.is_file():
        with records_path.open(newline="") as f:
            current = {(s.student, s.lesson.stem): _sha256(s.path) for s in submissions}
            records = [
                row
                for row in csv.DictReader(f)
                if row["sha256"] and current.get((row["student"], row["lesson"])) == row["sha256"]
            ]
        done = {(row["student"], row["lesson"]) for row in records}
        submissions = [s for s in submissions if (s.student, s.lesson.stem) not in done]
        print(f"kept the results of {len(done)} unchanged submissions", flush=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_records(records_path, records)
    print(kernel.sandbox_note(mode), flush=True)
    print(f"grading {len(submissions)} submissions, {max(1, jobs)} at a time", flush=True)
    # out of a sandboxed kernel's reach: these, the autograder's parent (dist/, with the
    # solutions) and the lesson sources where grading runs (./notebooks), unless one of
    # them holds this Python or this package (see kernel._bwrap_prefix)
    hidden = [Path(autograder_dir), Path(submissions_dir), out_dir]
    hidden += [Path(autograder_dir).resolve().parent, Path.cwd() / "notebooks"]
    written: dict[Path, str] = {}
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {
            pool.submit(
                _grade_one, item, read[item.lesson], out_dir, timeout, parameters, hidden
            ): item
            for item in submissions
        }
        for future in as_completed(futures):
            item = futures[future]
            report, files_written = future.result()
            written.update(files_written)
            records += _records(item, report)
            _write_records(records_path, records)
            print(f"{item.student}: {report}", flush=True)
            gradebook.write_all(
                out_dir, structure, roster, marks, lessons, folders, quiet=True, records=records
            )
    for path in _restore(read):
        print(f"warning: {path} was changed while grading; put back as it was read", flush=True)
    changed = sorted(str(p) for p, digest in written.items() if _sha256(p) != digest)
    if changed:
        print(
            "warning: files written by the grader changed afterwards (a submission reached "
            f"them by absolute path): {', '.join(changed)}; regrade with bubblewrap installed",
            flush=True,
        )
    _write_records(records_path, records)
    return gradebook.write_all(out_dir, structure, roster, marks, lessons, folders, records=records)


def _check_parameters(read: dict[Path, Lesson], parameters: dict | None) -> None:
    """Stop before grading when a parameter has the wrong type or no lesson declares it."""
    declared = set()
    with tempfile.TemporaryDirectory() as scratch:
        for path, lesson in read.items():
            declared |= set(declared_parameters(lesson.notebook))
            folder = Path(scratch) / path.stem
            folder.mkdir()
            grading_parameters(lesson.notebook, path.stem, parameters, folder)
    unknown = sorted(set(parameters or {}) - declared)
    if unknown:
        raise GradingError(
            f"no lesson has a parameter {', '.join(unknown)}: use the names in a lesson's "
            "parameters cell"
        )


def _records(item: Submission, report: GradeReport) -> list[dict]:
    base = {
        "student": item.student,
        "lesson": item.lesson.stem,
        "file": item.path.name,
        "modified": item.modified,
        "sha256": _sha256(item.path),
        "duplicates": ";".join(p.name for p in item.duplicates),
        "submission_error": report.error or "",
    }
    return [
        {
            **base,
            "grade_id": check.grade_id,
            "kind": "manual" if check.manual else "auto",
            "points": f"{check.points:g}",
            "earned": "" if check.earned is None else f"{check.earned:g}",
            "result": check.result,
        }
        for check in report.checks
    ]


def _write_records(path: Path, records: list[dict]) -> None:
    """checks.csv from the records held in memory, replaced whole (atomically)."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CHECK_FIELDS)
        writer.writeheader()
        writer.writerows(records)
    tmp.replace(path)


def class_structure(autograder_notebooks: list[Path]) -> dict[str, list[Exercise]]:
    """{lesson stem: its graded cells} for the autograder notebooks."""
    return {
        notebook.stem: exercises(nbformat.read(notebook, as_version=4))
        for notebook in autograder_notebooks
    }


def rebuild_gradebook(
    out_dir: str | Path,
    autograder_dir: str | Path,
    roster: str | Path | None = None,
    marks: str | Path | None = None,
    lessons: list[str] | None = None,
) -> Path:
    """Write the gradebook again from `out_dir/checks.csv` (no notebook runs): to merge
    new manual marks, or another roster."""
    records = Path(out_dir) / "checks.csv"
    if not records.is_file():
        raise GradingError(f"no {records}: run `srgan course grade` with --out {out_dir} first")
    structure = class_structure(_autograder_lessons(autograder_dir))
    return gradebook.write_all(out_dir, structure, roster, marks, lessons)


def _autograder_lessons(autograder_dir: str | Path) -> list[Path]:
    try:
        return runner.lessons(autograder_dir)
    except FileNotFoundError:
        raise GradingError(
            f"no autograder notebooks (NN_name.ipynb) in {autograder_dir}: run "
            "`srgan course student` (it writes dist/autograder) or pass --autograder"
        ) from None
