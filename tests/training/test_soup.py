import pytest
import torch
from torch import nn

from conftest import run_cli, synthetic_cfg
from digitlab.core import checkpoint
from digitlab.core.errors import DigitlabError
from digitlab.inference import Predictor
from digitlab.models import BatchNorm2d
from digitlab.training import soup, train


@pytest.fixture(scope="module")
def two_runs(synthetic_npz, tmp_path_factory):
    """Two runs from one start (same seed, split and batches) that differ in their learning rate."""
    root = tmp_path_factory.mktemp("soup")
    a, b = root / "a", root / "b"
    train(synthetic_cfg(synthetic_npz, epochs=3), out_dir=a, progress=False)
    train(synthetic_cfg(synthetic_npz, epochs=3, **{"train.lr": 5e-4}), out_dir=b, progress=False)
    return a, b


def test_average_weighs_floats_and_keeps_counters():
    one = {"w": torch.tensor([1.0, 2.0]), "n": torch.tensor(5)}
    two = {"w": torch.tensor([3.0, 6.0]), "n": torch.tensor(9)}
    out = soup.average([one, two], [0.25, 0.75])
    assert torch.allclose(out["w"], torch.tensor([2.5, 5.0])) and out["n"].item() == 5
    assert soup.normalise_weights([1, 3], 2) == [0.25, 0.75] and soup.normalise_weights(None, 4) == [0.25] * 4
    with pytest.raises(DigitlabError, match="one weight per model"):
        soup.normalise_weights([1.0], 2)
    with pytest.raises(DigitlabError, match="non-negative"):
        soup.normalise_weights([1.0, -1.0], 2)


def test_batchnorm_statistics_are_the_plain_mean_over_all_images():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 3, 3), BatchNorm2d(3))
    x = torch.rand(900, 28, 28)
    x[:300] *= 3  # batches differ, so an exponential average would weigh the last ones more
    soup.recompute_batchnorm(net, x.numpy(), torch.device("cpu"), batch_size=300)
    with torch.no_grad():
        h = net[0](x.unsqueeze(1))
    assert torch.allclose(net[1].running_mean, h.mean((0, 2, 3)), atol=1e-4)
    assert not net.training


def test_soup_of_two_runs_reads_digits_and_records_its_recipe(two_runs, tmp_path):
    a, b = two_runs
    r = soup.make_soup([a, b], [3, 1], tmp_path / "soup", bn_images=400)  # BatchNorm on the runs' training mix
    assert r["soup"]["weights"] == [0.75, 0.25] and r["soup"]["bn_data"] == "augmented"
    assert r["val_acc"] > 0.5 and r["val_errors"] == round((1 - r["val_acc"]) * 160)  # chance is 0.1
    pred = Predictor.load(tmp_path / "soup")
    ck = pred.checkpoint
    assert ck["soup"]["ingredients"] == [str(a), str(b)] and ck["soup"]["bn_images"] == 400
    wa, wb = (checkpoint.load(p)["state_dict"]["head.3.weight"] for p in (a, b))
    assert torch.allclose(ck["state_dict"]["head.3.weight"], 0.75 * wa + 0.25 * wb, atol=1e-6)
    assert ck["metrics"]["val_acc"] == pytest.approx(r["val_acc"])
    # all the weight on one run gives that run's weights back (only BatchNorm's statistics are new)
    same = soup.make_soup([a, b], [1, 0], bn_images=400, bn_data="clean")["model"].state_dict()
    assert torch.equal(same["features.0.0.weight"], checkpoint.load(a)["state_dict"]["features.0.0.weight"])


def test_runs_of_another_split_or_network_are_refused(two_runs, tmp_path):
    a, b = two_runs
    cka, ckb = checkpoint.load(a), checkpoint.load(b)
    ckb["config"] = {**ckb["config"], "data": {**ckb["config"]["data"], "split_seed": 7}}
    with pytest.raises(DigitlabError, match="another train/validation split"):
        soup.check_ingredients([cka, ckb], ["a", "b"])
    with pytest.raises(DigitlabError, match="one architecture"):
        soup.check_ingredients([cka, {**cka, "model": {"arch": "seed2"}}], ["a", "c"])
    with pytest.raises(DigitlabError, match="at least two models"):
        soup.make_soup([a])
    with pytest.raises(DigitlabError, match="unknown BatchNorm data 'test'"):
        soup.make_soup([a, b], bn_data="test")


def test_cli_writes_a_soup_and_never_overwrites_one(two_runs, tmp_path):
    a, b = two_runs
    out = tmp_path / "s"
    res = run_cli("soup", str(a), str(b), "--out", str(out), "--bn-images", "300", "--corruptions")
    assert res.returncode == 0, res.stderr
    assert "soup: val_acc" in res.stdout and "corrupted validation" in res.stdout
    metrics = checkpoint.load(out)["metrics"]
    assert 0.1 < metrics["val_corruptions_mean"] <= 1.0
    before = (out / "best.pt").read_bytes()
    again = run_cli("soup", str(a), str(b), "--weights", "1", "3", "--out", str(out))
    assert again.returncode == 2 and again.stderr.count("\n") == 1 and "--force" in again.stderr
    assert (out / "best.pt").read_bytes() == before
    bad = run_cli("soup", str(a), str(b), "--weights", "1", "--out", str(tmp_path / "t"))
    assert bad.returncode == 2 and "one weight per model" in bad.stderr and not (tmp_path / "t").exists()
