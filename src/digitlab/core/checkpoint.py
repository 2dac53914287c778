"""Checkpoint files: written atomically, read with ``torch.load(weights_only=True)``.

A checkpoint is a dict of tensors and plain Python values (no pickled
objects), so loading one never runs code. ``best.pt`` carries what is needed
to use and trust the model: weights, model config, the preprocessing spec,
metrics, the full training config, data checksums, git commit and library
versions. ``last.pt`` adds optimizer, callback, RNG and history state for resuming.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from .errors import DigitlabError
from .io import atomic_path
from .rundir import model_file

FORMAT = "digitlab/checkpoint"
FORMAT_VERSION = 1


def plain(obj):
    """Reduce values to the types ``weights_only`` loading accepts (str subclasses
    such as ``torch.__version__``, numpy scalars and paths would be refused)."""
    if isinstance(obj, torch.Tensor) or obj is None or type(obj) in (bool, int, float, str):
        return obj
    if isinstance(obj, dict):
        return {plain(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(plain(v) for v in obj) if type(obj) in (list, tuple) else [plain(v) for v in obj]
    if isinstance(obj, bool):
        return bool(obj)
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        return float(obj)
    if hasattr(obj, "item"):  # numpy scalar
        return obj.item()
    return str(obj)


def save(path: str | os.PathLike, payload: dict) -> None:
    payload = plain({"format": FORMAT, "format_version": FORMAT_VERSION, **payload})
    with atomic_path(path, suffix=".pt") as tmp:
        torch.save(payload, tmp)


def load(path: str | os.PathLike) -> dict:
    path = model_file(path)
    if not path.is_file():
        raise DigitlabError(f"model file not found: {path}; train one with `digitlab train` or pass --model PATH")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # corrupt zip, truncated file, a pickle with objects we refuse...
        raise DigitlabError(
            f"{path} is not a readable digitlab checkpoint ({type(e).__name__}); re-train or re-download it"
        ) from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise DigitlabError(f"{path} is not a digitlab checkpoint (no '{FORMAT}' marker)")
    if ckpt.get("format_version", 0) > FORMAT_VERSION:
        raise DigitlabError(
            f"{path} was written by a newer digitlab (format {ckpt['format_version']}); upgrade digitlab"
        )
    return ckpt


def fill(model: torch.nn.Module, ckpt: dict, path: str | os.PathLike, hint: str) -> None:
    """Copy ``ckpt``'s weights into ``model``, or say in one line why they do not fit (``hint``: what to do)."""
    try:
        model.load_state_dict(ckpt["state_dict"])
    except (RuntimeError, KeyError) as e:
        lines = [line.strip() for line in str(e).splitlines() if line.strip()] or [type(e).__name__]
        detail = lines[1] if len(lines) > 1 else lines[0]  # torch's first line only says "Error(s) in loading"
        raise DigitlabError(
            f"{path}: its {ckpt.get('model', {}).get('arch', '?')!r} weights do not match {hint} ({detail[:100]})"
        ) from None


def load_weights(model: torch.nn.Module, path: str | os.PathLike) -> tuple[dict, Path]:
    """Copy the weights of the model at ``path`` (a run folder or ``.pt``) into ``model``; returns its
    checkpoint and file."""
    file = model_file(path)
    ckpt = load(file)
    fill(
        model,
        ckpt,
        file,
        "this config's model section; start from a model of the same architecture, or use its preset (--preset NAME)",
    )
    return ckpt, file
