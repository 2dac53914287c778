"""The drawing app: its command line, and the real page in headless Chromium.

Browser tests start ``digitlab app`` on a free loopback port with the shipped
model and drive Debian's chromium through Playwright: mouse and touch strokes
made from the same templates as :mod:`digitlab.data.drawings`.
"""

from __future__ import annotations

import io
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT, run_cli
from digitlab.data import drawings
from digitlab.data.mine import Store
from digitlab.data.nondigits import letter_strokes
from digitlab.data.numbers import number_strokes
from digitlab.tools import browser as browser_mod
from digitlab.tools.browser import CHROMIUM, free_port

ARTIFACTS = ROOT / "test-artifacts"
CANVAS = "canvas.upper-canvas"


# --- command line ---------------------------------------------------------------------------------------------


def test_app_refuses_a_missing_model_in_one_line(tmp_path):
    res = run_cli("app", "--model", tmp_path / "nope.pt", "--port", free_port())
    assert res.returncode == 2
    assert res.stderr.count("\n") == 1 and "nope.pt" in res.stderr and "Traceback" not in res.stderr


def test_app_refuses_a_busy_port_in_one_line():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        res = run_cli("app", "--port", busy.getsockname()[1])
    assert res.returncode == 2 and "pick another with --port" in res.stderr and res.stderr.count("\n") == 1


def test_prediction_element_is_the_stable_hook():
    from digitlab.apps.streamlit.views import prediction_html

    base = {"empty": False, "confidence": 0.97, "digit": 3, "top2": [3, 5], "sure": True, "reason": None}
    assert 'id="prediction" data-digit="3" data-state="sure"' in prediction_html(base, "hint")
    unsure = {**base, "sure": False, "reason": "unsure"}
    assert 'data-digit="" data-state="unsure" data-top2="3,5"' in prediction_html(unsure, "hint")
    letter = {**base, "sure": False, "reason": "not a digit", "message": "That doesn't look like a digit"}
    assert 'data-digit="" data-state="not-a-digit"' in prediction_html(letter, "hint")
    assert "That doesn&#x27;t look like a digit" in prediction_html(letter, "hint")
    assert 'data-digit="" data-state="empty"' in prediction_html(None, "draw <here>")
    assert "draw &lt;here&gt;" in prediction_html(None, "draw <here>")


# --- the page in a browser ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def store_file(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("store") / "mine.sqlite"


@pytest.fixture(scope="module")
def app_url(shipped, store_file):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium) for browser tests")
    pytest.importorskip("playwright", reason="playwright is not installed: pip install -e '.[dev]'")
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "digitlab", "app", "--port", str(port), "--model", shipped.path, "--store", store_file],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 90
    while True:
        try:
            if urllib.request.urlopen(url + "_stcore/health", timeout=2).status == 200:
                break
        except OSError:
            pass
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            pytest.fail(f"the app did not start: {proc.stdout.read()[-2000:]}")
        time.sleep(0.3)
    yield url
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module")
def browser(app_url, tmp_path_factory):
    with browser_mod.chromium(tmp_path_factory.mktemp("chromium-profile")) as ctx:
        yield ctx


@pytest.fixture
def page(browser, app_url):
    page = browser.new_page()
    page.set_default_timeout(30_000)
    page.goto(app_url)
    page.wait_for_selector("#prediction")
    page.wait_for_selector(CANVAS)
    yield page
    page.close()


def state(page) -> tuple[str, str]:
    return page.get_attribute("#prediction", "data-state"), page.get_attribute("#prediction", "data-digit")


def mouse_stroke(page, stroke) -> float:
    return browser_mod.mouse_stroke(page, stroke, CANVAS)


def touch_stroke(page, stroke) -> None:
    browser_mod.touch_stroke(page, stroke, CANVAS)


def pen_stroke(page, stroke) -> None:
    browser_mod.pen_stroke(page, stroke, CANVAS)


wait_for = browser_mod.wait_for_prediction


def clear(page) -> None:
    page.locator(".st-key-clear button").click()
    wait_for(page, "p.dataset.state === 'empty'")


@pytest.mark.browser
def test_empty_canvas_shows_a_hint_not_a_prediction(page):
    assert state(page) == ("empty", "")
    assert "Draw a digit" in page.locator("#prediction").inner_text()
    assert page.locator(".st-key-clear button").is_disabled() and page.locator(".st-key-undo button").is_disabled()


