"""Augmentation: seed 000's static copies (albumentations), both seeds' real-time
warps (batched, on the training device), the affine geometry they share with
test-time augmentation, and the MNIST-C-style corruptions that evaluation scores.
"""

import importlib

from .geometry import affine
from .realtime import REALTIME_TRANSFORMS, random_affine, realtime_fn

# The static pipeline needs albumentations, a third of a second to import: it and the
# preview load on first use, so commands that never build static copies start faster.
_LAZY = {
    "STATIC_TRANSFORMS": "static",
    "build_static": "static",
    "cache_key": "static",
    "enabled_static": "static",
    "static_expand": "static",
    "preview_rows": "preview",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "REALTIME_TRANSFORMS",
    "STATIC_TRANSFORMS",
    "affine",
    "build_static",
    "cache_key",
    "enabled_static",
    "preview_rows",
    "random_affine",
    "realtime_fn",
    "static_expand",
]
