"""The personal split: MNIST split as every other run splits it, and your own examples
(every source but ``mnist``: ``mine``, ``folder:DIR``, ...) kept apart from that split.

Why apart: a hundred examples of your handwriting in a pool of 60,000 would land in
validation by chance and count for nothing in training. Instead a stratified share of
them (``data.personal.holdout`` per digit) is held out to measure the model on your
writing before and after, and the rest are repeated so that they make up
``data.personal.share`` of every epoch, beside ``data.personal.mnist_images`` of MNIST's
training images (a stratified subset: enough to keep reading MNIST, few enough to train
in minutes). MNIST's own split is the one the shipped model
was trained on, so its validation images stay held out from the start.
"""

from __future__ import annotations

import os

import numpy as np

from digitlab.core import config as config_mod
from digitlab.core.errors import DigitlabError

from .splits import Source, Splits, combine, make_splits, pool_checksum, stratified_split


def holdout_indices(y: np.ndarray, share: float, seed: int) -> np.ndarray:
    """A seeded, stratified share of each digit's examples (rounded; at least one of each
    digit is left to train on), as sorted indices into ``y``."""
    rng = np.random.default_rng(seed)
    held = []
    for d in np.unique(y):
        idx = np.flatnonzero(y == d)
        k = min(int(round(share * len(idx))), len(idx) - 1)
        held.extend(rng.choice(idx, size=k, replace=False).tolist())
    return np.sort(np.asarray(held, np.int64))


def repeats_for(n_user: int, n_base: int, share: float) -> int:
    """How often each training example of yours is repeated so that they make up ``share`` of an epoch."""
    return max(1, int(round(share / (1 - share) * n_base / max(n_user, 1))))


def _subsample(idx: np.ndarray, y: np.ndarray, n: int | None, seed: int) -> np.ndarray:
    """A stratified ``n`` of the MNIST training indices (all of them when ``n`` is null or larger)."""
    if n is None or n >= len(idx):
        return idx
    from sklearn.model_selection import train_test_split  # a second to import: only splitting pays it

    keep, _ = train_test_split(idx, train_size=int(n), random_state=seed, stratify=y[idx])
    return np.sort(keep)


def _user_sources(specs: list[str]) -> list[str]:
    user = [s for s in specs if s.strip() != "mnist"]
    if "mnist" not in [s.strip() for s in specs] or not user:
        raise DigitlabError(
            "the personal preset trains on MNIST plus your examples: pass --data mnist --data mine "
            "(or --data folder:DIR with DIR/<digit>/*.png)"
        )
    return user


def personal_splits(
    specs: list[str],
    val_fraction: float,
    seed: int,
    limit: int | None,
    personal: dict,
    directory: str | os.PathLike | None = None,
) -> Splits:
    """MNIST split as :func:`digitlab.data.splits.make_splits` splits it; your examples held out by
    :func:`holdout_indices` and the rest repeated into the training images."""
    user_specs = _user_sources(specs)
    xb, yb, base = combine(["mnist"], directory)
    xu, yu, mine = combine(user_specs, directory)
    tr, va = stratified_split(yb, val_fraction, seed, limit)
    tr = _subsample(tr, yb, personal.get("mnist_images"), seed)
    held = holdout_indices(yu, float(personal["holdout"]), seed)
    keep = np.setdiff1d(np.arange(len(yu)), held)
    reps = repeats_for(len(keep), len(tr), float(personal["share"]))
    split_sha, pool = pool_checksum(base), pool_checksum(base + mine)
    user = {
        "sources": [s.spec for s in mine],
        "examples": int(len(yu)),
        "per_digit": np.bincount(yu, minlength=10).tolist(),
        "train": int(len(keep)),
        "held_out": int(len(held)),
        "repeats": reps,
    }
    return Splits(
        np.concatenate([xb[tr], np.tile(xu[keep], (reps, 1, 1))]),
        np.concatenate([yb[tr], np.tile(yu[keep], reps)]),
        xb[va],
        yb[va],
        base + mine,
        pool,
        held=Source("yours, held out", xu[held], yu[held]),
        user=user,
        split_checksum=split_sha,
    )


def splits_for(cfg: dict, directory: str | os.PathLike | None = None) -> Splits:
    """The train/validation split a run's config asks for: the personal split when
    ``data.personal.enabled``, else the whole pool split at random."""
    d = cfg["data"]
    args = (d["sources"], d["val_fraction"], config_mod.split_seed(cfg), d["limit"])
    personal = d.get("personal") or {}  # configs from before data.personal existed have none
    if personal.get("enabled"):
        return personal_splits(*args, personal, directory)
    return make_splits(*args, directory)
