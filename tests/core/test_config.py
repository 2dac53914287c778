import pytest

from digitlab.core import config
from digitlab.core.errors import DigitlabError


def test_presets_have_the_seed_recipes():
    s1, s2 = config.resolve("seed1"), config.resolve("seed2")
    for c in (s1, s2):
        t = c["train"]
        assert (t["lr"], t["batch_size"], t["epochs"], t["clipnorm"]) == (1e-3, 384, 50, 1.0)
        cb = c["callbacks"]
        assert cb["early_stopping"]["patience"] == 10 and cb["early_stopping"]["restore_best"]
        assert (cb["reduce_lr"]["factor"], cb["reduce_lr"]["patience"], cb["reduce_lr"]["min_lr"]) == (0.5, 3, 1e-6)
    assert s1["data"]["val_fraction"] == 0.1 and s2["data"]["val_fraction"] == 0.2
    assert s1["model"]["l2"] > 0 and s1["model"]["arch"] == "seed1" and s2["model"]["arch"] == "seed2"


def test_set_parses_yaml_values_into_nested_keys():
    c = config.resolve("seed1", sets=["train.lr=5e-4", "data.sources=[mnist, 'npz:a.npz']", "data.limit=100"])
    assert c["train"]["lr"] == 5e-4 and c["data"]["sources"] == ["mnist", "npz:a.npz"] and c["data"]["limit"] == 100


def test_unknown_keys_and_bad_values_are_errors():
    with pytest.raises(DigitlabError, match="unknown config key 'train.lrr'"):
        config.resolve("seed1", sets=["train.lrr=1"])
    with pytest.raises(DigitlabError, match="is a section"):
        config.resolve("seed1", sets=["train=1"])
    with pytest.raises(DigitlabError, match="key=value"):
        config.resolve("seed1", sets=["train.lr"])
    with pytest.raises(DigitlabError, match="train.epochs"):
        config.resolve("seed1", sets=["train.epochs=0"])
    with pytest.raises(DigitlabError, match="unknown preset 'seed9'"):
        config.resolve("seed9")


def test_config_file_merges_over_its_preset(tmp_path):
    f = tmp_path / "mine.yaml"
    f.write_text("preset: seed2\ntrain:\n  epochs: 3\n")
    c = config.resolve(None, str(f))
    assert c["model"]["arch"] == "seed2" and c["train"]["epochs"] == 3 and c["train"]["lr"] == 1e-3
    f.write_text("train: [oops\n")
    with pytest.raises(DigitlabError, match="not valid YAML"):
        config.resolve(None, str(f))
