"""Driving a drawing page in headless Chromium, for the browser tests and ``digitlab bench``.

Debian's ``chromium`` (``/usr/bin/chromium``, or ``$DIGITLAB_CHROMIUM``) through
Playwright's ``executable_path``: Playwright's own browser download does not
work offline. Strokes are lists of (x, y) canvas pixels, as
:mod:`digitlab.data.drawings` makes them; mouse, touch and pen all end up as the
pointer events a person's input would.
"""

from __future__ import annotations

import contextlib
import os
import socket
import tempfile
import time
from pathlib import Path

import numpy as np

CHROMIUM = os.environ.get("DIGITLAB_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def unavailable() -> str | None:
    """Why a browser cannot be driven here, or None when it can."""
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium)"
    try:
        import playwright  # noqa: F401  (a dev extra: checked here, not imported at the top)
    except ImportError:
        return "playwright is not installed: pip install -e '.[dev]'"
    return None


@contextlib.contextmanager
def chromium(profile_dir: str | os.PathLike | None = None):
    """A persistent headless Chromium context with a fresh profile, touch enabled."""
    from playwright.sync_api import sync_playwright  # a dev extra, only for tests and bench

    with contextlib.ExitStack() as stack:
        profile = profile_dir or stack.enter_context(tempfile.TemporaryDirectory(prefix="digitlab-chromium-"))
        p = stack.enter_context(sync_playwright())
        ctx = p.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            args=FLAGS,
            headless=True,
            viewport={"width": 1200, "height": 900},
            has_touch=True,
        )
        stack.callback(ctx.close)
        yield ctx


def canvas_origin(page, selector: str) -> tuple[float, float]:
    box = page.locator(selector).bounding_box()
    return box["x"], box["y"]


def dense(points, step: float = 6.0) -> list[tuple[float, float]]:
    """Points at most ``step`` pixels apart, as a real pointer reports them."""
    out = [tuple(points[0])]
    for a, b in zip(points[:-1], points[1:]):
        n = max(1, int(np.ceil(np.hypot(*(np.subtract(b, a))) / step)))
        out += [tuple(np.add(a, np.subtract(b, a) * t / n)) for t in range(1, n + 1)]
    return out


def mouse_stroke(page, stroke, selector: str) -> float:
    """Draw one stroke with the mouse; returns the perf_counter time of the mouse-up."""
    x0, y0 = canvas_origin(page, selector)
    page.mouse.move(x0 + stroke[0][0], y0 + stroke[0][1])
    page.mouse.down()
    for x, y in stroke[1:]:
        page.mouse.move(x0 + x, y0 + y, steps=2)
    t_up = time.perf_counter()
    page.mouse.up()
    return t_up


def touch_stroke(page, stroke, selector: str) -> None:
    """A finger: CDP touch events, which Chromium turns into pointer events."""
    cdp = page.context.new_cdp_session(page)
    x0, y0 = canvas_origin(page, selector)
    pts = [(x0 + x, y0 + y) for x, y in dense(stroke)]
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": pts[0][0], "y": pts[0][1]}]})
    for x, y in pts[1:]:
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y}]})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    cdp.detach()


def pen_stroke(page, stroke, selector: str) -> None:
    """A stylus: CDP mouse events with pointerType "pen"."""
    cdp = page.context.new_cdp_session(page)
    x0, y0 = canvas_origin(page, selector)
    pts = [(x0 + x, y0 + y) for x, y in dense(stroke)]
    common = {"button": "left", "pointerType": "pen"}
    cdp.send(
        "Input.dispatchMouseEvent",
        {"type": "mousePressed", "x": pts[0][0], "y": pts[0][1], "clickCount": 1, "buttons": 1, "force": 0.5, **common},
    )
    for x, y in pts[1:]:
        cdp.send(
            "Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x, "y": y, "buttons": 1, "force": 0.5, **common}
        )
    cdp.send(
        "Input.dispatchMouseEvent",
        {"type": "mouseReleased", "x": pts[-1][0], "y": pts[-1][1], "clickCount": 1, "buttons": 0, **common},
    )
    cdp.detach()


def wait_for_prediction(page, condition: str, timeout: float = 20_000) -> None:
    """Wait until a JS ``condition`` on ``p``, the ``#prediction`` element, holds."""
    page.wait_for_function(
        f"() => {{ const p = document.querySelector('#prediction'); return p && ({condition}); }}",
        timeout=timeout,
        polling="raf",
    )
