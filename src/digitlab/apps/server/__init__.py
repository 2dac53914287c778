"""The REST API and live drawing page (FastAPI); the page is ``static/index.html``."""
