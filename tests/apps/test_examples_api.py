"""``/api/examples``: corrections saved through the API, the token rule, and bad input as JSON."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from conftest import render_digit, run_cli
from digitlab.apps.server.api import Limits, create_app
from digitlab.data.mine import Store
from digitlab.data.numbers import draw_number


def png(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def seven() -> bytes:
    return png(render_digit(7))


@pytest.fixture
def store(tmp_path) -> Store:
    return Store(tmp_path / "mine.sqlite")


def _client(shipped, store, token=None) -> TestClient:
    return TestClient(create_app(shipped.path, store=store, token=token, limits=Limits(max_body_bytes=200_000)))


def test_examples_are_saved_from_every_input_form_counted_and_deleted(shipped, store, seven):
    with _client(shipped, store) as client:
        answers = [
            client.post("/api/examples", files={"file": ("7.png", seven, "image/png")}, data={"label": "1"}),
            client.post("/api/examples?label=1", content=seven, headers={"Content-Type": "image/png"}),
            client.post("/api/examples", json={"image": base64.b64encode(seven).decode(), "label": 1}),
            client.post("/api/examples", json={"pixels": render_digit(7).tolist(), "label": 7}),
        ]
        assert [r.status_code for r in answers] == [201] * 4, [r.text for r in answers]
        assert {r.json()["answer"] for r in answers} == {7} and len({r.json()["id"] for r in answers}) == 4
        counts = client.get("/api/examples").json()
        assert counts["total"] == 4 and counts["counts"]["1"] == 3 and counts["counts"]["7"] == 1
        first = answers[0].json()["id"]
        assert client.delete(f"/api/examples/{first}").json() == {"deleted": first}
        gone = client.delete(f"/api/examples/{first}")
        assert gone.status_code == 404 and "no example" in gone.json()["error"]
    saved = store.examples()
    assert saved[0].image_png == seven and {e.source for e in saved} == {"api"}  # the upload kept byte for byte


def test_a_number_saves_every_digit_and_the_listing_feeds_a_gallery(shipped, store):
    image = png(draw_number("4071", "normal", np.random.default_rng(3)))
    body = {"image": base64.b64encode(image).decode(), "label": "4071", "number": True, "source": "page"}
    with _client(shipped, store) as client:
        res = client.post("/api/examples", json=body)
        assert res.status_code == 201, res.text
        assert [e["label"] for e in res.json()["examples"]] == [4, 0, 7, 1]
        wrong = client.post("/api/examples", json={**body, "label": "407"})
        assert wrong.status_code == 422 and "4 digits were found" in wrong.json()["error"]
        listing = client.get("/api/examples?images=true").json()
    assert listing["total"] == 4 and [e["id"] for e in listing["examples"]] == res.json()["ids"]
    thumb = Image.open(io.BytesIO(base64.b64decode(listing["examples"][2]["png"])))
    assert thumb.size == (28, 28) and {e["source"] for e in listing["examples"]} == {"page"}


@pytest.mark.parametrize(
    "kwargs, status, words",
    [
        ({"json": {"pixels": [[0] * 28] * 28, "label": 12}}, 422, "label must be a digit 0-9"),
        ({"json": {"pixels": [[0] * 28] * 28, "label": "12a", "number": True}}, 422, "digits 0-9"),
        ({"json": {"pixels": [[0] * 28] * 28, "label": "12", "number": True}}, 422, "no ink found"),
        ({"json": {"pixels": [[0] * 28] * 28}}, 422, "say which digit it is"),
        ({"json": {"pixels": [[0] * 28] * 28, "label": 3}}, 400, "no ink found"),
        ({"json": {"pixels": [[0] * 28] * 28, "label": 3, "mnist": True}}, 422, "not for examples"),
        (
            {"content": b"garbage", "headers": {"Content-Type": "image/png"}, "params": {"label": 3}},
            400,
            "not a readable",
        ),
        ({"files": {"note": (None, "hello")}, "data": {"label": "3"}}, 400, "no file in it"),
        ({"content": b"x" * 300_000, "headers": {"Content-Type": "image/png"}}, 413, "limit"),
    ],
)
def test_bad_examples_get_a_json_answer_and_nothing_is_saved(shipped, store, kwargs, status, words):
    with _client(shipped, store) as client:
        res = client.post("/api/examples", **kwargs)
    assert res.status_code == status and words in res.json()["error"], res.text
    assert sum(store.counts().values()) == 0


def test_with_a_token_the_examples_need_it(shipped, store, seven):
    with _client(shipped, store, token="s3cret") as client:
        for call in (
            lambda h: client.post("/api/examples?label=7", content=seven, headers={"Content-Type": "image/png", **h}),
            lambda h: client.get("/api/examples", headers=h),
            lambda h: client.delete("/api/examples/1", headers=h),
        ):
            for headers in ({}, {"Authorization": "Bearer wrong"}):
                res = call(headers)
                assert res.status_code == 401 and "Bearer" in res.json()["error"]
        ok = client.post(
            "/api/examples?label=7",
            content=seven,
            headers={"Content-Type": "image/png", "Authorization": "Bearer s3cret"},
        )
        assert ok.status_code == 201
        assert client.post("/api/predict", content=seven, headers={"Content-Type": "image/png"}).json()["digit"] == 7
    assert store.counts()[7] == 1


def test_serve_refuses_to_listen_beyond_loopback_without_a_token(tmp_path):
    res = run_cli(
        "serve", "--host", "0.0.0.0", "--port", "8765", "--store", tmp_path / "m.sqlite", env={"DIGITLAB_TOKEN": ""}
    )
    assert res.returncode == 2 and "set DIGITLAB_TOKEN" in res.stderr and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and not (tmp_path / "m.sqlite").exists()
