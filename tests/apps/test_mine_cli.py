"""``digitlab mine``: saving, listing, exporting and deleting your own examples from the command line."""

from __future__ import annotations

import numpy as np
from PIL import Image

from digitlab.apps.cli.main import main
from digitlab.data.drawings import draw_digit
from digitlab.data.mine import Store


class Result:
    def __init__(self, returncode: int, out: str, err: str):
        self.returncode, self.stdout, self.stderr = returncode, out, err


def run(capsys, *args) -> Result:
    """``digitlab ARGS`` in this process (the parser, the work and the printing are the same)."""
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return Result(code, out, err)


def test_add_info_export_remove_and_clear(tmp_path, capsys):
    store, seven = tmp_path / "mine.sqlite", tmp_path / "seven.png"
    Image.fromarray(draw_digit(7, "centred", np.random.default_rng(0))).save(seven)
    res = run(capsys, "mine", "--store", store, "add", seven, seven, "--label", "1")
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.splitlines()[0] == f"{seven}: saved as example 1 of 1 (the model read 7)"
    saved = Store(store).examples()
    assert len(saved) == 2 and saved[0].image_png == seven.read_bytes() and saved[0].answer == 7
    res = run(capsys, "mine", "--store", store, "info", "--list")
    assert f"{store}: 2 examples" in res.stdout and "1: 2" in res.stdout and "#2  1  model read 7" in res.stdout
    res = run(capsys, "mine", "--store", store, "export", tmp_path / "out")
    assert res.returncode == 0 and sorted(p.name for p in (tmp_path / "out" / "1").iterdir()) == [
        "mine-1.png",
        "mine-2.png",
    ]
    assert run(capsys, "mine", "--store", store, "remove", "1").returncode == 0 and Store(store).counts()[1] == 1
    res = run(capsys, "mine", "--store", store, "clear")
    assert res.returncode == 2 and "add --yes" in res.stderr and Store(store).counts()[1] == 1  # nothing deleted
    assert "deleted 1 examples" in run(capsys, "mine", "--store", store, "clear", "--yes").stdout


def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys):
    store, blank, junk = tmp_path / "mine.sqlite", tmp_path / "blank.png", tmp_path / "junk.png"
    Image.fromarray(np.zeros((50, 50), np.uint8)).save(blank)
    junk.write_bytes(b"not an image")
    for args, words in (
        (["add", blank, "--label", "12"], "label must be a digit 0-9, got '12'"),
        (["add", blank, "--label", "3"], "no ink found"),
        (["add", junk, "--label", "3"], "not a readable image"),
        (["add", tmp_path / "missing.png", "--label", "3"], "image not found"),
        (["remove", "5"], "no corrections store at"),
    ):
        res = run(capsys, "mine", "--store", store, *args)
        assert res.returncode == 2 and words in res.stderr, (args, res.stderr)
        assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert not store.exists() or sum(Store(store).counts().values()) == 0
