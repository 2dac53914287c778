"""The REST API and live drawing page behind ``digitlab serve`` (FastAPI + uvicorn).

``POST /api/predict`` takes an image as PNG/JPEG bytes (a multipart file under
any field name, a raw ``image/*`` body, or base64 in JSON ``{"image": ...}``) or a
pixel array (JSON ``{"pixels": [[...], ...]}``, 0-255 or 0-1, any polarity);
``POST /api/read`` takes the same and reads every digit in it, left to right;
``/api/examples`` saves, counts and deletes corrections (:mod:`.examples`).
Every input goes through :func:`digitlab.data.preprocess.prepare_image`, the one
preprocessing function, unless JSON says ``"mnist": true`` (pixels already
in MNIST format, e.g. a row of the Kaggle CSV). ``GET /`` is the drawing page;
``/healthz`` and ``/api/model`` are for operators; ``/docs`` is OpenAPI.

Bad requests get a 4xx JSON answer ``{"error": "...", "status": N}`` that
says what is wrong; request size, image pixels and compute time are limited,
so one client cannot stall the others.
"""

from __future__ import annotations

import json
import os
import time
from importlib import resources

import anyio
import numpy as np
import torch
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from digitlab.core.errors import DigitlabError, TooLargeError
from digitlab.core.io import sha256_file
from digitlab.core.rundir import model_name, personal_summary, report_json
from digitlab.core.runinfo import __version__
from digitlab.data import preprocess
from digitlab.data.mine import Store
from digitlab.inference import Predictor

from .examples import add_example_routes
from .inputs import INLINE_VALUES, PREDICT_DOC, ApiError, Limits, request_input


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message, "status": status}, status_code=status)


def _answer(pred: Predictor, kind: str, value, mnist: bool, limits: Limits, with_input: bool) -> dict:
    """Preprocess and predict, on a worker thread."""
    t0 = time.perf_counter()
    if kind == "bytes":
        image = preprocess.load_image(value, "uploaded image", max_pixels=limits.max_image_pixels)
        x = preprocess.prepare_image(image)
    else:
        x = value.astype(np.float32) if mnist else preprocess.prepare_image(value)
    r = pred.predict_prepared(x[None])[0]
    out = {
        "digit": None if r["empty"] else r["digit"],
        "confidence": None if r["empty"] else round(r["confidence"], 6),
        "probabilities": [round(p, 6) for p in r["probabilities"]],
        "not_sure": not r["sure"],
        "reason": r["reason"],
        "message": r["message"],
        "empty": r["empty"],
        "top2": r["top2"],
        "threshold": pred.threshold,
        "ms": round(1000 * (time.perf_counter() - t0), 3),
    }
    if with_input:
        out["input"] = np.round(x, 3).tolist()
    return out


def _read_answer(pred: Predictor, kind: str, value, mnist: bool, limits: Limits) -> dict:
    """Every digit in the image, left to right, on a worker thread."""
    t0 = time.perf_counter()
    if mnist:
        raise ApiError(422, '"mnist": true is for one prepared 28x28 digit; send the number as an image')
    image = (
        preprocess.load_image(value, "uploaded image", max_pixels=limits.max_image_pixels) if kind == "bytes" else value
    )
    r = pred.read_number(image)
    digits = [
        {
            "char": d["char"],
            "kind": d["kind"],
            "digit": d["digit"],
            "confidence": None if d["confidence"] is None else round(d["confidence"], 6),
            "sure": d["sure"],
            "reason": d["reason"],
            "top2": d["top2"],
            "box": d["box"],
        }
        for d in r["digits"]
    ]
    return {
        "text": r["text"],
        "sure": r["sure"],
        "empty": r["empty"],
        "digits": digits,
        "threshold": pred.threshold,
        "ms": round(1000 * (time.perf_counter() - t0), 3),
    }


def model_info(pred: Predictor) -> dict:
    ck = pred.checkpoint
    info = {
        "name": model_name(pred.path),
        "path": str(pred.path),
        "backend": pred.backend,
        "digitlab_version": __version__,
        "sha256": sha256_file(pred.path),
        "arch": ck["model"]["arch"],
        "preset": ck["config"].get("preset"),
        "parameters": pred.parameters,
        "trained": ck.get("metrics", {}),
        "git_commit": ck.get("git_commit"),
        "created": ck.get("created"),
        "temperature": pred.temperature,
        "threshold": pred.threshold,
        "preprocessing": preprocess.SPEC,
    }
    mine = personal_summary(pred.path)
    if mine is not None:  # a personal model: how it reads its owner's writing
        info["personal"] = {"yours": mine["yours"], "after": mine["after"], "before": mine["before"]}
    report = report_json(pred.path)  # what `digitlab evaluate` measured, when it is beside the model
    if report.is_file():
        sets = json.loads(report.read_text()).get("sets", {})
        info["evaluated"] = {k: {"accuracy": v["accuracy"], "images": v["images"]} for k, v in sets.items()}
    return info


