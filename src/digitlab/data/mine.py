"""The corrections store: your own labelled digits, in one local SQLite file.

Every example keeps the image as it came (PNG bytes), the 28x28 image the model saw, the
label, what the model answered and how sure it was, that model's sha256, the time and where
it came from (``app``, ``page``, ``api`` or ``cli``). The file lives under the data directory
(``mine.sqlite``; ``$DIGITLAB_MINE`` or an explicit path overrides it).

Why SQLite and these settings: several ``serve`` workers may write at once (WAL mode lets
readers and one writer proceed together; a busy timeout makes writers queue rather than
fail), and each example is one transaction with ``synchronous=FULL``, so a crash or a
``kill -9`` mid-write loses at most the example being written, never one already saved.
The schema is versioned in ``PRAGMA user_version``; a newer file than this code knows is refused.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from digitlab.core.errors import DigitlabError

from .mnist import data_dir

ENV_MINE = "DIGITLAB_MINE"
FILE_NAME = "mine.sqlite"
SCHEMA_VERSION = 1
SOURCES = ("app", "page", "api", "cli")
BUSY_TIMEOUT_S = 30.0

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS examples (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created REAL NOT NULL,
    label INTEGER NOT NULL CHECK (label BETWEEN 0 AND 9),
    image_png BLOB NOT NULL,
    prepared BLOB NOT NULL CHECK (length(prepared) = 784),
    answer INTEGER CHECK (answer IS NULL OR answer BETWEEN 0 AND 9),
    confidence REAL,
    model_sha256 TEXT,
    source TEXT NOT NULL CHECK (source IN ({", ".join(repr(s) for s in SOURCES)}))
);
CREATE INDEX IF NOT EXISTS examples_label ON examples (label);
"""


def default_path(data_dir_override=None) -> Path:
    """``$DIGITLAB_MINE``, else ``mine.sqlite`` in the data directory."""
    if os.environ.get(ENV_MINE):
        return Path(os.environ[ENV_MINE]).expanduser()
    return data_dir(data_dir_override) / FILE_NAME


@dataclass(frozen=True)
class Example:
    id: int
    created: float
    label: int
    image_png: bytes
    prepared: np.ndarray  # uint8 (28, 28)
    answer: int | None
    confidence: float | None
    model_sha256: str | None
    source: str


