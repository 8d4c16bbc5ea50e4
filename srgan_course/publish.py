"""Where Colab installs the course from, and rewriting the lessons for a teacher's fork.

One file beside the lessons, `notebooks/install_source.json`, names the GitHub repository
and the ref (a branch, a tag or a commit) that the lessons' Colab badges open and that
their setup cell installs `srgan_lib` from:

    {"repo": "OWNER/NAME", "ref": "main", "student_ref": "student"}

`publish(repo, ref)` (the command `srgan course publish --repo OWNER/NAME --ref REF`)
writes that file and rewrites, from it, two things in every lesson and student copy: the
Colab badge (`.../github/OWNER/NAME/blob/REF/notebooks/<lesson>.ipynb`; the student copies
open `student_ref`) and the install block of the setup cell (`setup_block`). Nothing else
in a notebook changes.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

import nbformat

from srgan_course import runner

SOURCE_FILE = "install_source.json"
_COLAB = "https://colab.research.google.com/github/"
#: A Colab badge's target up to the lesson's file name: owner/repository, then the ref.
BADGE = re.compile("(" + re.escape(_COLAB) + r"[^/\s)]+/[^/\s)]+)/blob/\S+?/notebooks/")
#: The first line of the setup cell's install block; the block is that line and its body.
INSTALL_GUARD = 'if "google.colab" in sys.modules:'
_REPO = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
_REF = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_./-]*")


@dataclass(frozen=True)
class InstallSource:
    """A GitHub repository "OWNER/NAME", the ref the lessons and the install use, and the
    branch that holds the student copies."""

    repo: str
    ref: str = "main"
    student_ref: str = "student"

    def __post_init__(self):
        if not _REPO.fullmatch(self.repo):
            raise ValueError(f"repository {self.repo!r} is not OWNER/NAME (e.g. ada/srgan-course)")
        for ref in (self.ref, self.student_ref):
            if not _REF.fullmatch(ref) or ".." in ref:
                raise ValueError(f"ref {ref!r} is not a branch, tag or commit name (e.g. main)")

    @property
    def pip_url(self) -> str:
        """What pip installs: the repository at `ref`, fetched with git (any branch, tag
        or commit works)."""
        return f"git+https://github.com/{self.repo}@{self.ref}"

    def badge_prefix(self, ref: str | None = None) -> str:
        """The Colab link up to the lesson's file name, for `ref` (default `self.ref`)."""
        return f"{_COLAB}{self.repo}/blob/{ref or self.ref}/notebooks/"


def read_source(notebooks_dir: str | Path | None = None) -> InstallSource:
    """The install source kept in `notebooks_dir`/install_source.json (default: the
    checkout's notebooks/)."""
    path = Path(notebooks_dir or runner.default_notebooks()) / SOURCE_FILE
    try:
        return InstallSource(**json.loads(path.read_text()))
    except FileNotFoundError:
        raise FileNotFoundError(
            f"No {path}: run `srgan course publish --repo OWNER/NAME --ref REF` to make it."
        ) from None


def write_source(source: InstallSource, notebooks_dir: str | Path | None = None) -> Path:
    """Write `source` to `notebooks_dir`/install_source.json; return its path."""
    path = Path(notebooks_dir or runner.default_notebooks()) / SOURCE_FILE
    path.write_text(json.dumps(asdict(source), indent=2) + "\n")
    return path


def setup_block(pip_url: str) -> str:
    """The setup cell's install block: on Colab only, pip installs srgan-course from
    `pip_url` next to Colab's packages (which it leaves as they are, so no runtime restart
    is needed) and, if pip fails, prints its error and says what to do."""
    return f'''{INSTALL_GUARD}  # install srgan_lib; Colab's own packages stay as they are
    import subprocess

    SRGAN_SOURCE = "{pip_url}"  # set by `srgan course publish`
    pip = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", f"srgan-course @ {{SRGAN_SOURCE}}"],
        capture_output=True,
        text=True,
    )
    if pip.returncode != 0:
        print(pip.stdout[-2000:], pip.stderr[-3000:])
        raise RuntimeError(
            f"Could not install srgan-course from {{SRGAN_SOURCE}} (pip's error is above). "
            "Check that the runtime is online and that the repository is public and has that "
            "branch or commit (ask your teacher for the course's Colab link), then rerun this "
            "cell: no runtime restart is needed."
        )'''


def replace_setup_block(code: str, pip_url: str) -> str:
    """`code` (a setup cell) with its install block (the `INSTALL_GUARD` line and the
    indented lines under it) replaced by `setup_block(pip_url)`."""
    lines = code.split("\n")
    starts = [i for i, line in enumerate(lines) if line.startswith(INSTALL_GUARD)]
    if len(starts) != 1:
        raise ValueError(f"the setup cell needs one line starting {INSTALL_GUARD!r}")
    end = start = starts[0]
    for i in range(start + 1, len(lines)):
        if lines[i].strip() and not lines[i][0].isspace():
            break
        if lines[i].strip():
            end = i
    return "\n".join([*lines[:start], setup_block(pip_url), *lines[end + 1 :]])


