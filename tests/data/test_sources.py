import gzip
import struct

import numpy as np
import pytest
from PIL import Image

from conftest import render_digit
from digitlab.core.errors import DigitlabError
from digitlab.data import sources


def _write_idx(path, arr, gz=False):
    header = struct.pack(">HBB", 0, 8, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    data = header + arr.astype(np.uint8).tobytes()
    (gzip.open if gz else open)(path, "wb").write(data)


@pytest.mark.parametrize("gz", [False, True])
def test_idx_folder_round_trip(tmp_path, gz):
    x = np.random.default_rng(0).integers(0, 256, (7, 28, 28), dtype=np.uint8)
    y = np.array([0, 1, 2, 3, 4, 5, 9], np.uint8)
    sfx = ".gz" if gz else ""
    _write_idx(tmp_path / f"train-images-idx3-ubyte{sfx}", x, gz)
    _write_idx(tmp_path / f"train-labels-idx1-ubyte{sfx}", y, gz)
    rx, ry = sources.load_idx_dir(tmp_path)
    np.testing.assert_array_equal(rx, x)
    np.testing.assert_array_equal(ry, y)


def test_idx_errors(tmp_path):
    with pytest.raises(DigitlabError, match="lacks train-images"):
        sources.load_idx_dir(tmp_path)
    (tmp_path / "train-images-idx3-ubyte").write_bytes(b"junkjunkjunk")
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(b"junkjunkjunk")
    with pytest.raises(DigitlabError, match="not a valid uint8 IDX"):
        sources.load_idx_dir(tmp_path)


def _csv(path, rows, label=True):
    head = (["label"] if label else []) + [f"pixel{i}" for i in range(784)]
    path.write_text(",".join(head) + "\n" + "".join(",".join(map(str, r)) + "\n" for r in rows))
    return path


def test_kaggle_csv_with_and_without_labels(tmp_path):
    img = render_digit(3).ravel()
    x, y = sources.load_csv(_csv(tmp_path / "train.csv", [[3, *img], [7, *img]]))
    assert x.shape == (2, 28, 28) and x.dtype == np.uint8 and y.tolist() == [3, 7]
    np.testing.assert_array_equal(x[0].ravel(), img)
    x, y = sources.load_csv(_csv(tmp_path / "test.csv", [list(img)], label=False))
    assert x.shape == (1, 28, 28) and y is None


def test_csv_errors(tmp_path):
    (tmp_path / "a.csv").write_text(
        "label," + ",".join(f"p{i}" for i in range(10)) + "\n" + ",".join(["1"] * 11) + "\n"
    )
    with pytest.raises(DigitlabError, match="has 11 columns; expected 785"):
        sources.load_csv(tmp_path / "a.csv")
    with pytest.raises(DigitlabError, match="label 12 at row 1 is outside 0-9"):
        sources.load_csv(_csv(tmp_path / "b.csv", [[1] + [0] * 784, [12] + [0] * 784]))
    with pytest.raises(DigitlabError, match="0-255"):
        sources.load_csv(_csv(tmp_path / "c.csv", [[1] + [300] * 784]))
    (tmp_path / "d.csv").write_text("label,pixel0\nx,y\n")
    with pytest.raises(DigitlabError, match="could not be parsed"):
        sources.load_csv(tmp_path / "d.csv")


def test_image_folder_of_any_size_and_polarity(tmp_path):
    for d in (1, 4):
        (tmp_path / str(d)).mkdir()
        big = Image.fromarray(255 - render_digit(d, size=120, font_size=90))  # black on white, 120x120
        big.save(tmp_path / str(d) / "a.png")
        Image.fromarray(render_digit(d)).convert("RGB").save(tmp_path / str(d) / "b.jpg")
    x, y = sources.load_folder(tmp_path)
    assert x.shape == (4, 28, 28) and x.dtype == np.uint8 and y.tolist() == [1, 1, 4, 4]
    assert x[:, 0, :].max() == 0  # white on black after preprocessing
    (tmp_path / "empty").mkdir()
    with pytest.raises(DigitlabError, match="no images in sub-folders 0-9"):
        sources.load_folder(tmp_path / "empty")


def test_npz_uint8_and_float(tmp_path):
    x = render_digit(5)[None].repeat(3, 0)
    np.savez(tmp_path / "u8.npz", x=x, y=[5, 5, 5])
    np.savez(tmp_path / "f.npz", x=x / 255.0, y=np.array([5, 5, 5]))
    a, ya = sources.load_npz(tmp_path / "u8.npz")
    b, yb = sources.load_npz(tmp_path / "f.npz")
    np.testing.assert_array_equal(a, b)
    assert ya.tolist() == yb.tolist() == [5, 5, 5]


def test_npz_errors(tmp_path):
    np.savez(tmp_path / "shape.npz", x=np.zeros((2, 32, 32)), y=[1, 2])
    with pytest.raises(DigitlabError, match=r"shape \(N, 28, 28\)"):
        sources.load_npz(tmp_path / "shape.npz")
    np.savez(tmp_path / "n.npz", x=np.zeros((2, 28, 28)), y=[1, 2, 3])
    with pytest.raises(DigitlabError, match="2 images but 3 labels"):
        sources.load_npz(tmp_path / "n.npz")
    np.savez(tmp_path / "lab.npz", x=np.zeros((1, 28, 28)), y=[-1])
    with pytest.raises(DigitlabError, match="outside 0-9"):
        sources.load_npz(tmp_path / "lab.npz")
    np.savez(tmp_path / "range.npz", x=np.full((1, 28, 28), 1.5), y=[1])
    with pytest.raises(DigitlabError, match=r"\[0, 1\]"):
        sources.load_npz(tmp_path / "range.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(DigitlabError, match="not a readable .npz"):
        sources.load_npz(tmp_path / "junk.npz")
