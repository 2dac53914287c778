"""The one preprocessing function for images from outside digitlab.

Files, image folders, ``predict``, the canvas and the API all go through
:func:`prepare_image`, which rebuilds an image the way MNIST itself was made:
white ink on black, the ink's bounding box scaled to fit 20x20 with its aspect
ratio kept, then placed so that its centre of mass sits at the centre of a
28x28 field. Datasets already in MNIST format (IDX, CSV, npz) skip it.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from digitlab.core.errors import DigitlabError, TooLargeError

SIZE = 28
BOX = 20
# Pixels at or below this fraction of the ink's peak (after background removal)
# count as background: it drops paper texture and JPEG noise from the bounding box.
INK_THRESHOLD = 0.2
MAX_PIXELS = 40_000_000  # decompression-bomb guard for files from outside

# version 2: per-pixel background for images of 64 px or more a side (photos with uneven light)
SPEC = {"name": "mnist-com", "version": 2, "size": SIZE, "box": BOX, "ink_threshold": INK_THRESHOLD}


def load_image(source, name: str | None = None, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Open an image file (a path, bytes, or a binary file object), or raise a one-line :class:`DigitlabError`."""
    if isinstance(source, (bytes, bytearray)):
        source = io.BytesIO(source)
    if isinstance(source, (str, os.PathLike)):
        source = Path(source)
        if not source.is_file():
            raise DigitlabError(f"image not found: {source}; check the path")
    name = name or str(source if isinstance(source, Path) else "uploaded image")
    try:
        with Image.open(source) as im:
            if im.width * im.height > max_pixels:
                raise TooLargeError(
                    f"{name}: {im.width}x{im.height} is too large; scale it below {max_pixels:,} pixels"
                )
            im = ImageOps.exif_transpose(im)  # phone photos carry their rotation in EXIF
            im.load()
            return im
    except Image.DecompressionBombError:
        raise TooLargeError(
            f"{name}: too large (its header claims more pixels than PIL decodes); scale it below {max_pixels:,} pixels"
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise DigitlabError(f"{name}: not a readable image ({type(e).__name__}); use a PNG or JPEG file") from None


def _to_gray(image) -> np.ndarray:
    """Any PIL image or array (HxW, HxWx3, HxWx4; uint8 or float) to float32 HxW in [0, 1]."""
    if isinstance(image, Image.Image):
        if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
            image = image.convert("RGBA")
        elif image.mode not in ("L", "F", "I", "I;16"):
            image = image.convert("RGB")
        arr = np.asarray(image)
        if image.mode in ("I", "I;16"):
            arr = arr.astype(np.float32) / max(float(arr.max()), 1.0)
    else:
        arr = np.asarray(image)
    if arr.dtype == np.uint8 and arr.ndim == 2 and arr.size:  # the common case: in [0, 1] and finite already
        return arr.astype(np.float32) / 255.0
    if arr.dtype == np.uint8:
        arr = arr.astype(np.float32) / 255.0
    elif arr.dtype == bool:
        arr = arr.astype(np.float32)
    else:
        arr = arr.astype(np.float32)
        if arr.size and arr.max() > 1.0:
            arr = arr / 255.0
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim == 3 and arr.shape[2] in (3, 4):
        rgb = arr[:, :, :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
        if arr.shape[2] == 4 and (arr[:, :, 3] < 1.0).any():
            # Transparent pixels are background. Composite onto the colour that
            # contrasts with the ink, so either ink colour keeps its strokes.
            alpha = arr[:, :, 3]
            ink_level = float((rgb * alpha).sum() / max(alpha.sum(), 1e-6))
            background = 1.0 if ink_level < 0.5 else 0.0
            rgb = rgb * alpha + background * (1.0 - alpha)
        arr = rgb
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise DigitlabError(f"expected a 2-D grayscale or RGB(A) image, got shape {tuple(np.shape(image))}")
    if not np.isfinite(arr).all():
        raise DigitlabError("image contains NaN or infinite values; pass finite pixel values")
    return np.clip(arr, 0.0, 1.0)


def _background(gray: np.ndarray, border_level: float) -> np.ndarray | float:
    """The background level under the (bright) ink, per pixel for photos.

    Paper under a lamp or a phone's flash is lighter on one side than the other,
    so one global level would turn the darker side into "ink". For images of
    64 pixels or more a side, the background is a grey-scale opening (erosion,
    then dilation) over a window a fifth of the image wide: strokes thinner than
    that vanish from it, the shading stays. Small images keep the global level.
    """
    h, w = gray.shape
    if min(h, w) < 64:
        return border_level
    scale = 64 / min(h, w)
    sw, sh = max(1, round(w * scale)), max(1, round(h * scale))
    small = np.asarray(Image.fromarray(gray, mode="F").resize((sw, sh), Image.Resampling.BOX), np.float32)
    # scipy's grey_opening and uniform_filter (mode "nearest") to the bit, about 6x faster
    opened = cv2.morphologyEx(small, cv2.MORPH_OPEN, np.ones((13, 13), np.uint8), borderType=cv2.BORDER_REPLICATE)
    bg = cv2.blur(opened, (7, 7), borderType=cv2.BORDER_REPLICATE)
    return cv2.resize(bg, (w, h), interpolation=cv2.INTER_LINEAR)  # PIL's bilinear to the bit, 10x faster


def _white_on_black(gray: np.ndarray) -> np.ndarray:
    """Make the ink white on black and remove the background level.

    The polarity comes from the median of the border: ink rarely fills the
    edges, while paper or canvas does, whatever its colour.
    """
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    level = float(np.median(border))
    if level > 0.5:
        gray = 1.0 - gray
        level = 1.0 - level
    ink = np.clip(gray - _background(gray, level), 0.0, None)
    peak = float(ink.max())
    return ink / peak if peak > 0.05 else np.zeros_like(gray)


def _centre_of_mass(img: np.ndarray) -> tuple[float, float]:
    total = img.sum()
    rows, cols = img.sum(1), img.sum(0)
    return float(rows @ np.arange(len(rows)) / total), float(cols @ np.arange(len(cols)) / total)


def ink_image(image, max_height: int | None = None) -> np.ndarray:
    """White ink on black, background removed, float32 in [0, 1], at the image's own size (or
    shrunk to ``max_height`` rows if it has more): the first half of :func:`prepare_image`,
    shared with reading numbers."""
    if isinstance(image, (str, os.PathLike)):
        image = load_image(image)
    gray = _to_gray(image)
    h, w = gray.shape
    if max_height is not None and h > max_height:
        gray = cv2.resize(gray, (max(1, round(w * max_height / h)), max_height), interpolation=cv2.INTER_AREA)
    return _white_on_black(gray)


def prepare_image(image) -> np.ndarray:
    """Turn any digit image into an MNIST-style float32 array of shape (28, 28) in [0, 1].

    ``image`` is a PIL image, a path, or an array (HxW gray, HxWx3 RGB, HxWx4
    RGBA; uint8 0-255 or float 0-1), in either polarity and at any size. An
    image with no ink gives all zeros.
    """
    return prepare_ink(ink_image(image))


def prepare_ink(ink: np.ndarray) -> np.ndarray:
    """The second half of :func:`prepare_image`: crop an :func:`ink_image` to its ink, scale it into
    20x20 and put its centre of mass at pixel (14, 14)."""
    mask = ink > INK_THRESHOLD
    if not mask.any():
        return np.zeros((SIZE, SIZE), np.float32)
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    crop = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    crop = np.where(crop > INK_THRESHOLD * 0.5, crop, 0.0).astype(np.float32)
    h, w = crop.shape
    scale = BOX / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    # Area averaging when shrinking anti-aliases like MNIST's own scanner-to-20x20 step.
    resample = Image.Resampling.BOX if scale < 1 else Image.Resampling.BILINEAR
    small = np.asarray(Image.fromarray(crop, mode="F").resize((nw, nh), resample), dtype=np.float32)
    small = np.clip(small, 0.0, None)
    peak = small.max()
    if peak <= 0:
        return np.zeros((SIZE, SIZE), np.float32)
    small /= peak  # thin strokes shrink to faint grey; MNIST strokes peak at full white
    cy, cx = _centre_of_mass(small)
    # MNIST's centres of mass sit at pixel (14.0, 14.0) (mean over the 60k
    # training images; spread 0.29 px from integer shifts), not at 13.5.
    top = int(round(SIZE / 2 - cy))
    left = int(round(SIZE / 2 - cx))
    top, left = min(max(top, 0), SIZE - nh), min(max(left, 0), SIZE - nw)
    out = np.zeros((SIZE, SIZE), np.float32)
    out[top : top + nh, left : left + nw] = small
    return out


def prepare_batch(images) -> np.ndarray:
    """:func:`prepare_image` over a sequence; returns float32 (N, 28, 28)."""
    return np.stack([prepare_image(im) for im in images]) if len(images) else np.zeros((0, SIZE, SIZE), np.float32)