def set_badges(text: str, prefix: str) -> str:
    """`text` with every Colab badge's link, up to the lesson's file name, set to
    `prefix` (an `InstallSource.badge_prefix`)."""
    return BADGE.sub(lambda _: prefix, text)


def set_badge_path(text: str, badge_path: str) -> str:
    """`text` with the `/blob/REF/notebooks/` part of every Colab badge set to
    `badge_path`, the repository left as it is."""
    return BADGE.sub(lambda m: m.group(1) + badge_path, text)


def rewrite_notebook(nb, pip_url: str, badge_prefix: str):
    """Set the Colab badges (markdown cells) and the setup cell's install block (the first
    code cell holding `INSTALL_GUARD`) of `nb` in place; other cells, and all metadata,
    stay as they are. Returns `nb`."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = set_badges(cell.source, badge_prefix)
    setup = next((c for c in nb.cells if c.cell_type == "code" and INSTALL_GUARD in c.source), None)
    if setup is None:
        raise ValueError(f"no setup cell: a code cell holding {INSTALL_GUARD!r}")
    setup.source = replace_setup_block(setup.source, pip_url)
    return nb


def publish(
    source: InstallSource,
    notebooks_dir: str | Path | None = None,
    student_dir: str | Path | None = None,
) -> list[Path]:
    """Record `source` in `notebooks_dir`/install_source.json and rewrite the badges and
    install blocks of the lessons there (badges open `source.ref`) and of the student
    copies in `student_dir` if given (badges open `source.student_ref`). Notebooks that
    already match are not rewritten. Returns the notebooks written."""
    notebooks_dir = Path(notebooks_dir or runner.default_notebooks())
    targets = [(p, source.badge_prefix()) for p in runner.lessons(notebooks_dir)]
    if student_dir is not None:
        student = source.badge_prefix(source.student_ref)
        targets += [(p, student) for p in runner.lessons(student_dir)]
    changed = []
    for path, prefix in targets:  # every notebook checked before any is written
        nb = nbformat.read(path, as_version=4)
        before = nbformat.writes(nb)
        try:
            rewrite_notebook(nb, source.pip_url, prefix)
        except ValueError as err:
            raise ValueError(f"{path}: {err}") from None
        if nbformat.writes(nb) != before:
            changed.append((path, nb))
    write_source(source, notebooks_dir)
    for path, nb in changed:
        nbformat.write(nb, path)
    return [path for path, _ in changed]


#: Where a fork's GitHub Pages workflow goes, from the repository root.
PAGES_WORKFLOW = Path(".github") / "workflows" / "pages.yml"


def pages_workflow(source: InstallSource) -> str:
    """A GitHub Actions workflow that, on each push to `source.ref` (or by hand), runs the
    course on the runner's CPU (`make course`), builds the website (`make site`) and
    publishes it with GitHub Pages (Settings > Pages > Source: GitHub Actions)."""
    return f"""# Written by `srgan course publish`: the course website on GitHub Pages.
# Enable it in the repository's Settings > Pages > Source: GitHub Actions.
name: course website
on:
  push:
    branches: [{json.dumps(source.ref)}]
  workflow_dispatch:
permissions:
  contents: read
  pages: write
  id-token: write
concurrency:
  group: pages
  cancel-in-progress: false
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.11"
      - run: make course
      - run: make site SITE=_site
      - uses: actions/upload-pages-artifact@v3
        with:
          path: _site
  deploy:
    needs: build
    runs-on: ubuntu-latest
    environment:
      name: github-pages
      url: ${{{{ steps.deployment.outputs.page_url }}}}
    steps:
      - id: deployment
        uses: actions/deploy-pages@v4
"""


def check_pages_workflow(
    notebooks_dir: str | Path | None, source: InstallSource, overwrite: bool = False
) -> Path | None:
    """The Pages workflow file to write beside the lessons' repository (the parent of
    `notebooks_dir`), or None when it already holds `pages_workflow(source)`.
    Raises ValueError when a different one is there and `overwrite` is not set."""
    path = Path(notebooks_dir or runner.default_notebooks()).resolve().parent / PAGES_WORKFLOW
    if path.exists():
        if path.read_text() == pages_workflow(source):
            return None
        if not overwrite:
            raise ValueError(f"{path} exists and differs: pass --overwrite to replace it")
    return path


def write_pages_workflow(path: Path, source: InstallSource) -> Path:
    """Write `pages_workflow(source)` to `path` (from `check_pages_workflow`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(pages_workflow(source))
    return path
