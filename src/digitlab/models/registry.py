"""The model registry: networks by name, as a config's ``model.arch`` names them (no I/O here).

A new architecture registers with ``@digitlab.models.register("name", "description")``
and gets a preset in ``configs/``; :func:`build_model` builds any registered one
from a config's ``model`` section.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from digitlab.core.errors import DigitlabError

_REGISTRY: dict[str, Callable[..., nn.Module]] = {}
_DESCRIPTIONS: dict[str, str] = {}


def register(name: str, description: str):
    def deco(fn):
        _REGISTRY[name] = fn
        _DESCRIPTIONS[name] = description
        return fn

    return deco


def available() -> dict[str, str]:
    return dict(_DESCRIPTIONS)


def build_model(spec: dict) -> nn.Module:
    """Build from ``{"arch": NAME, **kwargs}`` (the ``model`` section of a config)."""
    spec = dict(spec)
    name = spec.pop("arch", None)
    spec.pop("l2", None)  # a training setting kept beside the model for readability
    if name not in _REGISTRY:
        raise DigitlabError(
            f"unknown model {name!r}; choose one of: {', '.join(sorted(_REGISTRY))} (see `digitlab models`)"
        )
    try:
        return _REGISTRY[name](**spec)
    except (TypeError, ValueError) as e:  # a setting it does not take, or a value it cannot use
        raise DigitlabError(f"bad settings for model {name!r}: {e}") from None


def count_parameters(model: nn.Module) -> dict[str, int]:
    """Counts as Keras reports them: trainable, plus BatchNorm moving statistics."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    stats = sum(b.numel() for n, b in model.named_buffers() if n.endswith(("running_mean", "running_var")))
    return {"trainable": trainable, "non_trainable": stats, "total": trainable + stats}
