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
    for bad, msg in [
        ("train.label_smoothing=1.5", r"train.label_smoothing must be a number in \[0, 1\)"),
        ("train.amp=fp8", "train.amp must be auto, native, bf16 or off"),
        ("train.sync_bn=maybe", "train.sync_bn must be true or false"),
        ("train.compile=1", "train.compile must be true or false"),
    ]:
        with pytest.raises(DigitlabError, match=msg):
            config.resolve("fast", sets=[bad])


def test_amp_off_reads_as_off_although_yaml_reads_it_as_false():
    assert config.resolve("fast", sets=["train.amp=off"])["train"]["amp"] == "off"


def test_fast_presets_state_only_their_recipe():
    fast, long = config.resolve("fast"), config.resolve("fast-long")
    assert fast["model"] == {
        "arch": "fast",
        "stages": [[16], [64], [128, 128]],
        "unshuffle": False,
        "pool_first": True,
        "l2": 0.0,
    }
    assert (fast["train"]["epochs"], fast["train"]["batch_size"], fast["train"]["label_smoothing"]) == (5, 512, 0.1)
    assert fast["train"]["amp"] == "native"
    assert fast["callbacks"]["checkpoint"]["monitor"] == "val_acc" and fast["augment"]["static"]["copies"] == 0
    assert long["train"]["epochs"] == 18 and {**long, "train": None} == {**fast, "train": None, "preset": "fast-long"}


def test_config_file_merges_over_its_preset(tmp_path):
    f = tmp_path / "mine.yaml"
    f.write_text("preset: seed2\ntrain:\n  epochs: 3\n")
    c = config.resolve(None, str(f))
    assert c["model"]["arch"] == "seed2" and c["train"]["epochs"] == 3 and c["train"]["lr"] == 1e-3
    f.write_text("train: [oops\n")
    with pytest.raises(DigitlabError, match="not valid YAML"):
        config.resolve(None, str(f))


def test_a_config_files_model_section_naming_its_network_states_all_of_it(tmp_path):
    # an earlier fast run's config.yaml: no pool_first, so its network pools at the end of each
    # stage, as its checkpoint does, even though the fast preset now pools early
    f = tmp_path / "config.yaml"
    f.write_text("preset: fast\nmodel: {arch: fast, stages: [[16], [32], [64, 64]], unshuffle: false, l2: 0.0}\n")
    c = config.resolve(None, str(f))
    assert c["model"] == {"arch": "fast", "stages": [[16], [32], [64, 64]], "unshuffle": False, "l2": 0.0}
    assert c["train"]["epochs"] == 5  # the rest still comes from the preset
    f.write_text("preset: fast\nmodel: {stages: [[16], [32], [64, 64]]}\n")  # no arch: merged key by key
    assert config.resolve(None, str(f))["model"]["pool_first"] is True


def _leaves(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_leaves(v, f"{prefix}{k}."))
        else:
            out[prefix + k] = v
    return out


@pytest.mark.parametrize("name", config.presets())
def test_each_preset_names_what_it_extends_and_lists_only_what_differs(name):
    own = config._read_yaml(config.configs_dir() / f"{name}.yaml")
    parent = own.pop("extends")
    assert parent == config.BASE or parent in config.presets()
    inherited = config.base() if parent == config.BASE else config.load_preset(parent)
    if own.get("model", {}).get("arch", inherited["model"]["arch"]) != inherited["model"]["arch"]:
        own.pop("model")  # another network: its section is whole, not a difference
    same = {k: v for k, v in _leaves(own).items() if _leaves(inherited).get(k, object()) == v}
    assert not same, f"{name}.yaml repeats what {parent} already says: {same}"
    assert config.resolve(name)["preset"] == name


def test_seed1_is_base_and_every_default_lives_in_base():
    assert {k: v for k, v in config.resolve("seed1").items() if k != "preset"} == config.base()
    for name in config.presets():  # no preset adds a key base does not have (seed2's network aside)
        keys = set(_leaves({k: v for k, v in config.resolve(name).items() if k not in ("preset", "model")}))
        assert keys <= set(_leaves(config.base())) | {k for k in keys if k.startswith("train.distill.")}


def test_an_old_checkpoint_config_is_completed_from_base():
    old = config.resolve("seed1")
    del old["train"]["init_from"], old["train"]["distill"], old["augment"]["static"]["affine"]
    done = config.complete(old)
    assert done["train"]["init_from"] is None and done["train"]["distill"] is None
    assert done["augment"]["static"]["affine"]["p"] == 0 and "init_from" not in old["train"]


def test_a_preset_that_names_no_parent_is_a_one_line_error(tmp_path, monkeypatch):
    for f in config.configs_dir().glob("*.yaml"):
        (tmp_path / f.name).write_text(f.read_text())
    (tmp_path / "mine.yaml").write_text("train: {epochs: 3}\n")
    monkeypatch.setattr(config, "configs_dir", lambda: tmp_path)
    with pytest.raises(DigitlabError, match="must name the preset it extends, e.g. 'extends: base'") as e:
        config.resolve("mine")
    assert "\n" not in str(e.value)
    (tmp_path / "mine.yaml").write_text("extends: robust\ntrain: {epochs: 3}\n")
    assert config.resolve("mine")["train"]["epochs"] == 3 and config.resolve("mine")["augment"]["static"]["copies"] == 2
