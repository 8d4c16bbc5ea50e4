"""Student and autograder copies, the exercise convention, grading and sweeps.

Fast checks run on every lesson present; one real lesson (01) is executed as a student
would run it, and grading runs on a tiny synthetic nbgrader notebook. That the solution
notebooks pass all their visible and hidden checks is the job of CI's nbval run."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from srgan_course import classroom, cli, runner

REPO = Path(__file__).resolve().parents[1]

LESSONS = runner.lessons(REPO / "notebooks")
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
HIDDEN_BEGIN, HIDDEN_END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
BADGE = re.compile(r"https://colab\.research\.google\.com/github/[^)\s]+\.ipynb")


def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def _by_grade_id(nb) -> dict:
    return {_meta(c)["grade_id"]: c for c in nb.cells if _meta(c).get("grade_id")}


def _without_region(source: str, begin: str, end: str, stub: str | None = None) -> str:
    """`source` with the lines from `begin` to `end` replaced by `stub` (indented as the
    `begin` line), as nbgrader does."""
    pattern = re.compile(
        rf"^([ \t]*){re.escape(begin)}.*?^[ \t]*{re.escape(end)}[^\n]*\n?", re.M | re.S
    )

    def replace(match):
        if stub is None:
            return ""
        return "".join(match.group(1) + line + "\n" for line in stub.split("\n"))

    return pattern.sub(replace, source)


def _region(source: str, begin: str, end: str) -> str:
    return source.split(begin, 1)[1].split(end, 1)[0]


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    """`srgan course student --out DIST` on the checkout's lessons."""
    out = tmp_path_factory.mktemp("dist")
    assert cli.main(["course", "student", "--out", str(out)]) == 0
    return out


def test_lessons_follow_the_exercise_convention():
    for lesson in LESSONS:
        nb = nbformat.read(lesson, as_version=4)
        solutions = [c for c in nb.cells if _meta(c).get("solution") and c.cell_type == "code"]
        assert solutions, f"{lesson.name} has no exercises"
        for cell in solutions:  # written answers (markdown) are graded by hand instead
            name = _meta(cell)["grade_id"]
            source = cell.source
            signature = re.search(r"^def (\w+)\(", source, re.M)
            assert signature, f"{lesson.name} {name}: an exercise asks for a function"
            function = signature.group(1)
            head, body = source.split(BEGIN, 1)
            assert f"def {function}(" in head and '"""' in head, (
                f"{lesson.name} {name}: signature and docstring stay outside the markers"
            )
            assert re.search(rf"^[ \t]+{BEGIN}", source, re.M), (
                f"{lesson.name} {name}: the markers sit inside the function body"
            )
            assert body.split(END, 1)[1].strip() == "", (
                f"{lesson.name} {name}: the whole body goes between the markers"
            )
            check = nb.cells[nb.cells.index(cell) + 1]
            assert _meta(check).get("grade") and _meta(check).get("points"), (
                f"{lesson.name} {name}: a graded check cell with points follows the exercise"
            )
            asserts = [line for line in check.source.splitlines() if line.startswith("assert")]
            assert asserts and asserts[0].startswith(
                f'assert {asserts[0].split()[1]} is not None, "`{function}` returned None: '
                'write its body where it says YOUR CODE HERE"'
            ), f"{lesson.name} {name}: the check's first assert is the 'returned None' hint"
            assert HIDDEN_BEGIN in check.source, f"{lesson.name} {name}: hidden tests"


#: What the exercises' functions use from their lessons, to run the teacher's solutions here.
SOLUTION_GLOBALS = """
import numpy as np, keras
from keras import layers
from srgan_lib import data, layers as srgan_layers, losses, metrics
from scipy.ndimage import gaussian_filter, uniform_filter
IMAGENET_MEAN_BGR = np.array([103.939, 116.779, 123.68], dtype="float32")
BODY = [(1, 1), (1, 2), (2, 1), (2, 2), (4, 1), (4, 2), (8, 1), (8, 2)]
def bce_from_logits(logits, target):
    stable = np.maximum(logits, 0) - logits * target + np.log1p(np.exp(-np.abs(logits)))
    return float(np.mean(stable))
BT601_Y = np.array([65.481, 128.553, 24.966]) / 255.0
def luma(image):
    return 16.0 + image.astype(np.float64) @ BT601_Y
def batch_psnr(gan, lr, hr):
    sr = data.to_uint8(gan.generator(lr, training=False))
    return float(np.mean([metrics.psnr(s, h) for s, h in zip(sr, data.to_uint8(hr))]))
def mean_d_fake(gan, lr):
    sr = gan.generator(lr, training=False)
    return float(keras.ops.mean(gan.discriminator(sr, training=False)))
"""


