"""The shipped model: its accuracy on the official test set, measured in every test run."""

from __future__ import annotations

from digitlab import data
from digitlab.core.paths import shipped_model
from digitlab.inference import find_default_model


def test_shipped_model_reaches_99_7_percent_on_the_official_test_set(shipped, mnist_ready, measured):
    test = data.load_test()
    errors = int((shipped.probabilities(test.x).argmax(1) != test.y).sum())
    measured(
        f"shipped model {shipped.path.name}: official test accuracy {1 - errors / len(test.y):.2%} ({errors} errors)"
    )
    # Issue 5 asks for 99.6% here and 99.7% from `digitlab evaluate` with no model named.
    # The shipped model was chosen by a rule on validation data (results/README.md); it
    # measures 99.70%, so this is also an exact regression guard.
    assert errors <= 30
    assert find_default_model() == shipped_model()
    size = shipped.path.stat().st_size
    assert size < 10e6, f"{size / 1e6:.1f} MB"
