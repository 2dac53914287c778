"""The run folder: every file name a run, an evaluation or a calibration writes, in one place.

A run folder (``runs/<date>-<preset>/``) holds ``config.yaml``, ``best.pt``,
``last.pt``, ``history.csv`` and ``curves.png``; ``digitlab evaluate`` adds
``eval/`` (``report.json``, ``report.md``, figures) and a calibration file
beside the checkpoint (``best.calibration.json``). Code that reads or writes
any of these asks a :class:`RunDir` for the path instead of spelling it out.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

RUNS_ROOT = Path("runs")
REPORT_JSON, REPORT_MD = "report.json", "report.md"  # in an evaluation's folder


class RunDir:
    """A run folder's paths; ``RunDir(path).best`` is its ``best.pt``."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    @classmethod
    def new(cls, preset: str, root: str | os.PathLike = RUNS_ROOT) -> RunDir:
        """``root/<today>-<preset>``, with ``-2``, ``-3``... when that folder exists."""
        base = Path(root) / f"{dt.date.today().isoformat()}-{preset}"
        path, n = base, 2
        while path.exists():
            path, n = Path(f"{base}-{n}"), n + 1
        return cls(path)

    config = property(lambda self: self.path / "config.yaml")
    best = property(lambda self: self.path / "best.pt")
    last = property(lambda self: self.path / "last.pt")
    history = property(lambda self: self.path / "history.csv")
    curves = property(lambda self: self.path / "curves.png")
    teachers = property(lambda self: self.path / "teachers.npz")  # distillation targets, reused by --resume
    personal = property(lambda self: self.path / "personal.json")  # a personal run's before and after

    def holds_run(self) -> bool:
        return self.best.exists() or self.last.exists()

    def __str__(self) -> str:
        return str(self.path)

    def __fspath__(self) -> str:
        return str(self.path)


def model_name(checkpoint: str | os.PathLike) -> str:
    """How a model is named to people: a run folder's name for its ``best.pt``, else the file's stem."""
    path = Path(checkpoint)
    return path.parent.name if path.stem == "best" else path.stem


def personal_summary(checkpoint: str | os.PathLike) -> dict | None:
    """A personal run's ``personal.json`` (its examples, before and after) for its ``best.pt``; else None."""
    path = Path(checkpoint)
    report = RunDir(path.parent).personal
    if path.name != "best.pt" or not report.is_file():
        return None
    return json.loads(report.read_text())


def model_file(path: str | os.PathLike) -> Path:
    """The checkpoint a model path names: a run folder's ``best.pt``, else the path itself."""
    path = Path(path)
    return RunDir(path).best if path.is_dir() else path


def eval_dir(model: str | os.PathLike, ensemble: bool = False) -> Path:
    """Where ``digitlab evaluate`` writes a model's report: ``eval/`` (``eval-ensemble/``) beside its checkpoint."""
    return model_file(model).parent / ("eval-ensemble" if ensemble else "eval")


def report_json(model: str | os.PathLike) -> Path:
    """The report ``digitlab evaluate`` wrote for a model, when it is beside the model."""
    return eval_dir(model) / REPORT_JSON


def shipped_eval_dir() -> Path:
    """Reports of the shipped model go here, not beside it: it may live inside site-packages."""
    return RUNS_ROOT / "default-model-eval"


def calibration_file(checkpoint: str | os.PathLike) -> Path:
    """``<name>.calibration.json`` beside a checkpoint (``best.pt`` -> ``best.calibration.json``)."""
    p = Path(checkpoint)
    return p.with_name(p.stem + ".calibration.json")


def newest_run(runs_dir: str | os.PathLike = RUNS_ROOT) -> Path | None:
    """The most recently written ``runs/*/best.pt``."""
    candidates = sorted(Path(runs_dir).glob("*/best.pt"), key=lambda p: p.stat().st_mtime)
    return candidates[-1] if candidates else None
