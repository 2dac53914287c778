import numpy as np
import pytest
from PIL import Image, ImageDraw

from digitlab.core.errors import DigitlabError
from digitlab.data.preprocess import BOX, load_image, prepare_image


def _drawn_seven(size=300, ink=0, paper=255, width=18, box=(60, 50, 240, 260)):
    """A '7' drawn like a pen would, ink on paper."""
    im = Image.new("L", (size, size), paper)
    d = ImageDraw.Draw(im)
    x0, y0, x1, y1 = box
    d.line([(x0, y0), (x1, y0), (x0 + (x1 - x0) // 3, y1)], fill=ink, width=width, joint="curve")
    return im


def _com(img):
    r, c = np.indices(img.shape)
    return (r * img).sum() / img.sum(), (c * img).sum() / img.sum()


def test_output_is_mnist_shaped_white_on_black_and_centred():
    out = prepare_image(_drawn_seven())
    assert out.shape == (28, 28) and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() == pytest.approx(1.0)
    assert out[0].sum() == 0 and out[:, 0].sum() == 0  # background is black at the edges
    cy, cx = _com(out)
    assert abs(cy - 14) <= 0.5 and abs(cx - 14) <= 0.5
    rows, cols = np.flatnonzero(out.any(1)), np.flatnonzero(out.any(0))
    assert max(rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1) == BOX


def test_polarity_is_detected():
    dark_on_light = prepare_image(_drawn_seven(ink=0, paper=255))
    light_on_dark = prepare_image(_drawn_seven(ink=255, paper=0))
    grey_paper = prepare_image(_drawn_seven(ink=40, paper=200))
    np.testing.assert_allclose(dark_on_light, light_on_dark, atol=1e-5)
    np.testing.assert_allclose(grey_paper, light_on_dark, atol=0.05)


def test_aspect_ratio_is_kept_for_a_tall_thin_stroke():
    im = Image.new("L", (200, 200))
    ImageDraw.Draw(im).line([(100, 20), (100, 180)], fill=255, width=16)
    out = prepare_image(im)
    rows, cols = np.flatnonzero(out.any(1)), np.flatnonzero(out.any(0))
    assert rows[-1] - rows[0] + 1 == 20 and cols[-1] - cols[0] + 1 <= 4


def test_position_and_scale_do_not_matter():
    big = prepare_image(_drawn_seven(box=(20, 20, 280, 290)))
    small_corner = prepare_image(_drawn_seven(box=(10, 10, 70, 80), width=5))
    assert np.corrcoef(big.ravel(), small_corner.ravel())[0, 1] > 0.85


def test_mnist_digits_come_back_nearly_unchanged(mnist_ready):
    from digitlab.data import load_mnist

    x, _ = load_mnist("test")
    corr = [np.corrcoef(x[i].ravel() / 255.0, prepare_image(x[i]).ravel())[0, 1] for i in range(50)]
    assert np.median(corr) > 0.9


def test_rgba_canvas_with_transparent_background():
    rgba = np.zeros((280, 280, 4), np.uint8)
    rgba[60:220, 130:150] = (255, 255, 255, 255)  # a white '1' on a transparent canvas
    out = prepare_image(rgba)
    ref = np.zeros((280, 280), np.uint8)
    ref[60:220, 130:150] = 255
    np.testing.assert_allclose(out, prepare_image(ref), atol=1e-5)
    black_ink = rgba.copy()
    black_ink[..., :3] = 0  # black ink, transparent elsewhere
    np.testing.assert_allclose(prepare_image(black_ink), out, atol=1e-5)


def test_blank_images_give_zeros():
    assert not prepare_image(np.full((50, 50), 255, np.uint8)).any()
    assert not prepare_image(np.zeros((28, 28), np.float32)).any()


def test_bad_files_and_arrays_raise_one_line_errors(tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(DigitlabError, match="not a readable image") as e:
        load_image(bad)
    assert "\n" not in str(e.value)
    with pytest.raises(DigitlabError, match="not found"):
        load_image(tmp_path / "missing.png")
    with pytest.raises(DigitlabError, match="2-D"):
        prepare_image(np.zeros((2, 3, 4, 5)))
    with pytest.raises(DigitlabError, match="NaN"):
        prepare_image(np.full((10, 10), np.nan, np.float32))


def test_phone_photo_with_uneven_light_is_read_like_a_clean_drawing():
    """Dark pen on paper lit from one side, noisy, blurred, JPEG: only the ink survives."""
    import io

    from PIL import ImageFilter

    from digitlab.data import drawings

    ink = drawings.draw_digit(4, rng=np.random.default_rng(0)).astype(np.float32) / 255
    big = np.asarray(Image.fromarray((ink * 255).astype(np.uint8)).resize((700, 700)), np.float32) / 255
    yy, xx = np.mgrid[0:900, 0:1200]
    paper = 0.55 + 0.3 * xx / 1200 + 0.1 * yy / 900  # darker on the left
    paper[100:800, 300:1000] *= 1 - 0.75 * big
    paper += np.random.default_rng(1).normal(0, 0.03, paper.shape)
    photo = (
        Image.fromarray((np.clip(paper, 0, 1) * 255).astype(np.uint8))
        .convert("RGB")
        .filter(ImageFilter.GaussianBlur(2))
    )
    buf = io.BytesIO()
    photo.save(buf, "JPEG", quality=80)
    from digitlab.data.preprocess import load_image

    got = prepare_image(load_image(buf.getvalue()))
    want = prepare_image(ink)
    assert np.corrcoef(got.ravel(), want.ravel())[0, 1] > 0.9
    assert got[:, :3].max() < 0.05  # no shading turned into "ink" at the edge


def test_load_image_takes_bytes_and_explains_bad_ones():
    import io

    from digitlab.core.errors import DigitlabError
    from digitlab.data.preprocess import load_image

    buf = io.BytesIO()
    Image.new("L", (40, 30), 255).save(buf, "PNG")
    assert load_image(buf.getvalue()).size == (40, 30)
    with pytest.raises(DigitlabError, match="upload.png: not a readable image"):
        load_image(b"not an image", name="upload.png")
