"""Models: a registry of named networks, the two seed networks and the number reader's gate (no I/O here)."""

from .digitnet import BN_EPS, BN_MOMENTUM, BatchNorm1d, BatchNorm2d, DigitNet  # importing it registers seed1, seed2
from .gate import GateNet, build_gate
from .registry import available, build_model, count_parameters, register

__all__ = [
    "BN_EPS",
    "BN_MOMENTUM",
    "BatchNorm1d",
    "BatchNorm2d",
    "DigitNet",
    "GateNet",
    "available",
    "build_gate",
    "build_model",
    "count_parameters",
    "register",
]
