"""``digitlab serve``: the API contract and its error answers (TestClient), a short loopback
load test against a real server process, and the live drawing page in headless Chromium."""

from __future__ import annotations

import asyncio
import base64
import io
import os
import statistics
import struct
import urllib.request
import zlib

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from conftest import form_photo, render_digit, run_cli
from digitlab import data
from digitlab.apps.server.api import Limits, create_app
from digitlab.data import drawings
from digitlab.data.mine import Store
from digitlab.data.nondigits import letter_strokes
from digitlab.data.numbers import draw_number, number_strokes
from digitlab.tools import browser, live_bench


def png(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "PNG")
    return buf.getvalue()


def paper_seven() -> np.ndarray:
    return 255 - render_digit(7, size=200, font_size=150, stroke=3)  # black ink on white paper, 200x200


@pytest.fixture(scope="module")
def client(shipped):
    with TestClient(create_app(shipped.path, limits=Limits(max_body_bytes=200_000, max_image_pixels=1_000_000))) as c:
        yield c


def check_answer(body: dict, digit: int) -> None:
    assert body["digit"] == digit and not body["not_sure"] and not body["empty"]
    assert len(body["probabilities"]) == 10 and abs(sum(body["probabilities"]) - 1) < 1e-3
    assert body["confidence"] == max(body["probabilities"]) and 0 < body["threshold"] < 1


def test_health_model_page_and_openapi(client, shipped):
    assert client.get("/healthz").json()["status"] == "ok"
    info = client.get("/api/model").json()
    assert info["arch"] == "seed1" and info["parameters"]["trainable"] == 930_940
    assert info["temperature"] == pytest.approx(shipped.temperature) and info["trained"]["val_acc"] > 0.99
    assert len(info["sha256"]) == 64 and info["digitlab_version"]
    page = client.get("/").text
    assert 'id="prediction"' in page and "data-digit" in page and "pointerdown" in page
    spec = client.get("/openapi.json").json()
    assert "multipart/form-data" in spec["paths"]["/api/predict"]["post"]["requestBody"]["content"]
    assert client.get("/docs").status_code == 200


def test_every_input_form_reads_the_same_digit(client):
    image = png(paper_seven())
    b64 = base64.b64encode(image).decode()
    answers = [
        client.post("/api/predict", files={"image": ("seven.png", image, "image/png")}),
        client.post("/api/predict", content=image, headers={"Content-Type": "image/png"}),
        client.post("/api/predict", json={"image": b64}),
        client.post("/api/predict", json={"image": "data:image/png;base64," + b64}),
        client.post("/api/predict", json={"pixels": paper_seven()[::4, ::4].tolist()}),  # 50x50, 0-255
    ]
    for r in answers:
        assert r.status_code == 200, r.text
        check_answer(r.json(), 7)


def test_mnist_pixels_are_read_as_mnist_and_an_empty_canvas_is_no_digit(client):
    test = data.load_test()
    for i in range(10):
        r = client.post("/api/predict", json={"pixels": (test.x[i] / 255).round(4).tolist(), "mnist": True})
        assert r.status_code == 200 and r.json()["digit"] == test.y[i]
    r = client.post("/api/predict?input=true", json={"pixels": np.zeros((28, 28)).tolist()})
    assert r.json()["empty"] and r.json()["digit"] is None and r.json()["not_sure"]
    assert np.asarray(r.json()["input"]).shape == (28, 28)


