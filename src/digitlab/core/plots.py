"""Figures people would rather look at than read: training curves, confusion
matrices, misclassified examples. All written atomically as PNG."""

from __future__ import annotations

import functools
import os
import textwrap

import numpy as np

from .io import save_figure_atomic


@functools.cache
def _pyplot():
    # imported on first use: pyplot takes about a third of a second, which every command would pay;
    # cached, so the backend is set once, as the import at the top did, not at every figure
    import matplotlib

    matplotlib.use("Agg")  # headless: never needs a display
    import matplotlib.pyplot as plt

    return plt


def training_curves(history: list[dict], path: str | os.PathLike) -> None:
    plt = _pyplot()
    ep = [h["epoch"] for h in history]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    axes[0].plot(ep, [h["loss"] for h in history], "o-", ms=3, label="train")
    axes[0].plot(ep, [h["val_loss"] for h in history], "o-", ms=3, label="validation")
    axes[0].set(title="loss", xlabel="epoch", yscale="log")
    axes[1].plot(ep, [h["acc"] for h in history], "o-", ms=3, label="train")
    axes[1].plot(ep, [h["val_acc"] for h in history], "o-", ms=3, label="validation")
    axes[1].set(title="accuracy", xlabel="epoch")
    best = min(history, key=lambda h: h["val_loss"])
    for ax in axes[:2]:
        ax.axvline(best["epoch"], color="grey", ls=":", lw=1)
        ax.legend()
        ax.grid(alpha=0.3)
    axes[1].annotate(
        f"best val_acc {best['val_acc']:.4f}\n(epoch {best['epoch']})",
        xy=(0.98, 0.05),
        xycoords="axes fraction",
        ha="right",
        fontsize=8,
    )
    axes[2].step(ep, [h["lr"] for h in history], where="mid")
    axes[2].set(title="learning rate", xlabel="epoch", yscale="log")
    axes[2].grid(alpha=0.3)
    fig.tight_layout()
    save_figure_atomic(fig, path, dpi=100)
    plt.close(fig)


