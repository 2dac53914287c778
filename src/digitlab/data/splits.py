"""Named datasets and the train/validation split.

Sources are named ``KIND:PATH`` (``idx:DIR``, ``csv:FILE``, ``folder:DIR``,
``npz:FILE``, ``mine:FILE``), ``mnist`` or ``mine`` (your corrections store); several combine into one training pool, which is
split into train and validation, stratified by label and seeded. The official
10k MNIST test set is kept apart and never enters train or validation.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from digitlab.core.errors import DigitlabError
from digitlab.core.io import sha256_bytes

from .mine import Store, default_path
from .mnist import load_mnist
from .sources import load_csv, load_folder, load_idx_dir, load_npz

KINDS = ("mnist", "idx", "csv", "folder", "npz", "mine")


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
    if spec in ("mnist", "mine"):
        return spec, ""
    kind, sep, path = spec.partition(":")
    if not sep or kind not in KINDS[1:] or not path:
        raise DigitlabError(
            f"unknown data source {spec!r}; use mnist, mine, idx:DIR, csv:FILE, folder:DIR, npz:FILE or mine:FILE"
        )
    return kind, path


def load_source(spec: str, directory: str | os.PathLike | None = None, split: str = "train") -> Source:
    kind, path = parse_spec(spec)
    if kind == "mnist":
        x, y = load_mnist(split, directory)
    elif kind == "idx":
        x, y = load_idx_dir(path, split)
    elif kind == "csv":
        x, y = load_csv(path)
    elif kind == "folder":
        x, y = load_folder(path)
    elif kind == "mine":
        store = Store(path or default_path(directory))
        if not store.path.is_file():
            raise DigitlabError(
                f"{spec}: no corrections store at {store.path}; save examples first (digitlab mine add)"
            )
        x, y = store.arrays()
    else:
        x, y = load_npz(path)
    if len(x) == 0:
        raise DigitlabError(f"{spec}: the dataset is empty; point it at a file or folder with images")
    return Source(spec, x, y)


def combine(
    specs: list[str], directory: str | os.PathLike | None = None
) -> tuple[np.ndarray, np.ndarray, list[Source]]:
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
    from sklearn.model_selection import train_test_split  # a second to import: only splitting pays it

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
    held: Source | None = None  # the personal split: your examples held out (digitlab.data.personal)
    user: dict | None = None  # the personal split: how your examples were used
    split_checksum: str = ""  # what was split at random (the pool, or MNIST alone in the personal split)

    def __post_init__(self):
        self.split_checksum = self.split_checksum or self.pool_checksum

    def describe(self) -> dict:
        out = {
            "sources": [{"spec": s.spec, "images": int(len(s.x)), "sha256": s.checksum} for s in self.sources],
            "pool_sha256": self.pool_checksum,
            "train": int(len(self.y_train)),
            "val": int(len(self.y_val)),
        }
        if self.user is not None:
            out |= {"split_sha256": self.split_checksum, "personal": self.user}
        return out


def make_splits(
    specs: list[str],
    val_fraction: float = 0.1,
    seed: int = 42,
    limit: int | None = None,
    directory: str | os.PathLike | None = None,
) -> Splits:
    x, y, loaded = combine(specs, directory)
    tr, va = stratified_split(y, val_fraction, seed, limit)
    pool = pool_checksum(loaded)
    return Splits(x[tr], y[tr], x[va], y[va], loaded, pool)


def pool_checksum(sources: list[Source]) -> str:
    """One checksum for several sources, in order: what a run records as ``pool_sha256``."""
    return sha256_bytes(*[s.checksum.encode() for s in sources])


def load_test(directory: str | os.PathLike | None = None) -> Source:
    """The official MNIST test set: for reporting only, never for choosing anything."""
    return load_source("mnist", directory, split="test")


def class_counts(y: np.ndarray) -> list[int]:
    return np.bincount(y, minlength=10).tolist()
