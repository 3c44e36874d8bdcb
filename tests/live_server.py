"""A real `aicc server` for the tests that drive it from outside (the CLI, a browser)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


@contextmanager
def aicc_server(aicc: str, env: dict[str, str], url: str, port: int, log_path: Path, *args: str,
                ready_within_s: float = 30, stop_within_s: float = 10) -> Iterator[subprocess.Popen[bytes]]:
    """Start it (``args``: more options, e.g. ``--processes 2``), wait until /readyz answers (or fail with its
    log), stop it afterwards."""
    with log_path.open("w") as log:
        server = subprocess.Popen([aicc, "server", "--port", str(port), *args], env=env, stdout=log,
                                  stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + ready_within_s
            while True:
                try:
                    if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("aicc server did not start: " + log_path.read_text())
                time.sleep(0.1)
            yield server
        finally:
            server.terminate()
            server.wait(stop_within_s)
