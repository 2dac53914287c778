"""Ensembles and test-time augmentation."""

from __future__ import annotations

import numpy as np
import torch

from digitlab import data
from digitlab.inference.ensemble import TTA_WARPS, Ensemble, warp


def _centre(img: torch.Tensor) -> np.ndarray:
    a = img.numpy()
    ys, xs = np.indices(a.shape)
    return np.array([(a * xs).sum(), (a * ys).sum()]) / a.sum()


def test_warps_move_and_scale_the_digit_as_named():
    x = torch.zeros(1, 1, 28, 28)
    x[0, 0, 10:18, 12:16] = 1.0
    assert torch.equal(warp(x, 0, 1, 0, 0), x)
    right = warp(x, 0, 1, 1, 0)[0, 0]
    down = warp(x, 0, 1, 0, 1)[0, 0]
    assert np.allclose(_centre(right) - _centre(x[0, 0]), [1, 0], atol=0.05)
    assert np.allclose(_centre(down) - _centre(x[0, 0]), [0, 1], atol=0.05)
    assert warp(x, 0, 1.08, 0, 0).sum() > x.sum() > warp(x, 0, 0.92, 0, 0).sum()  # zoom > 1 enlarges
    assert TTA_WARPS[0] == (0, 1, 0, 0) and len(TTA_WARPS) == 9


def test_ensemble_of_one_equals_the_model_and_tta_keeps_it_accurate(shipped, mnist_ready, measured):
    test = data.load_test()
    x, y = test.x[:500], test.y[:500]
    single = shipped.logits(x)
    same = Ensemble([shipped, shipped]).logits(x)
    assert np.allclose(np.exp(same), torch.softmax(torch.from_numpy(single), 1).numpy(), atol=1e-5)
    tta = Ensemble([shipped], tta=True)
    acc = (tta.logits(x).argmax(1) == y).mean()
    assert acc >= 0.99 and "TTA x9" in tta.name
    measured(f"TTA on the first 500 official test images: {acc:.2%} (without: {(single.argmax(1) == y).mean():.2%})")
