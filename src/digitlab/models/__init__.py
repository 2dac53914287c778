"""Models: a registry of named networks and the two seed networks (no I/O here)."""

from .digitnet import BN_EPS, BN_MOMENTUM, BatchNorm1d, BatchNorm2d, DigitNet  # importing it registers seed1, seed2
from .registry import available, build_model, count_parameters, register

__all__ = [
    "BN_EPS",
    "BN_MOMENTUM",
    "BatchNorm1d",
    "BatchNorm2d",
    "DigitNet",
    "available",
    "build_model",
    "count_parameters",
    "register",
]
