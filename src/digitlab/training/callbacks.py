"""Training callbacks with Keras semantics: EarlyStopping, ModelCheckpoint, ReduceLROnPlateau.

Each is an explicit object configured from the ``callbacks`` section, called
once per epoch with that epoch's logs, and carries a ``state_dict`` so a
resumed run behaves exactly like one that was never interrupted.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

import torch


class Callback:
    def on_epoch_end(self, epoch: int, logs: dict, model: torch.nn.Module) -> bool:
        """Return True to stop training."""
        return False

    def on_train_end(self, model: torch.nn.Module) -> None:
        pass

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        for k, v in state.items():
            setattr(self, k, v)


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs."""

    def __init__(
        self, monitor: str = "val_loss", patience: int = 10, min_delta: float = 0.0, restore_best: bool = True
    ):
        self.monitor, self.patience, self.min_delta, self.restore_best = monitor, patience, min_delta, restore_best
        self.best, self.best_epoch, self.wait, self.stopped_epoch = math.inf, 0, 0, 0
        self.best_weights: dict | None = None

    def on_epoch_end(self, epoch, logs, model):
        current = logs[self.monitor]
        if current < self.best - self.min_delta:
            self.best, self.best_epoch, self.wait = current, epoch, 0
            if self.restore_best:
                self.best_weights = {k: v.detach().clone() for k, v in model.state_dict().items()}
            return False
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            return True
        return False

    def on_train_end(self, model):
        if self.restore_best and self.best_weights is not None:
            model.load_state_dict(self.best_weights)

    def state_dict(self):
        return {
            "best": self.best,
            "best_epoch": self.best_epoch,
            "wait": self.wait,
            "stopped_epoch": self.stopped_epoch,
            "best_weights": self.best_weights,
        }


def lower_is_better(monitor: str) -> bool:
    """Keras' ``mode='auto'``: an accuracy is better higher, anything else (a loss) lower."""
    return "acc" not in monitor


class ModelCheckpoint(Callback):
    """Call ``save(epoch, logs)`` whenever ``monitor`` reaches a new best (lower is better,
    an accuracy higher; a tie keeps the earlier epoch)."""

    def __init__(self, save: Callable[[int, dict], None], monitor: str = "val_loss"):
        self.save, self.monitor = save, monitor
        self.sign = 1.0 if lower_is_better(monitor) else -1.0
        self.best, self.best_epoch = math.inf, 0  # best holds sign * value, so lower is always better here

    def on_epoch_end(self, epoch, logs, model):
        if self.sign * logs[self.monitor] < self.best:
            self.best, self.best_epoch = self.sign * logs[self.monitor], epoch
            self.save(epoch, logs)
        return False

    def state_dict(self):
        return {"best": self.best, "best_epoch": self.best_epoch}


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by ``factor`` after ``patience`` epochs without improvement."""

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        monitor: str = "val_loss",
        factor: float = 0.5,
        patience: int = 3,
        min_lr: float = 1e-6,
        min_delta: float = 1e-4,
    ):
        self.optimizer, self.monitor, self.factor = optimizer, monitor, factor
        self.patience, self.min_lr, self.min_delta = patience, min_lr, min_delta
        self.best, self.wait = math.inf, 0

    def on_epoch_end(self, epoch, logs, model):
        current = logs[self.monitor]
        if current < self.best - self.min_delta:
            self.best, self.wait = current, 0
            return False
        self.wait += 1
        if self.wait >= self.patience:
            for group in self.optimizer.param_groups:
                if group["lr"] > self.min_lr:
                    group["lr"] = max(group["lr"] * self.factor, self.min_lr)
            self.wait = 0
        return False

    def state_dict(self):
        return {"best": self.best, "wait": self.wait}


def build_callbacks(cfg: dict, optimizer, save_best: Callable[[int, dict], None]) -> dict[str, Callback]:
    """Callbacks from the config's ``callbacks`` section, keyed by name, in call order."""
    cbs: dict[str, Callback] = {}
    c = copy.deepcopy(cfg)
    if c["checkpoint"].pop("enabled", True):
        cbs["checkpoint"] = ModelCheckpoint(save_best, **c["checkpoint"])
    if c["reduce_lr"].pop("enabled", True):
        cbs["reduce_lr"] = ReduceLROnPlateau(optimizer, **c["reduce_lr"])
    if c["early_stopping"].pop("enabled", True):
        cbs["early_stopping"] = EarlyStopping(**c["early_stopping"])
    return cbs
