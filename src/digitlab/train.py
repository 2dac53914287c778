"""Old import path of :mod:`digitlab.training.loop` and :mod:`digitlab.training.step`, kept for one
release: ``from digitlab import train``."""

from digitlab.core.rundir import RunDir
from digitlab.training.build import *  # noqa: F401
from digitlab.training.build import dry_run  # noqa: F401
from digitlab.training.loop import *  # noqa: F401
from digitlab.training.loop import RunResult, _history_csv, train  # noqa: F401
from digitlab.training.step import *  # noqa: F401


def new_run_dir(preset: str, root: str = "runs"):
    """Old helper: ``runs/<today>-<preset>`` not yet taken; now :meth:`digitlab.core.rundir.RunDir.new`."""
    return RunDir.new(preset, root).path
