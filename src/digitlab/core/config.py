"""Configuration: ``configs/base.yaml``, named presets over it, files and ``--set`` overrides.

A config is a nested dict. ``base.yaml`` holds every setting once; a preset
names the one it ``extends`` and lists only what differs (a ``model`` section
naming another ``arch`` replaces the model section whole). Resolution order:
the preset's chain down from base, then ``--config FILE`` merged over it, then
each ``--set a.b=value`` (the value parsed as YAML). Keys that base does not
have are errors, so a typo never silently does nothing.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

import yaml

from .errors import DigitlabError
from .paths import configs_dir

_FLOAT = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)$")


def _coerce(value):
    """YAML 1.1 reads ``1e-3`` (no dot) as a string; people mean the number."""
    if isinstance(value, str) and _FLOAT.match(value.strip()):
        return float(value)
    if isinstance(value, dict):
        return {k: _coerce(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_coerce(v) for v in value]
    return value


BASE = "base"
DEFAULT_PRESET = "seed1"


def presets() -> list[str]:
    return sorted(p.stem for p in configs_dir().glob("*.yaml") if p.stem != BASE)


def _read_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as e:
        raise DigitlabError(f"cannot read config {path}: {e.strerror}") from None
    except yaml.YAMLError as e:
        raise DigitlabError(f"config {path} is not valid YAML: {str(e).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise DigitlabError(f"config {path} must be a mapping of keys to values")
    return _coerce(data)


def base() -> dict:
    """``configs/base.yaml``: every setting, with seed 000's values."""
    return _read_yaml(configs_dir() / f"{BASE}.yaml")


def load_preset(name: str) -> dict:
    """A preset with everything it inherits: its ``extends`` chain merged down from ``base.yaml``."""
    if name == BASE or not (configs_dir() / f"{name}.yaml").is_file():
        raise DigitlabError(f"unknown preset {name!r}; choose one of: {', '.join(presets())}")
    return {"preset": name, **_load_chain(name, ())}


def _load_chain(name: str, seen: tuple) -> dict:
    if name == BASE:
        return base()
    path = configs_dir() / f"{name}.yaml"
    own = _read_yaml(path)
    own.pop("preset", None)  # the file's name is the preset's name
    parent = own.pop("extends", None)
    if not isinstance(parent, str) or not (configs_dir() / f"{parent}.yaml").is_file():
        raise DigitlabError(
            f"config {path} must name the preset it extends, e.g. 'extends: base' "
            f"(one of: {', '.join([BASE, *presets()])})"
        )
    if parent in seen + (name,):
        raise DigitlabError(f"config {path}: its 'extends' chain comes back to {parent!r}; end it at base")
    cfg = _load_chain(parent, seen + (name,))
    if own.get("model", {}).get("arch", cfg["model"]["arch"]) != cfg["model"]["arch"]:
        cfg["model"] = own.pop("model")  # another network: its own settings, checked by build_model
    return merge(cfg, own)


def merge(base: dict, over: dict, prefix: str = "") -> dict:
    out = copy.deepcopy(base)
    for key, value in over.items():
        dotted = f"{prefix}{key}"
        if key not in out:
            raise DigitlabError(f"unknown config key {dotted!r}; known keys here: {', '.join(sorted(out))}")
        if isinstance(out[key], dict):
            if not isinstance(value, dict):
                raise DigitlabError(
                    f"config key {dotted!r} is a section; set one of its keys, e.g. {dotted}.{next(iter(out[key]))}"
                )
            out[key] = merge(out[key], value, dotted + ".")
        else:
            out[key] = value
    return out


def parse_set(item: str) -> dict:
    """``a.b.c=value`` to ``{"a": {"b": {"c": value}}}``, the value parsed as YAML."""
    key, sep, raw = item.partition("=")
    if not sep or not key.strip():
        raise DigitlabError(f"--set {item!r} should look like key=value, e.g. --set train.lr=0.0005")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    out: dict = _coerce(value)
    for part in reversed(key.strip().split(".")):
        out = {part: out}
    return out


