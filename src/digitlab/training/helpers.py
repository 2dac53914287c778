"""What the number reader's two helper trainers (:mod:`.gate`, :mod:`.line`) share: how a run
starts (never over an existing file unless forced; a dry run shrinks the data) and how its
checkpoint is written (atomically, with its recipe and provenance)."""

from __future__ import annotations

from pathlib import Path

from digitlab.core import checkpoint
from digitlab.core.errors import DigitlabError
from digitlab.core.runinfo import git_commit, library_versions, seed_everything


def start(out, defaults: dict, recipe: dict | None, force: bool, dry_run: bool) -> tuple[Path, dict]:
    """``out`` as a path and the recipe to train with, after checking ``out`` may be written."""
    recipe = {**defaults, **(recipe or {})}
    out = Path(out)
    if out.exists() and not force and not dry_run:
        raise DigitlabError(f"{out} exists; pass --force to replace it, or --out another file")
    if dry_run:
        recipe = {**recipe, "numbers": 8, "val_numbers": 4}
    seed_everything(recipe["seed"])
    return out, recipe


def save(out: Path, model, spec: dict, recipe: dict, metrics: dict, **extra) -> None:
    """The trained network, its ``model`` spec, recipe, metrics and provenance, written atomically."""
    payload = {"state_dict": model.state_dict(), "model": spec, "recipe": recipe, **extra, "metrics": metrics}
    checkpoint.save(out, {**payload, "git": git_commit(), "versions": library_versions()})