def test_every_check_has_a_grader_check_the_solutions_pass_and_a_stub_fails():
    """Each check's GRADER CHECK prepares in this process; the teacher's solution, called
    as the grader's harness calls it, matches the reference; a constant answer does not."""
    import copy

    from srgan_course.grading import cells, checks

    for lesson in LESSONS:
        nb = nbformat.read(lesson, as_version=4)
        scope: dict = {}
        exec(SOLUTION_GLOBALS, scope)
        for cell in nb.cells:
            if _meta(cell).get("solution") and cell.cell_type == "code":
                exec(cell.source, scope)
        for grade_id, part in cells.hidden_parts(nb).items():
            assert part.spec is not None, f"{lesson.name} {grade_id}: no GRADER CHECK"
            check = checks.prepare(part.spec, grade_id)
            assert check.cases, f"{lesson.name} {grade_id}: no cases"
            probe: dict = {}
            exec(check.probe, probe)
            function = scope[check.function]
            for number, ((args, kwargs), want) in enumerate(
                zip(copy.deepcopy(check.cases), check.expected, strict=True)
            ):
                call = probe.get("probe")
                got = call(function, *args, **kwargs) if call else function(*args, **kwargs)
                failure = checks._compare(checks._data(got), want, check)
                assert failure is None, f"{lesson.name} {grade_id} case {number}: {failure}"
            zeros = [checks._data(0) for _ in check.expected]  # a stub's answer fails
            assert any(
                checks._compare(g, w, check) for g, w in zip(zeros, check.expected, strict=True)
            )


