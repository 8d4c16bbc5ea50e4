"""Grader checks: a student's function judged in the grader process, not in the kernel.

A check cell's hidden part may hold one GRADER CHECK block, a Python dict literal that the
grader parses (it is never run in a kernel):

    ### BEGIN GRADER CHECK
    {
        "function": "prelu_numpy",                    # the student's function, by name
        "setup": "x = rng.normal(size=(2, 3, 4, 5)).astype('float32')",
        "cases": ["call(x, np.full(5, 0.25, 'float32'))", "call(-x, np.zeros(5, 'float32'))"],
        "reference": "lambda x, alpha: np.where(x > 0, x, alpha * x)",
        "rtol": 1e-6, "atol": 0.0,                    # np.allclose (exact for integers)
        "library": ["srgan_lib.layers.prelu"],        # calling these scores 0
        "hint": "negative values are multiplied by their channel's slope",
    }
    ### END GRADER CHECK

`setup` (code), `cases` (expressions: a `call(...)` or a list of them) and `reference` (an
expression giving a function) are the teacher's: they run in the grader process, once per
lesson before any submission runs, with `np`, a seeded `rng` (`seed`, default 0) and
`call(*args, **kwargs)`, and may import srgan_lib, so the reference comes from the grader's
own, pristine copy. After the student's last cell the grader sends a
small harness holding the inputs as data; it calls the function and sends the outputs back
as `.npy` bytes. The comparison happens here: patching numpy, srgan_lib, the notebook's
globals or IPython hooks in the kernel can at most send back wrong data. An optional `probe`
(code defining `probe(function, *args, **kwargs)`) runs in the kernel instead of the plain
call, to turn what the function returns (a Keras tensor of a model being built) into data;
what it computes there is as trustworthy as the kernel, so prefer plain calls.
"""

from __future__ import annotations

import ast
import base64
import copy
import io
import json
import pickle
import uuid
from dataclasses import dataclass, field

import numpy as np

from srgan_course.grading.cells import GradingError

_HARNESS = """\
def __srgan_grader_check():
    import base64, io, json, pickle
    import numpy
    from IPython.display import display
    cases = pickle.loads(base64.b64decode({inputs!r}))
    function = globals().get({function!r})
    scope = {{}}
    exec({probe!r}, scope)
    probe = scope.get("probe")

    def encode(value):
        if isinstance(value, (list, tuple)):
            return {{"list": [encode(item) for item in value]}}
        array = numpy.asarray(value)
        if array.dtype == object:
            raise TypeError("returned " + type(value).__name__ + ", not numbers")
        buffer = io.BytesIO()
        numpy.save(buffer, array, allow_pickle=False)
        return {{"npy": base64.b64encode(buffer.getvalue()).decode()}}

    results = []
    for args, kwargs in cases:
        try:
            if not callable(function):
                raise NameError({function!r} + " is not defined")
            value = probe(function, *args, **kwargs) if probe else function(*args, **kwargs)
            results.append(encode(value))
        except Exception as err:
            results.append({{"error": (type(err).__name__ + ": " + str(err))[:300]}})
    display({{{mime!r}: json.dumps(results)}}, raw=True)


__srgan_grader_check()
del __srgan_grader_check
"""


@dataclass
class Prepared:
    """A grader check ready to send: inputs and the reference's outputs, computed here."""

    grade_id: str
    function: str
    cases: list[tuple[tuple, dict]]
    expected: list
    rtol: float = 1e-6
    atol: float = 0.0
    dtype: str | None = None
    library: list[str] = field(default_factory=list)
    hint: str = ""
    probe: str = ""


def _data(value):
    """Lists for tuples and lists, numpy arrays for anything else."""
    if isinstance(value, (list, tuple)):
        return [_data(item) for item in value]
    array = np.asarray(value)
    if array.dtype == object:
        raise TypeError(f"not numbers: {type(value).__name__}")
    return array


def prepare(spec: dict, grade_id: str) -> Prepared:
    """Evaluate a spec's inputs and reference outputs in this process.

    Raises:
        GradingError: the spec's code fails or gives no (args, kwargs) cases.
    """
    scope = {
        "np": np,
        "rng": np.random.default_rng(spec.get("seed", 0)),
        "call": lambda *args, **kwargs: (args, kwargs),
    }
    try:  # the teacher's code, read before any kernel ran
        exec(spec.get("probe", ""), scope)  # the reference may use the probe too
        exec(spec.get("setup", ""), scope)
        cases = []
        for text in spec.get("cases", ["call()"]):
            value = eval(text, scope)  # one call(...) or a list of them
            cases += value if isinstance(value, list) else [value]
        if not all(isinstance(c, tuple) and len(c) == 2 and isinstance(c[1], dict) for c in cases):
            raise TypeError("each case must be call(*args, **kwargs)")
        reference = eval(spec["reference"], scope)
        expected = [_data(reference(*copy.deepcopy(a), **copy.deepcopy(k))) for a, k in cases]
    except Exception as err:
        raise GradingError(
            f"the GRADER CHECK of {grade_id} fails in the grader: {type(err).__name__}: {err}"
        ) from err
    return Prepared(
        grade_id,
        spec["function"],
        cases,
        expected,
        float(spec.get("rtol", 1e-6)),
        float(spec.get("atol", 0.0)),
        spec.get("dtype"),
        list(spec.get("library", [])),
        str(spec.get("hint", "")),
        str(spec.get("probe", "")),
    )


