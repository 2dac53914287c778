"""Static augmentation: seed 000's expansion of the training split by augmented copies.

*Static* (albumentations): ElasticTransform, GaussNoise, CoarseDropout,
RandomBrightnessContrast and InvertImg (the seed's five), optionally Affine,
Morphological, MotionBlur, SaltAndPepper, XYMasking (stripes) and digitlab's
Outline and Scribble, each with its probability and parameters in
``augment.static``. The training split is expanded by
``copies`` augmented copies, computed once in worker processes and cached on
disk under a key of (training data checksum, transform config, seed), so a
second run with the same settings reuses it. Validation and test are never
augmented.
"""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import json
import multiprocessing
import os
from pathlib import Path

import albumentations as A
import cv2
import numpy as np
from tqdm.auto import tqdm

from digitlab.core.errors import DigitlabError
from digitlab.core.io import atomic_path, sha256_bytes

from .transforms import Outline, Scribble

# name in the config -> transform class, in the order they are applied. Only the seed's
# five (elastic, noise, dropout, brightness_contrast, invert) are in the seeds; a preset
# that leaves the others out does not use them. Outline and Scribble are digitlab's own
# (digitlab.augment.transforms); the rest are albumentations'.
STATIC_TRANSFORMS = {
    "elastic": "ElasticTransform",
    "affine": "Affine",
    "morphological": "Morphological",
    "outline": "Outline",
    "noise": "GaussNoise",
    "dropout": "CoarseDropout",
    "brightness_contrast": "RandomBrightnessContrast",
    "motion_blur": "MotionBlur",
    "salt_pepper": "SaltAndPepper",
    "stripes": "XYMasking",
    "scribble": "Scribble",
    "invert": "InvertImg",  # last, so lines and noise drawn in white become ink on inverted copies
}
OWN_TRANSFORMS = {"Outline": Outline, "Scribble": Scribble}
CHUNK = 2000  # images per work item; fixed so results do not depend on the worker count


def enabled_static(static_cfg: dict) -> list[str]:
    """The static transforms a config switches on (``p`` above 0), in the order they are applied."""
    return [n for n in STATIC_TRANSFORMS if n in static_cfg and static_cfg[n]["p"] > 0]


def _kwargs(section: dict) -> dict:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in section.items()}


def build_static(static_cfg: dict, seed: int | None = None, only: str | None = None, force: bool = False):
    """An ``albumentations.Compose`` of the configured transforms (``only`` one of them, ``force``: p=1)."""
    transforms = []
    for name in enabled_static(static_cfg):  # a transform switched off is not in the pipeline, forced or not
        if only is not None and name != only:
            continue
        cls, kw = STATIC_TRANSFORMS[name], _kwargs(static_cfg[name])
        if force:
            kw["p"] = 1.0
        try:
            transforms.append((OWN_TRANSFORMS.get(cls) or getattr(A, cls))(**kw))
        except Exception as e:  # albumentations validates with pydantic
            source = e.__cause__ if hasattr(e.__cause__, "errors") else e  # albumentations wraps it in ValueError
            errs = source.errors() if hasattr(source, "errors") else []
            why = (
                f"{'.'.join(map(str, errs[0]['loc']))}: {errs[0]['msg']}"
                if errs
                else (str(e).strip().splitlines() or [type(e).__name__])[0]
            )
            raise DigitlabError(f"augment.static.{name}: bad parameters for {cls} ({why})") from None
    return A.Compose(transforms, seed=seed)


def _augment_chunk(args) -> np.ndarray:
    x, static_cfg, seed = args
    cv2.setNumThreads(1)  # one process per core already
    pipeline = build_static(static_cfg, seed)
    return np.stack([pipeline(image=img)["image"] for img in x])


def cache_key(x: np.ndarray, y: np.ndarray, static_cfg: dict, seed: int) -> str:
    # Transforms switched off (p 0) change nothing, so they leave the key as it was without them.
    off = set(STATIC_TRANSFORMS) - set(enabled_static(static_cfg))
    settings = {k: v for k, v in static_cfg.items() if k != "workers" and k not in off}
    blob = json.dumps(
        {
            "data": sha256_bytes(x.tobytes(), y.astype(np.int64).tobytes()),
            "static": settings,
            "seed": seed,
            "albumentations": A.__version__,
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def static_expand(
    x: np.ndarray, y: np.ndarray, static_cfg: dict, seed: int, cache_dir: Path | None, progress: bool = True
) -> tuple[np.ndarray, np.ndarray, dict]:
    """``copies`` augmented copies of (x, y), from the cache when it has them.

    Returns the new images and labels (not including the originals) and a
    dict saying where they came from.
    """
    copies = int(static_cfg["copies"] or 0)  # null: none
    if copies <= 0:
        return x[:0], y[:0], {"copies": 0}
    key = cache_key(x, y, static_cfg, seed)
    path = cache_dir / f"static-{key}.npz" if cache_dir else None
    if path is not None and path.is_file():
        try:
            with np.load(path) as z:
                return z["x"], z["y"], {"copies": copies, "cache": str(path), "cached": True, "key": key}
        except (OSError, ValueError, KeyError):
            pass  # a damaged cache is recomputed and replaced
    jobs = []
    for c in range(copies):
        for start in range(0, len(x), CHUNK):
            chunk_seed = int.from_bytes(hashlib.sha256(f"{seed}/{c}/{start}".encode()).digest()[:4], "little")
            jobs.append((x[start : start + CHUNK], static_cfg, chunk_seed))
    workers = int(static_cfg["workers"] or os.cpu_count() or 1)
    bar = tqdm(total=len(x) * copies, desc="static augmentation", unit="img", disable=not progress, leave=False)
    out: list[np.ndarray] = []
    if workers <= 1:
        for job in jobs:
            out.append(_augment_chunk(job))
            bar.update(len(job[0]))
    else:
        # spawn, not fork: the parent holds OpenMP threads from torch
        with cf.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            for res in pool.map(_augment_chunk, jobs):
                out.append(res)
                bar.update(len(res))
    bar.close()
    x_aug, y_aug = np.concatenate(out), np.tile(y, copies)
    if path is not None:
        with atomic_path(path, suffix=".npz") as tmp, open(tmp, "wb") as f:
            np.savez(f, x=x_aug, y=y_aug)
    return x_aug, y_aug, {"copies": copies, "cache": str(path) if path else None, "cached": False, "key": key}
