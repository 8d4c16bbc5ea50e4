"""Grade submitted notebooks against the autograder copies, where student code cannot reach
the tests or the results.

    grade(submission, autograder_notebook)    one notebook: a GradeReport, points per check
    grade_folder(submissions_dir, autograder_dir, out_dir)
                                              a class, into a gradebook (see gradebook.py)
    feedback_notebook(executed, report)       what a student may see

Modules: `cells` (which cells are checks; the hidden part of each, split off before any
kernel runs), `kernel` (a scratch folder, bubblewrap when installed, every process ended),
`checks` (grader checks: the student's function called on fixed inputs, its outputs compared
here with a reference computed here), `feedback` (no hidden-test text, outputs capped),
`grade` (one notebook), `folder` (a class), `report` (results). docs/teaching.md says what
each protects against, and what it does not.
"""

from srgan_course.grading.cells import (
    Exercise,
    GradingError,
    declared_parameters,
    exercises,
    is_check,
    is_manual,
    read_submission,
    split_check,
    with_autograder_checks,
)
from srgan_course.grading.feedback import feedback_notebook, limit_outputs, write_feedback
from srgan_course.grading.folder import (
    CHECK_FIELDS,
    find_submissions,
    grade_folder,
    match_lesson,
    rebuild_gradebook,
)
from srgan_course.grading.grade import (
    CELL_TIMEOUT,
    GRADING_PARAMETERS,
    grade,
    grading_parameters,
    prepare_lesson,
)
from srgan_course.grading.report import CheckResult, GradeReport, first_error

__all__ = [
    "CELL_TIMEOUT",
    "CHECK_FIELDS",
    "GRADING_PARAMETERS",
    "CheckResult",
    "Exercise",
    "GradeReport",
    "GradingError",
    "declared_parameters",
    "exercises",
    "feedback_notebook",
    "find_submissions",
    "first_error",
    "grade",
    "grade_folder",
    "grading_parameters",
    "is_check",
    "is_manual",
    "limit_outputs",
    "match_lesson",
    "prepare_lesson",
    "read_submission",
    "rebuild_gradebook",
    "split_check",
    "with_autograder_checks",
    "write_feedback",
]