def harness(check: Prepared, mime: str) -> str:
    """The code the grader sends to the kernel for `check`."""
    inputs = base64.b64encode(pickle.dumps(check.cases)).decode()
    return _HARNESS.format(inputs=inputs, function=check.function, probe=check.probe, mime=mime)


def new_mime() -> str:
    """A media type of its own for one submission's answers."""
    return f"application/x-srgan-grader-{uuid.uuid4().hex}"


def _decode(item):
    if not isinstance(item, dict):
        raise ValueError("malformed answer")
    if "list" in item:
        return [_decode(value) for value in item["list"]]
    if "npy" in item:
        return np.load(io.BytesIO(base64.b64decode(item["npy"])), allow_pickle=False)
    raise ValueError(item.get("error", "malformed answer"))


def _compare(got, want, check: Prepared, where: str = "") -> str | None:
    if isinstance(want, list):
        if not isinstance(got, list) or len(got) != len(want):
            return f"expected {len(want)} values{where}"
        for index, (g, w) in enumerate(zip(got, want, strict=True)):
            failure = _compare(g, w, check, f"{where} (value {index + 1})")
            if failure:
                return failure
        return None
    if isinstance(got, list):
        return f"expected one value{where}, got {len(got)}"
    if got.shape != want.shape:
        return f"expected shape {want.shape}, got {got.shape}{where}"
    if check.dtype and got.dtype != np.dtype(check.dtype):
        return f"expected dtype {check.dtype}, got {got.dtype}{where}"
    if got.dtype.kind not in "biufc":
        return f"expected numbers, got {got.dtype}{where}"
    if want.dtype.kind in "fc" or got.dtype.kind in "fc":
        same = np.allclose(got, want, rtol=check.rtol, atol=check.atol, equal_nan=True)
    else:
        same = np.array_equal(got, want)
    return None if same else f"wrong values{where}"


def judge(check: Prepared, outputs: list, mime: str) -> str | None:
    """None when the answers in `outputs` (those of the harness cell) match the reference,
    else why not, in one line without the hidden inputs."""
    answers = [o["data"][mime] for o in outputs if mime in o.get("data", {})]
    if len(answers) != 1:
        return f"grader check: {len(answers)} answers came back instead of one"
    try:
        results = json.loads(answers[0])
        if not isinstance(results, list) or len(results) != len(check.expected):
            raise ValueError("malformed answer")
    except ValueError as err:
        return f"grader check: {err}"
    hint = f" ({check.hint})" if check.hint else ""
    for number, (result, want) in enumerate(zip(results, check.expected, strict=True), start=1):
        try:
            got = _decode(result)
        except ValueError as err:
            return f"grader check, hidden case {number}: {err}{hint}"
        failure = _compare(got, want, check)
        if failure:
            return f"grader check, hidden case {number}: {failure}{hint}"
    return None


# --- the library's own answer -----------------------------------------------------------


def _parse(source: str):
    lines = ["" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()]
    try:
        return ast.parse("\n".join(lines))
    except SyntaxError:
        return None


def library_call(nb, function: str, library: list[str]) -> str | None:
    """Which of `library` (dotted paths: "srgan_lib.metrics.psnr") the student's
    `function` uses, directly or through the notebook's other functions and aliases; None
    if none. Read from the notebook's source: a call the source hides (getattr with a
    computed name) is not found."""
    if not library:
        return None
    targets = {path.rsplit(".", 1)[-1]: path for path in library}
    names = dict(targets)
    defs = {}
    trees = [t for c in nb.cells if c.cell_type == "code" for t in [_parse(c.source)] if t]
    for _ in range(3):  # aliases of aliases
        for tree in trees:
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom):
                    for alias in node.names:
                        if alias.name in names:
                            names[alias.asname or alias.name] = names[alias.name]
                elif isinstance(node, ast.Assign) and len(node.targets) == 1:
                    value = node.value
                    leaf = (
                        value.attr
                        if isinstance(value, ast.Attribute)
                        else getattr(value, "id", None)
                    )
                    if leaf in names and isinstance(node.targets[0], ast.Name):
                        names[node.targets[0].id] = names[leaf]
    rebound = []  # `function = <expression>` anywhere: what it is bound to is called too
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef):
                defs[node.name] = node
            elif isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
                bound = node.targets if isinstance(node, ast.Assign) else [node.target]
                if any(isinstance(t, ast.Name) and t.id == function for t in bound):
                    rebound.append(node.value)
    for value in rebound:
        for node in ast.walk(value):
            if isinstance(node, ast.Attribute) and node.attr in targets:
                return targets[node.attr]
            if isinstance(node, ast.Name) and node.id in names:
                return names[node.id]
    seen, todo = set(), [function]
    while todo:
        name = todo.pop()
        if name in seen or name not in defs:
            continue
        seen.add(name)
        local = {a.arg for a in ast.walk(defs[name].args) if isinstance(a, ast.arg)}
        local |= {
            n.id
            for n in ast.walk(defs[name])
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
        }
        for node in ast.walk(defs[name]):
            if isinstance(node, ast.Attribute) and node.attr in targets:
                return targets[node.attr]
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                if node.id in names and node.id not in local:
                    return names[node.id]
                if node.id in defs:
                    todo.append(node.id)
    return None
