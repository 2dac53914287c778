"""Classification metrics (scikit-learn): accuracy, per-class precision/recall/F1 and the confusion matrix."""

from __future__ import annotations

import numpy as np

DIGITS = list(range(10))


def metrics(y_true: np.ndarray, probs: np.ndarray) -> dict:
    # sklearn takes most of a second to import: only this pays it
    from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

    pred = probs.argmax(1)
    p, r, f, s = precision_recall_fscore_support(y_true, pred, labels=DIGITS, zero_division=0)
    return {
        "images": int(len(y_true)),
        "accuracy": float(accuracy_score(y_true, pred)),
        "misclassified": int((pred != y_true).sum()),
        "per_class": {
            str(d): {"precision": float(p[d]), "recall": float(r[d]), "f1": float(f[d]), "support": int(s[d])}
            for d in DIGITS
        },
        "confusion_matrix": confusion_matrix(y_true, pred, labels=DIGITS).tolist(),
    }
