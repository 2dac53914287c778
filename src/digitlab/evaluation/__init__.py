"""Evaluation: reports (JSON, Markdown, PNG) on validation, the official test set and its
inverted copy, with calibration, corruptions, the not-a-digit check and latency."""

from .evaluate import corruption_report, evaluate

__all__ = ["corruption_report", "evaluate"]
