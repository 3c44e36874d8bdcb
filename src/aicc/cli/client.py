"""The CLI's HTTP client: where the center is, which token to send, and how errors read.

Credentials live in ``$AICC_CONFIG_DIR/credentials.json`` (default
``~/.config/aicc``), written with mode 0600; ``AICC_URL`` and ``AICC_TOKEN`` in the
environment override it, which is what scripts and CI use.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    import httpx

DEFAULT_URL = "http://127.0.0.1:8000"


class Exit:
    """``aicc``'s exit statuses, so scripts tell a failed job from a typo from a down server (README)."""

    OK = 0
    JOB_FAILED = 1
    """The job (``job wait``, ``logs -f``) or the check (``audit verify``) did not succeed."""
    USAGE = 2
    """Bad flags or input, found before anything was sent (Click's own code for usage errors)."""
    UNREACHABLE = 3
    """The server could not be reached."""
    REFUSED = 4
    """The server refused the request (a 4xx: not signed in, not allowed, not found, invalid)."""
    SERVER = 5
    """The server failed (a 5xx)."""


class CliError(Exception):
    """Printed as one line on stderr; the process exits with ``code``."""

    def __init__(self, message: str, code: int = Exit.USAGE) -> None:
        super().__init__(message)
        self.code = code


def config_dir() -> Path:
    base = os.environ.get("AICC_CONFIG_DIR") or os.path.join(
        os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config"), "aicc")
    return Path(base)


def credentials_path() -> Path:
    return config_dir() / "credentials.json"


def save_credentials(url: str, token: str) -> Path:
    path = credentials_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"url": url, "token": token}, f)
    os.chmod(tmp, 0o600)
    tmp.replace(path)
    return path


def load_credentials() -> tuple[str, str | None]:
    url, token = DEFAULT_URL, None
    path = credentials_path()
    if path.exists():
        try:
            saved = json.loads(path.read_text())
            url, token = saved.get("url", url), saved.get("token")
        except (OSError, ValueError):
            pass
    return os.environ.get("AICC_URL", url), os.environ.get("AICC_TOKEN", token)


def _explain(resp: httpx.Response) -> NoReturn:
    try:
        body = resp.json()
        detail = body.get("detail") or body.get("title") or resp.reason_phrase
    except ValueError:
        detail = resp.text[:200] or resp.reason_phrase
    if resp.status_code == 401:
        detail = f"{detail} (run `aicc login`)"
    raise CliError(f"error {resp.status_code}: {detail}", Exit.REFUSED if resp.status_code < 500 else Exit.SERVER)


class Client:
    def __init__(self, url: str | None = None, token: str | None = None, timeout: float = 30.0) -> None:
        saved_url, saved_token = load_credentials()
        self.url = (url or saved_url).rstrip("/")
        token = token or saved_token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        import httpx  # here, not at the top: most of `aicc --help`'s start-up time was this import

        self._httpx = httpx
        self.http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            resp = self.http.request(method, "/api/v1" + path, **kwargs)
        except self._httpx.HTTPError as exc:
            raise CliError(f"cannot reach AICC at {self.url}: {exc}", Exit.UNREACHABLE) from exc
        if resp.status_code >= 400:
            _explain(resp)
        if resp.status_code == 204 or not resp.content:
            return None
        if resp.headers.get("content-type", "").startswith("application/json"):
            return resp.json()
        return resp.text

    def download(self, path: str) -> bytes:
        """Raw bytes of a file endpoint (an output released by a data custodian)."""
        try:
            resp = self.http.get("/api/v1" + path)
        except self._httpx.HTTPError as exc:
            raise CliError(f"cannot reach AICC at {self.url}: {exc}", Exit.UNREACHABLE) from exc
        if resp.status_code >= 400:
            _explain(resp)
        return bytes(resp.content)

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params={k: v for k, v in params.items() if v is not None})

    def post(self, path: str, body: Any) -> Any:
        return self.request("POST", path, json=body)

    def patch(self, path: str, body: Any) -> Any:
        return self.request("PATCH", path, json=body)

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)

    def all_pages(self, path: str, **params: Any) -> list[Any]:
        items: list[Any] = []
        cursor = None
        while True:
            page = self.get(path, limit=500, cursor=cursor, **params)
            items.extend(page["items"])
            cursor = page.get("next_cursor")
            if not cursor:
                return items


def fail(message: str, code: int = 1) -> NoReturn:
    print(f"aicc: {message}", file=sys.stderr)
    raise SystemExit(code)
