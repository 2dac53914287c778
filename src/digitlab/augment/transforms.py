"""Two static transforms albumentations lacks, for the ``robust`` preset.

*Outline* replaces a digit by its edges (Canny or a morphological gradient,
thresholded), so a model learns that an outlined digit is still that digit.
*Scribble* draws a thin random line over the image (straight, bent or
zigzag, solid or dotted), like a stray pen stroke or a form's ruling.

Both are deliberately not the code of ``digitlab.augment.corrupt``: the corruption
benchmark should measure transfer to a related but unseen generator, not
recall of the exact one it was trained on. They follow albumentations'
conventions (``ImageOnlyTransform``, randomness from the Compose seed), so
they sit in ``augment.static`` like any other transform.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
from albumentations.core.transforms_interface import ImageOnlyTransform


class Outline(ImageOnlyTransform):
    """The digit's outline, white on black: Canny edges or a morphological gradient."""

    def __init__(self, canny_threshold: tuple[float, float] = (40.0, 160.0), p: float = 0.5):
        super().__init__(p=p)
        self.canny_threshold = tuple(canny_threshold)

    def get_params(self) -> dict[str, Any]:
        return {
            "canny": self.py_random.random() < 0.5,
            "low": self.py_random.uniform(*self.canny_threshold),
            "kernel": self.py_random.choice([2, 3]),
            "blur": self.py_random.choice([0, 3]),
        }

    def apply(self, img: np.ndarray, canny: bool, low: float, kernel: int, blur: int, **params: Any) -> np.ndarray:
        src = img[..., 0] if img.ndim == 3 else img
        if blur:
            src = cv2.GaussianBlur(src, (blur, blur), 0)
        if canny:
            edges = cv2.Canny(src, low, 2 * low)
        else:
            grad = cv2.morphologyEx(src, cv2.MORPH_GRADIENT, np.ones((kernel, kernel), np.uint8))
            edges = np.where(grad > low, 255, 0).astype(np.uint8)
        if not edges.any():
            return img  # an empty result would teach "blank is a digit"
        return edges.reshape(img.shape)

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        return ("canny_threshold",)


class Scribble(ImageOnlyTransform):
    """A thin white polyline across the image: 1-4 segments, solid or dotted."""

    def __init__(self, segments: tuple[int, int] = (1, 4), dotted: float = 0.3, p: float = 0.5):
        super().__init__(p=p)
        self.segments = tuple(segments)
        self.dotted = dotted

    def get_params_dependent_on_data(self, params: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        h, w = params["shape"][:2]
        n = self.py_random.randint(*self.segments)
        vertical = self.py_random.random() < 0.5
        # walk across the image in one direction, wandering freely in the other
        along = np.sort(self.random_generator.uniform(0, 1, n + 1))
        along = (along - along[0]) / max(along[-1] - along[0], 1e-6)
        across = self.random_generator.uniform(0.1, 0.9, n + 1)
        pts = np.stack([across, along] if vertical else [along, across], 1) * [w - 1, h - 1]
        return {"points": np.rint(pts).astype(np.int32), "dotted": self.py_random.random() < self.dotted}

    def apply(self, img: np.ndarray, points: np.ndarray, dotted: bool, **params: Any) -> np.ndarray:
        mask = np.zeros(img.shape[:2], np.uint8)
        cv2.polylines(mask, [points.reshape(-1, 1, 2)], False, 255, 1)
        if dotted:
            ii, jj = np.indices(mask.shape)
            mask[(ii + jj) % 2 == 1] = 0
        out = img.copy()
        out[mask > 0] = 255
        return out

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        return ("segments", "dotted")
