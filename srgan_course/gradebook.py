"""The gradebook of a graded class, built from `checks.csv` (see grading.py).

    read_roster(path)       students from a CSV: an id column (student_id, id, username,
                            ...), and optionally name and email
    read_marks(path, ...)   manual marks from a CSV: student_id, grade_id, mark
    write_all(out_dir, ...) gradebook.csv, canvas.csv, moodle.csv and
                            needs-manual-grading.csv in out_dir

gradebook.csv has one row per student: points per graded cell, per lesson and in total,
`missing` for work not handed in, the graded file, its modification time and status, and
notes (duplicates, cells that need grading by hand, students missing from the roster).
canvas.csv follows Canvas's gradebook import layout (Student, ID, SIS User ID,
SIS Login ID, Section, then one column per assignment, with a "Points Possible" row);
moodle.csv has Moodle's "ID number" and "Email address" user columns, which its CSV grade
import maps to useridnumber and useremail, then one column per grade item.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

MISSING = "missing"
PENDING = "needs manual grading"
CANVAS_USER_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
MOODLE_USER_COLUMNS = ["ID number", "Email address", "Full name"]
_ID_NAMES = ("student_id", "studentid", "id", "student", "username", "login", "sis_user_id")
_NAME_NAMES = ("name", "full_name", "fullname", "student_name")
_EMAIL_NAMES = ("email", "email_address", "e_mail", "mail")


class GradebookError(ValueError):
    """A roster or marks file the teacher can fix: one line naming the problem."""


@dataclass(frozen=True)
class Student:
    id: str
    name: str = ""
    email: str = ""


def _key(header: str) -> str:
    return "_".join(header.strip().lower().replace("-", " ").split())


def _column(headers: list[str], names: tuple[str, ...]) -> str | None:
    keyed = {_key(h): h for h in headers if h}
    return next((keyed[name] for name in names if name in keyed), None)


def _read_csv(path: str | Path, what: str) -> tuple[list[str], list[dict]]:
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            rows = list(reader)
            return list(reader.fieldnames or []), rows
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise GradebookError(f"cannot read the {what} {path}: {err}") from err


def read_roster(path: str | Path) -> list[Student]:
    """Students from a CSV with a header row: an id column (`student_id`, `id`,
    `username`, ...; the names of the submission folders), and optionally `name` and
    `email`. Order is kept."""
    headers, rows = _read_csv(path, "roster")
    id_column = _column(headers, _ID_NAMES)
    if id_column is None:
        raise GradebookError(
            f"roster {path} has no student id column (found {', '.join(headers) or 'none'}): "
            "name it student_id (the submission folder names), with name and email beside it"
        )
    name_column, email_column = _column(headers, _NAME_NAMES), _column(headers, _EMAIL_NAMES)
    students, seen = [], set()
    for line, row in enumerate(rows, start=2):
        student_id = (row.get(id_column) or "").strip()
        if not student_id:
            continue
        if student_id in seen:
            raise GradebookError(f"roster {path} line {line}: student {student_id!r} twice")
        seen.add(student_id)
        students.append(
            Student(
                student_id,
                (row.get(name_column) or "").strip() if name_column else "",
                (row.get(email_column) or "").strip() if email_column else "",
            )
        )
    return students


def read_marks(path: str | Path, structure: dict) -> dict[tuple[str, str], float]:
    """Manual marks {(student id, grade_id): points} from a CSV with the columns
    `student_id`, `grade_id` and `mark` (needs-manual-grading.csv, filled in). Blank marks
    are skipped; a grade_id that is not a manually graded cell, or a mark outside
    0..points, is an error."""
    headers, rows = _read_csv(path, "marks file")
    id_column = _column(headers, _ID_NAMES)
    if id_column is None or "grade_id" not in headers or "mark" not in headers:
        raise GradebookError(
            f"marks file {path} needs the columns student_id, grade_id and mark "
            f"(found {', '.join(headers) or 'none'}): fill in needs-manual-grading.csv"
        )
    manual = {e.grade_id: e.points for cells in structure.values() for e in cells if e.manual}
    marks = {}
    for line, row in enumerate(rows, start=2):
        text = (row.get("mark") or "").strip()
        if not text:
            continue
        grade_id = (row.get("grade_id") or "").strip()
        if grade_id not in manual:
            raise GradebookError(
                f"marks file {path} line {line}: {grade_id!r} is not a manually graded cell "
                f"(those are: {', '.join(manual) or 'none'})"
            )
        try:
            mark = float(text)
        except ValueError:
            raise GradebookError(
                f"marks file {path} line {line}: mark {text!r} is not a number"
            ) from None
        if not 0 <= mark <= manual[grade_id]:
            raise GradebookError(
                f"marks file {path} line {line}: mark {mark:g} for {grade_id} is outside "
                f"0..{manual[grade_id]:g}"
            )
        marks[((row.get(id_column) or "").strip(), grade_id)] = mark
    return marks


def _lesson_status(rows: list[dict], pending: list[str]) -> str:
    error = rows[0]["submission_error"]
    if error.startswith("unreadable"):
        return error
    if error:
        return f"incomplete: {error}"
    return PENDING if pending else "graded"


def build(
    records: list[dict],
    structure: dict,
    roster: list[Student] | None = None,
    marks: dict | None = None,
    lessons: list[str] | None = None,
    folders: list[str] | None = None,
) -> tuple[list[str], list[dict], list[str]]:
    """(columns, rows, lesson stems) of the gradebook: one row per student of `roster`
    (else of the submission `folders` and the students in `records`), then anyone who
    handed work in but is not on the roster."""
    marks = marks or {}
    chosen = _choose_lessons(structure, records, lessons)
    by_submission: dict[tuple[str, str], list[dict]] = {}
    for row in records:
        by_submission.setdefault((row["student"], row["lesson"]), []).append(row)
    students = list(roster or [])
    known = {s.id for s in students}
    others = sorted({*(folders or []), *(row["student"] for row in records)} - known)
    students += [Student(name) for name in others]

    columns = ["student_id", "name", "email"]
    for stem in chosen:
        columns += [_cell_column(e) for e in structure[stem]]
        columns += [_lesson_column(stem, structure), f"{stem} file", f"{stem} modified"]
        columns += [f"{stem} status"]
    grand_max = sum(e.points for stem in chosen for e in structure[stem])
    total_column = f"total (/{grand_max:g})"
    columns += [total_column, "notes"]

    table = []
    for student in students:
        row = {"student_id": student.id, "name": student.name, "email": student.email}
        notes = [] if roster is None or student.id in known else ["not in roster"]
        total = 0.0
        for stem in chosen:
            graded = by_submission.get((student.id, stem))
            if graded is None:
                row.update({_cell_column(e): MISSING for e in structure[stem]})
                row[_lesson_column(stem, structure)] = MISSING
                row[f"{stem} status"] = MISSING
                continue
            points, pending = 0.0, []
            cells = {r["grade_id"]: r for r in graded}
            for exercise in structure[stem]:
                record = cells.get(exercise.grade_id)
                earned = record["earned"] if record else "0"
                if exercise.manual and (student.id, exercise.grade_id) in marks:
                    earned = f"{marks[(student.id, exercise.grade_id)]:g}"
                if earned == "":
                    pending.append(f"{exercise.grade_id} ({exercise.points:g})")
                    row[_cell_column(exercise)] = PENDING
                else:
                    row[_cell_column(exercise)] = earned
                    points += float(earned)
            first = graded[0]
            row[_lesson_column(stem, structure)] = f"{points:g}"
            row[f"{stem} file"] = first["file"]
            row[f"{stem} modified"] = first["modified"]
            row[f"{stem} status"] = _lesson_status(graded, pending)
            total += points
            if pending:
                notes.append(f"{PENDING}: {', '.join(pending)}")
            if first["duplicates"]:
                others_text = ", ".join(first["duplicates"].split(";"))
                notes.append(
                    f"duplicate {stem}: graded the newest file, {first['file']}; also handed in "
                    f"{others_text}"
                )
        row[total_column] = f"{total:g}"
        row["notes"] = "; ".join(notes)
        table.append(row)
    return columns, table, chosen


def _cell_column(exercise) -> str:
    return f"{exercise.grade_id} (/{exercise.points:g}{', manual' if exercise.manual else ''})"


def _lesson_column(stem: str, structure: dict) -> str:
    return f"{stem} (/{sum(e.points for e in structure[stem]):g})"


def _choose_lessons(structure: dict, records: list[dict], prefixes: list[str] | None) -> list[str]:
    if not prefixes:
        handed_in = {row["lesson"] for row in records}
        return [stem for stem in structure if stem in handed_in]
    chosen = [stem for stem in structure if any(stem.startswith(p) for p in prefixes)]
    unknown = [p for p in prefixes if not any(stem.startswith(p) for stem in structure)]
    if unknown:
        raise GradebookError(
            f"no lesson starts with {', '.join(unknown)}: the autograder has {', '.join(structure)}"
        )
    return chosen


def _write(path: Path, header: list[str], rows: list[list[str]]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    tmp.replace(path)


def write_all(
    out_dir: str | Path,
    structure: dict,
    roster: str | Path | None = None,
    marks: str | Path | None = None,
    lessons: list[str] | None = None,
    folders: list[str] | None = None,
    quiet: bool = False,
    records: list[dict] | None = None,
) -> Path:
    """Write gradebook.csv, canvas.csv, moodle.csv and needs-manual-grading.csv into
    `out_dir` from `records` (the rows of checks.csv, as grading holds them in memory) or,
    without them, from its checks.csv; returns gradebook.csv's path."""
    out_dir = Path(out_dir)
    if records is None:
        with (out_dir / "checks.csv").open(newline="", encoding="utf-8") as f:
            records = list(csv.DictReader(f))
    students = read_roster(roster) if roster else None
    given = read_marks(marks, structure) if marks else {}
    columns, table, chosen = build(records, structure, students, given, lessons, folders)
    gradebook = out_dir / "gradebook.csv"
    _write(gradebook, columns, [[row.get(c, "") for c in columns] for row in table])

    def lms_points(row: dict, stem: str) -> str:
        """A lesson's points for an LMS: blank while missing or still to grade by hand."""
        if row[f"{stem} status"] in (MISSING, PENDING):
            return ""
        return row[_lesson_column(stem, structure)]

    maxes = [f"{sum(e.points for e in structure[stem]):g}" for stem in chosen]
    canvas = [["Points Possible", "", "", "", "", *maxes]]
    canvas += [
        [
            row["name"] or row["student_id"],
            "",
            row["student_id"],
            "",
            "",
            *(lms_points(row, stem) for stem in chosen),
        ]
        for row in table
    ]
    _write(out_dir / "canvas.csv", [*CANVAS_USER_COLUMNS, *chosen], canvas)
    moodle = [
        [row["student_id"], row["email"], row["name"], *(lms_points(row, stem) for stem in chosen)]
        for row in table
    ]
    _write(out_dir / "moodle.csv", [*MOODLE_USER_COLUMNS, *chosen], moodle)

    todo = out_dir / "needs-manual-grading.csv"
    pending = 0
    if marks is None or Path(marks).resolve() != todo.resolve():
        names = {row["student_id"]: row["name"] for row in table}
        lines = []
        for record in records:
            if record["kind"] == "manual" and record["earned"] == "":
                mark = given.get((record["student"], record["grade_id"]))
                pending += mark is None
                lines.append(
                    [
                        record["student"],
                        names.get(record["student"], ""),
                        record["lesson"],
                        record["grade_id"],
                        record["points"],
                        "" if mark is None else f"{mark:g}",
                    ]
                )
        header = ["student_id", "name", "lesson", "grade_id", "points", "mark"]
        _write(todo, header, lines)
    if not quiet:
        print(f"wrote {gradebook} ({len(table)} students), canvas.csv, moodle.csv in {out_dir}")
        if pending:
            print(
                f"{pending} answers need grading by hand: fill in the mark column of {todo} "
                f"and run `srgan course gradebook {out_dir} --marks {todo}`"
            )
    return gradebook
