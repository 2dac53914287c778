"""digitlab: handwritten digit recognition you can reproduce.

Python API: :func:`load_model` returns a :class:`~digitlab.inference.Predictor`;
:func:`prepare_image` is the one preprocessing function for outside images;
:func:`digitlab.train.train` and :func:`digitlab.evaluate.evaluate` run the
same jobs as the CLI.
"""
__version__ = "0.1.0"

from .errors import DigitlabError  # noqa: E402
from .inference import Predictor, load_model  # noqa: E402
from .preprocess import prepare_image  # noqa: E402

__all__ = ["DigitlabError", "Predictor", "load_model", "prepare_image", "__version__"]
