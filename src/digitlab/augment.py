"""Augmentation: seed 000's static expansion and both seeds' real-time warps.

*Static* (albumentations): ElasticTransform, GaussNoise, CoarseDropout,
RandomBrightnessContrast and InvertImg (the seed's five), optionally Affine,
Morphological, MotionBlur, SaltAndPepper, XYMasking (stripes) and digitlab's
Outline and Scribble, each with its probability and parameters in
``augment.static``. The training split is expanded by
``copies`` augmented copies, computed once in worker processes and cached on
disk under a key of (training data checksum, transform config, seed), so a
second run with the same settings reuses it. Validation and test are never
augmented.

*Real-time*: random rotation, width/height shift and zoom, drawn afresh for
every image of every batch and applied as one batched affine warp on the
training device (``affine_grid`` + ``grid_sample``), with Keras
ImageDataGenerator semantics: angle uniform in +-rotation degrees, shifts
uniform in +-shift of the width/height, zoom factors for x and y drawn
independently from [1-zoom, 1+zoom], edges extended from the border pixels
(Keras' ``fill_mode='nearest'``).
"""
from __future__ import annotations

import concurrent.futures as cf
import hashlib
import json
import math
import multiprocessing
import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .errors import DigitlabError
from .utils import atomic_path, sha256_bytes

# name in the config -> transform class, in the order they are applied. Only the seed's
# five (elastic, noise, dropout, brightness_contrast, invert) are in the seeds; a preset
# that leaves the others out does not use them. Outline and Scribble are digitlab's own
# (digitlab.transforms); the rest are albumentations'.
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
REALTIME_TRANSFORMS = ("rotation", "shift", "zoom")
CHUNK = 2000  # images per work item; fixed so results do not depend on the worker count


def _kwargs(section: dict) -> dict:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in section.items()}


def build_static(static_cfg: dict, seed: int | None = None, only: str | None = None, force: bool = False):
    """An ``albumentations.Compose`` of the configured transforms (``only`` one of them, ``force``: p=1)."""
    import albumentations as A

    from . import transforms as own

    transforms = []
    for name, cls in STATIC_TRANSFORMS.items():
        if (only is not None and name != only) or name not in static_cfg:
            continue
        kw = _kwargs(static_cfg[name])
        if force:
            kw["p"] = 1.0
        if kw.get("p", 0) <= 0:
            continue
        try:
            transforms.append((getattr(own, cls, None) or getattr(A, cls))(**kw))
        except Exception as e:  # albumentations validates with pydantic
            source = e.__cause__ if hasattr(e.__cause__, "errors") else e  # albumentations wraps it in ValueError
            errs = source.errors() if hasattr(source, "errors") else []
            why = (f"{'.'.join(map(str, errs[0]['loc']))}: {errs[0]['msg']}" if errs
                   else (str(e).strip().splitlines() or [type(e).__name__])[0])
            raise DigitlabError(f"augment.static.{name}: bad parameters for {cls} ({why})") from None
    return A.Compose(transforms, seed=seed)


def _augment_chunk(args) -> np.ndarray:
    x, static_cfg, seed = args
    import cv2

    cv2.setNumThreads(1)  # one process per core already
    pipeline = build_static(static_cfg, seed)
    return np.stack([pipeline(image=img)["image"] for img in x])


def cache_key(x: np.ndarray, y: np.ndarray, static_cfg: dict, seed: int) -> str:
    import albumentations

    settings = {k: v for k, v in static_cfg.items() if k != "workers"}
    blob = json.dumps({"data": sha256_bytes(x.tobytes(), y.astype(np.int64).tobytes()), "static": settings,
                       "seed": seed, "albumentations": albumentations.__version__}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def static_expand(x: np.ndarray, y: np.ndarray, static_cfg: dict, seed: int, cache_dir: Path | None,
                  progress: bool = True) -> tuple[np.ndarray, np.ndarray, dict]:
    """``copies`` augmented copies of (x, y), from the cache when it has them.

    Returns the new images and labels (not including the originals) and a
    dict saying where they came from.
    """
    copies = int(static_cfg.get("copies", 0) or 0)
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
    workers = int(static_cfg.get("workers") or os.cpu_count() or 1)
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
        with atomic_path(path, suffix=".npz") as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, x=x_aug, y=y_aug)
    return x_aug, y_aug, {"copies": copies, "cache": str(path) if path else None, "cached": False, "key": key}


def random_affine(x: torch.Tensor, generator: torch.Generator, rotation: float = 10.0, shift: float = 0.1,
                  zoom: float = 0.1) -> torch.Tensor:
    """Warp a batch (N, C, H, W) with a fresh random rotation, shift and zoom per image."""
    n = x.shape[0]
    if n == 0 or not (rotation or shift or zoom):
        return x
    u = torch.rand(n, 5, generator=generator) * 2 - 1  # drawn on CPU: same numbers on any device
    angle = u[:, 0] * math.radians(rotation)
    zx, zy = 1 + u[:, 1] * zoom, 1 + u[:, 2] * zoom
    tx, ty = u[:, 3] * shift * 2, u[:, 4] * shift * 2  # normalised coordinates span 2 per image width
    cos, sin = torch.cos(angle), torch.sin(angle)
    # affine_grid maps output to input coordinates: zoom factors > 1 sample a larger area (zoom out), as in Keras
    theta = torch.stack([torch.stack([cos * zx, -sin * zy, tx], 1), torch.stack([sin * zx, cos * zy, ty], 1)], 1)
    return affine(x, theta, padding_mode="border")


