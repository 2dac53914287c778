"""``digitlab bench``: the numbers it prints are measured and plausible (the API and page parts
are exercised by test_serve's load and browser tests)."""

from __future__ import annotations

import json

import pytest

from conftest import run_cli
from digitlab.core.paths import shipped_model
from digitlab.tools import bench


def test_flop_count_matches_the_network():
    # seed1 forward is ~36 MFLOP per image (issue 6); training adds about twice that for the backward pass.
    flops = bench.train_flops_per_image({"arch": "seed1"})
    assert 90e6 < flops < 130e6, flops


def test_quick_bench_writes_a_table_and_json(tmp_path, measured):
    out = tmp_path / "bench.json"
    res = run_cli("bench", "--quick", "--skip", "api", "--skip", "page", "--json", out, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    r = json.loads(out.read_text())
    assert "matmul peak" in res.stdout and "onnx" in res.stdout and "api" not in r
    t = r["train"]
    assert t["matmul_peak_gflops"] > 1
    for row in t["rows"].values():
        assert row["images_per_s"] > 10 and row["share_of_peak"] > 0
    tta = r["time"]  # time to accuracy, --quick: the fast preset on 4,000 images for 1 epoch
    assert "time to accuracy: digitlab train --preset fast" in res.stdout
    assert len(tta["runs"]) == 1 and 0 < tta["runs"][0]["wall_s"] < 300 and tta["mean_test_acc"] > 0.3
    for backend in ("torch", "onnx", "int8"):
        inf = r["inference"][backend]
        assert 0 < inf["network_batch1"]["p50_ms"] < 50 and inf["batch1024_images_per_s"] > 100
        assert inf["predict_path_batch1"]["p50_ms"] > inf["network_batch1"]["p50_ms"] * 0.5
        assert inf["predict_path_batch1"]["p50_ms"] < inf["read_number_6"]["p50_ms"] < 500  # six digits, one image
    ratios = r["inference"]["int8_vs_onnx"]
    assert set(ratios) == {"1 thread", "default threads"} and "int8 / onnx network p50, interleaved" in res.stdout
    for v in ratios.values():
        assert 0 < v["int8_p50_ms"] < 50 and v["ratio"] == pytest.approx(v["int8_p50_ms"] / v["onnx_p50_ms"])
    measured(
        "bench --quick: "
        + "; ".join(
            f"{b} network p50 {r['inference'][b]['network_batch1']['p50_ms']:.3f} ms, predict path "
            f"{r['inference'][b]['predict_path_batch1']['p50_ms']:.3f} ms"
            for b in ("torch", "onnx", "int8")
        )
        + "; int8 / onnx "
        + ", ".join(f"{v['ratio']:.2f} at {k}" for k, v in ratios.items())
    )


def test_an_onnx_model_is_timed_only_as_the_backend_it_is():
    onnx = shipped_model().with_suffix(".onnx")
    r = bench.inference_part(onnx, repeats=20)
    assert "ONNX model" in r["torch"]["skipped"] and "is a float export, not int8" in r["int8"]["skipped"]
    assert 0 < r["onnx"]["network_batch1"]["p50_ms"] < 50 and r["onnx_file"] == str(onnx)
    assert "is one export; name the .pt model" in r["int8_vs_onnx"]["skipped"]