#: Wrong answers a student could give that pass (some of) the visible asserts or look
#: plausible; each must fail its grader check. {grade_id: [source defining the function]}.
MISTAKES = {
    "00_psnr_check": [  # on RGB instead of Y; x[0:-0] is empty when crop_border is 0
        "def psnr(sr, hr, crop_border=4):\n"
        "    c = crop_border\n"
        "    d = sr[c:sr.shape[0] - c, c:sr.shape[1] - c].astype(float) - hr[c:hr.shape[0] - c, "
        "c:hr.shape[1] - c]\n"
        "    mse = np.mean(d ** 2)\n"
        "    return np.inf if mse == 0 else 10 * np.log10(255 ** 2 / mse)\n",
        "def psnr(sr, hr, crop_border=4):\n"
        "    c = crop_border\n"
        "    d = (luma(sr) - luma(hr))[c:-c, c:-c]\n"
        "    mse = np.mean(d ** 2)\n"
        "    return np.inf if mse == 0 else 10 * np.log10(255 ** 2 / mse)\n",
    ],
    "01_prelu_alpha_gradient_check": [  # the mean, not the sum, over the batch and pixels
        "def prelu_alpha_gradient(x, upstream):\n"
        "    return np.mean(upstream * np.minimum(x, 0.0), axis=(0, 1, 2))\n",
    ],
    "01_fold_batch_norm_check": [  # epsilon ignored
        "def fold_batch_norm(kernel, bias, gamma, beta, mean, variance, epsilon=1e-3):\n"
        "    scale = gamma / np.sqrt(variance + 1e-3)\n"
        "    return kernel * scale, (bias - mean) * scale + beta\n",
    ],
    "02_pixel_unshuffle_check": [  # the two scale axes swapped: right for C = 1 only
        "def pixel_unshuffle(x, scale):\n"
        "    b, h, w, c = x.shape\n"
        "    x = np.reshape(x, (b, h // scale, scale, w // scale, scale, c))\n"
        "    x = np.transpose(x, (0, 1, 3, 4, 2, 5))\n"
        "    return np.reshape(x, (b, h // scale, w // scale, scale * scale * c))\n",
    ],
    "02_upsampling_parameters_check": [  # PReLU slopes counted before the shuffle
        "def upsampling_parameters(scale, filters=64):\n"
        "    per_block = 9 * filters * 4 * filters + 4 * filters + 4 * filters\n"
        "    return int(np.log2(scale)) * per_block\n",
    ],
    "03_discriminator_parameters_check": [  # right for the paper's D only
        "def discriminator_parameters(hr_size=96, filters=64):\n    return 23_565_505\n",
    ],
    "03_receptive_field_check": [  # strides ignored
        "def receptive_field(kernels_and_strides):\n"
        "    return 1 + sum(kernel - 1 for kernel, _ in kernels_and_strides)\n",
    ],
    "04_caffe_deprocess_check": [  # no clipping: -500 wraps around
        "def caffe_deprocess(vgg_input):\n"
        "    bgr = np.asarray(vgg_input, 'float32') + IMAGENET_MEAN_BGR\n"
        "    return np.round(bgr[..., ::-1]).astype(np.uint8)\n",
    ],
    "04_random_vgg_ratios_check": [  # seeded once, not before each extractor
        "def random_vgg_ratios(layer, seeds, hr, shifted, blurred):\n"
        "    keras.utils.set_random_seed(seeds[0] if seeds else 0)\n"
        "    ratios = []\n"
        "    for seed in seeds:\n"
        "        vgg = losses.build_vgg_feature_extractor(layer, weights=None)\n"
        "        ratios.append(float(losses.content_loss(vgg, hr, blurred))\n"
        "                      / float(losses.content_loss(vgg, hr, shifted)))\n"
        "    return ratios\n",
    ],
    "07_relativistic_d_loss_check": [  # the generator's targets; a BCE that overflows
        "def relativistic_d_loss(real_logits, fake_logits):\n"
        "    return bce_from_logits(real_logits - fake_logits.mean(), 0.0) + bce_from_logits(\n"
        "        fake_logits - real_logits.mean(), 1.0)\n",
        "def relativistic_d_loss(real_logits, fake_logits):\n"
        "    def bce(z, t):\n"
        "        p = 1 / (1 + np.exp(-z))\n"
        "        return float(np.mean(-t * np.log(p) - (1 - t) * np.log(1 - p)))\n"
        "    return bce(real_logits - fake_logits.mean(), 1.0) + bce(\n"
        "        fake_logits - real_logits.mean(), 0.0)\n",
    ],
    "07_strongest_phase_check": [  # the largest mean, not the largest |mean|
        "def strongest_phase(image, period=4):\n"
        "    y = metrics.to_y(image)[4:-4, 4:-4]\n"
        "    band = y - uniform_filter(y, period, mode='reflect')\n"
        "    phases = metrics.phase_means(band, period)\n"
        "    return np.unravel_index(int(np.argmax(phases)), phases.shape)\n",
    ],
}


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the mistakes divide by zero
@pytest.mark.parametrize("grade_id", sorted(MISTAKES))
def test_grader_checks_fail_typical_wrong_answers(grade_id):
    import copy

    from srgan_course.grading import cells, checks

    lesson = next(path for path in LESSONS if path.name.startswith(grade_id[:2]))
    spec = cells.hidden_parts(nbformat.read(lesson, as_version=4))[grade_id].spec
    check = checks.prepare(spec, grade_id)
    probe: dict = {}
    exec(check.probe, probe)
    call = probe.get("probe")
    for source in MISTAKES[grade_id]:
        scope: dict = {}
        exec(SOLUTION_GLOBALS + source, scope)
        function = scope[check.function]
        failures = []
        for (args, kwargs), want in zip(copy.deepcopy(check.cases), check.expected, strict=True):
            try:
                got = call(function, *args, **kwargs) if call else function(*args, **kwargs)
            except Exception as err:  # the harness reports an exception as a failed case
                failures.append(repr(err))
                continue
            failures.append(checks._compare(checks._data(got), want, check))
        assert any(failures), f"{grade_id}: a wrong answer passes\n{source}"


