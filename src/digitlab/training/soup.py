"""Model soups: one network whose weights are a weighted average of several runs' weights.

Runs that start from the same initial weights and see the same batches in the same
order (the same preset, seed and split, differing only in their loss, like the
``robust`` and ``distilled`` runs of seed 42) end in one basin of the loss, so the
average of their weights is itself a good network (Wortsman et al., 2022, "Model
soups"; Frankle et al., 2020, on linear mode connectivity). Unlike an ensemble it
costs one forward pass. Networks from different initial weights do not average
this way (their units are in different orders), so every ingredient must have the
same architecture and split; whether they share a basin shows in the soup's
validation score, which :func:`make_soup` reports and records.

Averaged weights leave BatchNorm's running statistics describing none of the
networks, so they are recomputed on training data of the ingredients' own split
(a cumulative average, with dropout off; see :func:`batchnorm_images`), never on
validation or test images.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
import torch.nn.functional as F

from digitlab import augment, data
from digitlab.augment.corrupt import corruption_scores
from digitlab.core import checkpoint, config
from digitlab.core.errors import DigitlabError
from digitlab.core.rundir import RunDir, calibration_file
from digitlab.core.runinfo import git_commit, library_versions, resolve_device
from digitlab.inference import predict_logits, to_input
from digitlab.models import build_model

from .step import l2_penalty


def normalise_weights(weights: list[float] | None, n: int) -> list[float]:
    """Mixing weights summing to 1 (None: a uniform soup)."""
    if weights is None:
        return [1.0 / n] * n
    if len(weights) != n:
        raise DigitlabError(f"{len(weights)} weights for {n} models; give one weight per model")
    if any(not np.isfinite(w) or w < 0 for w in weights) or sum(weights) <= 0:
        raise DigitlabError(
            "soup weights must be non-negative numbers with a positive sum, e.g. --weights 0.5 0.25 0.25"
        )
    total = float(sum(weights))
    return [float(w) / total for w in weights]


def check_ingredients(ckpts: list[dict], paths: list[str]) -> None:
    """Refuse models whose weights cannot be averaged, or that were selected on different splits."""
    first = ckpts[0]
    for ck, path in zip(ckpts[1:], paths[1:]):
        if ck["model"] != first["model"]:
            raise DigitlabError(
                f"{path} is a {ck['model'].get('arch')!r} network {ck['model']} and {paths[0]} is "
                f"{first['model']}: a soup needs one architecture"
            )
        if config.checkpoint_split_key(ck) != config.checkpoint_split_key(first):
            raise DigitlabError(
                f"{path} was selected on another train/validation split than {paths[0]}; "
                "soup runs trained with the same data and data.split_seed"
            )


def average(state_dicts: list[dict], weights: list[float]) -> dict:
    """Weighted mean of every floating-point tensor; counters (BatchNorm's batch count) come from the first."""
    out = {}
    for key, ref in state_dicts[0].items():
        if ref.is_floating_point():
            out[key] = sum(w * sd[key].double() for w, sd in zip(weights, state_dicts)).to(ref.dtype)
        else:
            out[key] = ref.clone()
    return out


@torch.no_grad()
def recompute_batchnorm(
    model: torch.nn.Module, x: np.ndarray, device: torch.device, batch_size: int = 500, warp=None
) -> None:
    """BatchNorm running statistics as the plain average over ``x`` (uint8 or [0,1] images), dropout off;
    ``warp`` (a function of a batch tensor) is applied to each batch first."""
    bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    model.eval()
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative moving average: every batch weighs the same
        bn.train()
    for i in range(0, len(x), batch_size):
        xb = to_input(x[i : i + batch_size], device)
        model(warp(xb) if warp is not None else xb)
    model.eval()


BN_DATA = ("augmented", "clean")


def batchnorm_images(cfg: dict, splits: data.Splits, bn_data: str, data_dir, seed: int):
    """Images to recompute BatchNorm on, and the per-batch warp to apply to them.

    ``augmented``: what the runs trained on, the training images plus their static
    copies (from the augmentation cache, or made again) under the real-time warps,
    so the statistics describe the same mix as the runs' own did. ``clean``: the
    training images only; corrupted input then strays further from the statistics.
    """
    if bn_data == "clean":
        return splits.x_train, None
    aug_cfg = cfg["augment"]
    x_aug, _, _ = augment.static_expand(
        splits.x_train,
        splits.y_train,
        aug_cfg["static"],
        cfg["train"]["seed"],
        data.data_dir(data_dir) / "augment",
        progress=False,
    )
    x = np.concatenate([splits.x_train, x_aug]) if len(x_aug) else splits.x_train
    return x, augment.realtime_fn(aug_cfg["realtime"], torch.Generator().manual_seed(seed))


def _check_request(paths: list, out: Path | None, bn_images: int, bn_data: str, force: bool) -> None:
    if out is not None:
        if RunDir(out).best.exists() and not force:
            raise DigitlabError(f"{RunDir(out).best} exists; choose another --out or pass --force to replace it")
        if any(Path(p).resolve() in (out.resolve(), RunDir(out).best.resolve()) for p in paths):
            raise DigitlabError(f"--out {out} is one of the ingredients; write the soup to a new folder")
    if bn_images < 1:
        raise DigitlabError("--bn-images must be at least 1")
    if bn_data not in BN_DATA:
        raise DigitlabError(f"unknown BatchNorm data {bn_data!r}; use one of {', '.join(BN_DATA)}")


def score(model: torch.nn.Module, splits: data.Splits, device: torch.device, l2: float, corruptions: bool) -> dict:
    """The soup's validation loss (as training records it, L2 included, so soups and runs compare on
    one scale), NLL, accuracy and errors; with ``corruptions`` its mean over corrupted validation images."""
    logits = predict_logits(model, splits.x_val, device)
    y_val = torch.as_tensor(splits.y_val)
    nll = float(F.cross_entropy(logits, y_val))
    with torch.no_grad():
        penalty = float(l2_penalty(model, l2))
    metrics = {
        "val_loss": nll + penalty,
        "val_acc": float((logits.argmax(1) == y_val).float().mean()),
        "val_nll": nll,
        "val_errors": int((logits.argmax(1) != y_val).sum()),
    }
    if corruptions:  # the figure robust models are chosen by; the test set's is only reported by evaluate
        scorer = SimpleNamespace(logits=lambda x: predict_logits(model, x, device).numpy())
        val = data.Source("validation", splits.x_val, splits.y_val)
        metrics["val_corruptions_mean"] = corruption_scores(scorer, val)["mean"]
    return metrics


def _save(out: Path, first: dict, model: torch.nn.Module, metrics: dict, recipe: dict) -> Path:
    run = RunDir(out)
    run.path.mkdir(parents=True, exist_ok=True)
    payload = {k: v for k, v in first.items() if k not in ("format", "format_version")}
    payload.update(
        {
            "state_dict": {k: v.cpu() for k, v in model.state_dict().items()},
            "metrics": metrics,
            "soup": recipe,
            "git_commit": git_commit(),
            "versions": library_versions(),
            "created": dt.datetime.now().isoformat(timespec="seconds"),
        }
    )
    checkpoint.save(run.best, payload)
    calibration_file(run.best).unlink(missing_ok=True)  # fitted to the weights this replaces
    return run.best


def make_soup(
    paths: list[str],
    weights: list[float] | None = None,
    out: str | Path | None = None,
    bn_images: int = 10000,
    data_dir=None,
    device: str = "auto",
    force: bool = False,
    seed: int = 0,
    corruptions: bool = False,
    bn_data: str = "augmented",
) -> dict:
    """Average the runs at ``paths`` (run folders or ``best.pt`` files); write ``out/best.pt`` if ``out`` is given.

    Returns the soup's validation loss, NLL, accuracy and errors (with ``corruptions``,
    also its mean accuracy over the corrupted validation images), each ingredient's
    recorded validation loss and accuracy, and (under ``"model"``) the network itself.
    """
    if len(paths) < 2:
        raise DigitlabError("a soup needs at least two models")
    weights = normalise_weights(weights, len(paths))
    ckpts = [checkpoint.load(p) for p in paths]
    check_ingredients(ckpts, [str(p) for p in paths])
    out = Path(out) if out is not None else None
    _check_request(paths, out, bn_images, bn_data, force)
    first = ckpts[0]
    cfg = config.complete(first["config"])
    splits = data.splits_for(cfg, data_dir)
    if first.get("data", {}).get("pool_sha256") not in (None, splits.pool_checksum):
        raise DigitlabError(
            "the training data has changed since these models were trained, so their training "
            "split cannot be rebuilt for BatchNorm; use the data they were trained on"
        )
    dev = resolve_device(device)
    model = build_model(first["model"]).to(dev)
    model.load_state_dict(average([c["state_dict"] for c in ckpts], weights))
    x_bn, warp = batchnorm_images(cfg, splits, bn_data, data_dir, seed)
    pick = np.sort(np.random.default_rng(seed).choice(len(x_bn), min(bn_images, len(x_bn)), replace=False))
    recompute_batchnorm(model, x_bn[pick], dev, warp=warp)
    l2 = float(first["model"].get("l2", 0.0))  # checkpoints made before model.l2 existed have none
    metrics = score(model, splits, dev, l2, corruptions)
    recipe = {
        "ingredients": [str(p) for p in paths],
        "weights": weights,
        "bn_data": bn_data,
        "bn_images": int(len(pick)),
        "bn_seed": seed,
    }
    recorded = [{k: c.get("metrics", {}).get(k) for k in ("val_loss", "val_acc")} for c in ckpts]
    result = {
        **metrics,
        "soup": recipe,
        "model": model,
        "ingredients": [{"path": str(p), "weight": w, **r} for p, w, r in zip(paths, weights, recorded)],
    }
    if out is not None:
        result["path"] = str(_save(out, first, model, metrics, recipe))
    return result
