"""Lesson 06's widgets in a real browser: JupyterLab 4 and headless Chromium.

A small notebook runs lesson 06's own widget cell (and its `interactive` default) on a
black "bicubic" and a white "SRGAN" image in JupyterLab; Selenium drives Debian's chromium
and chromedriver (no browser download). The test drags the slider's handle to the left
and compares screenshots of the displayed image: the dark part (bicubic, left of the wipe
line) must shrink from about half the width. It also checks that both labels are shown in
full. A second test runs lesson 06's rating activity (`srgan_lib.rating`): it clicks
through the calibration, scores three crops, saves with File > Save and reads the ratings
back from the saved notebook. Without chromium the tests are skipped, except in CI (CI
set), where they fail.
"""

from __future__ import annotations

import ast
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import numpy as np
import pytest
from nbformat.v4 import new_code_cell, new_notebook
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
LESSON = ROOT / "notebooks" / "06_evaluation.ipynb"
LABEL = "SRGAN (4 residual blocks, 2 epochs of 2 steps: an untrained stand-in)"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


def _require_browser():
    found = {"chromium": CHROMIUM, "chromedriver": CHROMEDRIVER}
    missing = [name for name, path in found.items() if not path]
    if missing:
        reason = (
            f"{' and '.join(missing)} not found: `apt-get install chromium chromium-driver` "
            "(Debian) runs the browser test"
        )
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must run it (.ci/run installs them)")
        pytest.skip(reason)
    pytest.importorskip("selenium", reason="pip install selenium (the dev extra)")
    pytest.importorskip("jupyterlab", reason="pip install jupyterlab (the dev extra)")


def _slider_notebook() -> nbformat.NotebookNode:
    """Lesson 06's `interactive` parameter and widget cell, on stand-in images."""
    lesson = nbformat.read(LESSON, as_version=4)
    params = next(c for c in lesson.cells if "parameters" in c.metadata.get("tags", []))
    (interactive,) = [
        ast.get_source_segment(params.source, s)
        for s in ast.parse(params.source).body
        if isinstance(s, ast.Assign) and s.targets[0].id == "interactive"
    ]
    widget_cell = next(c for c in lesson.cells if "widgets.before_after(" in c.source)
    setup = f"""import matplotlib.pyplot as plt
import numpy as np
from IPython.display import display

from srgan_lib import widgets

{interactive}
black = np.zeros((160, 320, 3), np.uint8)
upscaled = {{"bicubic": black, "SRGAN": black + 255}}
titles = {{"SRGAN": {LABEL!r}}}"""
    nb = new_notebook(cells=[new_code_cell(setup), new_code_cell(widget_cell.source)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    return nb


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def jupyterlab(tmp_path):
    """A JupyterLab server on a free port, serving tmp_path, whose kernels import this
    checkout's srgan_lib. Yields its base URL, the token and the folder it serves."""
    _require_browser()
    port, token = _free_port(), "srgan-browser-test"
    root = tmp_path / "lab"
    root.mkdir()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),  # no user settings, no news prompt
        "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces"),
    }
    env.pop("SRGAN_WIDGETS", None)
    no_news = tmp_path / "settings" / "@jupyterlab" / "apputils-extension"
    no_news.mkdir(parents=True)
    (no_news / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            f"--port={port}",
            "--ip=127.0.0.1",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}",
            "--allow-root",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "jupyterlab.log", "wb"),  # noqa: SIM115 - closed with the process
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    log = (tmp_path / "jupyterlab.log").read_text()[-2000:]
                    raise RuntimeError(f"JupyterLab did not start:\n{log}") from None
                time.sleep(0.5)
        yield url, token, root
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    options.add_argument("--window-size=1400,1000")
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def _wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except Exception:  # the page is still building the element
            value = None
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def _dark_fraction(png: bytes) -> float:
    """The share of the image's columns that are mostly dark (the "bicubic" side)."""
    gray = np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=float)
    return float((gray.mean(axis=0) < 128).mean())


