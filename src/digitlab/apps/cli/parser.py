"""What every ``digitlab`` command's parser shares: one-line errors, help that states defaults, and
defaults read from the presets. Each command's own options are built beside it, in ``lab``, ``runs`` and ``use``."""

from __future__ import annotations

import argparse
import functools

from digitlab.core import config
from digitlab.core.errors import DigitlabError

BACKENDS = ["auto", "torch", "onnx", "int8"]

EPILOG = (
    "Data sources: mnist | mine | idx:DIR | csv:FILE | folder:DIR | npz:FILE | mine:FILE (repeat --data to combine)."
)


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, not argparse's usage block
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class _Formatter(argparse.ArgumentDefaultsHelpFormatter):
    def _get_help_string(self, action):
        # an option whose help already says its default (a path worked out at run time, a preset's
        # value) keeps that, and "(default: None)" or "(default: [])" says nothing worth the space
        if "(default" in (action.help or "") or action.default in (None, []):
            return action.help
        return super()._get_help_string(action)


def formatter(prog):
    return _Formatter(prog, max_help_position=32)


@functools.cache
def _resolved_presets() -> dict[str, dict]:
    out = {}
    for name in config.presets():
        try:
            out[name] = config.resolve(name)
        except DigitlabError:  # a broken preset says so when it is used, not in every command's --help
            continue
    return out


def preset_values(key: str) -> str:
    """``(preset: 50 seed1, seed2; 30 onecycle; ...)``: a config key's value in each preset, read from the
    presets themselves so the help never goes stale."""
    by_value: dict[str, list[str]] = {}
    for name, value in _resolved_presets().items():
        for part in key.split("."):
            value = value[part]
        by_value.setdefault("null" if value is None else str(value), []).append(name)
    if len(by_value) == 1:
        return f"(every preset: {next(iter(by_value))})"
    return "(preset: " + "; ".join(f"{v} {', '.join(names)}" for v, names in by_value.items()) + ")"