@pytest.mark.browser
def test_mouse_drawings_are_read_live_and_fast(page, measured):
    rng = np.random.default_rng(0)
    times, got = [], {}
    for digit in range(10):
        strokes, _ = drawings.digit_strokes(digit, "centred", rng)
        for s in strokes[:-1]:
            mouse_stroke(page, s)
        # the earlier strokes' prediction must have landed (a busy machine takes longer than the sleep), so
        # `before` is a confidence and the clock below times the last stroke's update alone
        wait_for(page, "p.dataset.state !== 'empty'" if len(strokes) > 1 else "true")
        time.sleep(0.5)
        before = page.get_attribute("#prediction", "data-confidence")
        t0 = mouse_stroke(page, strokes[-1])
        if len(strokes) == 1:
            wait_for(page, "p.dataset.state !== 'empty'")
        else:
            wait_for(page, f"p.dataset.confidence !== {before!r}")
        times.append(1000 * (time.perf_counter() - t0))
        got[digit] = state(page)[1]
        if digit == 3:
            time.sleep(1.0)  # bar chart and 28x28 image rendered
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "app-draw.png"))
        clear(page)
    measured(
        f"app: mouse-up to updated prediction, median {statistics.median(times):.0f} ms, "
        f"max {max(times):.0f} ms over 10 drawings (goal 400 ms); {os.cpu_count()} CPUs"
    )
    assert got == {d: str(d) for d in range(10)}
    assert statistics.median(times) < 1000  # generous for busy CI machines; the goal is printed above


@pytest.mark.browser
def test_a_letter_drawn_in_the_app_is_not_a_digit(page):
    for letter in "AHW":
        for s in letter_strokes(letter, np.random.default_rng(1)):
            mouse_stroke(page, s)
        wait_for(page, "p.dataset.state === 'not-a-digit'")
        assert state(page) == ("not-a-digit", "")
        assert "That doesn't look like a digit" in page.locator("#prediction").inner_text()
        clear(page)


@pytest.mark.browser
def test_touch_and_pen_drawings_are_read(page):
    rng = np.random.default_rng(5)
    for digit, stroke in ((2, touch_stroke), (4, touch_stroke), (6, pen_stroke), (7, pen_stroke)):
        for s in drawings.digit_strokes(digit, "centred", rng)[0]:
            stroke(page, s)
        wait_for(page, f"p.dataset.digit === '{digit}'")
        clear(page)


@pytest.mark.browser
def test_undo_removes_the_last_stroke_and_clear_empties(page):
    rng = np.random.default_rng(2)
    strokes, _ = drawings.digit_strokes(4, "centred", rng)
    assert len(strokes) == 2
    for s in strokes:
        mouse_stroke(page, s)
    wait_for(page, "p.dataset.digit === '4'")
    page.locator(".st-key-undo button").click()
    wait_for(page, "p.dataset.digit !== '4'")  # one stroke left: no longer a 4
    assert state(page)[0] != "empty"
    mouse_stroke(page, strokes[1])  # redraw it by hand
    wait_for(page, "p.dataset.digit === '4'")
    clear(page)
    assert page.locator(".st-key-clear button").is_disabled()


@pytest.mark.browser
def test_upload_tab_reads_a_photo_and_explains_a_bad_file(page):
    from PIL import Image

    rng = np.random.default_rng(3)
    for s in drawings.digit_strokes(3, "centred", rng)[0]:
        mouse_stroke(page, s)
    wait_for(page, "p.dataset.digit === '3'")
    page.get_by_role("tab", name="Upload").click()
    page.wait_for_selector("input[type=file]", state="attached")
    wait_for(page, "p.dataset.state === 'empty'")
    # Black ink on white paper, as a JPEG: the other polarity from the canvas.
    paper = Image.fromarray(255 - drawings.draw_digit(5, "centred", rng)).convert("RGB")
    buf = io.BytesIO()
    paper.save(buf, "JPEG", quality=85)
    page.set_input_files(
        "input[type=file]", files=[{"name": "five.jpg", "mimeType": "image/jpeg", "buffer": buf.getvalue()}]
    )
    wait_for(page, "p.dataset.digit === '5'")
    page.set_input_files(
        "input[type=file]", files=[{"name": "broken.png", "mimeType": "image/png", "buffer": b"this is not a png"}]
    )
    page.get_by_text("broken.png: not a readable image").wait_for()
    assert state(page) == ("empty", "")
    # Back on the Draw tab the drawing and its prediction are still there.
    page.get_by_role("tab", name="Draw").click()
    wait_for(page, "p.dataset.digit === '3'")