def test_slider_moves_the_wipe_in_jupyterlab(jupyterlab, browser, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    url, token, root = jupyterlab
    nbformat.write(_slider_notebook(), root / "slider.ipynb")
    browser.get(f"{url}/lab/tree/slider.ipynb?token={token}")
    _wait_for(
        lambda: browser.find_element(By.CSS_SELECTOR, ".jp-Notebook .jp-Cell"), 120, "the notebook"
    )
    run_menu = [
        e for e in browser.find_elements(By.CSS_SELECTOR, ".lm-MenuBar-item") if e.text == "Run"
    ]
    run_menu[0].click()
    browser.find_element(By.CSS_SELECTOR, '[data-command="runmenu:run-all"]').click()

    image = _wait_for(
        lambda: browser.find_element(By.CSS_SELECTOR, ".jupyter-widgets img, .widget-image"),
        180,
        "the before/after widget (a static figure here means no live front end was detected)",
    )
    handle = browser.find_element(By.CSS_SELECTOR, ".noUi-handle, .ui-slider-handle")
    track = browser.find_element(By.CSS_SELECTOR, ".widget-slider .noUi-target, .ui-slider")
    before = image.screenshot_as_png
    labels = [e for e in browser.find_elements(By.CSS_SELECTOR, ".widget-label") if e.text]
    texts = [e.text for e in labels]
    assert any("bicubic" in t for t in texts) and any(LABEL in t for t in texts), texts
    for label in labels:  # shown in full, not cut with an ellipsis
        assert int(label.get_attribute("scrollWidth")) <= int(label.get_attribute("clientWidth"))

    ActionChains(browser).click_and_hold(handle).move_by_offset(
        -track.size["width"] // 4, 0
    ).release().perform()
    after = _wait_for(
        lambda: (shot := image.screenshot_as_png) != before and shot, 20, "the image to change"
    )
    (tmp_path / "before.png").write_bytes(before)
    (tmp_path / "after.png").write_bytes(after)
    shots = os.environ.get("SRGAN_BROWSER_SHOTS")
    if shots:  # keep the screenshots, e.g. to look at them
        Path(shots).mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(Path(shots) / "jupyterlab.png"))
        for name in ("before.png", "after.png"):
            shutil.copy(tmp_path / name, Path(shots) / name)
    start, end = _dark_fraction(before), _dark_fraction(after)
    assert abs(start - 0.5) < 0.05, f"the wipe starts at the middle, got {start:.2f}"
    assert end < start - 0.1, f"dragging left moved the wipe from {start:.2f} to {end:.2f}"


RATING_SETUP = """import numpy as np
from IPython.display import display

from srgan_lib import rating

def crop(image, method, grey):
    return rating.Crop(image, method, np.full((64, 64, 3), grey, np.uint8))


greys = {"nearest": 40, "original": 220, "srgan": 130}
crops = [crop("Set5/img_001", method, grey) for method, grey in greys.items()]
crops += [crop("Set14/img_002", m, 90) for m in ("bicubic", "srresnet")]
display(rating.rating_activity(crops, seed=0))"""


def _click_menu(browser, menu: str, command: str) -> None:
    from selenium.webdriver.common.by import By

    item = [e for e in browser.find_elements(By.CSS_SELECTOR, ".lm-MenuBar-item") if e.text == menu]
    item[0].click()
    browser.find_element(By.CSS_SELECTOR, f'.lm-Menu-item[data-command="{command}"]').click()


def test_rate_three_crops_and_read_them_from_the_saved_notebook(jupyterlab, browser):
    """Lesson 06's rating activity in JupyterLab: the calibration, three crops scored by
    clicking, File > Save; the saved file carries the record, which `srgan course mos`
    reads and `rating.store_in_metadata` lifts into metadata["srgan_mos"]."""
    from selenium.webdriver.common.by import By

    from srgan_lib import rating

    url, token, root = jupyterlab
    nb = new_notebook(cells=[new_code_cell(RATING_SETUP)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nbformat.write(nb, root / "rate.ipynb")
    browser.get(f"{url}/lab/tree/rate.ipynb?token={token}")
    _wait_for(
        lambda: browser.find_element(By.CSS_SELECTOR, ".jp-Notebook .jp-Cell"), 120, "the notebook"
    )
    _click_menu(browser, "Run", "runmenu:run-all")

    def button(text):
        found = [
            e for e in browser.find_elements(By.CSS_SELECTOR, ".widget-button") if e.text == text
        ]
        return found[0] if found and found[0].is_enabled() and found[0].is_displayed() else None

    def caption():
        return browser.find_element(By.CSS_SELECTOR, ".widget-html").text

    _wait_for(lambda: button("Next"), 180, "the rating widget (no live front end detected?)")
    assert "Calibration 1 of 2" in caption() and "is a 1" in caption(), caption()
    button("Next").click()
    _wait_for(lambda: "Calibration 2 of 2" in caption(), 20, "the second calibration crop")
    assert "is a 5" in caption()
    button("Next").click()
    scores = [2, 4, 5]
    for n, score in enumerate(scores, start=1):
        _wait_for(lambda n=n: f"Crop {n} of 5" in caption(), 20, f"crop {n}")
        button(str(score)).click()
    _wait_for(lambda: "Crop 4 of 5" in caption(), 20, "crop 4")

    # the kernel's crops in the kernel's order (the same seed)
    names = [("Set5/img_001", m) for m in ("nearest", "original", "srgan")]
    names += [("Set14/img_002", m) for m in ("bicubic", "srresnet")]
    session = rating.RatingSession([rating.Crop(i, m, None) for i, m in names], seed=0)
    expected = [
        {"image": c.image, "method": c.method, "score": s}
        for c, s in zip(session.queue, scores, strict=False)
    ]

    _click_menu(browser, "File", "docmanager:save")

    def saved_record():
        record = rating.read_record(json.loads((root / "rate.ipynb").read_text()))
        return record if record and len(record["ratings"]) == 3 else None

    record = _wait_for(saved_record, 30, "the saved notebook to carry three ratings")
    assert record["ratings"] == expected
    assert [c["method"] for c in record["calibration"]] == ["nearest", "original"]
    saved = json.loads((root / "rate.ipynb").read_text())
    assert rating.store_in_metadata(saved) == record
    assert saved["metadata"]["srgan_mos"]["ratings"] == expected
