import numpy as np
import pytest
import torch
import torch.nn.functional as F

from conftest import synthetic_cfg
from digitlab.core import config
from digitlab.core.errors import DigitlabError
from digitlab.core.rundir import RunDir
from digitlab.training import distill, dry_run, train


@pytest.fixture(scope="module")
def teacher(synthetic_npz, tmp_path_factory):
    run = tmp_path_factory.mktemp("teacher") / "run"
    train(synthetic_cfg(synthetic_npz, epochs=4), out_dir=run, progress=False)
    return run


def test_loss_is_cross_entropy_at_both_ends():
    logits, y = torch.randn(16, 10), torch.arange(16) % 10
    ce = F.cross_entropy(logits, y)
    soft = torch.softmax(torch.randn(16, 10), 1)
    assert distill.loss(logits, y, soft, 0.0, 4.0) == pytest.approx(ce.item())
    # one-hot teachers at T=1: KL(onehot || p) is the cross-entropy
    assert distill.loss(logits, y, F.one_hot(y, 10).float(), 1.0, 1.0).item() == pytest.approx(ce.item(), rel=1e-5)


def test_student_learns_from_teachers_and_keeps_their_targets_for_resume(synthetic_npz, teacher, tmp_path):
    cfg = synthetic_cfg(synthetic_npz, epochs=2)
    cfg["train"]["distill"] = {"teachers": [str(teacher), str(teacher / "best.pt")], "alpha": 0.7, "temperature": 4.0}
    res = train(cfg, out_dir=tmp_path / "student", progress=False)
    assert res.best_val_acc > 0.5  # chance is 0.1
    soft = np.load(RunDir(tmp_path / "student").teachers)["soft"]
    assert soft.shape == (640, 10) and np.allclose(soft.sum(1), 1, atol=1e-5)
    assert soft.max(1).min() < 0.99  # softened by the temperature
    before = (RunDir(tmp_path / "student").teachers).stat().st_mtime_ns
    assert train(resume=tmp_path / "student", max_epochs=3, progress=False).epochs_run == 3
    assert (RunDir(tmp_path / "student").teachers).stat().st_mtime_ns == before
    assert torch.load(tmp_path / "student" / "best.pt", weights_only=True)["config"]["train"]["distill"]["alpha"] == 0.7


def test_targets_from_original_give_each_augmented_copy_its_clean_images_target(synthetic_npz, teacher, tmp_path):
    cfg = synthetic_cfg(synthetic_npz, epochs=1, **{"augment.static.copies": 2, "augment.static.workers": 1})
    cfg["train"]["distill"] = {"teachers": [str(teacher)], "alpha": 0.7, "temperature": 4.0, "targets_from": "original"}
    cache = tmp_path / "cache"  # the augmented copies, made once for both runs and kept out of the user's cache
    assert train(cfg, out_dir=tmp_path / "original", data_dir=cache, progress=False).best_val_acc > 0.3
    soft = np.load(RunDir(tmp_path / "original").teachers)["soft"]
    n = len(soft) // 3  # the 640 training images, then two augmented copies of them
    assert n == 640 and np.array_equal(soft[:n], soft[n : 2 * n]) and np.array_equal(soft[:n], soft[2 * n :])
    cfg["train"]["distill"]["targets_from"] = "image"  # the default: each copy asks the teachers about itself
    train(cfg, out_dir=tmp_path / "image", data_dir=cache, progress=False)
    own = np.load(RunDir(tmp_path / "image").teachers)["soft"]
    assert np.array_equal(own[:n], soft[:n]) and not np.allclose(own[n:], soft[n:], atol=1e-3)
    with pytest.raises(DigitlabError, match="targets_from must be image or original"):
        config.resolve("distilled", sets=["train.distill.targets_from=copy"])


def test_copy_teachers_teach_the_copies_and_teachers_the_clean_images(synthetic_npz, teacher, tmp_path):
    other = tmp_path / "other"  # a second teacher on the same split: another init seed, one epoch
    train(
        synthetic_cfg(synthetic_npz, epochs=1, **{"train.seed": 7, "data.split_seed": 42}),
        out_dir=other,
        progress=False,
    )
    cfg = synthetic_cfg(synthetic_npz, epochs=1, **{"augment.static.copies": 1, "augment.static.workers": 1})
    cfg["train"]["distill"] = {"teachers": [str(teacher)], "alpha": 0.7, "temperature": 4.0}
    cache = tmp_path / "cache"
    runs = {}
    for name, copy_teachers in [("same", None), ("split", [str(other)])]:
        cfg["train"]["distill"]["copy_teachers"] = copy_teachers
        train(cfg, out_dir=tmp_path / name, data_dir=cache, progress=False)
        runs[name] = np.load(RunDir(tmp_path / name).teachers)["soft"]
    n = 640
    assert runs["split"].shape == (2 * n, 10) and np.allclose(runs["split"].sum(1), 1, atol=1e-5)
    assert np.array_equal(runs["split"][:n], runs["same"][:n])  # clean images: still the teachers
    assert not np.allclose(runs["split"][n:], runs["same"][n:], atol=1e-3)  # copies: the other run
    with pytest.raises(DigitlabError, match="copy_teachers must be null"):
        config.resolve("distilled", sets=["train.distill.copy_teachers=[]"])


def test_teacher_from_another_split_is_refused_before_training(synthetic_npz, teacher, tmp_path):
    cfg = synthetic_cfg(synthetic_npz, epochs=1, **{"data.split_seed": 7})
    cfg["train"]["distill"] = {"teachers": [str(teacher)], "alpha": 0.7, "temperature": 4.0}
    with pytest.raises(DigitlabError, match="another train/validation split"):
        dry_run(cfg)
    with pytest.raises(DigitlabError, match="another train/validation split"):
        train(cfg, out_dir=tmp_path / "student", progress=False)
    cfg["train"]["distill"]["teachers"] = [str(tmp_path / "nope")]
    with pytest.raises(DigitlabError, match="not found"):
        dry_run(cfg)


def test_distilled_preset_names_its_teachers_and_bad_values_are_refused():
    cfg = config.resolve("distilled")
    assert cfg["train"]["distill"]["teachers"] and cfg["augment"]["static"]["copies"] == 2
    with pytest.raises(DigitlabError, match="alpha must lie between 0 and 1"):
        config.resolve("distilled", sets=["train.distill.alpha=2"])
    with pytest.raises(DigitlabError, match="teachers must be a non-empty list"):
        config.resolve("distilled", sets=["train.distill.teachers=[]"])
    with pytest.raises(DigitlabError, match="temperature must be a positive number"):
        config.resolve("distilled", sets=["train.distill.temperature=null"])