#: Lesson 05's sweep as a student who restores the models but not the optimizers writes it.
SWEEP_WITHOUT_OPTIMIZERS = """
def adversarial_sweep(gan, weights, lr, hr, steps=3):
    variables = gan.generator.weights + gan.discriminator.weights
    start, start_weight = [v.numpy().copy() for v in variables], gan.adversarial_weight
    results = []
    for weight in weights:
        for variable, value in zip(variables, start):
            variable.assign(value)
        gan.adversarial_weight = weight
        for _ in range(steps):
            gan.discriminator_step(lr, hr)
            gan.generator_step(lr, hr)
        results.append((weight, batch_psnr(gan, lr, hr), mean_d_fake(gan, lr)))
    for variable, value in zip(variables, start):
        variable.assign(value)
    gan.adversarial_weight = start_weight
    return results
"""


def test_the_sweep_check_fails_a_sweep_that_keeps_adams_state():
    """Lesson 05's adversarial_sweep is judged through its probe (a tiny seeded SRGAN): a
    sweep that restores G and D but not the optimizers gives other rows than the teacher's."""
    from srgan_course.grading import cells, checks

    lesson = next(p for p in LESSONS if p.name.startswith("05_"))
    part = cells.hidden_parts(nbformat.read(lesson, as_version=4))["05_adversarial_sweep_check"]
    check = checks.prepare(part.spec, part.grade_id)
    scope: dict = {}
    exec(SOLUTION_GLOBALS + SWEEP_WITHOUT_OPTIMIZERS, scope)
    probe: dict = {}
    exec(check.probe, probe)
    (args, kwargs), want = check.cases[0], check.expected[0]
    got = probe["probe"](scope["adversarial_sweep"], *args, **kwargs)
    assert checks._compare(checks._data(got), want, check) == "wrong values (value 1)"


def test_student_copies_drop_solutions_hidden_tests_and_outputs(dist):
    for lesson in LESSONS:
        source = nbformat.read(lesson, as_version=4)
        student = nbformat.read(dist / "student" / lesson.name, as_version=4)
        text = nbformat.writes(student)
        for marker in (BEGIN, END, HIDDEN_BEGIN, HIDDEN_END):
            assert marker not in text, f"{lesson.name}: {marker} survived"
        assert [c.cell_type for c in student.cells] == [c.cell_type for c in source.cells]
        student_cells = _by_grade_id(student)
        for grade_id, cell in _by_grade_id(source).items():
            copy = student_cells[grade_id]
            if _meta(cell).get("solution") and cell.cell_type == "markdown":  # a written answer
                assert copy.source == classroom.TEXT_STUB, f"{lesson.name} {grade_id}"
            elif _meta(cell).get("solution"):
                expected = _without_region(cell.source, BEGIN, END, classroom.CODE_STUB)
                assert copy.source.rstrip() == expected.rstrip(), f"{lesson.name} {grade_id}"
                for line in _region(cell.source, BEGIN, END).splitlines()[1:]:
                    assert not line.strip() or line not in copy.source.splitlines(), (
                        f"{lesson.name} {grade_id}: solution line {line!r} survived"
                    )
            else:  # the visible checks stay, word for word
                visible = _without_region(cell.source, HIDDEN_BEGIN, HIDDEN_END)
                assert copy.source.strip() == visible.strip(), f"{lesson.name} {grade_id}"
                assert copy.metadata.get("editable") is False
        for cell in student.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None
        badges = [b for c in student.cells for b in BADGE.findall(c.source)]
        assert badges, f"{lesson.name}: no Colab badge"
        for badge in badges:
            assert badge.endswith(f"/blob/student/notebooks/{lesson.name}"), badge


