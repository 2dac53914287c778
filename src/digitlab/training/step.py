"""One training step and what it needs: the L2 term, Keras' per-tensor gradient clipping,
the fastest layout for the device, and the validation pass after each epoch."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from digitlab.core.runinfo import cpu_has_bf16
from digitlab.inference import predict_logits

from .distill import loss as distill_loss
from .outliers import uniform_loss


def l2_penalty(model: torch.nn.Module, l2: float) -> torch.Tensor:
    if not l2:
        return torch.zeros((), device=next(model.parameters()).device)
    return l2 * sum((w * w).sum() for w in model.l2_parameters())


def clip_per_tensor(params, max_norm: float) -> None:
    """Keras ``clipnorm``: each gradient tensor is scaled down to at most ``max_norm``."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads or not max_norm:
        return
    norms = torch._foreach_norm(grads)
    scales = [torch.clamp(max_norm / (n + 1e-6), max=1.0) for n in norms]
    torch._foreach_mul_(grads, scales)


def prepare_model(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """The model on ``device``, set up the way it trains fastest there (measured by ``digitlab bench``).

    On CPU the weights go channels-last: oneDNN's convolutions then skip layout
    conversions. A seed1 training step on the 2-core Xeon: 911-964 images/s
    contiguous, 1,212-1,310 channels-last. ``torch.compile`` was slower there
    (807 images/s after a 48 s compile), so it is an option (``train.compile``).
    On CUDA channels-last is what tensor cores take under mixed precision
    (``train.amp``); the GPU path is not measured here (no GPU on this machine).
    """
    return model.to(device).to(memory_format=torch.channels_last)


def weight_average(model: torch.nn.Module, decay: float) -> AveragedModel | None:
    """``train.ema``: a moving average of the weights and BatchNorm statistics, updated after every
    step; it is what validation reads and ``best.pt`` keeps. None when ``decay`` is 0."""
    if not decay:
        return None
    return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` runs bfloat16 arithmetic in hardware: a CUDA GPU that supports it, or a CPU
    with avx512_bf16 or AMX (:func:`digitlab.core.runinfo.cpu_has_bf16`)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return device.type == "cpu" and cpu_has_bf16()


def amp_dtype(setting: str, device: torch.device) -> torch.dtype | None:
    """``train.amp``: ``auto`` is bfloat16 on a CUDA GPU that supports it and float32 elsewhere;
    ``native`` is bfloat16 wherever the hardware has it (:func:`native_bf16`, so also a CPU with
    avx512_bf16 or AMX, where ``fast`` trains 1.3-1.7 times as many images/s) and float32 elsewhere;
    ``bf16`` always, ``off`` never."""
    if setting == "bf16" or (setting == "auto" and device.type == "cuda" and native_bf16(device)):
        return torch.bfloat16
    if setting == "native" and native_bf16(device):
        return torch.bfloat16
    return None


def train_step(
    model,
    opt,
    xb: torch.Tensor,
    yb: torch.Tensor,
    l2: float,
    clipnorm: float,
    teacher=None,
    smoothing: float = 0.0,
    inner: torch.nn.Module | None = None,
    amp: torch.dtype | None = None,
    outliers: tuple[torch.Tensor, float] | None = None,
):
    """One optimizer step; returns the digits' logits and the loss (detached). ``teacher``:
    (soft targets, alpha, temperature) for :func:`digitlab.training.distill.loss`, or None;
    ``smoothing``: label smoothing of the labels' cross-entropy (``train.label_smoothing``);
    ``inner``: the network itself when ``model`` is a DDP wrapper round it (for the L2 term);
    ``amp``: the autocast dtype of the forward pass (``train.amp``), or None for float32;
    ``outliers``: non-digit images and their loss weight (:mod:`digitlab.training.outliers`), in
    the same forward pass as the digits so that BatchNorm's batch statistics hold both."""
    n = len(yb)
    with torch.autocast(xb.device.type, dtype=amp, enabled=amp is not None):
        out = model(xb if outliers is None else torch.cat([xb, outliers[0]]))
        logits = out[:n]
        if teacher is None:
            data_loss = F.cross_entropy(logits, yb, label_smoothing=smoothing)
        else:
            data_loss = distill_loss(logits, yb, *teacher)
        if outliers is not None:
            data_loss = data_loss + outliers[1] * uniform_loss(out[n:].float())
    logits = logits.float()
    loss = data_loss.float() + l2_penalty(inner or model, l2)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    clip_per_tensor(model.parameters(), clipnorm)
    opt.step()
    return logits.detach(), loss.detach()


@torch.no_grad()
def evaluate_split(model, x, y, l2: float, device) -> tuple[float, float]:
    logits = predict_logits(model, x, device)
    loss = F.cross_entropy(logits, torch.as_tensor(y)).item() + float(l2_penalty(model, l2))
    acc = (logits.argmax(1).numpy() == y).mean().item()
    return loss, acc
