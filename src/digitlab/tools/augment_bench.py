"""``digitlab augment bench``: how fast static expansion runs here, and what real-time warps add to a step."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from digitlab.augment import random_affine, static_expand
from digitlab.augment.realtime import warp_settings
from digitlab.models import build_model
from digitlab.training.step import train_step


def augment_benchmark(cfg: dict, x: np.ndarray, y: np.ndarray, steps: int = 20, progress: bool = False) -> dict:
    """Static expansion rate (images/s, all workers, nothing cached) and the share that
    real-time augmentation adds to seed training steps, on this machine."""
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
    warp = warp_settings(rt)
    l2, clip = float(cfg["model"]["l2"]), cfg["train"]["clipnorm"]

    def step(mode: str) -> None:
        train_step(model, opt, random_affine(xb, gen, **warp) if mode == "realtime" else xb, yb, l2, clip)

    step("plain")  # untimed: the first step pays one-off costs (allocations, oneDNN kernel choice)
    step("realtime")
    times = {}
    for mode in ("plain", "realtime", "plain", "realtime"):  # interleaved, so drift hits both alike
        t0 = time.perf_counter()
        for _ in range(steps):
            step(mode)
        times[mode] = times.get(mode, 0.0) + time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(steps * 2):
        random_affine(xb, gen, **warp)
    warp_s = (time.perf_counter() - t0) / (steps * 2)
    return {
        "static_images": len(x),
        "static_seconds": static_s,
        "static_images_per_s": len(x) / static_s,
        "workers": int(static["workers"] or os.cpu_count() or 1),
        "step_ms_plain": 1000 * times["plain"] / (2 * steps),
        "step_ms_realtime": 1000 * times["realtime"] / (2 * steps),
        "warp_ms_per_batch": 1000 * warp_s,
        "batch_size": bs,
        "realtime_overhead": times["realtime"] / times["plain"] - 1,
        "threads": torch.get_num_threads(),
    }
