"""The personal-model benchmark: its folders, its arguments, and (slow) a whole measurement."""

from __future__ import annotations

import json

import pytest

from digitlab.data.sources import load_folder
from digitlab.tools import personal_bench


def test_a_style_is_written_as_a_folder_dataset(tmp_path):
    personal_bench.write_folder("continental", 2, tmp_path / "d")
    x, y = load_folder(tmp_path / "d")
    assert x.shape == (20, 28, 28) and sorted(y.tolist()) == sorted(list(range(10)) * 2)


def test_bad_arguments_are_refused_before_any_work(capsys):
    with pytest.raises(SystemExit) as e:
        personal_bench.main(["--per-digit", "0"])
    assert e.value.code == 2 and "--per-digit must be at least 1" in capsys.readouterr().err


@pytest.mark.slow
def test_a_short_measurement_learns_the_style(mnist_ready, tmp_path, capsys):
    sets = ["data.personal.mnist_images=2000", "data.personal.share=0.3", "train.epochs=1"]
    args = ["--per-digit", "5", *[a for s in sets for a in ("--set", s)], "--json", str(tmp_path / "r.json")]
    assert personal_bench.main(args) == 0
    (result,) = json.loads((tmp_path / "r.json").read_text())
    assert result["new_after"] > result["new_before"] + 0.05 and result["test_after"] >= 0.99
