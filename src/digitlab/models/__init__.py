"""Models: a registry of named networks, the two seed networks, the fast network and the number reader's gate and line reader (no I/O here)."""

from .digitnet import BN_EPS, BN_MOMENTUM, BatchNorm1d, BatchNorm2d, DigitNet  # importing it registers seed1, seed2
from .fast import FastNet  # importing it registers fast
from .gate import GateNet, build_gate
from .line import LineNet, build_line
from .registry import available, build_model, count_parameters, register

__all__ = [
    "BN_EPS",
    "BN_MOMENTUM",
    "BatchNorm1d",
    "BatchNorm2d",
    "DigitNet",
    "FastNet",
    "GateNet",
    "LineNet",
    "available",
    "build_gate",
    "build_line",
    "build_model",
    "count_parameters",
    "register",
]
