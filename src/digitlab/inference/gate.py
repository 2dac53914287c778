"""Loading the number reader's gate and asking it whether stretches of ink are single digits.

Beside ``gate.pt`` may lie its ONNX export ``gate.onnx`` (:func:`digitlab.inference.export.export_gate`);
when it is an export of exactly that file, the gate runs in onnxruntime on one thread: about a
quarter of PyTorch's time for a network this small, and no thread pool to fight the classifier's.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from digitlab.core import checkpoint
from digitlab.core.errors import DigitlabError
from digitlab.core.paths import shipped_gate
from digitlab.models import build_gate

from .onnx_runtime import matching_export


class Gate:
    """A trained :class:`~digitlab.models.GateNet` on the CPU (it is small: about 60k parameters)."""

    def __init__(self, model: torch.nn.Module, meta: dict, path: Path, session=None):
        self.model, self.meta, self.path, self.session = model.eval(), meta, path, session

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
        return cls(model, {k: v for k, v in ckpt.items() if k != "state_dict"}, path, matching_export(path, threads=1))

    def kinds(self, x: np.ndarray) -> np.ndarray:
        """Probabilities (N, 3) of digit, part and several (:data:`digitlab.data.pieces.KINDS`) for
        prepared stretches (N, 28, 28)."""
        x = np.ascontiguousarray(x, np.float32)[:, None]
        if self.session is not None:
            z = self.session.run(x)
        else:
            with torch.inference_mode():
                z = self.model(torch.from_numpy(x)).numpy()
        e = np.exp(z - z.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)
