"""Loading the number reader's gate and asking it whether stretches of ink are single digits."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from digitlab.core import checkpoint
from digitlab.core.errors import DigitlabError
from digitlab.core.paths import shipped_gate
from digitlab.models import build_gate


class Gate:
    """A trained :class:`~digitlab.models.GateNet` on the CPU (it is small: about 60k parameters)."""

    def __init__(self, model: torch.nn.Module, meta: dict, path: Path):
        self.model, self.meta, self.path = model.eval(), meta, path

    @classmethod
    def load(cls, path: str | os.PathLike | None = None) -> Gate:
        path = Path(path) if path is not None else shipped_gate()
        if not path.is_file():
            raise DigitlabError(f"no number gate at {path}; train one with `digitlab gate --out {path}`")
        ckpt = checkpoint.load(path)
        if ckpt.get("model", {}).get("arch") != "gate":
            raise DigitlabError(f"{path} is not a number gate (its model is {ckpt.get('model', {}).get('arch')!r})")
        model = build_gate(ckpt["model"])
        checkpoint.fill(model, ckpt, path, "a gate network; train it again with `digitlab gate`")
        return cls(model, {k: v for k, v in ckpt.items() if k != "state_dict"}, path)

    def kinds(self, x: np.ndarray) -> np.ndarray:
        """Probabilities (N, 3) of digit, part and several (:data:`digitlab.data.pieces.KINDS`) for
        prepared stretches (N, 28, 28)."""
        with torch.inference_mode():
            z = self.model(torch.from_numpy(np.ascontiguousarray(x, np.float32))[:, None])
        return torch.softmax(z, 1).numpy()
