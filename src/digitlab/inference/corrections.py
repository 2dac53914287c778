"""Saving a correction: an image, the digit it really is, and what the model answered.

The one function every entry point (the app, the live page, the API, ``digitlab mine add``)
uses to write to the corrections store (:mod:`digitlab.data.mine`), so each example is
prepared and answered exactly as a prediction of it would be.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
from PIL import Image

from digitlab.core.errors import DigitlabError
from digitlab.core.io import sha256_file
from digitlab.data import load_image, prepare_image
from digitlab.data.marks import SEPARATORS
from digitlab.data.mine import Store, check_label

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_bytes(image) -> bytes:
    """A PIL image or an array (uint8, or float in [0, 1]) as PNG bytes."""
    if not isinstance(image, Image.Image):
        arr = np.asarray(image)
        if arr.dtype != np.uint8:
            arr = np.round(np.clip(arr, 0.0, 1.0) * 255).astype(np.uint8)
        image = Image.fromarray(arr)
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def save_correction(store: Store, pred, image, label, source: str, raw_png: bytes | None = None) -> dict:
    """Save ``image`` (a path, PIL image or array) as an example of ``label``; the stored example's
    ``id``, ``label`` and the model's ``answer`` and ``confidence``. ``raw_png`` keeps the bytes as
    they came when they are a PNG already."""
    label = check_label(label)
    if isinstance(image, (str, bytes, os.PathLike)):  # a file, or a file's bytes
        raw = Path(image).read_bytes() if not isinstance(image, bytes) and Path(image).is_file() else image
        image = load_image(image)
        if raw_png is None and isinstance(raw, bytes) and raw.startswith(PNG_SIGNATURE):
            raw_png = raw  # kept byte for byte
    x = prepare_image(image)
    if not x.any():
        raise DigitlabError("no ink found in the image: draw or photograph the digit, then save it")
    r = pred.predict_prepared(x[None])[0]
    example_id = store.add(
        raw_png or png_bytes(image), x, label, source, r["digit"], r["confidence"], sha256_file(pred.path)
    )
    return {"id": example_id, "label": label, "answer": r["digit"], "confidence": r["confidence"]}


def check_number(text) -> str:
    """The digits of a number as typed (its separators ``- / . , :`` dropped), or a one-line error."""
    digits = "".join(c for c in str(text).strip().replace(" ", "") if c not in SEPARATORS)
    if not digits or not digits.isascii() or not digits.isdigit():
        raise DigitlabError(
            f"the number must be digits 0-9 (and separators {' '.join(SEPARATORS)}), e.g. 1985; got {str(text)!r}"
        )
    return digits


def save_number(store: Store, pred, image, text, source: str) -> list[dict]:
    """Save every digit of a number as an example, read exactly as reading the number reads it,
    labelled by ``text`` (the number it really is), in one transaction; one dict per digit, as
    :func:`save_correction` gives. The digits found must be as many as ``text`` has."""
    text = check_number(text)
    if isinstance(image, (str, bytes, os.PathLike)):
        image = load_image(image)
    read = pred.read_number(image, inputs=True)
    if read["empty"]:
        raise DigitlabError("no ink found in the image: write the number, then save it")
    found = [d for d in read["digits"] if d["kind"] != "separator"]  # marks read as no digit may be yours
    if len(found) != len(text):
        raise DigitlabError(
            f"{len(found)} digits were found ({read['text']}) but {text} has {len(text)}; "
            "leave a gap between the digits and save again"
        )
    arr = np.asarray(image.convert("L") if isinstance(image, Image.Image) else image)
    sha, rows = sha256_file(pred.path), []
    for d, label in zip(found, text):
        x0, y0, x1, y1 = d["box"]
        crop = arr[max(y0 - 4, 0) : y1 + 5, max(x0 - 4, 0) : x1 + 5]
        rows.append((png_bytes(crop), d["input"], label, source, d["digit"], d["confidence"], sha))
    ids = store.add_many(rows)
    return [
        {"id": i, "label": int(label), "answer": d["digit"], "confidence": d["confidence"]}
        for i, label, d in zip(ids, text, found)
    ]
