"""digitlab: handwritten digit recognition you can reproduce.

Python API: :func:`load_model` returns a :class:`~digitlab.inference.Predictor`;
:func:`prepare_image` is the one preprocessing function for outside images;
:func:`read_number` reads every digit in an image, left to right;
:func:`digitlab.training.train` and :func:`digitlab.evaluation.evaluate` run the
same jobs as the CLI.

The subpackages, each importing only those before it:
``core`` <- ``data`` <- ``augment`` <- ``models`` <- ``inference`` <- ``training``
<- ``evaluation`` <- ``tools`` <- ``apps``.
"""

import functools
import os

from .core.errors import DigitlabError
from .core.runinfo import __version__
from .data.preprocess import prepare_image
from .inference import Predictor, load_model


@functools.cache
def _model(path: str | None) -> Predictor:
    return load_model(path)


def read_number(image, model: Predictor | str | os.PathLike | None = None) -> dict:
    """The number in ``image`` (a path, PIL image or array, either polarity): ``text`` (digits,
    separators ``- / . , :`` and ``?`` for marks that are no digit), ``sure`` and per mark its
    ``char``, ``kind``, ``digit``, ``confidence``, ``sure``, ``reason``, ``top2`` and ``box``. ``model``: a
    :class:`Predictor`, a model path, or None for the shipped model (loaded once)."""
    pred = model if isinstance(model, Predictor) else _model(None if model is None else str(model))
    return pred.read_number(image)


__all__ = ["DigitlabError", "Predictor", "load_model", "prepare_image", "read_number", "__version__"]
