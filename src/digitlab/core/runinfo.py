"""What a run records about where it ran: seeds, devices, git commit, library versions, machine."""

from __future__ import annotations

import os
import platform
import random
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
import torch

from .errors import DigitlabError

__version__ = "0.1.0"


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002  (the global state is what third-party code draws from)
    torch.manual_seed(seed)


def resolve_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise DigitlabError("--device cuda was asked for but no CUDA GPU is visible; use --device cpu or auto")
    if name not in ("cpu", "cuda"):
        raise DigitlabError(f"unknown device {name!r}; use auto, cpu or cuda")
    return torch.device(name)


def git_commit() -> str | None:
    """The commit of the source tree digitlab runs from, when it is a git checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True, timeout=5
        )
        return out.stdout.strip() or None if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def library_versions() -> dict[str, str]:
    return {
        "digitlab": __version__,
        "python": platform.python_version(),
        "torch": str(torch.__version__),
        "numpy": np.__version__,
        "scikit-learn": _installed("scikit-learn"),
    }


def _installed(package: str) -> str:
    """A package's version without importing it (scikit-learn takes seconds to import)."""
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_has_bf16() -> bool:
    """Whether this CPU runs bfloat16 arithmetic in hardware (avx512_bf16 or AMX, which oneDNN's bf16
    kernels use; elsewhere it emulates them, more slowly)."""
    return torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()


def machine_description(device: torch.device | None = None) -> str:
    if device is not None and device.type == "cuda":
        return torch.cuda.get_device_name(device)
    # the vector unit is named because it sets the speed: AVX2 and AVX-512 CPUs of one name differ by 2x
    # and bf16 arithmetic, which the fast presets use where it exists (train.amp: native)
    simd = torch.backends.cpu.get_cpu_capability() + (" with bf16" if cpu_has_bf16() else "")
    return f"{cpu_name()} ({simd}), {os.cpu_count()} cores, {torch.get_num_threads()} torch threads"
