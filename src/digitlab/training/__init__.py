"""Training: the loop (:func:`train`, :func:`dry_run`), one step, Keras-style callbacks,
knowledge distillation and model soups."""

from .build import Parts, build
from .loop import RunResult, dry_run, train
from .soup import make_soup

__all__ = ["Parts", "RunResult", "build", "dry_run", "make_soup", "train"]
