"""``digitlab augment preview``: one row per transform, forced on, to see what each does."""

from __future__ import annotations

import numpy as np
import torch

from .realtime import REALTIME_TRANSFORMS, random_affine, warp_settings
from .static import STATIC_TRANSFORMS, build_static, enabled_static


def preview_rows(aug_cfg: dict, images: np.ndarray, draws: int = 7, seed: int = 0) -> list[tuple[str, np.ndarray]]:
    """One row per transform, forced on: ``(title, [original, draw1, ...])`` as uint8 (28, 28)."""
    rows = []
    static = aug_cfg["static"]
    names = enabled_static(static)
    for i, name in enumerate(names):
        img = images[i % len(images)]
        pipe = build_static(static, seed=seed + i, only=name, force=True)
        params = ", ".join(f"{k}={v}" for k, v in static[name].items() if k != "p")
        title = f"{STATIC_TRANSFORMS[name]} (static, p={static[name]['p']}{', ' + params if params else ''})"
        rows.append((title, np.stack([img] + [pipe(image=img)["image"] for _ in range(draws)])))
    rt = aug_cfg["realtime"]
    gen = torch.Generator().manual_seed(seed)
    shown = [k for k in REALTIME_TRANSFORMS if k != "elastic" or rt.get("elastic")]  # elastic: only when on
    for j, name in enumerate(shown):
        img = images[(len(names) + j) % len(images)]
        settings = warp_settings(rt)
        amount = settings[name]
        kw = {**settings, **{k: (amount if k == name else 0.0) for k in REALTIME_TRANSFORMS}}
        batch = torch.from_numpy(np.repeat(img[None, None], draws, 0)).float() / 255.0
        warped = (random_affine(batch, gen, **kw)[:, 0] * 255).round().clamp(0, 255).byte().numpy()
        unit = {"rotation": " degrees", "shift": " of the size", "zoom": ""}
        state = "on" if rt["enabled"] else "off in this preset"
        what = (
            f"elastic alpha {amount:g}, sigma {settings['elastic_sigma']:g} pixels"
            if name == "elastic"
            else f"{name} +-{amount:g}{unit[name]}"
        )
        rows.append((f"{what} (real-time, {state})", np.concatenate([img[None], warped])))
    return rows