def test_autograder_copies_keep_hidden_tests_and_drop_solutions(dist):
    for lesson in LESSONS:
        source = nbformat.read(lesson, as_version=4)
        autograder = nbformat.read(dist / "autograder" / lesson.name, as_version=4)
        assert BEGIN not in nbformat.writes(autograder)
        copies = _by_grade_id(autograder)
        for grade_id, cell in _by_grade_id(source).items():
            if _meta(cell).get("solution") and cell.cell_type == "markdown":
                assert copies[grade_id].source == classroom.TEXT_STUB, f"{lesson.name} {grade_id}"
            elif _meta(cell).get("solution"):
                body = _region(cell.source, BEGIN, END).splitlines()[1:]
                assert copies[grade_id].source.splitlines()[-len(body) :] != body
            else:
                assert copies[grade_id].source == cell.source, f"{lesson.name} {grade_id}"


def test_student_copy_runs_to_the_first_check_and_fails_with_its_hint(dist):
    """As a student's "Run all" of lesson 01: every cell before the first exercise runs,
    then the first check stops it with the hint, not a NameError or TypeError."""
    from nbclient.exceptions import CellExecutionError

    lesson = next(p for p in LESSONS if p.name.startswith("01_"))
    nb = nbformat.read(dist / "student" / lesson.name, as_version=4)
    from nbclient import NotebookClient

    client = NotebookClient(
        nb,
        timeout=120,
        kernel_name=runner._kernel_name() or "python3",
        resources={"metadata": {"path": str(REPO / "notebooks")}},
    )
    with pytest.raises(CellExecutionError) as raised:
        client.execute()
    assert raised.value.ename == "AssertionError"
    assert raised.value.evalue == (
        "`prelu_alpha_gradient` returned None: write its body where it says YOUR CODE HERE"
    )
    code = [c for c in nb.cells if c.cell_type == "code"]
    first_check = next(i for i, c in enumerate(code) if _meta(c).get("grade"))
    for cell in code[:first_check]:
        assert cell.execution_count is not None, cell.source[:60]
        assert not any(o.output_type == "error" for o in cell.outputs), cell.source[:60]
    assert code[first_check].outputs[-1].output_type == "error"
    assert all(c.execution_count is None for c in code[first_check + 1 :])


#: Lessons whose written answers carry their rubric (issue 18).
RUBRIC_LESSONS = ("00", "01", "02", "03", "04", "05", "06", "07")


def test_written_answers_have_a_rubric_for_the_grader_only(dist):
    """The rubric of each written answer (what earns 0, 1 and 2 points) sits in the hidden
    tests of the check cell before it: the autograder copy keeps it, the student copy
    does not."""
    for lesson in LESSONS:
        if lesson.name[:2] not in RUBRIC_LESSONS:
            continue
        source = nbformat.read(lesson, as_version=4)
        autograder = nbformat.writes(nbformat.read(dist / "autograder" / lesson.name, as_version=4))
        student = nbformat.writes(nbformat.read(dist / "student" / lesson.name, as_version=4))
        for index, cell in enumerate(source.cells):
            if not (_meta(cell).get("solution") and cell.cell_type == "markdown"):
                continue
            grade_id = _meta(cell)["grade_id"]
            check = next(c for c in reversed(source.cells[:index]) if _meta(c).get("grade"))
            rubric = _region(check.source, HIDDEN_BEGIN, HIDDEN_END)
            assert f"# Rubric for the written answer {grade_id}" in rubric, grade_id
            for points in ("# 2:", "# 1:", "# 0:"):
                assert points in rubric, f"{grade_id}: the rubric says what earns {points[2]}"
            assert f"Rubric for the written answer {grade_id}" in autograder, grade_id
            assert "Rubric for" not in student, lesson.name


def test_solutions_keep_the_answers_and_drop_hidden_tests(tmp_path):
    assert cli.main(["course", "solutions", "--out", str(tmp_path)]) == 0
    for lesson in LESSONS:
        source = nbformat.read(lesson, as_version=4)
        released = nbformat.read(tmp_path / "solutions" / lesson.name, as_version=4)
        text = nbformat.writes(released)
        for marker in (BEGIN, END, HIDDEN_BEGIN, HIDDEN_END):
            assert marker not in text, f"{lesson.name}: {marker} survived"
        copies = _by_grade_id(released)
        for grade_id, cell in _by_grade_id(source).items():
            if _meta(cell).get("solution") and cell.cell_type == "markdown":  # a written answer
                assert copies[grade_id].source == cell.source, grade_id  # the model answer
            elif _meta(cell).get("solution"):
                for line in _region(cell.source, BEGIN, END).splitlines()[1:]:
                    if line.strip():
                        assert line in copies[grade_id].source.splitlines(), (grade_id, line)
            else:
                hidden = _region(cell.source, HIDDEN_BEGIN, HIDDEN_END).strip().splitlines()
                assert hidden and hidden[0] not in copies[grade_id].source, grade_id


