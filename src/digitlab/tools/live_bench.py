"""``digitlab bench``'s live parts: ``POST /api/predict`` under load against ``digitlab serve`` in
another process, and mouse-up to updated prediction on the live page in headless Chromium."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import aiohttp
import numpy as np

from digitlab.core.errors import DigitlabError
from digitlab.data import drawings

from . import browser


def percentiles(seconds: list[float]) -> dict:
    ms = 1000 * np.asarray(seconds)
    return {"p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99))}


def serve_process(model, port: int, workers: int, store=None) -> subprocess.Popen:
    """``digitlab serve`` in its own process group, returned once every worker answers ``/healthz``
    (a worker still loading its model would otherwise take CPU from the measurement); ``store``:
    where its corrections go (else the user's own store)."""
    cmd = [sys.executable, "-m", "digitlab", "serve", "--port", str(port), "--workers", str(workers)]
    cmd += ["--store", str(store)] if store else []
    proc = subprocess.Popen(
        cmd + (["--model", str(model)] if model else []),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline, pids = time.time() + 90, set()
    while len(pids) < workers:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                pids.add(json.loads(r.read())["pid"])
        except OSError:
            time.sleep(0.2)
        if proc.poll() is not None or time.time() > deadline:
            stop(proc)
            raise DigitlabError(f"digitlab serve did not start: {proc.stderr.read()[-300:]}")
    return proc


def stop(proc: subprocess.Popen) -> None:
    """Stop a server started by :func:`serve_process`, its worker processes included."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


async def load_test(url: str, clients: int, seconds: float, max_requests: int, body: dict) -> dict:
    """``clients`` concurrent keep-alive clients posting ``body`` until ``seconds`` or ``max_requests``.

    aiohttp, not httpx: on 2 cores httpx's client alone tops out near 360 requests/s
    (measured against ``/healthz``), aiohttp's near 2,700, so the numbers are the server's.
    """
    latencies, failures, count = [], [], 0
    payload = json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}

    async def post(http) -> str | None:
        try:
            async with http.post(url, data=payload, headers=headers) as r:
                answer = await r.json()
                return None if r.status == 200 and "digit" in answer else f"{r.status}: {answer}"
        except (TimeoutError, aiohttp.ClientError, ValueError) as e:
            return f"{type(e).__name__}: {e}"

    async def client(http, deadline):
        nonlocal count
        while time.perf_counter() < deadline and count < max_requests:
            count += 1
            t0 = time.perf_counter()
            error = await post(http)
            (failures.append(error) if error else latencies.append(time.perf_counter() - t0))

    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=10)) as http:
        for _ in range(20):  # warm-up: connections open, caches filled
            await post(http)
        t0 = time.perf_counter()
        await asyncio.gather(*(client(http, t0 + seconds) for _ in range(clients)))
        wall = time.perf_counter() - t0
    return {
        "clients": clients,
        "requests": len(latencies) + len(failures),
        "failed": len(failures),
        "first_failures": failures[:3],
        "requests_per_s": len(latencies) / wall,
        "seconds": wall,
        **percentiles(latencies or [0.0]),
    }


def api_part(model, clients: int, seconds: float, workers: int = 1) -> dict:
    port = browser.free_port()
    proc = serve_process(model, port, workers)
    try:
        digit = (np.random.default_rng(0).random((28, 28)) > 0.8).astype(int) * 255
        return {
            "workers": workers,
            **asyncio.run(
                load_test(f"http://127.0.0.1:{port}/api/predict", clients, seconds, 100_000, {"pixels": digit.tolist()})
            ),
        }
    finally:
        stop(proc)


def draw_on_page(page, strokes) -> tuple[float, str]:
    """Clear the ``digitlab serve`` page, draw ``strokes`` with the mouse; return the seconds from the
    last mouse-up to the prediction it caused, and the ``data-digit`` then shown."""
    page.click("#clear")
    browser.wait_for_prediction(page, "p.dataset.state === 'empty'")
    for s in strokes[:-1]:
        browser.mouse_stroke(page, s, "#pad")
    page.wait_for_timeout(300)  # earlier strokes' answers land first: the clock times the last one
    shown = page.evaluate("() => shown")
    t0 = browser.mouse_stroke(page, strokes[-1], "#pad")
    page.wait_for_function(f"() => shown > {shown} && !inFlight", polling="raf")
    return time.perf_counter() - t0, page.get_attribute("#prediction", "data-digit")


def page_part(model, drawings_n: int) -> dict:
    why = browser.unavailable()
    if why:
        return {"skipped": why}
    port = browser.free_port()
    proc = serve_process(model, port, 1)
    times, right = [], 0
    try:
        with browser.chromium() as ctx:
            page = ctx.new_page()
            page.goto(f"http://127.0.0.1:{port}/")
            rng = np.random.default_rng(0)
            for i in range(drawings_n):
                seconds, shown = draw_on_page(page, drawings.digit_strokes(i % 10, "centred", rng)[0])
                times.append(seconds)
                right += shown == str(i % 10)
    finally:
        stop(proc)
    return {"drawings": drawings_n, "read_right": right, **percentiles(times)}
