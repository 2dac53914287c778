import numpy as np
import pytest
import torch

from conftest import apply_static, synthetic_digits
from digitlab import augment
from digitlab.core import config
from digitlab.core.errors import DigitlabError
from digitlab.tools.augment_bench import augment_benchmark

# The robust preset has every static transform: seed 000's five plus seven more.
STATIC = config.resolve("robust")["augment"]["static"]


@pytest.fixture(scope="module")
def digits():
    return synthetic_digits(40, seed=3)


@pytest.mark.parametrize("name", list(augment.STATIC_TRANSFORMS))
def test_each_static_transform_keeps_shape_dtype_range_and_changes_the_image(name, digits):
    x, _ = digits
    out = apply_static(name, x)
    assert out.shape == x.shape and out.dtype == np.uint8
    assert not np.array_equal(out, x)
    np.testing.assert_array_equal(out, apply_static(name, x))  # same seed, same output
    if name not in ("invert", "morphological"):  # nothing random in them (robust's dilation kernel is fixed)
        assert not np.array_equal(out, apply_static(name, x, seed=1))


def test_seed1_uses_only_the_seeds_five_static_transforms():
    seed1 = config.resolve("seed1")["augment"]["static"]
    assert [t.__class__.__name__ for t in augment.build_static(seed1, force=True)] == [
        "ElasticTransform",
        "GaussNoise",
        "CoarseDropout",
        "RandomBrightnessContrast",
        "InvertImg",
    ]


def test_inversion_maps_x_to_one_minus_x(digits):
    x, _ = digits
    np.testing.assert_array_equal(apply_static("invert", x), 255 - x)


def test_noise_dropout_and_elastic_do_what_they_say(digits):
    x, _ = digits
    background = x < 10
    noisy = apply_static("noise", x).astype(float)
    assert noisy[background].std() > 2 * x[background].std() + 2  # the background is no longer flat
    dropped = apply_static("dropout", x)
    assert (dropped <= x).all() and (dropped < x).any()  # holes filled with 0 only remove ink
    elastic = apply_static("elastic", x).astype(float)
    ratio = elastic.sum((1, 2)) / x.sum((1, 2))
    assert np.all((ratio > 0.6) & (ratio < 1.4)) and abs(ratio.mean() - 1) < 0.1  # a deformation, not an erasure


def _affine(x, seed=0, **kw):
    kw = {"rotation": 0.0, "shift": 0.0, "zoom": 0.0, **kw}
    t = torch.from_numpy(x[:, None]).float() / 255
    return augment.random_affine(t, torch.Generator().manual_seed(seed), **kw)[:, 0].numpy()


@pytest.mark.parametrize("kw", [{"rotation": 10.0}, {"shift": 0.1}])
def test_rotation_and_shift_keep_the_ink(kw, digits):
    x, _ = digits
    out = _affine(x, **kw)
    assert np.isfinite(out).all() and out.min() >= 0 and out.max() <= 1
    assert not np.allclose(out, x / 255, atol=1e-3)
    ratio = out.sum((1, 2)) / (x.sum((1, 2)) / 255)
    assert np.all(np.abs(ratio - 1) < 0.05)


def test_shift_moves_the_centre_of_mass_by_at_most_the_range(digits):
    x, _ = digits
    out = _affine(x, shift=0.1)
    rows = np.arange(28)
    com = lambda a: (a.sum(2) * rows).sum(1) / a.sum((1, 2))  # noqa: E731
    moved = np.abs(com(out) - com(x.astype(float)))
    assert moved.max() <= 0.1 * 28 + 0.5 and moved.mean() > 0.3


def test_zoom_scales_ink_area_within_the_range(digits):
    x, _ = digits
    out = _affine(x, zoom=0.1)
    ratio = out.sum((1, 2)) / (x.sum((1, 2)) / 255)  # ink area scales by 1/(zx*zy)
    assert np.all((ratio > 1 / 1.1**2 - 0.05) & (ratio < 1 / 0.9**2 + 0.05)) and ratio.std() > 0.02


def test_elastic_field_is_scipys_gaussian_filter_of_uniform_noise():
    from scipy.ndimage import gaussian_filter

    from digitlab.augment.geometry import smooth_noise

    field = smooth_noise(3, 28, 28, 4.0, torch.Generator().manual_seed(1)).numpy()
    noise = (torch.rand(3, 2, 28, 28, generator=torch.Generator().manual_seed(1)) * 2 - 1).numpy()
    want = gaussian_filter(noise.astype(np.float64), (0, 0, 4.0, 4.0), mode="constant", cval=0.0)
    np.testing.assert_allclose(field, want, atol=1e-6)


