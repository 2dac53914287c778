"""Old import path of :mod:`digitlab.core.config`, kept for one release: ``from digitlab import config``."""

from digitlab.core.config import *  # noqa: F401,F403
from digitlab.core.config import dump, load_preset, merge, parse_set, presets, resolve, validate  # noqa: F401
