"""onnxruntime as a second inference backend: a session for a digitlab ``.onnx`` export.

The file carries everything its checkpoint recorded in its metadata (under the
key ``digitlab``), so an ``.onnx`` file alone is a complete model for
:class:`digitlab.inference.Predictor`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from digitlab.core.errors import DigitlabError
from digitlab.core.io import sha256_file

META_KEY = "digitlab"
INT8_SUFFIX = ".int8.onnx"  # ``digitlab export --quantize int8`` writes <model>.int8.onnx


def _ort():
    try:  # imported on first use: onnxruntime takes about a second to load and only this backend needs it
        import onnxruntime
    except ImportError:  # pragma: no cover - a dependency; only a broken install lacks it
        raise DigitlabError("onnxruntime is not installed; reinstall digitlab (pip install -e .)") from None
    return onnxruntime


class OnnxSession:
    """An onnxruntime session for a digitlab ``.onnx`` file, with its recorded metadata."""

    def __init__(self, path: str | os.PathLike, threads: int | None = None):
        ort = _ort()
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.log_severity_level = 3  # warnings about unused initialisers are noise for users
        if threads:
            so.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises its own exception types for unreadable files
            raise DigitlabError(f"{path} is not a readable ONNX model ({str(e).splitlines()[0][:120]})") from None
        raw = self.session.get_modelmeta().custom_metadata_map.get(META_KEY)
        if raw is None:
            raise DigitlabError(
                f"{path} was not exported by digitlab (no '{META_KEY}' metadata); "
                f"export it with `digitlab export MODEL --format onnx`"
            )
        self.meta = json.loads(raw)
        self.path = Path(path)
        self.input_name = self.session.get_inputs()[0].name

    def run(self, x: np.ndarray) -> np.ndarray:
        """Logits for a prepared float32 (N, 1, 28, 28) array."""
        return self.session.run(None, {self.input_name: x})[0]

    def logits(self, x: np.ndarray, batch_size: int = 1024) -> np.ndarray:
        """Logits (N, 10) for MNIST-style images (N, 28, 28): uint8 0-255 or float 0-1."""
        x = np.asarray(x)
        x = (x.astype(np.float32) / 255.0) if x.dtype == np.uint8 else x.astype(np.float32)
        x = x.reshape(-1, 1, 28, 28)
        out = [self.run(x[i : i + batch_size]) for i in range(0, len(x), batch_size)]
        return np.concatenate(out) if out else np.zeros((0, 10), np.float32)


def export_path(checkpoint_path: str | os.PathLike, suffix: str = ".onnx") -> Path:
    """Where an export of a checkpoint lives: ``best.pt`` -> ``best.onnx`` or ``best.int8.onnx``."""
    p = Path(checkpoint_path)
    return p.with_name(p.stem + suffix)


def matching_export(
    checkpoint_path: str | os.PathLike, threads: int | None = None, suffix: str = ".onnx"
) -> OnnxSession | None:
    """A session for ``<model><suffix>`` beside the checkpoint (``.onnx``, or ``.int8.onnx`` for the
    quantized export), if that file is an export of exactly these weights."""
    path = export_path(checkpoint_path, suffix)
    if not path.is_file():
        return None
    try:
        session = OnnxSession(path, threads)
    except DigitlabError:
        return None
    return session if session.meta.get("source_sha256") == sha256_file(checkpoint_path) else None
