"""How ``digitlab app`` starts Streamlit: settings that keep it local and private."""

from __future__ import annotations

import sys
from pathlib import Path

MAX_UPLOAD_MB = 10


def streamlit_command(model: Path, host: str, port: int, store: Path | None = None) -> list[str]:
    """The command that runs the app; ``store`` None switches saving corrections off."""
    app = Path(__file__).with_name("app.py")
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app),
        "--server.address",
        host,
        "--server.port",
        str(port),
        "--server.headless",
        "true",  # no browser launch, no e-mail prompt
        "--browser.gatherUsageStats",
        "false",  # no calls home
        "--server.fileWatcherType",
        "none",
        "--server.maxUploadSize",
        str(MAX_UPLOAD_MB),
        "--client.toolbarMode",
        "minimal",
        "--theme.base",
        "dark",
        "--",
        "--model",
        str(model.resolve()),
        "--store",
        str(store.resolve()) if store is not None else "",
    ]