def resolve(preset: str | None = DEFAULT_PRESET, config_file: str | None = None, sets: list[str] | None = None) -> dict:
    file_cfg = _read_yaml(Path(config_file)) if config_file else {}
    name = preset or file_cfg.get("preset") or DEFAULT_PRESET  # a run's config.yaml names its preset
    cfg = load_preset(name)
    if isinstance(file_cfg.get("model"), dict) and "arch" in file_cfg["model"]:
        # a model section that names its network states all of it (a run's config.yaml): a key it
        # lacks takes the network's own default, as when its checkpoint is loaded, not the preset's
        file_cfg = dict(file_cfg)
        cfg["model"] = file_cfg.pop("model")
    if file_cfg:
        cfg = merge(cfg, file_cfg)
    for item in sets or []:
        cfg = merge(cfg, parse_set(item))
    if cfg["train"]["amp"] is False:  # YAML 1.1 reads a bare `off` (train.amp=off) as false
        cfg["train"]["amp"] = "off"
    validate(cfg)
    return cfg


def validate(cfg: dict) -> None:
    t, d = cfg["train"], cfg["data"]
    checks = [
        (isinstance(t["epochs"], int) and t["epochs"] >= 1, "train.epochs must be a whole number >= 1"),
        (isinstance(t["batch_size"], int) and t["batch_size"] >= 1, "train.batch_size must be a whole number >= 1"),
        (isinstance(t["lr"], (int, float)) and t["lr"] > 0, "train.lr must be a positive number"),
        (isinstance(t["seed"], int), "train.seed must be a whole number"),
        *_speed_checks(t),
        (d["split_seed"] is None or isinstance(d["split_seed"], int), "data.split_seed must be null or a whole number"),
        (
            isinstance(d["val_fraction"], (int, float)) and 0 < d["val_fraction"] < 1,
            "data.val_fraction must lie between 0 and 1",
        ),
        (
            d["limit"] is None or (isinstance(d["limit"], int) and d["limit"] >= 20),
            "data.limit must be null or a whole number >= 20",
        ),
        (isinstance(d["sources"], list) and d["sources"], "data.sources must be a non-empty list, e.g. [mnist]"),
        (
            isinstance(cfg["model"].get("l2"), (int, float)) and cfg["model"]["l2"] >= 0,
            "model.l2 must be a number >= 0 (a preset's own model section must state it)",
        ),
        (
            t["init_from"] is None or (isinstance(t["init_from"], str) and t["init_from"].strip()),
            "train.init_from must be null, a run folder, a .pt file or 'shipped'",
        ),
    ]
    if t["distill"] is not None:  # see digitlab.training.distill; every key but targets_from is required
        dist = t["distill"] if isinstance(t["distill"], dict) else {}
        alpha, temp = dist.get("alpha"), dist.get("temperature")
        checks += [
            (
                isinstance(dist.get("teachers"), list) and dist["teachers"],
                "train.distill.teachers must be a non-empty list of run folders, e.g. [runs/a, runs/b]",
            ),
            (isinstance(alpha, (int, float)) and 0 <= alpha <= 1, "train.distill.alpha must lie between 0 and 1"),
            (isinstance(temp, (int, float)) and temp > 0, "train.distill.temperature must be a positive number"),
            (
                distill_targets_from(dist) in ("image", "original"),
                "train.distill.targets_from must be image or original",
            ),
            (
                dist.get("copy_teachers") is None
                or (isinstance(dist["copy_teachers"], list) and dist["copy_teachers"]),
                "train.distill.copy_teachers must be null (the same as teachers) or a non-empty list of run folders",
            ),
        ]
    checks += _personal_checks(d.get("personal") or {})
    sched = t["schedule"]
    checks += [
        (sched in ("plateau", "onecycle"), "train.schedule must be plateau or onecycle"),
        (
            sched != "onecycle" or not cfg["callbacks"]["reduce_lr"]["enabled"],
            "train.schedule=onecycle sets the learning rate itself; add --set callbacks.reduce_lr.enabled=false",
        ),
    ]
    for ok, msg in checks:
        if not ok:
            raise DigitlabError(msg)