def _add_error_handlers(app: FastAPI) -> None:
    """Every failure answers ``{"error": ..., "status": N}``, never a traceback."""

    @app.exception_handler(ApiError)
    async def _api_error(request, exc: ApiError):
        return _error(exc.status, exc.message)

    @app.exception_handler(DigitlabError)
    async def _digitlab_error(request, exc: DigitlabError):
        return _error(413 if isinstance(exc, TooLargeError) else 400, str(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request, exc: StarletteHTTPException):
        return _error(exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        return _error(422, f"{'.'.join(map(str, first.get('loc', [])))}: {first.get('msg', 'invalid request')}")

    @app.exception_handler(Exception)
    async def _internal_error(request, exc: Exception):  # never a traceback to clients
        return _error(500, f"internal error ({type(exc).__name__}); the server keeps running")


def create_app(
    model: str | os.PathLike | None = None,
    backend: str = "auto",
    limits: Limits = Limits(),
    store: Store | None = None,
    token: str | None = None,
) -> FastAPI:
    """The ASGI app for one model. ``backend="auto"`` runs the ``.onnx`` export beside the model when
    there is an up-to-date one (it is faster at batch 1), else PyTorch. ``store`` receives the
    examples of ``/api/examples`` (None: the default store); ``token`` guards them."""
    pred = _load(model, backend)
    info = model_info(pred)
    page = resources.files("digitlab.apps.server").joinpath("static/index.html").read_text(encoding="utf-8")
    app = FastAPI(
        title="digitlab",
        version=__version__,
        description="Handwritten digit recognition. Draw at `/`; read one digit with `POST /api/predict`, "
        "a number with `POST /api/read`.",
    )
    _add_error_handlers(app)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index() -> str:
        return page

    @app.get("/healthz", summary="liveness: the model is loaded")
    def healthz() -> dict:
        return {"status": "ok", "model": info["name"], "backend": pred.backend, "pid": os.getpid()}

    @app.get("/api/model", summary="name, version, provenance and metrics of the served model")
    def api_model() -> dict:
        return info

    @app.post("/api/predict", summary="read the digit in one image or pixel array", openapi_extra=PREDICT_DOC)
    async def api_predict(request: Request, input: bool = False):
        kind, value, mnist = await request_input(request, limits)
        if kind == "array" and value.size <= INLINE_VALUES:
            # About 1 ms of work: done on the event loop. Handing it to a thread costs more than it
            # takes (GIL hand-offs): 645 against 528 requests/s with 16 clients, 1 worker, 2 CPUs.
            return _answer(pred, kind, value, mnist, limits, input)
        return await _in_thread(limits, _answer, pred, kind, value, mnist, limits, input)

    @app.post("/api/read", summary="read every digit in one image, left to right (a number)", openapi_extra=PREDICT_DOC)
    async def api_read(request: Request):
        kind, value, mnist = await request_input(request, limits)
        return await _in_thread(limits, _read_answer, pred, kind, value, mnist, limits)

    add_example_routes(app, pred, store or Store(), limits, token, _in_thread)
    return app


async def _in_thread(limits: Limits, fn, *args):
    try:
        with anyio.fail_after(limits.timeout_s):
            # abandon: a runaway thread finishes in the background; this client gets its answer now
            return await anyio.to_thread.run_sync(fn, *args, abandon_on_cancel=True)
    except TimeoutError:
        raise ApiError(503, f"prediction took longer than {limits.timeout_s:g} s; send a smaller image") from None


def _load(model, backend: str) -> Predictor:
    if backend == "auto" and not str(model or "").endswith(".onnx"):
        try:  # the export beside the model, when it is one of exactly these weights
            return Predictor.load(model, "cpu", "onnx", threads=1)
        except DigitlabError:
            backend = "torch"
    return Predictor.load(model, "cpu", backend, threads=1)


def configure_worker() -> None:
    """Process-wide settings of a server process: one request is one image, and requests run
    side by side on the cores, so PyTorch gets one thread per request."""
    torch.set_num_threads(1)


def app_from_env() -> FastAPI:
    """For ``uvicorn --factory`` with several workers: each worker process builds its own app."""
    configure_worker()
    return create_app(
        os.environ.get("DIGITLAB_SERVE_MODEL") or None,
        os.environ.get("DIGITLAB_SERVE_BACKEND", "auto"),
        store=Store(os.environ["DIGITLAB_SERVE_STORE"]) if os.environ.get("DIGITLAB_SERVE_STORE") else None,
        token=os.environ.get("DIGITLAB_TOKEN") or None,
    )
