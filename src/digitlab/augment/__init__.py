"""Augmentation: seed 000's static copies (albumentations), both seeds' real-time
warps (batched, on the training device), the affine geometry they share with
test-time augmentation, and the MNIST-C-style corruptions that evaluation scores.
"""

from .geometry import affine
from .preview import preview_rows
from .realtime import REALTIME_TRANSFORMS, random_affine, realtime_fn
from .static import STATIC_TRANSFORMS, build_static, cache_key, enabled_static, static_expand

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
