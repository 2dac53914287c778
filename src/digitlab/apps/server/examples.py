"""``/api/examples``: saving, counting and deleting your corrections through the API.

``POST /api/examples`` takes an image exactly as ``/api/predict`` does, plus ``label`` (0-9:
a JSON key, a multipart text field or ``?label=``), and answers 201 with the example's id;
With ``"number": true`` (or ``?number=true``) the image is a number and ``label`` its digits
(``"1985"``): every digit is saved with its own label, all or none, and the answer lists them.
``GET /api/examples`` gives the counts per digit and the examples (``?images=true`` adds each
one's 28x28 as a base64 PNG, for a gallery); ``DELETE /api/examples/{id}`` removes one.
When the server has a token (``DIGITLAB_TOKEN``), these need ``Authorization: Bearer <token>``;
``digitlab serve`` refuses to listen beyond loopback without one.
"""

from __future__ import annotations

import base64
import hmac

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from digitlab.core.errors import DigitlabError
from digitlab.data import preprocess
from digitlab.data.mine import Store, check_label
from digitlab.inference.corrections import check_number, png_bytes, save_correction, save_number

from .inputs import ApiError, Limits, request_input_fields


def _check_token(request: Request, token: str | None) -> None:
    if token is None:
        return
    sent = request.headers.get("authorization", "")
    if not hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
        raise ApiError(
            401, "this server's examples need 'Authorization: Bearer <token>' (the DIGITLAB_TOKEN it runs with)"
        )


def _save(store: Store, pred, kind: str, value, label, number: bool, source: str, limits: Limits) -> dict:
    """On a worker thread: the image prepared and answered as a prediction would be, then stored."""
    try:
        label = check_number(label) if number else check_label(label)
    except DigitlabError as e:
        raise ApiError(422, str(e)) from None
    image = value
    if kind == "bytes":
        image = preprocess.load_image(value, "uploaded image", max_pixels=limits.max_image_pixels)
    if number:
        try:
            saved = save_number(store, pred, image, label, source)
        except DigitlabError as e:  # a number that does not match what was read: the client's to fix
            raise ApiError(422, str(e)) from None
        return {"ids": [s["id"] for s in saved], "examples": saved}
    raw = value if kind == "bytes" and value[:4] == b"\x89PNG" else None
    return save_correction(store, pred, image, label, source, raw_png=raw)


def _flag(fields: dict, name: str) -> bool:
    value = fields.get(name, False)
    return value is True or str(value).lower() in ("true", "1", "yes")


def _listing(store: Store, images: bool) -> dict:
    counts = store.counts()
    examples = []
    for e in store.examples():
        row = {"id": e.id, "label": e.label, "answer": e.answer, "source": e.source, "created": e.created}
        if images:
            row["png"] = base64.b64encode(png_bytes(e.prepared)).decode()
        examples.append(row)
    return {"counts": {str(d): n for d, n in counts.items()}, "total": sum(counts.values()), "examples": examples}


def add_example_routes(app: FastAPI, pred, store: Store, limits: Limits, token: str | None, in_thread) -> None:
    """The three ``/api/examples`` routes, writing to ``store``."""

    @app.post("/api/examples", status_code=201, summary="save an image as an example of a digit (your corrections)")
    async def add_example(request: Request):
        _check_token(request, token)
        kind, value, mnist, fields = await request_input_fields(request, limits)
        if mnist:
            raise ApiError(422, '"mnist": true is not for examples: send the image as it was drawn or photographed')
        if "label" not in fields:
            raise ApiError(422, "say which digit it is: 'label' (0-9) in the JSON, the form or ?label=")
        source = "page" if fields.get("source") == "page" else "api"  # the live page says it is the page
        number = _flag(fields, "number")
        saved = await in_thread(limits, _save, store, pred, kind, value, fields["label"], number, source, limits)
        return JSONResponse(saved, status_code=201)

    @app.get("/api/examples", summary="how many examples of each digit are saved, and which")
    async def list_examples(request: Request, images: bool = False) -> dict:
        _check_token(request, token)
        return await in_thread(limits, _listing, store, images)  # PNGs and SQLite: off the event loop

    @app.delete("/api/examples/{example_id}", summary="delete one saved example")
    async def delete_example(request: Request, example_id: int) -> dict:
        _check_token(request, token)
        if not store.path.is_file():
            raise ApiError(404, f"no example {example_id}: nothing is saved yet")
        try:
            store.remove(example_id)
        except DigitlabError as e:
            raise ApiError(404, str(e)) from None
        return {"deleted": example_id}
