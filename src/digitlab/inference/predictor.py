"""Inference: load a checkpoint and predict digits from arrays or image files.

This is the Python API most users want::

    import digitlab
    model = digitlab.load_model("runs/2026-11-21-seed1/best.pt")
    model.predict_files(["seven.png"])[0]   # {'digit': 7, 'confidence': 0.998, ...}
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from digitlab.core import checkpoint
from digitlab.core.errors import DigitlabError
from digitlab.core.io import write_text_atomic
from digitlab.core.paths import shipped_model, shipped_notdigit
from digitlab.core.rundir import model_file, newest_run
from digitlab.core.runinfo import resolve_device
from digitlab.data import load_image, load_source, prepare_batch, prepare_image
from digitlab.models import build_model, count_parameters

from .calibrate import DEFAULT_THRESHOLD
from .calibrate import load as load_calibration
from .calibrate import message as calibrate_message
from .calibrate import reason as calibrate_reason
from .gate import Gate
from .line import LineReader
from .number import read_number
from .onnx_runtime import INT8_SUFFIX, OnnxSession, matching_export


def to_input(x: np.ndarray | torch.Tensor, device: torch.device) -> torch.Tensor:
    """uint8 (N,28,28) 0-255 or float (N,28,28) 0-1 to a float (N,1,28,28) tensor on ``device``."""
    t = torch.as_tensor(x).to(device, non_blocking=True)
    if t.dtype == torch.uint8:
        t = t.float().div_(255.0)
    else:
        t = t.float()
    return t.reshape(-1, 1, 28, 28)


# On CPU, batches of 256 to a channels-last network (Predictor.load): seed1 reads about twice
# as many images/s on 2 Xeon cores as NCHW batches of 1,024, whose maps outgrow the cache
# (docs/design.md#speed-on-cpu). GPUs keep the larger batches; no GPU figures for either.
CPU_BATCH, GPU_BATCH = 256, 1024


@torch.no_grad()
def predict_logits(
    model: torch.nn.Module, x, device: torch.device | None = None, batch_size: int | None = None
) -> torch.Tensor:
    """Logits for (N,28,28) images, in eval mode, on CPU at the end."""
    device = device or next(model.parameters()).device
    batch_size = batch_size or (CPU_BATCH if device.type == "cpu" else GPU_BATCH)
    was_training = model.training
    model.eval()
    out = [model(to_input(x[i : i + batch_size], device)).float().cpu() for i in range(0, len(x), batch_size)]
    model.train(was_training)
    return torch.cat(out) if out else torch.zeros(0, 10)


def find_default_model(runs_dir: str | os.PathLike = "runs") -> Path:
    """The shipped model, else the newest ``runs/*/best.pt``."""
    found = shipped_model() or newest_run(runs_dir)
    if found is None:
        raise DigitlabError("no model found: train one with `digitlab train --preset seed1` or pass a model path")
    return found


BACKENDS = ("torch", "onnx", "int8")


@dataclass
class Predictor:
    """A trained network plus everything recorded about it in its checkpoint.

    ``backend`` is ``torch`` (``model`` is the network), ``onnx`` (``session``
    runs a digitlab ``.onnx`` export with onnxruntime; ``model`` is None) or ``int8``
    (the same, for an export quantized by ``digitlab export --quantize int8``).
    """

    model: torch.nn.Module | None
    checkpoint: dict
    path: Path
    device: torch.device
    calibration: dict | None = None
    backend: str = "torch"
    session: object | None = None
    _gate: Gate | None = field(default=None, repr=False)
    _line: LineReader | None = field(default=None, repr=False)
    _notdigit: Gate | None = field(default=None, repr=False)

    @classmethod
    def load(
        cls,
        path: str | os.PathLike | None = None,
        device: str = "auto",
        backend: str = "auto",
        threads: int | None = None,
    ) -> Predictor:
        """A ``.pt`` checkpoint or run folder, or a ``.onnx`` export. ``backend="onnx"`` (``"int8"``)
        with a checkpoint uses the export beside it, ``<model>.onnx`` (``<model>.int8.onnx``) from
        ``digitlab export`` (``--quantize int8``); ``threads`` is onnxruntime's intra-op thread
        count (None: its default)."""
        if backend not in ("auto", *BACKENDS):
            raise DigitlabError(f"unknown backend {backend!r}; use one of {', '.join(BACKENDS)}")
        path = model_file(path if path is not None else find_default_model())
        if backend in ("onnx", "int8") and path.suffix != ".onnx":
            suffix, how = (".onnx", "--format onnx") if backend == "onnx" else (INT8_SUFFIX, "--quantize int8")
            session = matching_export(path, threads, suffix) if path.is_file() else None
            if session is None:
                raise DigitlabError(
                    f"no {backend} export of {path} beside it; make one with `digitlab export {path} {how}`"
                )
            return cls.from_onnx(session)
        if path.suffix == ".onnx":
            if backend == "torch":
                raise DigitlabError(f"{path} is an ONNX model; use --backend onnx, or the .pt checkpoint it came from")
            if not path.is_file():
                raise DigitlabError(f"model file not found: {path}")
            pred = cls.from_onnx(OnnxSession(path, threads))
            if backend in ("onnx", "int8") and pred.backend != backend:
                # a float file asked for as int8 (or the reverse) would be timed and reported as the other
                raise DigitlabError(
                    f"{path} is {'an int8' if pred.backend == 'int8' else 'a float'} export, not {backend}; "
                    f"use --backend {pred.backend} (or auto), or name the {backend} export"
                )
            return pred
        ckpt = checkpoint.load(path)
        model = build_model(ckpt["model"])
        checkpoint.fill(model, ckpt, path, "the network its own config describes; re-train or re-export it")
        dev = resolve_device(device)
        # channels-last weights: a 1-channel input is already channels-last, and every later map follows
        model.to(dev, memory_format=torch.channels_last).eval()
        return cls(model, ckpt, path, dev, load_calibration(path))

    @classmethod
    def from_onnx(cls, session) -> Predictor:
        """A predictor for an :class:`digitlab.inference.onnx_runtime.OnnxSession`: its metadata is the checkpoint."""
        kind = "int8" if session.meta.get("quantized") else "onnx"
        return cls(
            None, session.meta, session.path, torch.device("cpu"), session.meta.get("calibration"), kind, session
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits for a prepared float (N, 1, 28, 28) tensor, on the tensor's device."""
        if self.session is None:
            return self.model(x.to(self.device)).float()
        return torch.from_numpy(self.session.run(x.detach().cpu().numpy().astype(np.float32))).to(x.device)

    @property
    def parameters(self) -> dict:
        """Trainable and total (Keras-style) parameter counts."""
        if self.session is not None:
            return self.checkpoint["parameters"]
        return count_parameters(self.model)

    @property
    def temperature(self) -> float:
        """Logits are divided by this before softmax (1.0 until ``digitlab evaluate`` fits it)."""
        return float(self.calibration.get("temperature", 1.0)) if self.calibration else 1.0

    @property
    def threshold(self) -> float:
        """Below this top probability the answer is "not sure" (see :mod:`digitlab.inference.calibrate`)."""
        return float(self.calibration["threshold"]) if self.calibration else DEFAULT_THRESHOLD

    def predict_image(self, image) -> dict:
        """Everything a person wants to see about one outside image (canvas, upload, file):
        :meth:`predict_images`' answer plus ``input``, the 28x28 float image the model saw."""
        x = prepare_image(image)
        r = self.predict_prepared(x[None])[0]
        r["input"] = x
        return r

    def logits(self, x: np.ndarray) -> np.ndarray:
        """Raw network outputs (N, 10) for MNIST-style images (N, 28, 28)."""
        if self.session is not None:
            return self.session.logits(x)
        return predict_logits(self.model, x, self.device).numpy()

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """Temperature-scaled softmax probabilities (N, 10) for MNIST-style images (N, 28, 28)."""
        z = self.logits(x) / self.temperature
        e = np.exp(z - z.max(axis=1, keepdims=True))  # numpy: a torch round trip costs more than this at batch 1
        return e / e.sum(axis=1, keepdims=True)

    def predict_array(self, x: np.ndarray) -> list[dict]:
        probs = self.probabilities(np.asarray(x))
        return [
            {"digit": int(p.argmax()), "confidence": float(p.max()), "probabilities": [float(v) for v in p]}
            for p in probs
        ]

    def predict_prepared(self, x: np.ndarray) -> list[dict]:
        """:meth:`predict_array` for prepared outside images, plus ``empty`` (no ink, so no
        prediction), ``digit_score`` (the not-a-digit gate's probability that it is a digit at all),
        ``sure``, ``top2``, ``reason`` (None when sure, else ``empty``, ``not a digit`` or ``unsure``:
        :func:`calibrate.reason`) and ``message``, what to tell a person (:func:`calibrate.message`)."""
        results = self.predict_array(x)
        scores = self.digit_scores(x)
        for r, xi, score in zip(results, x, scores):
            r["empty"] = not bool(xi.any())
            r["digit_score"] = None if score is None else float(score)
            r["reason"] = calibrate_reason(
                r["confidence"], r["digit_score"], r["empty"], self.threshold, self.digit_threshold
            )
            r["sure"] = r["reason"] is None
            r["top2"] = [int(d) for d in np.argsort(r["probabilities"])[::-1][:2]]
            r["message"] = calibrate_message(r)
        return results

    @property
    def notdigit(self) -> Gate | None:
        """The not-a-digit gate (the shipped ``models/notdigit.pt``), loaded when first needed; None
        when this install has none (then nothing is called "not a digit")."""
        if self._notdigit is None and shipped_notdigit().is_file():
            self._notdigit = Gate.load(shipped_notdigit(), "notdigit")
        return self._notdigit

    @property
    def digit_threshold(self) -> float:
        """Below this probability of being a digit at all, the answer is "not a digit" (the gate's
        own threshold, chosen on validation digits: :mod:`digitlab.training.notdigit`)."""
        return float(self.notdigit.meta["metrics"]["threshold"]) if self.notdigit is not None else 0.0

    def digit_scores(self, x: np.ndarray) -> list[float | None]:
        """Per prepared image, the not-a-digit gate's probability that it is a digit (None: no gate)."""
        if self.notdigit is None or not len(x):
            return [None] * len(x)
        return self.notdigit.kinds(x)[:, 0].tolist()

    @property
    def gate(self) -> Gate:
        """The number reader's gate (the shipped ``models/gate.pt``), loaded when first needed."""
        if self._gate is None:
            self._gate = Gate.load()
        return self._gate

    @property
    def line(self) -> LineReader:
        """The number reader's line reader (the shipped ``models/line.pt``), loaded when first needed."""
        if self._line is None:
            self._line = LineReader.load()
        return self._line

    def read_number(self, image, inputs: bool = False) -> dict:
        """Every digit in ``image``, left to right: ``text``, ``sure`` and per digit its answer and
        box (see :func:`digitlab.inference.number.read_number`)."""
        return read_number(self, image, inputs)

    def predict_images(self, images) -> list[dict]:
        """Any images (PIL, arrays, paths) through the one preprocessing function."""
        return self.predict_prepared(prepare_batch(images))

    def predict_source(self, spec: str, data_dir=None) -> list[dict]:
        """Every image of a dataset source (``csv:FILE``, ``npz:FILE``, ...), labelled or not."""
        results = self.predict_array(load_source(spec, data_dir).x)
        for i, r in enumerate(results):
            r["index"] = i
        return results

    def predict_files(self, paths) -> list[dict]:
        results = self.predict_images([load_image(p) for p in paths])
        for r, p in zip(results, paths):
            r["file"] = str(p)
        return results


def load_model(path: str | os.PathLike | None = None, device: str = "auto", backend: str = "auto") -> Predictor:
    return Predictor.load(path, device, backend)


def write_submission(path: str | os.PathLike, digits: list[int]) -> None:
    """Kaggle digit-recognizer submission: ``ImageId,Label``, ImageId counting from 1."""
    write_text_atomic(path, "ImageId,Label\n" + "".join(f"{i},{d}\n" for i, d in enumerate(digits, 1)))
