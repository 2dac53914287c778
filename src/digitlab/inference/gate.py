"""Loading the small gate networks: the number reader's (are stretches of ink single digits, parts or
several?) and the not-a-digit gate (is this a digit at all?, :mod:`digitlab.training.notdigit`).

Beside ``gate.pt`` (``notdigit.pt``) may lie its ONNX export ``gate.onnx`` (``notdigit.onnx``) (:func:`digitlab.inference.export.export_gate`);
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
from digitlab.core.paths import shipped_gate, shipped_notdigit
from digitlab.models import build_gate

from .onnx_runtime import matching_export

NAMES = {"gate": ("number gate", "gate"), "notdigit": ("not-a-digit gate", "notdigit")}


class Gate:
    """A trained :class:`~digitlab.models.GateNet` on the CPU (it is small: about 60k parameters)."""

    def __init__(self, model: torch.nn.Module, meta: dict, path: Path, session=None):
        self.model, self.meta, self.path, self.session = model.eval(), meta, path, session

    @classmethod
    def load(cls, path: str | os.PathLike | None = None, arch: str = "gate") -> Gate:
        """The number gate (``arch="gate"``) or the not-a-digit gate (``"notdigit"``) in ``path``, by
        default the shipped one."""
        what, command = NAMES[arch]
        path = Path(path) if path is not None else (shipped_gate() if arch == "gate" else shipped_notdigit())
        if not path.is_file():
            raise DigitlabError(f"no {what} at {path}; train one with `digitlab {command} --out {path}`")
        ckpt = checkpoint.load(path)
        if ckpt.get("model", {}).get("arch") != arch:
            raise DigitlabError(f"{path} is not a {what} (its model is {ckpt.get('model', {}).get('arch')!r})")
        model = build_gate(ckpt["model"])
        checkpoint.fill(model, ckpt, path, f"a gate network; train it again with `digitlab {command}`")
        return cls(model, {k: v for k, v in ckpt.items() if k != "state_dict"}, path, matching_export(path, threads=1))

    def kinds(self, x: np.ndarray) -> np.ndarray:
        """Probabilities (N, kinds) for prepared images (N, 28, 28): digit, part and several
        (:data:`digitlab.data.pieces.KINDS`) for the number gate, digit and not a digit for the other."""
        x = np.ascontiguousarray(x, np.float32)[:, None]
        if self.session is not None:
            z = self.session.run(x)
        else:
            with torch.inference_mode():
                z = self.model(torch.from_numpy(x)).numpy()
        e = np.exp(z - z.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)
