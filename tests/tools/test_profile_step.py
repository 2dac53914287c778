"""The step profiler: its groups cover the whole profiled time and the convolutions show up, layer by layer."""

from __future__ import annotations

import json

import pytest

from digitlab.tools import profile_step


def test_profile_of_the_fast_step_accounts_for_all_its_time(tmp_path):
    out = tmp_path / "profile.json"
    assert profile_step.main(["--preset", "fast", "--batch-size", "64", "--steps", "2", "--json", str(out)]) == 0
    r = json.loads(out.read_text())
    shares = {g["work"]: g["share"] for g in r["groups"]}
    assert abs(sum(shares.values()) - 1) < 1e-6
    # a convolutional network's step is mostly its convolutions, whatever the machine
    assert shares["convolution, backward"] + shares["convolution, forward"] > 0.15, shares
    # one row per convolution, named by its input: 1 channel at 28x28, 16 at 14x14, 64 at 7x7, 128 at 3x3
    inputs = sorted((c["input"][1], c["input"][2]) for c in r["conv_backward"])
    assert inputs == [(1, 28), (16, 14), (64, 7), (128, 3)], r["conv_backward"]
    assert r["batch_size"] == 64 and r["images_per_s"] > 10


def test_set_profiles_a_variant_of_the_preset(tmp_path):
    out = tmp_path / "profile.json"
    argv = ["--preset", "fast", "--set", "model.pool_first=false", "--batch-size", "32", "--steps", "1"]
    assert profile_step.main([*argv, "--json", str(out)]) == 0
    r = json.loads(out.read_text())
    assert r["sets"] == ["model.pool_first=false"]
    # pooling at the end of each stage: the later convolutions see the full-size maps
    assert sorted((c["input"][1], c["input"][2]) for c in r["conv_backward"]) == [(1, 28), (16, 14), (64, 7), (128, 7)]


def test_bad_arguments_are_one_line_errors(capsys):
    for argv in (["--preset", "nope"], ["--steps", "0"], ["--preset", "fast", "--set", "model.bogus=1"]):
        with pytest.raises(SystemExit) as e:
            profile_step.main(argv)
        assert e.value.code == 2
        err = capsys.readouterr().err.strip().splitlines()[-1]
        assert err.startswith("error: ") and ("unknown preset" in err or "--steps" in err or "bogus" in err), err
