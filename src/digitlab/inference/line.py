"""Loading the number reader's line reader and asking it which digits pieces of ink hold."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from digitlab.core import checkpoint
from digitlab.core.errors import DigitlabError
from digitlab.core.paths import shipped_line
from digitlab.models.line import build_line, decode


class LineReader:
    """A trained :class:`~digitlab.models.line.LineNet` on the CPU."""

    def __init__(self, model: torch.nn.Module, meta: dict, path: Path):
        self.model, self.meta, self.path = model.eval(), meta, path

    @classmethod
    def load(cls, path: str | os.PathLike | None = None) -> LineReader:
        path = Path(path) if path is not None else shipped_line()
        if not path.is_file():
            raise DigitlabError(f"no line reader at {path}; train one with `digitlab line --out {path}`")
        ckpt = checkpoint.load(path)
        if ckpt.get("model", {}).get("arch") != "line":
            raise DigitlabError(f"{path} is not a line reader (its model is {ckpt.get('model', {}).get('arch')!r})")
        model = build_line(ckpt["model"])
        checkpoint.fill(model, ckpt, path, "a line reader; train it again with `digitlab line`")
        return cls(model, {k: v for k, v in ckpt.items() if k != "state_dict"}, path)

    def read(self, inputs: list[np.ndarray]) -> list[str]:
        """The digits each input (:func:`digitlab.data.lines.line_input`) holds, left to right."""
        if not inputs:
            return []
        x = np.zeros((len(inputs), 1, inputs[0].shape[0], max(i.shape[1] for i in inputs)), np.float32)
        for n, i in enumerate(inputs):
            x[n, 0, :, : i.shape[1]] = i
        with torch.inference_mode():
            return decode(self.model(torch.from_numpy(x)).numpy())
