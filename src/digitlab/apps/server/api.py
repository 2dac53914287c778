"""The REST API and live drawing page behind ``digitlab serve`` (FastAPI + uvicorn).

``POST /api/predict`` takes an image as PNG/JPEG bytes (a multipart field
``image``, a raw ``image/*`` body, or base64 in JSON ``{"image": ...}``) or a
pixel array (JSON ``{"pixels": [[...], ...]}``, 0-255 or 0-1, any polarity).
Every input goes through :func:`digitlab.data.preprocess.prepare_image`, the one
preprocessing function, unless JSON says ``"mnist": true`` (pixels already
in MNIST format, e.g. a row of the Kaggle CSV). ``GET /`` is the drawing page;
``/healthz`` and ``/api/model`` are for operators; ``/docs`` is OpenAPI.

Bad requests get a 4xx JSON answer ``{"error": "...", "status": N}`` that
says what is wrong; request size, image pixels and compute time are limited,
so one client cannot stall the others.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import time
from dataclasses import dataclass
from importlib import resources

import anyio
import numpy as np
import torch
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.formparsers import MultiPartException, MultiPartParser

from digitlab.core.errors import DigitlabError, TooLargeError
from digitlab.core.io import sha256_file
from digitlab.core.rundir import report_json
from digitlab.core.runinfo import __version__
from digitlab.data import preprocess
from digitlab.inference import Predictor


@dataclass(frozen=True)
class Limits:
    max_body_bytes: int = 2_000_000  # a 280x280 canvas PNG is ~10 kB; a phone photo a few MB once resized
    max_image_pixels: int = 16_000_000  # decompression-bomb guard: checked from the header, before decoding
    max_array_values: int = 1_000_000  # pixel arrays (1000x1000)
    timeout_s: float = 5.0  # preprocessing + network per request


INLINE_VALUES = 256 * 256  # pixel arrays up to this size are answered without a worker thread


class ApiError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


PREDICT_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "image": {"type": "string", "description": "PNG or JPEG, base64 (a data: URL is fine)"},
                        "pixels": {
                            "type": "array",
                            "items": {"type": "array", "items": {"type": "number"}},
                            "description": "2-D grayscale array, 0-255 or 0-1 (28x28 for MNIST-style input)",
                        },
                        "mnist": {
                            "type": "boolean",
                            "default": False,
                            "description": "pixels are already MNIST-formatted: skip preprocessing",
                        },
                    },
                }
            },
            "multipart/form-data": {
                "schema": {"type": "object", "properties": {"image": {"type": "string", "format": "binary"}}}
            },
            "image/png": {"schema": {"type": "string", "format": "binary"}},
            "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
        },
    },
}


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message, "status": status}, status_code=status)


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"request body is {int(declared):,} bytes; the limit is {limit:,} (send a smaller image)")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"request body is over the {limit:,}-byte limit (send a smaller image)")
        chunks.append(chunk)
    return b"".join(chunks)


async def _multipart_image(request: Request, body: bytes) -> bytes:
    async def once():
        yield body
        yield b""

    try:
        form = await MultiPartParser(request.headers, once(), max_files=1, max_fields=4).parse()
    except MultiPartException as e:
        raise ApiError(400, f"unreadable multipart body ({e.message}); send one file field named 'image'") from None
    upload = form.get("image")
    if upload is None or isinstance(upload, str):
        raise ApiError(400, "multipart body has no file field named 'image'; send the picture as image=@digit.png")
    return await upload.read()


def _json_input(body: bytes, limits: Limits) -> tuple[str, object, bool]:
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, 'body is not valid JSON; send {"image": "<base64 PNG>"} or {"pixels": [[...]]}') from None
    if not isinstance(doc, dict) or ("image" in doc) == ("pixels" in doc):
        raise ApiError(422, "JSON needs exactly one of 'image' (base64 PNG/JPEG) or 'pixels' (2-D array)")
    mnist = doc.get("mnist", False)
    if not isinstance(mnist, bool):
        raise ApiError(422, "'mnist' must be true or false")
    if "image" in doc:
        if not isinstance(doc["image"], str):
            raise ApiError(422, "'image' must be a base64 string")
        text = doc["image"].split(",", 1)[1] if doc["image"].startswith("data:") else doc["image"]
        try:
            return "bytes", base64.b64decode(text, validate=True), mnist
        except (binascii.Error, ValueError):
            raise ApiError(400, "'image' is not valid base64") from None
    try:
        arr = np.asarray(doc["pixels"], dtype=np.float32)
    except (TypeError, ValueError):
        raise ApiError(422, "'pixels' must be a 2-D array of numbers (rows of equal length)") from None
    if arr.ndim != 2 or arr.size == 0:
        raise ApiError(422, f"'pixels' must be a 2-D array (28x28 for MNIST-style input); got shape {list(arr.shape)}")
    if arr.size > limits.max_array_values:
        raise TooLargeError(f"'pixels' has {arr.size:,} values; the limit is {limits.max_array_values:,}")
    if not np.isfinite(arr).all() or arr.min() < 0 or arr.max() > 255:
        raise ApiError(422, "'pixels' values must be finite and within 0-255 (or 0-1)")
    if mnist and arr.shape != (28, 28):
        raise ApiError(422, f"'mnist': true needs a 28x28 array; got {arr.shape[0]}x{arr.shape[1]}")
    return "array", (arr / 255.0 if arr.max() > 1 else arr), mnist


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
        "empty": r["empty"],
        "top2": r["top2"],
        "threshold": pred.threshold,
        "ms": round(1000 * (time.perf_counter() - t0), 3),
    }
    if with_input:
        out["input"] = np.round(x, 3).tolist()
    return out


def model_info(pred: Predictor) -> dict:
    ck = pred.checkpoint
    info = {
        "name": pred.path.stem if pred.path.stem != "best" else pred.path.parent.name,
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


async def _request_input(request: Request, limits: Limits) -> tuple[str, object, bool]:
    """``(kind, value, mnist)`` from a JSON, multipart or raw image body."""
    body = await _read_body(request, limits.max_body_bytes)
    if not body:
        raise ApiError(400, 'empty request: send an image (PNG/JPEG) or JSON {"pixels": [[...]]}')
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "application/json":
        return _json_input(body, limits)
    if ctype == "multipart/form-data":
        return "bytes", await _multipart_image(request, body), False
    if ctype.startswith("image/") or ctype == "application/octet-stream":
        return "bytes", body, False
    raise ApiError(
        415, f"unsupported content type {ctype or '(none)'!r}; send application/json, multipart/form-data or image/png"
    )


def create_app(model: str | os.PathLike | None = None, backend: str = "auto", limits: Limits = Limits()) -> FastAPI:
    """The ASGI app for one model. ``backend="auto"`` runs the ``.onnx`` export beside the model when
    there is an up-to-date one (it is faster at batch 1), else PyTorch."""
    pred = _load(model, backend)
    info = model_info(pred)
    page = resources.files("digitlab.apps.server").joinpath("static/index.html").read_text(encoding="utf-8")
    app = FastAPI(
        title="digitlab",
        version=__version__,
        description="Handwritten digit recognition. Draw at `/`; predict with `POST /api/predict`.",
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
        kind, value, mnist = await _request_input(request, limits)
        if kind == "array" and value.size <= INLINE_VALUES:
            # About 1 ms of work: done on the event loop. Handing it to a thread costs more than it
            # takes (GIL hand-offs): 645 against 528 requests/s with 16 clients, 1 worker, 2 CPUs.
            return _answer(pred, kind, value, mnist, limits, input)
        try:
            with anyio.fail_after(limits.timeout_s):
                # abandon: a runaway thread finishes in the background; this client gets its answer now
                return await anyio.to_thread.run_sync(
                    _answer, pred, kind, value, mnist, limits, input, abandon_on_cancel=True
                )
        except TimeoutError:
            raise ApiError(503, f"prediction took longer than {limits.timeout_s:g} s; send a smaller image") from None

    return app


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
    return create_app(os.environ.get("DIGITLAB_SERVE_MODEL") or None, os.environ.get("DIGITLAB_SERVE_BACKEND", "auto"))
