"""The course website (srgan_course.site), built from a small executed course and opened
in headless Chromium (Debian's chromium and chromedriver, driven by Selenium).

The course runner executes lessons 00 and 01 (about 1.5 minutes on 2 cores); lessons 02-06
join the run unexecuted, so every lesson's prose, equations and exercises are built and
checked while the test stays fast. A local HTTP server on 127.0.0.1 serves the built
folder; every page must load with no failed request and no request off 127.0.0.1, every
image must decode, every internal link (and its #anchor) must resolve, and equations must
be typeset (MathML elements, no raw TeX left in the text). Screenshots of the home page
and of lessons 00 and 06 are saved to runs/site-screenshots/ (a CI artefact). No page may
hold a solution, a hidden test or a mark scheme. Without chromium, or without Sphinx (the
`site` extra), the browser test is skipped, except in CI (CI set), where it fails.
"""

from __future__ import annotations

import functools
import html
import http.server
import json
import os
import re
import shutil
import threading
import time
import urllib.parse
from pathlib import Path

import nbformat
import pytest

from srgan_course import cli, runner, site

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "runs" / "site-screenshots"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
EXECUTED = ["00", "01"]
#: Pages whose sources hold equations.
WITH_MATH = ["index.html", "lessons/03_discriminator.html", "lessons/04_vgg_content_loss.html"]
#: Raw TeX in visible text: $...$ spans, $$ or common commands.
RAW_TEX = re.compile(r"\$\$|\$[^$\s][^$]{0,200}?\$|\\(frac|log|sum|theta|mathbb|left)\b")


