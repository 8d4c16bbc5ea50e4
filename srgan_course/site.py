"""The course as a static website, built from an executed course run.

`build_site(run_dir, out_dir)` (the command `srgan course site RUN_DIR --out DIR`, or
`make site`) writes a folder of plain HTML that works offline and from any web server:

    index.html              what the course builds, the shipped models' crops, the lesson
                            map and how to run it (Colab, JupyterLab, `make course`)
    lessons/NN_name.html    each executed lesson, as a student sees it, with its outputs
    evaluation.html         the run's lesson 06 table and the shipped models' tables, each
                            beside the paper's Table 2
    cards/srresnet.html ... the shipped models' cards, with their crops
    shipped-models.html     docs/models.md
    teaching.html           the teacher's guide, docs/teaching.md

The tool is Sphinx with myst-nb (execution off: the run's stored outputs are rendered) and
sphinx-book-theme, all from PyPI (the `site` extra). Equations are converted to MathML at
build time (latex2mathml, pure Python), which browsers draw natively: the pages load no
script, font or style from the network, and links are relative. Solutions, hidden tests
and mark schemes are stripped with nbgrader's own preprocessors (those that make the
student copies), and the outputs of exercise and check cells are cleared.
"""

from __future__ import annotations

import io
import json
import posixpath
import re
import shutil
import tempfile
import time
from pathlib import Path

import nbformat

from srgan_course import classroom, publish, runner

ROOT = Path(__file__).resolve().parents[1]
#: Repository files that become site pages: repository path -> site path.
PAGES = {
    "docs/teaching.md": "teaching.md",
    "docs/models.md": "shipped-models.md",
    "srgan_lib/pretrained/srresnet.md": "cards/srresnet.md",
    "srgan_lib/pretrained/srgan.md": "cards/srgan.md",
    "srgan_lib/pretrained/crops.png": "cards/crops.png",
}
COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
BADGE_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="117" height="20" role="img" '
    'aria-label="Open in Colab"><rect width="117" height="20" rx="3" fill="#555"/>'
    '<rect x="20" width="97" height="20" rx="3" fill="#f9ab00"/>'
    '<circle cx="10" cy="10" r="5" fill="none" stroke="#f9ab00" stroke-width="3"/>'
    '<text x="68" y="14" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11" '
    'text-anchor="middle" fill="#fff">Open in Colab</text></svg>\n'
)
FAVICON_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16">'
    '<rect width="8" height="8" fill="#3d5a80"/><rect x="8" y="8" width="8" height="8" '
    'fill="#3d5a80"/><rect x="8" width="8" height="8" fill="#98c1d9"/>'
    '<rect y="8" width="8" height="8" fill="#98c1d9"/></svg>\n'
)
#: The theme lays equations out for MathJax's element; the same for MathML's.
MATHML_CSS = """div.math > math { flex-grow: 1; overflow: auto hidden; padding: 0.3rem 0; }
math { font-size: 1.1em; }
"""
#: nbgrader's student-copy steps that remove what students must not see; outputs stay.
_STRIP_STEPS = ["ClearSolutions", "ClearHiddenTests", "ClearMarkScheme"]
#: The paper's perceptual loss (its eq. 3 with eq. 6), shown on the home page.
PERCEPTUAL_LOSS = (
    r"l^{SR} = l^{SR}_{VGG/5.4} + 10^{-3} \sum_{n=1}^{N} -\log D\left(G\left(I^{LR}_n\right)\right)"
)
_LINK = re.compile(r"\]\(([^)\s]+)")
#: A solution's or hidden tests' body between nbgrader's markers, in a guide's example.
_MARKED = re.compile(r"(### BEGIN (SOLUTION|HIDDEN TESTS)\n)(.*?)(\n[ \t]*### END \2)", re.S)
_WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


class SiteError(Exception):
    """Bad input to the site build: the message names the problem and the fix."""


def executed_lessons(run_dir: Path) -> list[Path]:
    """The executed lessons (NN_name.ipynb) of a course run folder, in course order."""
    try:
        return runner.lessons(run_dir)
    except FileNotFoundError:
        raise SiteError(
            f"{run_dir} holds no executed lessons (NN_name.ipynb): give a folder that "
            "`srgan course run` wrote (runs/course-<time>/), or run `make course` first"
        ) from None