def _speed_checks(t: dict) -> list[tuple[bool, str]]:
    """The ``train`` keys of the fast and multi-process paths."""
    return [
        (
            isinstance(t["label_smoothing"], (int, float)) and 0 <= t["label_smoothing"] < 1,
            "train.label_smoothing must be a number in [0, 1), e.g. 0.1",
        ),
        (
            isinstance(t["ema"], (int, float)) and 0 <= t["ema"] < 1,
            "train.ema must be a number in [0, 1), e.g. 0.99 (0: off)",
        ),
        (isinstance(t["sync_bn"], bool), "train.sync_bn must be true or false"),
        *_outlier_checks(t["outliers"]),
        (t["amp"] in ("auto", "native", "bf16", "off"), "train.amp must be auto, native, bf16 or off"),
        (isinstance(t["compile"], bool), "train.compile must be true or false"),
    ]


def _outlier_checks(o) -> list[tuple[bool, str]]:
    if not isinstance(o, dict):
        return [(False, "train.outliers must be a mapping, e.g. {images: 12000, share: 0.25, weight: 0.5}")]
    images, share, weight = o.get("images"), o.get("share"), o.get("weight")
    return [
        (
            isinstance(images, int) and images >= 0,
            "train.outliers.images must be a whole number >= 0, e.g. 12000 (0: off)",
        ),
        (isinstance(share, (int, float)) and 0 < share <= 4, "train.outliers.share must lie in (0, 4], e.g. 0.25"),
        (isinstance(weight, (int, float)) and weight >= 0, "train.outliers.weight must be a number >= 0, e.g. 0.5"),
    ]


def _personal_checks(pers: dict) -> list[tuple[bool, str]]:
    share, hold = pers.get("share"), pers.get("holdout")
    return [
        (isinstance(pers.get("enabled", False), bool), "data.personal.enabled must be true or false"),
        (isinstance(hold, (int, float)) and 0 <= hold < 1, "data.personal.holdout must lie in [0, 1), e.g. 0.2"),
        (isinstance(share, (int, float)) and 0 < share < 1, "data.personal.share must lie between 0 and 1, e.g. 0.1"),
        (
            pers.get("mnist_images") is None or (isinstance(pers["mnist_images"], int) and pers["mnist_images"] >= 100),
            "data.personal.mnist_images must be null (all) or a whole number >= 100",
        ),
    ]


def distill_targets_from(d_cfg: dict) -> str:
    """``train.distill.targets_from``: ``image`` when missing, as in checkpoints made before the key existed."""
    return d_cfg.get("targets_from", "image")


def distill_copy_teachers(d_cfg: dict) -> list:
    """``train.distill.copy_teachers``, the runs that teach the augmented copies: ``teachers`` when null or missing."""
    return list(d_cfg.get("copy_teachers") or d_cfg["teachers"])


def complete(cfg: dict) -> dict:
    """A config from an older checkpoint with the keys added since filled in from ``base.yaml``
    (its ``model`` section is left as the network was built)."""

    def fill(base: dict, cfg: dict) -> dict:
        out = copy.deepcopy(cfg)
        for key, value in base.items():
            if key not in out:
                out[key] = copy.deepcopy(value)
            elif isinstance(value, dict) and isinstance(out[key], dict) and key != "model":
                out[key] = fill(value, out[key])
        return out

    return fill(base(), cfg)


def split_seed(cfg: dict) -> int:
    """The seed of the train/validation split: ``data.split_seed``, or ``train.seed`` when that is null
    (so runs that differ only in ``train.seed`` can share a split, e.g. to be ensembled)."""
    s = cfg["data"].get("split_seed")  # checkpoints made before data.split_seed existed have none
    return int(cfg["train"]["seed"] if s is None else s)


def split_key(cfg: dict, pool_sha256: str | None) -> tuple:
    """What fixes a run's validation split: runs with equal keys held out the same images."""
    d = cfg["data"]
    sources = tuple(d["sources"])
    if (d.get("personal") or {}).get("enabled"):  # only MNIST is split at random (digitlab.data.personal)
        sources = tuple(s for s in sources if s.strip() == "mnist")
    return sources, d["val_fraction"], d["limit"], split_seed(cfg), pool_sha256


def checkpoint_split_key(ckpt: dict) -> tuple:
    """:func:`split_key` of the run a checkpoint came from."""
    data = ckpt.get("data", {})
    return split_key(ckpt["config"], data.get("split_sha256", data.get("pool_sha256")))


def dump(cfg: dict) -> str:
    return yaml.safe_dump(cfg, sort_keys=False)
