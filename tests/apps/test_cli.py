import hashlib
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import form_photo, run_cli
from digitlab.data.numbers import draw_number


def test_models_lists_presets_with_parameter_counts():
    res = run_cli("models")
    assert res.returncode == 0
    lines = {ln.split()[0]: ln for ln in res.stdout.splitlines()[1:]}
    assert "934,064" in lines["seed1"] and "930,940" in lines["seed1"] and "2,1" in lines["seed2"]
    assert "242,746" in lines["fast"]  # the fast preset's network, not the registry's defaults


def test_help_shows_no_empty_defaults():
    res = run_cli("train", "--help")
    assert "(default: None)" not in res.stdout and "--config FILE" in res.stdout


def test_the_command_line_starts_without_the_slow_libraries():
    # sklearn, pyplot, scipy.optimize and albumentations load when a command needs them: together they
    # took about 2 s of every command's start, `digitlab --help` and argument errors included
    heavy = ("sklearn", "matplotlib.pyplot", "scipy.optimize", "albumentations")
    code = f"import sys, digitlab.apps.cli.main; print([m for m in {heavy!r} if m in sys.modules])"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and res.stdout.strip() == "[]", res.stdout + res.stderr[-2000:]


def test_help_states_defaults():
    res = run_cli("train", "--help")
    assert res.returncode == 0 and "--resume" in res.stdout and "--dry-run" in res.stdout and "default" in res.stdout


def test_data_info_json(synthetic_npz):
    res = run_cli("data", "info", "--data", f"npz:{synthetic_npz}", "--json")
    assert res.returncode == 0, res.stderr
    info = json.loads(res.stdout)
    assert sum(info["per_class"]["train"]) + sum(info["per_class"]["val"]) == 800
    assert info["per_class"]["test"][1] == 1135 and info["sources"][0]["sha256"]


def test_predict_says_a_letter_is_not_a_digit(tmp_path):
    from digitlab.data.drawings import BRUSH, render
    from digitlab.data.nondigits import letter_strokes

    letter = tmp_path / "letter.png"
    Image.fromarray(255 - render(letter_strokes("W", np.random.default_rng(0)), BRUSH)).save(letter)
    res = run_cli("predict", letter)
    assert (
        res.returncode == 0
        and res.stdout.strip()
        == f"{letter}: not a digit  (That doesn't look like a digit: the not-a-digit gate's call)"
    )
    answer = json.loads(run_cli("predict", "--json", letter).stdout)
    assert (
        answer["reason"] == "not a digit"
        and not answer["sure"]
        and answer["message"] == "That doesn't look like a digit"
    )


def test_predict_json_reads_big_black_on_white_pngs(mnist_run, tmp_path):
    from digitlab.data import load_mnist

    x, y = load_mnist("test")
    files = []
    for i in range(10):
        big = Image.fromarray(255 - x[i]).resize((300, 300), Image.Resampling.BICUBIC)
        big.save(tmp_path / f"digit{i}.png")
        files.append(tmp_path / f"digit{i}.png")
    res = run_cli("predict", "--model", mnist_run, "--json", *files)
    assert res.returncode == 0, res.stderr
    answers = [json.loads(line) for line in res.stdout.splitlines()]
    assert len(answers) == 10
    from digitlab.inference import Predictor

    threshold = Predictor.load(mnist_run).threshold
    for a in answers:
        assert set(a) >= {"file", "digit", "confidence", "probabilities", "sure"}
        assert a["sure"] == (a["confidence"] >= threshold and a["reason"] != "not a digit")
        assert len(a["probabilities"]) == 10 and sum(a["probabilities"]) == pytest.approx(1, abs=1e-4)
        assert a["digit"] == int(np.argmax(a["probabilities"])) and a["confidence"] == max(a["probabilities"])
    assert sum(a["digit"] == t for a, t in zip(answers, y[:10])) >= 9


def _csv(path, header, rows):
    path.write_text(",".join(header) + "\n" + "".join(",".join(map(str, r)) + "\n" for r in rows))
    return path


@pytest.fixture
def bad_files(tmp_path):
    pix = [f"pixel{i}" for i in range(784)]
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\ngarbage")
    return {
        "broken": broken,
        "columns": _csv(tmp_path / "cols.csv", ["label", "pixel0", "pixel1"], [[1, 0, 0]]),
        "label": _csv(tmp_path / "label.csv", ["label", *pix], [[11] + [0] * 784]),
        "empty": _csv(tmp_path / "empty.csv", ["label", *pix], []),
    }


