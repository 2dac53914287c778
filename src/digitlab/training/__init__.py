"""Training: the loop (:func:`train`, :func:`dry_run`), one step, Keras-style callbacks,
knowledge distillation, outlier exposure, model soups, the not-a-digit gate and the number
reader's gate and line reader."""

from .build import Parts, build, dry_run
from .gate import train_gate
from .line import train_line
from .loop import RunResult, train
from .notdigit import train_notdigit
from .soup import make_soup

__all__ = ["Parts", "RunResult", "build", "dry_run", "make_soup", "train", "train_gate", "train_line", "train_notdigit"]
