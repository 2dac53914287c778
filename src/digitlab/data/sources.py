"""Readers for user data in MNIST format or as image folders.

Each reader returns ``(x, y)``: ``x`` uint8 (N, 28, 28) white ink on black,
``y`` int64 (N,) in 0-9, or ``y=None`` for unlabelled data (prediction only).
Malformed input raises a one-line :class:`DigitlabError`.
"""

from __future__ import annotations

import gzip
import struct
import warnings
from pathlib import Path

import numpy as np

from digitlab.core.errors import DigitlabError

from .preprocess import load_image, prepare_image

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


def _check_labels(y: np.ndarray, where: str) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1:
        raise DigitlabError(f"{where}: labels must be one integer per image, got shape {y.shape}")
    if y.size and (not np.issubdtype(y.dtype, np.number) or not np.all(np.mod(y, 1) == 0)):
        raise DigitlabError(f"{where}: labels must be integers 0-9")
    bad = (y < 0) | (y > 9)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        label = int(y[i]) if float(y[i]).is_integer() else y[i]
        raise DigitlabError(f"{where}: label {label} at row {i} is outside 0-9; fix or drop those rows")
    return y.astype(np.int64)


def _to_uint8_images(x: np.ndarray, where: str) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim == 2 and x.shape[1] == 784:
        x = x.reshape(-1, 28, 28)
    if x.ndim != 3 or x.shape[1:] != (28, 28):
        raise DigitlabError(f"{where}: images must have shape (N, 28, 28), got {x.shape}")
    if x.dtype == np.uint8:
        return x
    if not np.issubdtype(x.dtype, np.number):
        raise DigitlabError(f"{where}: images must be numbers, got dtype {x.dtype}")
    x = x.astype(np.float64)
    if not np.isfinite(x).all():
        raise DigitlabError(f"{where}: images contain NaN or infinite values")
    if x.size and (x.min() < 0 or x.max() > 1):
        if x.max() <= 255 and x.min() >= 0 and np.all(np.mod(x, 1) == 0):
            return x.astype(np.uint8)
        raise DigitlabError(f"{where}: float images must lie in [0, 1] (or be whole numbers 0-255)")
    return np.round(x * 255).astype(np.uint8)


# --- IDX -------------------------------------------------------------------


def read_idx(path: Path) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
        zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
        if zero != 0 or dtype_code != 0x08:
            raise ValueError("bad magic number")
        shape = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
        arr = np.frombuffer(data, np.uint8, offset=4 + 4 * ndim)
        return arr.reshape(shape)
    except (OSError, EOFError, struct.error, ValueError) as e:
        raise DigitlabError(f"{path}: not a valid uint8 IDX file ({e}); use the canonical MNIST IDX files") from None


def _find_idx(folder: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"):
        if (folder / name).is_file():
            return folder / name
    return None


def load_idx_dir(folder: str | Path, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """Read ``{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]`` from ``folder``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DigitlabError(f"idx: folder not found: {folder}")
    prefix = "train" if split == "train" else "t10k"
    ipath, lpath = _find_idx(folder, f"{prefix}-images-idx3-ubyte"), _find_idx(folder, f"{prefix}-labels-idx1-ubyte")
    if ipath is None or lpath is None:
        raise DigitlabError(f"idx: {folder} lacks {prefix}-images-idx3-ubyte[.gz] and {prefix}-labels-idx1-ubyte[.gz]")
    x, y = read_idx(ipath), read_idx(lpath)
    if x.ndim != 3 or x.shape[1:] != (28, 28) or y.ndim != 1 or len(x) != len(y):
        raise DigitlabError(
            f"idx: {ipath.name} {x.shape} and {lpath.name} {y.shape} do not match as 28x28 images and labels"
        )
    return x.copy(), _check_labels(y, str(lpath))


# --- CSV -------------------------------------------------------------------


def load_csv(path: str | Path) -> tuple[np.ndarray, np.ndarray | None]:
    """Kaggle digit-recognizer CSV: ``label,pixel0..pixel783`` (or pixels only)."""
    path = Path(path)
    if not path.is_file():
        raise DigitlabError(f"csv: file not found: {path}")
    try:
        with open(path, encoding="utf-8-sig") as f:
            header = f.readline().strip().split(",")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "input contained no data": reported below instead
            data = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float64, ndmin=2)
    except (ValueError, UnicodeDecodeError) as e:
        msg = str(e).splitlines()[0][:120]
        raise DigitlabError(f"csv: {path} could not be parsed ({msg}); expect a header then numeric rows") from None
    cols = len(header)
    has_label = header[0].strip().lower() == "label"
    want = 785 if has_label else 784
    if cols != want or (data.size and data.shape[1] != want):
        got = data.shape[1] if data.size else cols
        raise DigitlabError(
            f"csv: {path} has {got} columns; expected 785 (label,pixel0..pixel783) or 784 (pixels only)"
        )
    if data.shape[0] == 0:
        return np.zeros((0, 28, 28), np.uint8), (np.zeros(0, np.int64) if has_label else None)
    pixels = data[:, 1:] if has_label else data
    if pixels.min() < 0 or pixels.max() > 255 or not np.all(np.mod(pixels, 1) == 0):
        raise DigitlabError(f"csv: {path} pixel values must be whole numbers 0-255")
    y = _check_labels(data[:, 0], f"csv: {path}") if has_label else None
    return pixels.reshape(-1, 28, 28).astype(np.uint8), y


# --- image folders -----------------------------------------------------------


def load_folder(folder: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """``folder/<digit>/*.png|jpg``, any size or polarity, through :func:`prepare_image`."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DigitlabError(f"folder: not found: {folder}")
    xs, ys = [], []
    for digit in range(10):
        sub = folder / str(digit)
        if not sub.is_dir():
            continue
        for f in sorted(sub.iterdir()):
            if f.suffix.lower() in IMAGE_SUFFIXES:
                xs.append(np.round(prepare_image(load_image(f)) * 255).astype(np.uint8))
                ys.append(digit)
    if not xs:
        raise DigitlabError(f"folder: {folder} has no images in sub-folders 0-9 (expected {folder}/<digit>/*.png)")
    return np.stack(xs), np.array(ys, np.int64)


# --- npz -------------------------------------------------------------------


def load_npz(path: str | Path) -> tuple[np.ndarray, np.ndarray | None]:
    """``x`` (N, 28, 28) uint8 or float in [0, 1]; ``y`` (N,) integers 0-9 (optional)."""
    path = Path(path)
    if not path.is_file():
        raise DigitlabError(f"npz: file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as z:
            if "x" not in z.files:
                raise DigitlabError(f"npz: {path} has no array 'x' (found {', '.join(z.files) or 'none'})")
            x, y = z["x"], (z["y"] if "y" in z.files else None)
    except DigitlabError:
        raise
    except Exception as e:  # zipfile.BadZipFile, ValueError (pickled objects), OSError...
        raise DigitlabError(
            f"npz: {path} is not a readable .npz ({type(e).__name__}); save it with numpy.savez"
        ) from None
    x = _to_uint8_images(x, f"npz: {path}")
    if y is not None:
        y = _check_labels(y, f"npz: {path}")
        if len(y) != len(x):
            raise DigitlabError(f"npz: {path} has {len(x)} images but {len(y)} labels")
    return x, y