def wait_for_number(page, text: str) -> None:
    page.wait_for_function(
        f"() => {{ const n = document.querySelector('#number'); return n && n.dataset.text === '{text}'; }}",
        timeout=30_000,
        polling="raf",
    )


def open_number_tab(page) -> None:
    """Switch to the Number tab and wait until the Draw tab's canvas has left the page.

    For a moment both canvases are there (seen in CI), and a locator would find two.
    """
    page.get_by_role("tab", name="Number").click()
    page.wait_for_selector("#number")
    from playwright.sync_api import expect  # a dev extra, as in digitlab.tools.browser

    expect(page.locator(CANVAS)).to_have_count(1, timeout=30_000)


@pytest.mark.browser
def test_number_tab_reads_numbers_drawn_with_the_mouse_and_by_touch(page, measured):
    open_number_tab(page)
    assert page.get_attribute("#number", "data-text") == ""
    assert page.locator(CANVAS).bounding_box()["width"] >= 800  # a wide canvas, about 3:1
    for how, text in (("mouse", "407"), ("touch", "1985")):
        draw = mouse_stroke if how == "mouse" else touch_stroke
        for digit in number_strokes(text, np.random.default_rng(len(text))):
            for s in digit:
                draw(page, s)
        wait_for_number(page, text)
        assert page.get_attribute("#number", "data-state") == "sure"
        page.locator(".st-key-number_clear button").click()
        wait_for_number(page, "")
    measured("app, Number tab: 407 drawn with the mouse and 1985 by touch, read on pen-up")


def _counted(page, total: int) -> None:
    page.wait_for_function(f"() => document.querySelector('#counts')?.dataset.total === '{total}'", polling="raf")


@pytest.mark.browser
def test_a_correction_is_saved_counted_shown_in_my_digits_and_deleted(page, store_file):
    assert page.get_attribute("#active-model", "data-name") == "default"
    for s in drawings.digit_strokes(7, "centred", np.random.default_rng(11))[0]:
        mouse_stroke(page, s)
    wait_for(page, "p.dataset.digit === '7'")
    page.locator(".st-key-label-1 button").click()  # "It's a 1": a correction
    page.wait_for_function("() => document.querySelector('#saved')?.textContent === 'Saved as a 1.'")
    _counted(page, 1)
    assert page.text_content("#counts td[data-digit='1']") == "1"
    assert page.locator(".st-key-label-2 button").is_disabled()  # each drawing is saved once
    saved = Store(store_file).examples()
    assert [(e.label, e.answer, e.source) for e in saved] == [(1, 7, "app")]
    page.get_by_role("tab", name="My digits").click()
    figure = page.locator(f"figure.example[data-id='{saved[0].id}']")
    figure.wait_for(state="attached")
    assert figure.get_attribute("data-label") == "1"
    page.locator(f".st-key-delete-{saved[0].id} button").click()
    page.wait_for_selector("#gallery-empty")
    _counted(page, 0)
    assert Store(store_file).counts()[1] == 0


@pytest.mark.browser
def test_the_number_tab_saves_each_digit_with_its_label(page, store_file):
    open_number_tab(page)
    try:
        for digit in number_strokes("52", np.random.default_rng(2)):
            for s in digit:
                mouse_stroke(page, s)
        wait_for_number(page, "52")
        page.locator(".st-key-number_label input").fill("53")  # "It's 53": the second digit corrected
        page.locator(".st-key-number_label input").press("Enter")
        page.locator(".st-key-number_save button").click()
        page.wait_for_function("() => document.querySelector('#saved')?.textContent === 'Saved 2 digits of 53.'")
        assert [(e.label, e.answer) for e in Store(store_file).examples()] == [(5, 5), (3, 2)]
    finally:
        Store(store_file).clear()
