"""The corrections store: examples kept in SQLite, safe with several writers and across a kill -9."""

from __future__ import annotations

import multiprocessing
import signal
import sqlite3
import subprocess
import sys

import numpy as np
import pytest

from digitlab.core.errors import DigitlabError
from digitlab.data.mine import SCHEMA_VERSION, Store

PNG = b"\x89PNG\r\n\x1a\nnot really"  # the store keeps bytes as given


def _seven() -> np.ndarray:
    x = np.zeros((28, 28), np.float32)
    x[6:22, 12:16] = 1.0
    return x


def test_examples_are_saved_counted_listed_and_removed(tmp_path):
    store = Store(tmp_path / "mine.sqlite")
    assert store.counts() == dict.fromkeys(range(10), 0) and store.examples() == []  # no file yet: empty
    a = store.add(PNG, _seven(), 7, "cli", answer=1, confidence=0.6, model_sha256="abc")
    b = store.add(PNG, _seven(), "7", "api")
    c = store.add(PNG, (_seven() * 255).astype(np.uint8), 1, "page")
    assert store.counts()[7] == 2 and store.counts()[1] == 1 and len({a, b, c}) == 3
    e = store.examples(7)[0]
    assert (e.label, e.answer, e.confidence, e.model_sha256, e.source, e.image_png) == (7, 1, 0.6, "abc", "cli", PNG)
    assert e.prepared.dtype == np.uint8 and e.prepared.max() == 255 and e.prepared[0, 0] == 0
    x, y = store.arrays()
    assert x.shape == (3, 28, 28) and list(y) == [7, 7, 1]
    store.remove(a)
    with pytest.raises(DigitlabError, match=f"no example {a} in"):
        store.remove(a)
    assert store.clear() == 2 and store.counts()[7] == 0
    with sqlite3.connect(store.path) as con:
        assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.parametrize(
    "label, source, prepared, words",
    [
        (12, "cli", _seven(), "label must be a digit 0-9, got 12"),
        ("3.5", "cli", _seven(), "label must be a digit 0-9"),
        ("seven", "cli", _seven(), "label must be a digit 0-9"),
        (True, "cli", _seven(), "label must be a digit 0-9"),
        (3, "email", _seven(), "source must be one of app, page, api, cli"),
        (3, "cli", np.zeros((20, 20)), "28x28"),
    ],
)
def test_bad_examples_are_refused_in_one_line_and_nothing_is_written(tmp_path, label, source, prepared, words):
    store = Store(tmp_path / "mine.sqlite")
    with pytest.raises(DigitlabError, match=words):
        store.add(PNG, prepared, label, source)
    assert sum(store.counts().values()) == 0


def test_a_file_that_is_not_a_store_or_is_from_a_newer_digitlab_is_refused(tmp_path):
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is no database" * 100)
    with pytest.raises(DigitlabError, match="not a readable corrections store"):
        Store(junk).counts()
    assert junk.read_bytes() == b"this is no database" * 100  # left as it was
    newer = tmp_path / "newer.sqlite"
    with sqlite3.connect(newer) as con:
        con.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    with pytest.raises(DigitlabError, match="upgrade"):
        Store(newer).add(PNG, _seven(), 1, "cli")


def test_a_store_where_none_can_be_made_is_refused_in_one_line(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(DigitlabError, match="cannot create"):
        Store(blocker / "mine.sqlite").add(PNG, _seven(), 1, "cli")
    assert blocker.read_text() == "not a folder"


def _writer(path: str, label: int, n: int) -> None:
    store = Store(path)
    for _ in range(n):
        store.add(PNG, _seven(), label, "api")


def test_several_processes_writing_at_once_keep_every_example(tmp_path):
    path = str(tmp_path / "mine.sqlite")
    ctx = multiprocessing.get_context("spawn")  # fresh interpreters, as separate serve workers are
    procs = [ctx.Process(target=_writer, args=(path, d, 25)) for d in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0] * 4
    counts = Store(path).counts()
    assert [counts[d] for d in range(4)] == [25] * 4
    assert len({e.id for e in Store(path).examples()}) == 100


KILLED_WRITER = """
import sys, numpy as np
from digitlab.data.mine import Store
store = Store(sys.argv[1])
x = np.ones((28, 28), np.float32)
blob = bytes(200_000)  # a large image: each write takes a while, so the kill lands inside one
while True:
    print(store.add(blob, x, 4, "cli"), flush=True)  # printed only once committed
"""


def test_a_writer_killed_mid_write_loses_nothing_already_saved(tmp_path):
    path = tmp_path / "mine.sqlite"
    proc = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(path)], stdout=subprocess.PIPE, text=True)
    saved = [int(proc.stdout.readline()) for _ in range(30)]
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    saved += [int(line) for line in proc.stdout.read().split()]
    with sqlite3.connect(path) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    kept = {e.id for e in Store(path).examples()}
    assert set(saved) <= kept and len(kept) - len(saved) <= 1  # at most the one being written when killed


def test_the_store_is_a_data_source(tmp_path, monkeypatch):
    from digitlab.data import load_source

    path = tmp_path / "mine.sqlite"
    with pytest.raises(DigitlabError, match="no corrections store at"):
        load_source(f"mine:{path}")
    Store(path).add(PNG, _seven(), 7, "app")
    Store(path).add(PNG, _seven(), 1, "page")
    src = load_source(f"mine:{path}")
    assert src.x.shape == (2, 28, 28) and src.x.dtype == np.uint8 and list(src.y) == [7, 1]
    monkeypatch.setenv("DIGITLAB_MINE", str(path))
    assert list(load_source("mine").y) == [7, 1]  # plain `mine`: the default store