@pytest.mark.parametrize(
    "case, args, expect",
    [
        ("corrupt image", ["predict", "--model", "{run}", "{broken}"], "not a readable image"),
        ("csv columns", ["train", "--dry-run", "--data", "csv:{columns}"], "expected 785"),
        ("label range", ["train", "--dry-run", "--data", "csv:{label}"], "outside 0-9"),
        ("empty dataset", ["train", "--dry-run", "--data", "csv:{empty}"], "empty"),
        ("unknown preset", ["train", "--preset", "seed7"], "unknown preset 'seed7'"),
        ("unknown key", ["train", "--set", "train.speed=9"], "unknown config key 'train.speed'"),
        ("missing model", ["predict", "--model", "{tmp}/nope.pt", "{broken}"], "model file not found"),
        ("unknown source", ["data", "info", "--data", "mystery:x"], "unknown data source"),
        ("bad flag", ["evaluate", "--bogus"], "unrecognized arguments"),
    ],
)
def test_bad_input_gives_one_line_and_status_2(case, args, expect, bad_files, mnist_run, tmp_path):
    subs = {"run": mnist_run, "tmp": tmp_path, **bad_files}
    res = run_cli(*[a.format(**subs) for a in args])
    assert res.returncode == 2, (case, res.stderr)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and expect in lines[0] and "Traceback" not in res.stderr, (case, res.stderr)


def test_training_into_an_existing_run_is_refused_and_leaves_it_intact(mnist_run):
    digest = hashlib.sha256((mnist_run / "best.pt").read_bytes()).hexdigest()
    res = run_cli("train", "--limit", "100", "--epochs", "1", "--out", mnist_run)
    assert res.returncode == 2 and "already holds a run" in res.stderr
    assert hashlib.sha256((mnist_run / "best.pt").read_bytes()).hexdigest() == digest


def test_predict_a_kaggle_test_csv_into_a_submission(mnist_run, tmp_path):
    from digitlab.data import load_mnist

    x, y = load_mnist("test")
    header = ",".join(f"pixel{i}" for i in range(784))
    rows = "".join(",".join(map(str, img.ravel())) + "\n" for img in x[:50])
    (tmp_path / "test.csv").write_text(header + "\n" + rows)
    out = tmp_path / "submission.csv"
    res = run_cli("predict", "--model", mnist_run, "--data", f"csv:{tmp_path / 'test.csv'}", "--out", out)
    assert res.returncode == 0, res.stderr
    lines = out.read_text().splitlines()
    assert lines[0] == "ImageId,Label" and len(lines) == 51 and lines[1].startswith("1,")
    predicted = np.array([int(line.split(",")[1]) for line in lines[1:]])
    assert (predicted == y[:50]).mean() > 0.9
    res = run_cli("predict", "--model", mnist_run)
    assert res.returncode == 2 and "give image files or --data" in res.stderr


def test_predict_number_reads_each_file_and_json_has_the_boxes(tmp_path):
    form, blank = tmp_path / "form.png", tmp_path / "blank.png"
    Image.fromarray(draw_number("90210", "form", np.random.default_rng(4))).save(form)
    Image.fromarray(np.zeros((50, 200), np.uint8)).save(blank)
    res = run_cli("predict", "--number", form, blank)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.splitlines() == [f"{form}: 90210", f"{blank}: (no ink found: blank image)"]
    res = run_cli("predict", "--number", "--json", form)
    answer = json.loads(res.stdout)
    assert answer["text"] == "90210" and answer["sure"] and answer["file"] == str(form)
    keys = ["char", "kind", "digit", "confidence", "sure", "reason", "box"]
    assert [list(d) for d in answer["digits"]] == [keys] * 5 and {d["kind"] for d in answer["digits"]} == {"digit"}
    res = run_cli("predict", "--number", "--data", "csv:x.csv")
    assert res.returncode == 2 and "--number reads image files" in res.stderr and "Traceback" not in res.stderr


def test_predict_number_reads_a_photo_and_refuses_noise_and_long_lines_in_one_line(tmp_path):
    photo, long, noise = tmp_path / "photo.png", tmp_path / "long.png", tmp_path / "noise.png"
    Image.fromarray(form_photo()).save(photo)
    Image.fromarray(draw_number("1234567890" * 4, "wide gaps", np.random.default_rng(0))).save(long)
    Image.fromarray(((np.random.default_rng(0).random((120, 600)) < 0.08) * 255).astype(np.uint8)).save(noise)
    res = run_cli("predict", "--number", photo)
    assert res.returncode == 0 and res.stdout.strip() == f"{photo}: 2026", res.stderr[-2000:]
    for path, words in ((long, "at most 32 digits"), (noise, "too many for a number")):
        res = run_cli("predict", "--number", photo, path)
        assert res.returncode == 2 and words in res.stderr and "Traceback" not in res.stderr
        assert res.stderr.strip().startswith(f"digitlab: error: {path}: ") and "\n" not in res.stderr.strip()