# --- sweeps, on toy lessons 05 and 06 ---------------------------------------------------


def _toy(cells: list[str], folder: Path, name: str) -> None:
    lesson = new_notebook(cells=[new_code_cell(source) for source in cells])
    lesson.cells[0].metadata["tags"] = ["parameters"]
    lesson.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "P"}
    nbformat.write(lesson, folder / f"{name}.ipynb")


def test_sweep_types_values_chains_05_into_06_and_links_runs(tmp_path):
    lessons = tmp_path / "lessons"
    lessons.mkdir()
    _toy(
        [
            'srgan_epochs = 1\nshuffle = True\noutput_dir = ""',
            "from pathlib import Path\n"
            "assert isinstance(shuffle, bool) and isinstance(srgan_epochs, int)\n"
            "out = Path(output_dir) / 'srgan'\nout.mkdir(parents=True, exist_ok=True)\n"
            "rows = ['epoch,g_loss'] + [f'{e},{1 / e}' for e in range(1, srgan_epochs + 1)]\n"
            "(out / 'history.csv').write_text('\\n'.join(rows) + '\\n')\n"
            "(Path(output_dir) / 'srgan.weights.h5').write_text(f'{srgan_epochs} {shuffle}')",
        ],
        lessons,
        "05_alternating_training",
    )
    _toy(
        [
            'weights_dir = ""\nshipped = True\noutput_dir = ""',
            "from pathlib import Path\nassert shipped is False\n"
            "epochs, shuffle = (Path(weights_dir) / 'srgan.weights.h5').read_text().split()\n"
            "Path(output_dir).mkdir(parents=True, exist_ok=True)\n"
            "(Path(output_dir) / 'summary.csv').write_text("
            "f'set,method,psnr,ssim\\nSet5,SRGAN,{20 + int(epochs)},0.{epochs}\\n')",
        ],
        lessons,
        "06_evaluation",
    )
    out = tmp_path / "sweep"
    argv = ["course", "sweep", "05", "-p", "srgan_epochs=2,4", "-p", "shuffle=false"]
    assert cli.main([*argv, "--out", str(out), "--notebooks", str(lessons)]) == 0
    with (out / "comparison.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [
        (r["run"], r["shuffle"], r["status"], r["srgan epochs done"], r["srgan final g_loss"])
        for r in rows
    ] == [("01-2", "False", "ok", "2", "0.5"), ("02-4", "False", "ok", "4", "0.25")]
    assert [(r["PSNR Set5 SRGAN (dB)"], r["SSIM Set5 SRGAN"]) for r in rows] == [
        ("22", "0.2"),
        ("24", "0.4"),
    ]
    table = (out / "comparison.md").read_text()
    assert "[05](01-2/05_alternating_training.html)" in table
    assert "[06](02-4/06_evaluation.html)" in table
    for row in rows:
        for link in row["html"].split():
            assert (out / link).is_file(), link
    # a value that does not fit the parameter's type stops the sweep before any run
    bad = [*argv[:4], "srgan_epochs=many", "--out", str(tmp_path / "bad")]
    assert cli.main([*bad, "--notebooks", str(lessons)]) == 2
    assert not (tmp_path / "bad").exists()


def test_parameters_are_read_by_the_type_of_their_default():
    assert runner.parse_value("false", True) is False
    assert runner.parse_value("True", False) is True
    assert runner.parse_value("5", 1) == 5 and isinstance(runner.parse_value("5", 1), int)
    assert runner.parse_value("0.5", 1) == 0.5
    assert runner.parse_value("5", "text") == "5"
    assert runner.parse_value("false") is False and runner.parse_value("3") == 3
    with pytest.raises(ValueError, match="expects true or false"):
        runner.parse_value("maybe", True)