def _missing(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must run the site test (.ci/run installs it)")
    pytest.skip(reason)


def _require_sphinx():
    for module in ("sphinx", "myst_nb", "sphinx_book_theme", "latex2mathml"):
        try:
            __import__(module)
        except ImportError:
            _missing(f'{module} not installed: pip install -e ".[site]" (or make site)')


@pytest.fixture(scope="module")
def course_run(tmp_path_factory) -> Path:
    """Lessons 00-01 executed by the course runner, 02-06 added as they are (no outputs)."""
    _require_sphinx()
    run_dir = runner.run_course(runs_dir=tmp_path_factory.mktemp("runs"), only=EXECUTED)
    results = json.loads((run_dir / "summary.json").read_text())
    assert [r["error"] for r in results] == [None] * len(EXECUTED)
    for lesson in runner.lessons():
        if not (run_dir / lesson.name).exists():
            shutil.copy(lesson, run_dir)
    return run_dir


@pytest.fixture(scope="module")
def built(course_run, tmp_path_factory) -> Path:
    out, seconds, warnings = site.build_site(course_run, tmp_path_factory.mktemp("site") / "site")
    print(f"site built in {seconds:.1f} s")
    assert not warnings
    return out


def _text(page: Path) -> str:
    """A page's text, tags removed and entities decoded (code is split into spans)."""
    return html.unescape(re.sub(r"<[^>]+>", "", page.read_text()))


def _marked_lines(source: str, begin: str, end: str) -> list[str]:
    lines, inside = [], False
    for line in source.splitlines():
        if begin in line:
            inside = True
        elif end in line:
            inside = False
        elif inside and len(line.strip()) >= 20:
            lines.append(line.strip())
    return lines


def test_site_pages(built):
    pages = {p.relative_to(built).as_posix() for p in built.rglob("*.html")}
    lessons = {f"lessons/{lesson.stem}.html" for lesson in runner.lessons()}
    expected = {"index.html", "evaluation.html", "teaching.html", "shipped-models.html"}
    assert lessons | expected | {"cards/srresnet.html", "cards/srgan.html"} <= pages
    assert (built / ".nojekyll").exists()  # GitHub Pages serves _static/ and _images/
    home = _text(built / "index.html")
    assert all(
        f"lessons/{lesson.stem}.html" in (built / "index.html").read_text()
        for lesson in runner.lessons()
    )
    assert "make course" in home and "JupyterLab" in home
    evaluation = _text(built / "evaluation.html")
    assert "paper PSNR" in evaluation and "32.05" in (built / "shipped-models.html").read_text()


def test_no_solutions_hidden_tests_or_mark_schemes(built):
    text = "\n".join(_text(page) for page in built.rglob("*.html"))
    guide = "teaching.html"  # the teacher's guide names the markers to explain the format
    for page in built.rglob("*.html"):
        if page.name != guide:
            for marker in ("BEGIN SOLUTION", "END SOLUTION", "HIDDEN TESTS", "MARK SCHEME"):
                assert marker not in _text(page), f"{marker} in {page}"
    sources = [nbformat.read(lesson, as_version=4) for lesson in runner.lessons()]
    shown = "\n".join(c.source for nb in sources for c in site.student_view(nb).cells)
    secret = [
        line
        for nb in sources
        for cell in nb.cells
        for line in _marked_lines(cell.source, "BEGIN SOLUTION", "END SOLUTION")
        + _marked_lines(cell.source, "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
        if line not in shown  # not also shown outside an exercise
        and not line.lstrip().startswith(("### BEGIN", "### END"))  # markers: not secrets
    ]
    assert len(secret) > 20  # the lessons' solutions and hidden tests were found
    leaked = [line for line in secret if line in text]
    assert not leaked


def test_cli_site_refuses_a_used_folder(course_run, tmp_path, capsys):
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "notes.txt").write_text("keep me")
    args = ["course", "site", str(course_run), "--out", str(tmp_path / "site")]
    assert cli.main(args) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert (tmp_path / "site" / "notes.txt").read_text() == "keep me"
    assert cli.main(["course", "site", str(tmp_path), "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "make course" in err


@pytest.fixture
def server(built):
    handler = functools.partial(QuietHandler, directory=str(built))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def browser():
    found = {"chromium": CHROMIUM, "chromedriver": CHROMEDRIVER}
    missing = [name for name, path in found.items() if not path]
    if missing:
        _missing(f"{' and '.join(missing)} not found: apt-get install chromium chromium-driver")
    pytest.importorskip("selenium", reason="pip install selenium (the dev extra)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    options.add_argument("--window-size=1280,1400")
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def _requests(driver) -> tuple[set[str], list[str]]:
    """(URLs requested, failures) since the last call, from Chrome's performance log."""
    urls, failed = set(), []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        params = message.get("params", {})
        if message["method"] == "Network.requestWillBeSent":
            urls.add(params["request"]["url"])
        elif message["method"] == "Network.loadingFailed" and not params.get("canceled"):
            failed.append(params.get("errorText", "failed"))
        elif message["method"] == "Network.responseReceived" and (
            params["response"]["status"] >= 400
        ):
            failed.append(f"{params['response']['status']} {params['response']['url']}")
    return urls, failed


_IMAGES = """
document.querySelectorAll('img').forEach(i => { i.loading = 'eager'; });
return [...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src);
"""
_PROSE = """
const body = document.body.cloneNode(true);
body.querySelectorAll('pre, code, math, script, style, .highlight').forEach(e => e.remove());
return body.textContent;
"""
_FIRST_FIGURE = """
const figure = document.querySelector('.cell_output img');
if (figure) { figure.scrollIntoView({block: 'start'}); window.scrollBy(0, -120); }
"""
_MATH = """
const math = [...document.querySelectorAll('math')];
return [math.length, math.filter(m => m.getBoundingClientRect().width > 0).length,
        document.querySelectorAll('.math-error').length];
"""


def _check_page(driver, url: str, page: str) -> list[str]:
    """Load one page; return the internal links it holds. Asserts what a page must do."""
    driver.get(url)
    deadline = time.monotonic() + 20
    while driver.execute_script("return document.readyState") != "complete":
        assert time.monotonic() < deadline, f"{page} did not finish loading"
        time.sleep(0.1)
    while broken := driver.execute_script(_IMAGES):
        assert time.monotonic() < deadline, f"{page}: images not decoded: {broken}"
        time.sleep(0.2)
    urls, failed = _requests(driver)
    assert not failed, f"{page}: failed requests {failed}"
    origin = urllib.parse.urlsplit(url).netloc
    offsite = [
        u
        for u in urls
        if urllib.parse.urlsplit(u).scheme in ("http", "https", "ws", "wss")
        and urllib.parse.urlsplit(u).netloc != origin
    ]
    assert not offsite, f"{page} requests from the network: {offsite}"
    prose = driver.execute_script(_PROSE)
    assert not RAW_TEX.search(prose), f"{page}: raw TeX {RAW_TEX.search(prose).group(0)!r}"
    count, drawn, errors = driver.execute_script(_MATH)
    assert errors == 0 and drawn == count, (
        f"{page}: {count} equations, {drawn} drawn, {errors} errors"
    )
    if page in WITH_MATH:
        assert count > 0, f"{page} shows no typeset equation"
    hrefs = driver.execute_script(
        "return [...document.querySelectorAll('a[href]')].map(a => a.href)"
    )
    return [h for h in hrefs if urllib.parse.urlsplit(h).netloc == origin]


def _resolves(built: Path, base: str, link: str) -> bool:
    parts = urllib.parse.urlsplit(link)
    path = built / urllib.parse.unquote(parts.path.removeprefix(urllib.parse.urlsplit(base).path))
    if path.is_dir():
        path = path / "index.html"
    if not path.is_file():
        return False
    if not parts.fragment or path.suffix != ".html":
        return True
    anchor = urllib.parse.unquote(parts.fragment)
    return f'id="{anchor}"' in path.read_text()


def test_site_in_chromium(built, server, browser):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    pages = sorted(p.relative_to(built).as_posix() for p in built.rglob("*.html"))
    assert not [p for p in pages if p.startswith("_")]  # no theme template left as a page
    _requests(browser)
    browser.get(server + "index.html")
    served = _requests(browser)[0]
    assert any("/_static/" in url for url in served)  # the log lists the page's requests
    links = set()
    for page in pages:
        links.update(_check_page(browser, server + page, page))
        shot = {
            "index.html": "home",
            "lessons/00_data_and_degradation.html": "lesson-00",
            "lessons/06_evaluation.html": "lesson-06",
        }.get(page)
        if shot:
            if page.startswith("lessons/"):  # from the lesson's first figure, if any
                browser.execute_script(_FIRST_FIGURE)
                time.sleep(0.3)
            browser.save_screenshot(str(SCREENSHOTS / f"{shot}.png"))
    assert len(links) > 30
    broken = sorted(link for link in links if not _resolves(built, server, link))
    assert not broken
    assert {p.name for p in SCREENSHOTS.glob("*.png")} >= {"home.png", "lesson-06.png"}