def bomb_png(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims a huge image (a decompression bomb)."""

    def chunk(kind, payload):
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


@pytest.mark.parametrize(
    "kwargs, status, words",
    [
        ({"content": b"{not json", "headers": {"Content-Type": "application/json"}}, 400, "not valid JSON"),
        ({"json": {"pixels": [[1, 2], [3]]}}, 422, "2-D array"),
        ({"json": {"pixels": [1, 2, 3]}}, 422, "got shape [3]"),
        ({"json": {"pixels": [[-5, 300]]}}, 422, "0-255"),
        ({"json": {"pixels": [[0] * 20] * 20, "mnist": True}}, 422, "28x28"),
        ({"json": {"image": "@@@"}}, 400, "not valid base64"),
        ({"json": {}}, 422, "exactly one of"),
        ({"json": {"image": "", "pixels": []}}, 422, "exactly one of"),
        ({"content": b"not a png", "headers": {"Content-Type": "image/png"}}, 400, "not a readable image"),
        ({"content": b"hello", "headers": {"Content-Type": "text/plain"}}, 415, "unsupported content type"),
        ({"files": {"picture": ("x.png", b"123", "image/png")}}, 400, "not a readable image"),  # any field name
        ({"files": {"note": (None, "hello")}}, 400, "no file in it"),
        ({"content": b"", "headers": {"Content-Type": "image/png"}}, 400, "empty request"),
        ({"content": b"\0" * 300_000, "headers": {"Content-Type": "image/png"}}, 413, "limit"),
        ({"content": bomb_png(30_000, 30_000), "headers": {"Content-Type": "image/png"}}, 413, "too large"),
        ({"json": {"pixels": np.zeros((1001, 1001)).tolist()}}, 413, "limit"),
    ],
)
def test_bad_requests_get_a_4xx_json_answer_and_the_server_keeps_serving(client, kwargs, status, words):
    r = client.post("/api/predict", **kwargs)
    assert r.status_code == status, r.text
    body = r.json()
    assert words in body["error"] and body["status"] == status and "Traceback" not in r.text
    check_answer(
        client.post("/api/predict", content=png(paper_seven()), headers={"Content-Type": "image/png"}).json(), 7
    )


def test_read_answers_the_whole_number_from_every_input_form(client):
    image = png(draw_number("2026", "form", np.random.default_rng(1)))
    answers = [
        client.post("/api/read", files={"file": ("form.png", image, "image/png")}),  # curl -F file=@form.png
        client.post("/api/read", content=image, headers={"Content-Type": "image/png"}),
        client.post("/api/read", json={"image": base64.b64encode(image).decode()}),
    ]
    for res in answers:
        body = res.json()
        assert res.status_code == 200 and body["text"] == "2026" and body["sure"] and not body["empty"]
        assert [d["digit"] for d in body["digits"]] == [2, 0, 2, 6] and body["ms"] > 0
        assert all(len(d["box"]) == 4 and d["box"][0] < d["box"][2] for d in body["digits"])
    blank = client.post("/api/read", content=png(np.zeros((60, 200), np.uint8)), headers={"Content-Type": "image/png"})
    assert blank.json()["text"] == "" and blank.json()["empty"]
    # the single-digit endpoint takes a file under any field name too
    assert client.post("/api/predict", files={"file": ("7.png", png(paper_seven()), "image/png")}).json()["digit"] == 7


def test_a_letter_is_answered_not_a_digit_and_separators_are_read_as_themselves(client):
    from digitlab.data.drawings import render
    from digitlab.data.nondigits import letter_strokes

    letter = png(render(letter_strokes("W", np.random.default_rng(0)), drawings.BRUSH))
    body = client.post("/api/predict", content=letter, headers={"Content-Type": "image/png"}).json()
    assert body["not_sure"] and body["reason"] == "not a digit" and body["message"] == "That doesn't look like a digit"
    seven = client.post("/api/predict", content=png(paper_seven()), headers={"Content-Type": "image/png"}).json()
    assert seven["reason"] is None and seven["message"] == "7"
    date = png(draw_number("12/05/2026", "normal", np.random.default_rng(2)))
    body = client.post("/api/read", content=date, headers={"Content-Type": "image/png"}).json()
    assert body["text"] == "12/05/2026" and body["sure"]
    assert [d["kind"] for d in body["digits"]].count("separator") == 2
    slash = body["digits"][2]
    assert slash["char"] == "/" and slash["digit"] is None and slash["confidence"] is None


@pytest.mark.parametrize(
    "kwargs, status, words",
    [
        ({"content": b"garbage", "headers": {"Content-Type": "image/png"}}, 400, "not a readable image"),
        ({"json": {"pixels": [[0] * 28] * 28, "mnist": True}}, 422, "one prepared 28x28 digit"),
        ({"files": {"note": (None, "hello")}}, 400, "no file in it"),
    ],
)
def test_read_refuses_bad_input_with_a_json_answer(client, kwargs, status, words):
    res = client.post("/api/read", **kwargs)
    assert res.status_code == status and words in res.json()["error"] and res.json()["status"] == status


def test_read_answers_a_16_megapixel_photo_and_refuses_noise(client, shipped):
    photo = png(form_photo())
    too_big = client.post("/api/read", content=photo, headers={"Content-Type": "image/png"})  # limits of 1 MP
    assert too_big.status_code == 413 and "limit" in too_big.json()["error"]
    with TestClient(create_app(shipped.path)) as default:  # the default limits: 16 MP, 2 MB
        res = default.post("/api/read", content=photo, headers={"Content-Type": "image/png"})
    assert res.status_code == 200 and res.json()["text"] == "2026", res.json()
    salt = ((np.random.default_rng(0).random((120, 600)) < 0.08) * 255).astype(np.uint8)
    res = client.post("/api/read", content=png(salt), headers={"Content-Type": "image/png"})
    assert res.status_code == 400 and "too many for a number" in res.json()["error"]


def test_read_refuses_more_than_32_digits_in_one_line(client):
    long = png(draw_number("1234567890" * 4, "wide gaps", np.random.default_rng(0))[::4, ::4].copy())
    res = client.post("/api/read", content=long, headers={"Content-Type": "image/png"})
    assert res.status_code == 400 and "at most 32" in res.json()["error"] and "\n" not in res.json()["error"]


def test_unknown_routes_and_methods_answer_json(client):
    assert client.get("/nope").json() == {"error": "Not Found", "status": 404}
    r = client.get("/api/predict")
    assert r.status_code == 405 and r.json()["status"] == 405


def test_serve_refuses_bad_arguments_in_one_line(tmp_path):
    for args, words in (
        (["--model", tmp_path / "nope.pt"], "nope.pt"),
        (["--port", "70000"], "port"),
        (["--workers", "0"], "--workers"),
    ):
        res = run_cli("serve", *args)
        assert res.returncode == 2 and res.stderr.count("\n") == 1 and words in res.stderr, res.stderr


# --- a real server on loopback ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def store_file(tmp_path_factory):
    return tmp_path_factory.mktemp("store") / "mine.sqlite"


@pytest.fixture(scope="module")
def server(shipped, store_file):
    port = browser.free_port()
    proc = live_bench.serve_process(shipped.path, port, workers=1, store=store_file)
    yield f"http://127.0.0.1:{port}"
    live_bench.stop(proc)


def test_loopback_load_test_has_no_failed_requests(server, measured):
    digit = data.load_test().x[0]
    res = asyncio.run(
        live_bench.load_test(
            server + "/api/predict", clients=8, seconds=3, max_requests=5000, body={"pixels": digit.tolist()}
        )
    )
    measured(
        f"serve: {res['requests_per_s']:,.0f} requests/s, p99 {res['p99_ms']:.1f} ms, 8 clients, 28x28 JSON, "
        f"1 worker, 3 s on loopback (the client shares the {os.cpu_count()} CPUs)"
    )
    assert res["failed"] == 0, res["first_failures"]
    assert res["requests"] >= 100
    assert urllib.request.urlopen(server + "/healthz", timeout=5).status == 200


def test_busy_port_is_refused_in_one_line(server):
    res = run_cli("serve", "--port", server.rsplit(":", 1)[1])
    assert res.returncode == 2 and "cannot listen" in res.stderr and res.stderr.count("\n") == 1


# --- the live page in a browser ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def page(server, tmp_path_factory):
    why = browser.unavailable()
    if why:
        pytest.skip(why)
    with browser.chromium(tmp_path_factory.mktemp("chromium-profile")) as ctx:
        page = ctx.new_page()
        page.set_default_timeout(20_000)
        page.goto(server + "/")
        page.wait_for_selector("#pad")
        yield page


@pytest.mark.browser
def test_a_letter_drawn_on_the_page_is_not_a_digit(page):
    for letter in "AHW":
        live_bench.draw_on_page(page, letter_strokes(letter, np.random.default_rng(1)))
        assert page.get_attribute("#prediction", "data-state") == "not-a-digit"
        assert "That doesn't look like a digit" in page.locator("#prediction").inner_text()


@pytest.mark.browser
def test_live_page_predicts_while_drawing_and_after_each_stroke(page, measured):
    rng = np.random.default_rng(0)
    times, got = [], {}
    for digit in range(10):
        seconds, got[digit] = live_bench.draw_on_page(page, drawings.digit_strokes(digit, "centred", rng)[0])
        times.append(1000 * seconds)
    measured(
        f"serve page: mouse-up to updated prediction, median {statistics.median(times):.0f} ms, "
        f"max {max(times):.0f} ms over 10 drawings"
    )
    assert got == {d: str(d) for d in range(10)}
    # Live: a long stroke drawn slowly gets answers before the pointer is lifted.
    page.click("#clear")
    x0, y0 = browser.canvas_origin(page, "#pad")
    page.mouse.move(x0 + 140, y0 + 40)
    page.mouse.down()
    before = page.evaluate("() => shown")
    for y in range(40, 250, 5):
        page.mouse.move(x0 + 140, y0 + y)
        page.wait_for_timeout(20)
    assert page.evaluate("() => shown") > before  # answers arrived mid-stroke
    page.mouse.up()
    browser.wait_for_prediction(page, "p.dataset.digit === '1'")


@pytest.mark.browser
def test_live_page_reads_touch_and_pen(page):
    rng = np.random.default_rng(5)
    for digit, stroke in (
        (2, browser.touch_stroke),
        (4, browser.touch_stroke),
        (6, browser.pen_stroke),
        (3, browser.pen_stroke),
    ):
        page.click("#clear")
        for s in drawings.digit_strokes(digit, "centred", rng)[0]:
            stroke(page, s, "#pad")
        browser.wait_for_prediction(page, f"p.dataset.digit === '{digit}'")


def _settled_text(page) -> str:
    page.wait_for_function("() => shown === sent && !inFlight", polling="raf")
    return page.get_attribute("#number", "data-text")


@pytest.mark.browser
def test_live_page_reads_a_number_while_it_is_written(page, measured):
    page.check("input[value=number]")
    try:
        assert page.evaluate("() => document.getElementById('pad').width") == 840  # a wide canvas, 3:1
        for how, text in (("mouse", "407"), ("touch", "1985")):
            page.click("#clear")
            assert page.get_attribute("#number", "data-text") == ""
            draw = browser.mouse_stroke if how == "mouse" else browser.touch_stroke
            for i, digit in enumerate(number_strokes(text, np.random.default_rng(len(text)))):
                for s in digit:
                    draw(page, s, "#pad")
                assert _settled_text(page) == text[: i + 1], how  # the string grows as it is written
            boxes = page.evaluate(
                "() => { const c = document.getElementById('boxes');"
                " return c.getContext('2d').getImageData(0, 0, c.width, c.height).data.filter((v, i) => i % 4 == 3 && v).length; }"
            )
            assert boxes > 100  # a box is drawn around each digit
        measured("serve page, Number mode: 407 written with the mouse and 1985 with touch, read digit by digit")
    finally:
        page.check("input[value=digit]")


def _count(page, digit: int) -> str:
    return page.text_content(f"#count-values td[data-digit='{digit}']")


@pytest.mark.browser
def test_live_page_saves_a_correction_shows_it_and_deletes_it(page, store_file):
    assert page.get_attribute("#active-model", "data-name") == "default"  # which model answers is on the page
    page.click("#clear")
    assert page.is_hidden("#teach")  # nothing to save on an empty canvas
    for s in drawings.digit_strokes(7, "centred", np.random.default_rng(11))[0]:
        browser.mouse_stroke(page, s, "#pad")
    browser.wait_for_prediction(page, "p.dataset.digit === '7'")
    page.click("#labels button[data-label='1']")  # "It's a 1": a correction
    page.wait_for_function("() => document.getElementById('saved').textContent === 'Saved as a 1.'")
    page.wait_for_function("() => document.getElementById('counts').dataset.total === '1'")
    assert _count(page, 1) == "1" and _count(page, 7) == "0" and page.is_hidden("#teach")  # once per drawing
    saved = Store(store_file).examples()
    assert [(e.label, e.answer, e.source) for e in saved] == [(1, 7, "page")]
    figure = page.locator(f"#gallery figure[data-id='{saved[0].id}']")
    assert figure.get_attribute("data-label") == "1"
    assert page.evaluate("() => document.querySelector('#gallery img').naturalWidth") == 28
    figure.locator("button.delete").click()
    page.wait_for_function("() => document.getElementById('counts').dataset.total === '0'")
    assert page.locator("#gallery figure").count() == 0 and Store(store_file).counts()[1] == 0


@pytest.mark.browser
def test_live_page_saves_a_number_digit_by_digit(page, store_file):
    page.check("input[value=number]")
    try:
        page.click("#clear")
        for digit in number_strokes("52", np.random.default_rng(2)):
            for s in digit:
                browser.mouse_stroke(page, s, "#pad")
        assert _settled_text(page) == "52"
        page.fill("#number-label", "53")  # "It's 53": the second digit corrected
        page.click("#save-number")
        page.wait_for_function("() => document.getElementById('counts').dataset.total === '2'")
        assert page.text_content("#saved") == "Saved 2 digits of 53."
        assert [(e.label, e.answer) for e in Store(store_file).examples()] == [(5, 5), (3, 2)]
    finally:
        Store(store_file).clear()
        page.check("input[value=digit]")
