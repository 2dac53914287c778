"""Old import path of :mod:`digitlab.evaluation.evaluate`, kept for one release: ``from digitlab import evaluate``."""

from digitlab.augment.corrupt import corruption_scores  # noqa: F401
from digitlab.evaluation.evaluate import *  # noqa: F401
from digitlab.evaluation.evaluate import evaluate  # noqa: F401
from digitlab.evaluation.latency import *  # noqa: F401
from digitlab.evaluation.metrics import *  # noqa: F401
