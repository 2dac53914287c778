"""digitlab: handwritten digit recognition you can reproduce.

Python API: :func:`load_model` returns a :class:`~digitlab.inference.Predictor`;
:func:`prepare_image` is the one preprocessing function for outside images;
:func:`digitlab.training.train` and :func:`digitlab.evaluation.evaluate` run the
same jobs as the CLI.

The subpackages, each importing only those before it:
``core`` <- ``data`` <- ``augment`` <- ``models`` <- ``inference`` <- ``training``
<- ``evaluation`` <- ``tools`` <- ``apps``.
"""

from .core.errors import DigitlabError
from .core.runinfo import __version__
from .data.preprocess import prepare_image
from .inference import Predictor, load_model

__all__ = ["DigitlabError", "Predictor", "load_model", "prepare_image", "__version__"]
