import json

import numpy as np
import pytest
from PIL import Image

from digitlab.core.errors import DigitlabError
from digitlab.evaluation import evaluate


def test_default_report_has_validation_and_official_test(mnist_run, tmp_path):
    rep = evaluate(mnist_run, out_dir=tmp_path / "eval")
    out = tmp_path / "eval"
    on_disk = json.loads((out / "report.json").read_text())
    assert set(on_disk["sets"]) == {"validation", "test", "test-inverted"}
    assert on_disk["sets"]["test-inverted"]["images"] == 10000
    test = on_disk["sets"]["test"]
    cm = np.array(test["confusion_matrix"])
    assert test["images"] == 10000 == cm.sum() and test["misclassified"] == cm.sum() - np.trace(cm)
    assert test["accuracy"] == pytest.approx(np.trace(cm) / cm.sum()) and test["accuracy"] > 0.9
    assert on_disk["sets"]["validation"]["accuracy"] == pytest.approx(rep["model"]["trained"]["val_acc"])
    assert sum(c["support"] for c in test["per_class"].values()) == 10000
    assert on_disk["model"]["parameters"]["total"] == 934_064 and on_disk["model"]["file_bytes"] > 1e6
    lat = on_disk["latency"]
    assert lat["batch1_ms_p50"] > 0 and lat["batch1024_images_per_s"] > 0
    md = (out / "report.md").read_text()
    assert "| test | 10,000 |" in md and "| digit | precision | recall |" in md
    for png in ("confusion_matrix.png", "misclassified.png", "reliability.png", "non_digits.png"):
        assert Image.open(out / png).format == "PNG"
    cal = on_disk["calibration"]
    assert 0.1 < cal["temperature"] < 10 and cal["nll_after"] <= cal["nll_before"] + 1e-9
    assert "## Calibration" in md and "## Not a digit" in md
    assert on_disk["rejection"]["sets"]["noise"]["auroc_gate"] > 0.9 and on_disk["rejection"]["held_out"]["images"] > 0
    assert "held-out families together" in md
    # The fitted temperature and threshold are stored beside the model for predict and the app.
    stored = json.loads((mnist_run / "best.calibration.json").read_text())
    assert stored["temperature"] == cal["temperature"] and stored["threshold"] == on_disk["not_sure"]["threshold"]


def test_ensemble_evaluation(mnist_run, synthetic_npz, tmp_path):
    rep = evaluate([mnist_run, mnist_run], out_dir=tmp_path / "ens", latency=False, rejection=False)
    assert len(rep["model"]["ensemble"]) == 2 and not rep["model"]["tta"]
    assert "validation" in rep["sets"] and "calibration" in rep  # same split: validation still held out
    # Two copies of one model agree with it exactly.
    assert rep["sets"]["validation"]["accuracy"] == pytest.approx(rep["model"]["ensemble"][0]["trained"]["val_acc"])
    assert "ensemble of 2" in (tmp_path / "ens" / "report.md").read_text()
    tta = evaluate([mnist_run], data_specs=[f"npz:{synthetic_npz}"], tta=True, out_dir=tmp_path / "tta", latency=False)
    assert tta["model"]["tta"] and tta["sets"][f"npz:{synthetic_npz}"]["accuracy"] > 0.3


def test_evaluate_on_named_data(mnist_run, synthetic_npz, tmp_path):
    rep = evaluate(mnist_run, data_specs=[f"npz:{synthetic_npz}"], out_dir=tmp_path / "e", latency=False)
    assert list(rep["sets"]) == [f"npz:{synthetic_npz}"] and rep["sets"][f"npz:{synthetic_npz}"]["images"] == 800
    assert "latency" not in rep


def test_unlabelled_data_cannot_be_evaluated(mnist_run, tmp_path):
    f = tmp_path / "test.csv"
    f.write_text(",".join(f"pixel{i}" for i in range(784)) + "\n" + ",".join(["0"] * 784) + "\n")
    with pytest.raises(DigitlabError, match="no labels"):
        evaluate(mnist_run, data_specs=[f"csv:{f}"], out_dir=tmp_path / "e", latency=False)
