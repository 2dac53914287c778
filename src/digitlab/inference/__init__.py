"""Inference: a trained model as a :class:`Predictor` (PyTorch or onnxruntime), its
calibration ("not sure" below a threshold fitted on validation), ensembles with
test-time augmentation, and the checked ONNX export.
"""

from .predictor import Predictor, find_default_model, load_model, predict_logits, to_input, write_submission

__all__ = ["Predictor", "find_default_model", "load_model", "predict_logits", "to_input", "write_submission"]
