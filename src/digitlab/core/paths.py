"""Files that come with digitlab: the preset configs, the shipped model, its not-a-digit gate and its number
reader's gate and line reader.

In a source checkout they are ``configs/`` and ``models/`` at the top of the
repository; a built wheel carries them as ``digitlab/_data/configs`` and
``digitlab/_data/models``.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]  # src/digitlab
SHIPPED_NAME = "default.pt"
GATE_NAME = "gate.pt"
LINE_NAME = "line.pt"
NOTDIGIT_NAME = "notdigit.pt"


def _bundled(name: str) -> Path:
    packaged = PACKAGE / "_data" / name
    return packaged if packaged.is_dir() else PACKAGE.parents[1] / name


def configs_dir() -> Path:
    return _bundled("configs")


def shipped_model() -> Path | None:
    """The model that comes with digitlab (``models/default.pt``), if this install has it."""
    path = _bundled("models") / SHIPPED_NAME
    return path if path.is_file() else None


def shipped_gate() -> Path:
    """The number reader's gate that comes with digitlab (``models/gate.pt``; it may be missing)."""
    return _bundled("models") / GATE_NAME


def shipped_line() -> Path:
    """The number reader's line reader that comes with digitlab (``models/line.pt``; it may be missing)."""
    return _bundled("models") / LINE_NAME


def shipped_notdigit() -> Path:
    """The not-a-digit gate that comes with digitlab (``models/notdigit.pt``; it may be missing)."""
    return _bundled("models") / NOTDIGIT_NAME