def affine(x: torch.Tensor, theta: torch.Tensor, padding_mode: str = "zeros") -> torch.Tensor:
    """Warp (N, C, H, W) with output-to-input matrices theta (N, 2, 3) in [-1, 1] coordinates, bilinearly."""
    grid = F.affine_grid(theta.to(x.device, x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode=padding_mode, align_corners=False)


def realtime_fn(realtime_cfg: dict, generator: torch.Generator):
    """The per-batch augmentation for the trainer, or ``None`` when switched off."""
    if not realtime_cfg.get("enabled", False):
        return None
    kw = {k: float(realtime_cfg.get(k, 0) or 0) for k in REALTIME_TRANSFORMS}
    if not any(kw.values()):
        return None
    return lambda xb: random_affine(xb, generator, **kw)


def preview_rows(aug_cfg: dict, images: np.ndarray, draws: int = 7, seed: int = 0) -> list[tuple[str, np.ndarray]]:
    """One row per transform, forced on: ``(title, [original, draw1, ...])`` as uint8 (28, 28)."""
    rows = []
    static = aug_cfg["static"]
    names = [n for n in STATIC_TRANSFORMS if n in static]
    for i, name in enumerate(names):
        img = images[i % len(images)]
        pipe = build_static(static, seed=seed + i, only=name, force=True)
        params = ", ".join(f"{k}={v}" for k, v in static[name].items() if k != "p")
        title = f"{STATIC_TRANSFORMS[name]} (static, p={static[name].get('p')}{', ' + params if params else ''})"
        rows.append((title, np.stack([img] + [pipe(image=img)["image"] for _ in range(draws)])))
    rt = aug_cfg["realtime"]
    gen = torch.Generator().manual_seed(seed)
    for j, name in enumerate(REALTIME_TRANSFORMS):
        img = images[(len(names) + j) % len(images)]
        amount = float(rt.get(name, 0) or 0)
        kw = {k: (amount if k == name else 0.0) for k in REALTIME_TRANSFORMS}
        batch = torch.from_numpy(np.repeat(img[None, None], draws, 0)).float() / 255.0
        warped = (random_affine(batch, gen, **kw)[:, 0] * 255).round().clamp(0, 255).byte().numpy()
        unit = {"rotation": " degrees", "shift": " of the size", "zoom": ""}[name]
        state = "on" if rt.get("enabled") else "off in this preset"
        rows.append((f"{name} +-{amount:g}{unit} (real-time, {state})", np.concatenate([img[None], warped])))
    return rows


def benchmark(cfg: dict, x: np.ndarray, y: np.ndarray, steps: int = 20, progress: bool = False) -> dict:
    """Static expansion rate (images/s, all workers, nothing cached) and the share that
    real-time augmentation adds to seed training steps, on this machine."""
    import tempfile
    import time

    from .models import build_model
    from .train import train_step

    static = {**cfg["augment"]["static"], "copies": 1}
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        static_expand(x, y, static, seed=0, cache_dir=Path(tmp), progress=progress)
        static_s = time.perf_counter() - t0
    bs, rt = cfg["train"]["batch_size"], cfg["augment"]["realtime"]
    model = build_model(cfg["model"])
    opt = torch.optim.Adam(model.parameters(), lr=cfg["train"]["lr"])
    gen = torch.Generator().manual_seed(0)
    xb = torch.from_numpy(x[:bs]).float().div(255).unsqueeze(1)
    yb = torch.from_numpy(y[:bs]).long()
    warp = {k: float(rt.get(k, 0) or 0) for k in REALTIME_TRANSFORMS}
    times = {}
    for mode in ("plain", "realtime", "plain", "realtime"):  # interleaved, so drift hits both alike
        t0 = time.perf_counter()
        for _ in range(steps):
            train_step(model, opt, random_affine(xb, gen, **warp) if mode == "realtime" else xb, yb,
                       float(cfg["model"].get("l2", 0)), cfg["train"]["clipnorm"])
        times[mode] = times.get(mode, 0.0) + time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(steps * 2):
        random_affine(xb, gen, **warp)
    warp_s = (time.perf_counter() - t0) / (steps * 2)
    return {"static_images": len(x), "static_seconds": static_s, "static_images_per_s": len(x) / static_s,
            "workers": int(static.get("workers") or os.cpu_count() or 1),
            "step_ms_plain": 1000 * times["plain"] / (2 * steps),
            "step_ms_realtime": 1000 * times["realtime"] / (2 * steps),
            "warp_ms_per_batch": 1000 * warp_s, "batch_size": bs,
            "realtime_overhead": times["realtime"] / times["plain"] - 1, "threads": torch.get_num_threads()}
