"""Data: MNIST offline, user sources, the train/validation split, and the one
preprocessing path for images from outside (files, canvas, API).

``mnist`` fetches and caches MNIST; ``sources`` reads idx, CSV, image folders
and npz; ``splits`` names datasets and splits the pool; ``preprocess`` turns
any image into an MNIST-style 28x28; ``drawings`` makes canvas-style digits
for tests and benchmarks.
"""

from .mnist import convert_wheel, data_dir, fetch_mnist, load_mnist
from .personal import personal_splits, splits_for
from .preprocess import load_image, prepare_batch, prepare_image
from .splits import (
    KINDS,
    Source,
    Splits,
    class_counts,
    combine,
    load_source,
    load_test,
    make_splits,
    parse_spec,
    stratified_split,
)

__all__ = [
    "KINDS",
    "Source",
    "Splits",
    "class_counts",
    "combine",
    "convert_wheel",
    "data_dir",
    "fetch_mnist",
    "load_image",
    "load_mnist",
    "load_source",
    "load_test",
    "make_splits",
    "parse_spec",
    "personal_splits",
    "prepare_batch",
    "prepare_image",
    "splits_for",
    "stratified_split",
]