def confusion_matrices(named: dict[str, np.ndarray], path: str | os.PathLike) -> None:
    """One panel per evaluated set; off-diagonal counts are what to look at."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(named), figsize=(5.6 * len(named), 5), squeeze=False)
    for ax, (name, cm) in zip(axes[0], named.items()):
        cm = np.asarray(cm)
        off = cm.copy()
        np.fill_diagonal(off, 0)
        ax.imshow(off, cmap="Reds", vmin=0, vmax=max(1, off.max()))
        for i in range(10):
            for j in range(10):
                if cm[i, j]:
                    dark = i != j and off[i, j] > 0.6 * max(1, off.max())
                    color = "tab:green" if i == j else ("white" if dark else "black")
                    ax.text(
                        j,
                        i,
                        str(cm[i, j]),
                        ha="center",
                        va="center",
                        fontsize=7,
                        color=color,
                        fontweight="bold" if i == j else "normal",
                    )
        acc = np.trace(cm) / max(cm.sum(), 1)
        ax.set(
            title=f"{name}: {cm.sum() - np.trace(cm)} errors in {cm.sum()} ({acc:.2%})",
            xlabel="predicted",
            ylabel="true",
            xticks=range(10),
            yticks=range(10),
        )
    fig.tight_layout()
    save_figure_atomic(fig, path, dpi=110)
    plt.close(fig)


def misclassified(
    named: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]],
    path: str | os.PathLike,
    per_set: int = 30,
    cols: int = 10,
) -> None:
    """``named[set] = (images, true, pred, confidence)`` of errors, most confident first."""
    plt = _pyplot()
    rows_per = {k: max(1, int(np.ceil(min(len(v[0]), per_set) / cols))) for k, v in named.items()}
    total_rows = sum(rows_per.values()) + len(named)
    fig = plt.figure(figsize=(cols * 1.15, total_rows * 1.3))
    grid = fig.add_gridspec(total_rows, cols)
    r = 0
    for name, (x, t, p, c) in named.items():
        ax = fig.add_subplot(grid[r, :])
        ax.axis("off")
        ax.text(
            0,
            0.3,
            f"{name}: {len(x)} misclassified" + (f", the {per_set} most confident shown" if len(x) > per_set else ""),
            fontsize=11,
            fontweight="bold",
        )
        r += 1
        if len(x) == 0:
            r += rows_per[name]
            continue
        for k in range(min(len(x), per_set)):
            ax = fig.add_subplot(grid[r + k // cols, k % cols])
            ax.imshow(x[k], cmap="gray", vmin=0, vmax=255 if x.dtype == np.uint8 else 1)
            ax.set_title(f"true {t[k]} pred {p[k]}\n{c[k]:.2f}", fontsize=7, color="tab:red")
            ax.axis("off")
        r += rows_per[name]
    fig.tight_layout()
    save_figure_atomic(fig, path, dpi=100)
    plt.close(fig)


def _image_grid(rows: list[tuple[str, np.ndarray]], cols: int, figsize, blank_off: bool):
    """One row of framed digit images per entry (uint8 0-255 or float 0-1); cells past a row's
    images stay empty frames, or are hidden with ``blank_off``."""
    plt = _pyplot()
    fig, axes = plt.subplots(len(rows), cols, figsize=figsize, squeeze=False)
    for r, (_, images) in enumerate(rows):
        for c in range(cols):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():  # a frame, so inverted (white) digits stay visible
                spine.set_color("0.6")
            if c < len(images):
                ax.imshow(images[c], cmap="gray", vmin=0, vmax=255 if images.dtype == np.uint8 else 1)
            elif blank_off:
                ax.axis("off")
    return fig, axes


def augment_preview(rows: list[tuple[str, np.ndarray]], path: str | os.PathLike) -> None:
    """A grid with one row per transform: the original, then several random draws."""
    plt = _pyplot()
    cols = max(len(r[1]) for r in rows)
    fig, axes = _image_grid(rows, cols, (cols * 1.1, len(rows) * 1.45), blank_off=True)
    for r, (title, _) in enumerate(rows):
        axes[r, 0].set_title("original", fontsize=7)
        axes[r, 1].set_title(textwrap.fill(title, width=12 * cols), fontsize=7.5, loc="left")
    fig.subplots_adjust(left=0.02, right=0.98, top=0.96, bottom=0.01, wspace=0.08, hspace=0.55)
    save_figure_atomic(fig, path, dpi=100)
    plt.close(fig)


def reliability(named: dict[str, dict], path: str | os.PathLike, title: str = "") -> None:
    """Reliability diagrams: accuracy against confidence per bin, one panel per ``named`` entry
    (each from :func:`digitlab.inference.calibrate.reliability`), with the ECE in the title."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(named), figsize=(4.2 * len(named), 4), squeeze=False)
    for ax, (name, r) in zip(axes[0], named.items()):
        bins = len(r["count"])
        edges = np.linspace(0, 1, bins + 1)
        have = np.asarray(r["count"]) > 0
        ax.bar(
            edges[:-1][have],
            np.asarray(r["accuracy"])[have],
            width=1 / bins,
            align="edge",
            edgecolor="k",
            lw=0.5,
            alpha=0.8,
            label="accuracy",
        )
        ax.bar(
            edges[:-1][have],
            (np.asarray(r["confidence"]) - np.asarray(r["accuracy"]))[have],
            bottom=np.asarray(r["accuracy"])[have],
            width=1 / bins,
            align="edge",
            color="tab:red",
            alpha=0.35,
            label="gap to confidence",
        )
        ax.plot([0, 1], [0, 1], "k--", lw=1)
        ax.set(
            title=f"{name}: ECE {r['ece']:.4f}",
            xlabel="confidence (top probability)",
            ylabel="accuracy",
            xlim=(0, 1),
            ylim=(0, 1),
        )
        for k in np.flatnonzero(have):
            ax.text(edges[k] + 0.5 / bins, 0.02, str(r["count"][k]), rotation=90, fontsize=6, ha="center")
        ax.legend(loc="upper left", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    save_figure_atomic(fig, path, dpi=100)
    plt.close(fig)


def image_rows(rows: list[tuple[str, np.ndarray]], path: str | os.PathLike, cols: int = 10) -> None:
    """One titled row of example images (float [0, 1] or uint8) per entry."""
    plt = _pyplot()
    fig, axes = _image_grid(rows, cols, (cols * 0.9, len(rows) * 1.05), blank_off=False)
    for r, (title, _) in enumerate(rows):
        axes[r, 0].set_title(title, fontsize=8, loc="left")
    fig.subplots_adjust(left=0.01, right=0.99, top=0.97, bottom=0.01, wspace=0.05, hspace=0.45)
    save_figure_atomic(fig, path, dpi=100)
    plt.close(fig)