def student_view(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """An executed lesson as a student sees it: solutions replaced by their stubs, hidden
    tests and mark schemes removed (nbgrader's preprocessors), the outputs of exercise and
    check cells cleared, widget views and widget state dropped. Other outputs stay."""
    nb = classroom._run_preprocessors(nb, _STRIP_STEPS)
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        grader = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code":
            continue
        if grader.get("solution") or grader.get("grade"):
            cell.outputs = []
        cell.outputs = [o for o in cell.outputs if _WIDGET_VIEW not in o.get("data", {})]
    return nb


def _relink(text: str, repo_path: str, site_path: str, github: str) -> str:
    """`text` (markdown of the repository file `repo_path`, shown at `site_path`) with its
    relative links pointing at site pages where the target is one, else at `github`."""

    def fix(match: re.Match) -> str:
        target = match.group(1)
        if re.match(r"[a-z][a-z0-9+.-]*:|#|/", target):
            return match.group(0)
        path, _, anchor = target.partition("#")
        resolved = posixpath.normpath(posixpath.join(posixpath.dirname(repo_path), path))
        anchor = f"#{anchor}" if anchor else ""
        if resolved in PAGES:
            here = posixpath.dirname(site_path) or "."
            return "](" + posixpath.relpath(PAGES[resolved], here) + anchor
        return f"]({github}/{resolved}{anchor}"

    text = _MARKED.sub(_redact, _LINK.sub(fix, text))
    badge = posixpath.relpath("images/colab-badge.svg", posixpath.dirname(site_path) or ".")
    return text.replace(COLAB_BADGE, badge)


def _redact(match: re.Match) -> str:
    """An example's solution or hidden tests, replaced by `...` at their indentation."""
    indent = re.match(r"[ \t]*", match.group(3)).group(0)
    return f"{match.group(1)}{indent}...  # not shown on the website{match.group(4)}"


def _title(nb: nbformat.NotebookNode, fallback: str) -> str:
    """The first markdown heading of a lesson, without the leading #'s."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return fallback


def _evaluation_page(run_dir: Path) -> str:
    lines = [
        "# Evaluation beside the paper",
        "",
        "PSNR (dB) and SSIM on the Y channel (ITU-R BT.601), 4 border pixels removed, x4; "
        "the paper's figures are Ledig et al., CVPR 2017, Table 2.",
    ]
    summary = run_dir / "06_evaluation" / "summary.md"
    if summary.is_file():
        lines += ["", "## This run (lesson 06)", "", summary.read_text().strip()]
    else:
        lines += ["", "This run did not execute lesson 06: the tables below are the cards'."]
    for name in ("srresnet", "srgan"):
        card = (ROOT / "srgan_lib" / "pretrained" / f"{name}.md").read_text()
        table = "\n".join(
            line for line in card.split("## Evaluation", 1)[-1].splitlines() if line.startswith("|")
        )
        lines += ["", f"## Shipped `{name}` ([its card](cards/{name}.md))", "", table]
    return "\n".join(lines) + "\n"


def _home_page(lessons: list[tuple[str, str, float | None]], source, badge_path: str) -> str:
    """The home page: the result first, the lesson map, how to run."""
    from srgan_lib.shipped import pretrained_card

    variant = pretrained_card("srgan")["variant"]
    badge = publish.set_badge_path(source.badge_prefix() + lessons[0][0] + ".ipynb", badge_path)
    rows = "\n".join(
        f"| [{title}](lessons/{stem}.ipynb) | "
        + (f"{seconds:.0f} s |" if seconds is not None else "not run |")
        for stem, title, seconds in lessons
    )
    return f"""# SRGAN, built step by step in Keras 3

This course builds SRGAN (Ledig et al., CVPR 2017), a generative adversarial network that
upscales photographs four times, one idea per lesson, on a small tested library,
`srgan_lib`: the data and the x4 degradation, residual blocks, sub-pixel upsampling, the
discriminator, the VGG content loss, alternating GAN training, and the paper's evaluation.
The generator $G$ learns from the paper's perceptual loss, a content loss on VGG19 features
plus a small adversarial term from the discriminator $D$:

$$
{PERCEPTUAL_LOSS}
$$

## The result

![Zoomed crops from Set5 and Set14: bicubic, SRResNet, SRGAN, original](cards/crops.png)

The two generators `srgan_lib` ships, trained by the course's own code: bicubic, SRResNet,
SRGAN and the original image, zoomed. The shipped SRGAN is {variant}.
Their scores beside the paper's are on the [evaluation page](evaluation.md); how they were
trained is in their cards ([SRResNet](cards/srresnet.md), [SRGAN](cards/srgan.md)).

## The lessons

Each page below is the lesson as executed in this run, with its figures; the exercises are
shown as students get them (no solutions).

| lesson | run time in this run |
| --- | ---: |
{rows}

## Run it

- **Colab**, nothing to install: [![Open in Colab](images/colab-badge.svg)]({badge})
  opens lesson 00; every lesson page has its own badge.
- **JupyterLab**: `pip install -e ".[tf-cpu,dev]"`, then `jupyter lab notebooks/`.
- **The whole course at once**: `make course` runs every lesson in order and writes the
  executed copies to `runs/course-<time>/`; `make site` builds this website from the latest.

Teachers: see the [teacher's guide](teaching.md) and the [shipped models](shipped-models.md).

```{{toctree}}
:hidden:
:caption: Lessons

{chr(10).join(f"lessons/{stem}" for stem, _, _ in lessons)}
```

```{{toctree}}
:hidden:
:caption: Results and teaching

evaluation
cards/srresnet
cards/srgan
shipped-models
teaching
```
"""


def _conf(source) -> str:
    settings = {
        "project": "SRGAN course",
        "extensions": ["myst_nb", "sphinx.ext.githubpages", "srgan_course.site"],
        "html_theme": "sphinx_book_theme",
        "html_title": "SRGAN, step by step",
        "html_favicon": "images/favicon.svg",
        "html_math_renderer": "mathml",
        "html_theme_options": {
            "repository_url": f"https://github.com/{source.repo}",
            "use_repository_button": True,
            "use_download_button": False,
            "home_page_in_toc": True,
        },
        "html_static_path": ["_static"],
        "html_css_files": ["mathml.css"],
        "html_show_sourcelink": False,
        "html_copy_source": False,
        "nb_execution_mode": "off",
        "nb_ipywidgets_js": {},
        "nb_merge_streams": True,
        "myst_enable_extensions": ["dollarmath", "amsmath"],
        "myst_heading_anchors": 3,
        "exclude_patterns": ["_build"],
        "suppress_warnings": ["mystnb.unknown_mime_type"],
    }
    return "".join(f"{key} = {value!r}\n" for key, value in settings.items())


def write_source(
    run_dir: Path, src: Path, notebooks_dir: Path | None = None, badge_path: str | None = None
) -> list[Path]:
    """Lay out the Sphinx source of the site in `src`: the lessons' student views with the
    run's outputs, the home and evaluation pages, the cards and guides, and conf.py.
    Returns the lesson files written."""
    badge_path = badge_path or classroom.STUDENT_BADGE_PATH
    source = publish.read_source(notebooks_dir)
    github = f"https://github.com/{source.repo}/blob/{source.ref}"
    times = {}
    if (run_dir / "summary.json").is_file():
        times = {
            r["name"]: r["seconds"] for r in json.loads((run_dir / "summary.json").read_text())
        }
    (src / "lessons").mkdir(parents=True)
    (src / "images").mkdir()
    (src / "images" / "colab-badge.svg").write_text(BADGE_SVG)
    (src / "images" / "favicon.svg").write_text(FAVICON_SVG)
    (src / "_static").mkdir()
    (src / "_static" / "mathml.css").write_text(MATHML_CSS)
    written, lessons = [], []
    for executed in executed_lessons(run_dir):
        nb = student_view(nbformat.read(executed, as_version=4))
        site_path = f"lessons/{executed.name}"
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                text = publish.set_badge_path(cell.source, badge_path)
                cell.source = _relink(text, f"notebooks/{executed.name}", site_path, github)
        nbformat.write(nb, src / site_path)
        written.append(src / site_path)
        lessons.append((executed.stem, _title(nb, executed.stem), times.get(executed.stem)))
    for repo_path, site_path in PAGES.items():
        (src / site_path).parent.mkdir(parents=True, exist_ok=True)
        if repo_path.endswith(".md"):
            text = (ROOT / repo_path).read_text()
            (src / site_path).write_text(_relink(text, repo_path, site_path, github))
        else:
            shutil.copyfile(ROOT / repo_path, src / site_path)
    (src / "index.md").write_text(_home_page(lessons, source, badge_path))
    (src / "evaluation.md").write_text(_evaluation_page(run_dir))
    (src / "conf.py").write_text(_conf(source))
    return written


def build_site(
    run_dir: str | Path,
    out_dir: str | Path,
    notebooks_dir: str | Path | None = None,
    badge_path: str | None = None,
    overwrite: bool = False,
) -> tuple[Path, float, list[str]]:
    """Build the website of the executed course in `run_dir` into `out_dir`.

    Args:
        run_dir: a folder written by `srgan course run` (executed NN_name.ipynb lessons,
            summary.json, 06_evaluation/summary.md when lesson 06 ran).
        out_dir: where the HTML goes; an existing non-empty folder only with `overwrite`.
        notebooks_dir: where install_source.json (repository and ref) is read from.
        badge_path: the `/blob/REF/notebooks/` part of the Colab badges (default: the
            student copies' branch).
        overwrite: replace the contents of an existing `out_dir`.

    Returns:
        (out_dir, seconds the build took, Sphinx's warnings).

    Raises:
        SiteError: no executed lessons, `out_dir` in use, Sphinx missing or its build failed.
    """
    start = time.perf_counter()
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    executed_lessons(run_dir)
    if out_dir.exists() and any(out_dir.iterdir()) and not overwrite:
        raise SiteError(f"{out_dir} is not empty: choose another --out or pass --overwrite")
    try:
        from sphinx.application import Sphinx
        from sphinx.errors import SphinxError
        from sphinx.util import console
    except ImportError:
        raise SiteError(
            'Sphinx is not installed: pip install -e ".[site]" (or run `make site`)'
        ) from None
    with tempfile.TemporaryDirectory(prefix="srgan-site-") as tmp:
        src, html = Path(tmp) / "src", Path(tmp) / "html"
        write_source(run_dir, src, notebooks_dir and Path(notebooks_dir), badge_path)
        log = io.StringIO()
        warnings = io.StringIO()
        console.nocolor()
        try:
            doctrees = Path(tmp) / "doctrees"
            app = Sphinx(src, src, html, doctrees, "html", status=log, warning=warnings)
            app.build()
        except SphinxError as err:
            raise SiteError(f"the site build failed: {' '.join(str(err).split())}") from None
        if app.statuscode:
            raise SiteError(f"the site build failed: {warnings.getvalue().strip()[-2000:]}")
        for template in (html / "_static").glob("*.html"):  # the theme's macros, not pages
            template.unlink()
        if (html / "_sources").is_dir() and not any((html / "_sources").iterdir()):
            (html / "_sources").rmdir()
        if out_dir.exists():
            shutil.rmtree(out_dir)
        shutil.copytree(html, out_dir)
    found = [line.replace(str(src) + "/", "") for line in warnings.getvalue().splitlines()]
    return out_dir, time.perf_counter() - start, found


# Sphinx extension: equations as MathML, converted at build time.


def _mathml(self, node, display: str) -> str:
    from latex2mathml.converter import convert
    from sphinx.util import logging

    latex = node.astext()
    try:
        return convert(latex, display=display)
    except Exception as err:  # latex2mathml raises many kinds for TeX it does not know
        logging.getLogger(__name__).warning(
            f"equation not converted ({err}): {latex}", location=node
        )
        return f'<code class="math-error">{self.encode(latex)}</code>'


def _visit_math(self, node) -> None:
    from docutils import nodes

    self.body.append(f'<span class="math">{_mathml(self, node, "inline")}</span>')
    raise nodes.SkipNode


def _visit_math_block(self, node) -> None:
    from docutils import nodes

    self.body.append(self.starttag(node, "div", CLASS="math"))
    if node.get("number"):
        number = f"({node['number']})"
        self.body.append(f'<span class="eqno">{number}</span>')
    self.body.append(_mathml(self, node, "block") + "</div>\n")
    raise nodes.SkipNode


def setup(app) -> dict:
    """Register the `mathml` HTML math renderer (html_math_renderer = "mathml")."""
    app.add_html_math_renderer("mathml", (_visit_math, None), (_visit_math_block, None))
    return {"parallel_read_safe": True, "parallel_write_safe": True}
