"""What ``digitlab serve`` accepts and refuses: an image as multipart (any field name), a raw
``image/*`` body or base64 JSON, or a pixel array as JSON, within :class:`Limits`."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

import numpy as np
from fastapi import Request
from starlette.formparsers import MultiPartException, MultiPartParser

from digitlab.core.errors import TooLargeError


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


async def _multipart_image(request: Request, body: bytes) -> tuple[bytes, dict]:
    async def once():
        yield body
        yield b""

    try:
        form = await MultiPartParser(request.headers, once(), max_files=1, max_fields=4).parse()
    except MultiPartException as e:
        raise ApiError(400, f"unreadable multipart body ({e.message}); send one file, e.g. file=@digit.png") from None
    # any field name: clients send 'file' (curl -F file=@x.png), 'image', 'upload', ...
    upload = next((v for v in form.values() if not isinstance(v, str)), None)
    if upload is None:
        raise ApiError(400, "multipart body has no file in it; send the picture as a file, e.g. file=@digit.png")
    return await upload.read(), {k: v for k, v in form.items() if isinstance(v, str)}


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


async def request_input(request: Request, limits: Limits) -> tuple[str, object, bool]:
    """``(kind, value, mnist)`` from a JSON, multipart or raw image body."""
    kind, value, mnist, _ = await request_input_fields(request, limits)
    return kind, value, mnist


async def request_input_fields(request: Request, limits: Limits) -> tuple[str, object, bool, dict]:
    """:func:`request_input` and the request's other fields: the JSON document's other keys, the
    multipart form's text fields, and the query string (a raw image body has only that)."""
    body = await _read_body(request, limits.max_body_bytes)
    if not body:
        raise ApiError(400, 'empty request: send an image (PNG/JPEG) or JSON {"pixels": [[...]]}')
    fields = dict(request.query_params)
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "application/json":
        kind, value, mnist = _json_input(body, limits)
        doc = json.loads(body)
        return kind, value, mnist, fields | {k: v for k, v in doc.items() if k not in ("image", "pixels", "mnist")}
    if ctype == "multipart/form-data":
        image, form = await _multipart_image(request, body)
        return "bytes", image, False, fields | form
    if ctype.startswith("image/") or ctype == "application/octet-stream":
        return "bytes", body, False, fields
    raise ApiError(
        415, f"unsupported content type {ctype or '(none)'!r}; send application/json, multipart/form-data or image/png"
    )