def test_elastic_bends_strokes_but_keeps_the_ink_and_the_draws_without_it(digits):
    x, _ = digits
    out = _affine(x, elastic=34.0)
    assert np.isfinite(out).all() and not np.allclose(out, x / 255, atol=1e-2)
    ratio = out.sum((1, 2)) / (x.sum((1, 2)) / 255)  # strokes stretch and shrink locally, not vanish
    assert np.all((ratio > 0.5) & (ratio < 1.5)) and abs(ratio.mean() - 1) < 0.1
    # off, the generator gives exactly the numbers it always did: runs without elastic are unchanged
    np.testing.assert_array_equal(_affine(x, seed=3, rotation=10), _affine(x, seed=3, rotation=10, elastic=0.0))
    warp = augment.realtime_fn(
        {"enabled": True, "rotation": 0, "shift": 0, "zoom": 0, "elastic": 20}, torch.Generator()
    )
    assert warp is not None
    with pytest.raises(DigitlabError, match="elastic_sigma must be a positive number"):
        augment.realtime_fn({"enabled": True, "elastic": 20, "elastic_sigma": 0}, torch.Generator())


def test_realtime_is_seeded_and_can_be_switched_off(digits):
    x, _ = digits
    np.testing.assert_array_equal(_affine(x, seed=5, rotation=10), _affine(x, seed=5, rotation=10))
    assert augment.realtime_fn({"enabled": False, "rotation": 10}, torch.Generator()) is None
    assert augment.realtime_fn({"enabled": True, "rotation": 0, "shift": 0, "zoom": 0}, torch.Generator()) is None


def test_static_expansion_is_cached_and_independent_of_worker_count(digits, tmp_path, monkeypatch):
    x, y = digits
    cfg = {**STATIC, "copies": 2, "workers": 1}
    a, ya, info = augment.static_expand(x, y, cfg, seed=9, cache_dir=tmp_path, progress=False)
    assert a.shape == (80, 28, 28) and ya.tolist() == y.tolist() * 2 and info["cached"] is False
    assert not np.array_equal(a[:40], a[40:])  # the two copies are different draws

    def must_not_compute(*args, **kwargs):
        raise AssertionError("the second run must reuse the cache")

    monkeypatch.setattr("digitlab.augment.static._augment_chunk", must_not_compute)
    b, _, info2 = augment.static_expand(x, y, {**cfg, "workers": 4}, seed=9, cache_dir=tmp_path, progress=False)
    assert info2["cached"] is True and info2["key"] == info["key"]
    np.testing.assert_array_equal(a, b)
    monkeypatch.undo()
    c, _, info3 = augment.static_expand(
        x, y, {**cfg, "workers": 2}, seed=9, cache_dir=tmp_path / "fresh", progress=False
    )
    np.testing.assert_array_equal(a, c)  # two worker processes give the same images as one
    _, _, other = augment.static_expand(x, y, {**cfg, "copies": 1}, seed=9, cache_dir=tmp_path, progress=False)
    assert other["key"] != info["key"]


def test_bad_transform_parameters_are_one_line_errors():
    bad = {**STATIC, "noise": {"p": 0.5, "std_range": [0.5, 0.1]}}
    with pytest.raises(DigitlabError, match="augment.static.noise.*std_range.*less than the second") as e:
        augment.build_static(bad)
    assert "\n" not in str(e.value)


def test_preview_shows_all_eight_transforms(mnist_ready, tmp_path):
    from PIL import Image

    from conftest import run_cli

    out = tmp_path / "preview.png"
    res = run_cli("augment", "preview", "--out", out, "--draws", "4")
    assert res.returncode == 0, res.stderr
    rows = augment.preview_rows(config.resolve("seed1")["augment"], synthetic_digits(8)[0], draws=4)
    titles = " ".join(t for t, _ in rows)
    assert len(rows) == 8 and all(len(imgs) == 5 for _, imgs in rows)
    for word in [
        "ElasticTransform",
        "GaussNoise",
        "CoarseDropout",
        "RandomBrightnessContrast",
        "InvertImg",
        "rotation",
        "shift",
        "zoom",
    ]:
        assert word in titles
    im = Image.open(out)
    assert im.format == "PNG" and im.height > im.width  # one row per transform


def test_benchmark_measures_both_pipelines(digits):
    cfg = config.resolve("seed1", sets=["augment.static.workers=1", "train.batch_size=16"])
    x, y = digits
    r = augment_benchmark(cfg, x, y, steps=2)
    assert r["static_images"] == 40 and r["static_images_per_s"] > 0
    assert r["step_ms_plain"] > 0 and r["step_ms_realtime"] > 0 and r["warp_ms_per_batch"] > 0
    # two timed steps on a shared CPU are noise, so no range on the overhead: only that it is the ratio
    assert r["realtime_overhead"] == pytest.approx(r["step_ms_realtime"] / r["step_ms_plain"] - 1)