_INSERT = (
    "INSERT INTO examples (created, label, image_png, prepared, answer, confidence, model_sha256, source)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)


def _row(image_png, prepared, label, source, answer=None, confidence=None, model_sha256=None) -> tuple:
    """One example checked and laid out as a row of ``examples``."""
    label = check_label(label)
    if source not in SOURCES:
        raise DigitlabError(f"source must be one of {', '.join(SOURCES)}, got {source!r}")
    x = np.asarray(prepared)
    if x.shape != (28, 28):
        raise DigitlabError(f"a prepared example is 28x28, got {x.shape}")
    if x.dtype != np.uint8:
        x = np.round(np.clip(x, 0.0, 1.0) * 255).astype(np.uint8)
    return (time.time(), label, bytes(image_png), x.tobytes(), answer, confidence, model_sha256, source)


def check_label(label) -> int:
    """A digit label 0-9 as an int, or a one-line error saying what is wrong."""
    try:
        value = int(label)
    except (TypeError, ValueError):
        raise DigitlabError(f"label must be a digit 0-9, got {label!r}") from None
    if str(label).strip() not in {str(value), f"{value}.0"} or not 0 <= value <= 9:
        raise DigitlabError(f"label must be a digit 0-9, got {label!r}")
    return value


class Store:
    """One corrections file. Open it with ``Store(path)`` (created when first written)."""

    def __init__(self, path: str | os.PathLike | None = None):
        self.path = Path(path) if path is not None else default_path()

    @contextmanager
    def _open(self, create: bool) -> Iterator[sqlite3.Connection]:
        """A connection for one piece of work; SQLite's own failures (a lock held past the busy
        timeout, a read-only or full disk) become one-line errors."""
        with closing(self._connect(create)) as con:
            try:
                yield con
            except sqlite3.Error as e:
                raise DigitlabError(f"{self.path}: the corrections store could not be used ({e})") from None

    def _connect(self, create: bool) -> sqlite3.Connection:
        if not create and not self.path.is_file():
            raise DigitlabError(f"no corrections store at {self.path}; save an example first (digitlab mine add)")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise DigitlabError(f"cannot create {self.path.parent} for the corrections store ({e.strerror})") from None
        try:
            con = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=FULL")
            version = con.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                con.close()
                raise DigitlabError(
                    f"{self.path} has schema version {version}; this digitlab knows up to {SCHEMA_VERSION}: upgrade it"
                )
            if version < SCHEMA_VERSION:  # one transaction: concurrent first writers queue, then find it made
                con.executescript(f"BEGIN IMMEDIATE; {_SCHEMA} PRAGMA user_version={SCHEMA_VERSION}; COMMIT;")
        except sqlite3.DatabaseError as e:
            raise DigitlabError(f"{self.path} is not a readable corrections store ({e})") from None
        return con

    def add(
        self,
        image_png: bytes,
        prepared: np.ndarray,
        label,
        source: str,
        answer: int | None = None,
        confidence: float | None = None,
        model_sha256: str | None = None,
    ) -> int:
        """Save one example in one transaction; its id."""
        return self.add_many([(image_png, prepared, label, source, answer, confidence, model_sha256)])[0]

    def add_many(self, examples: list[tuple]) -> list[int]:
        """Save several examples, each given as :meth:`add`'s arguments in order, in one
        transaction (all or none: the digits of one number); their ids."""
        rows = [_row(*e) for e in examples]
        with self._open(create=True) as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                ids = [int(con.execute(_INSERT, row).lastrowid) for row in rows]
            except BaseException:
                if con.in_transaction:  # SQLite may have rolled back already (an I/O error)
                    con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")
            return ids

    def counts(self) -> dict[int, int]:
        """Examples saved per digit, every digit listed (0 where there are none)."""
        if not self.path.is_file():
            return dict.fromkeys(range(10), 0)
        with self._open(create=False) as con:
            rows = con.execute("SELECT label, COUNT(*) FROM examples GROUP BY label").fetchall()
        return {d: dict(rows).get(d, 0) for d in range(10)}

    def examples(self, label: int | None = None) -> list[Example]:
        """Every saved example (or every one of ``label``), oldest first."""
        if not self.path.is_file():
            return []
        query, args = "SELECT * FROM examples", ()
        if label is not None:
            query, args = query + " WHERE label = ?", (check_label(label),)
        with self._open(create=False) as con:
            rows = con.execute(query + " ORDER BY id", args).fetchall()
        return [Example(r[0], r[1], r[2], r[3], np.frombuffer(r[4], np.uint8).reshape(28, 28), *r[5:]) for r in rows]

    def remove(self, example_id: int) -> None:
        """Delete one example, or a one-line error if there is none with that id."""
        with self._open(create=False) as con:
            if con.execute("DELETE FROM examples WHERE id = ?", (int(example_id),)).rowcount == 0:
                raise DigitlabError(f"no example {example_id} in {self.path}; `digitlab mine info` lists what is saved")

    def clear(self) -> int:
        """Delete every example; how many there were."""
        if not self.path.is_file():
            return 0
        with self._open(create=False) as con:
            return con.execute("DELETE FROM examples").rowcount

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """The prepared images (N, 28, 28) uint8 and labels (N,), for training."""
        saved = self.examples()
        if not saved:
            return np.zeros((0, 28, 28), np.uint8), np.zeros(0, np.int64)
        return np.stack([e.prepared for e in saved]), np.array([e.label for e in saved], np.int64)

    def export(self, directory: str | os.PathLike) -> int:
        """Write every example's image as ``DIR/<digit>/<id>.png`` (the ``folder:`` layout); how many.
        An existing file of the same name is left alone."""
        out = Path(directory)
        written = 0
        for e in self.examples():
            path = out / str(e.label) / f"mine-{e.id}.png"
            if path.exists():
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".png.tmp")
            tmp.write_bytes(e.image_png)
            os.replace(tmp, path)
            written += 1
        return written
