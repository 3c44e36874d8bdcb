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

    from aicc.cli.wire import Connection

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


def _explain(resp: httpx.Response | _Response) -> NoReturn:
    """A 4xx or 5xx as one line, and the exit status scripts can tell apart."""
    try:
        body = resp.json()
        detail = body.get("detail") or body.get("title") or resp.reason_phrase
    except ValueError:
        detail = resp.text[:200] or resp.reason_phrase
    if resp.status_code == 401:
        detail = f"{detail} (run `aicc login`)"
    raise CliError(f"error {resp.status_code}: {detail}", Exit.REFUSED if resp.status_code < 500 else Exit.SERVER)


class _Response:
    """What :func:`_explain` and the callers read of an answer (the names httpx gives them)."""

    def __init__(self, status: int, reason: str, content_type: str, content: bytes) -> None:
        self.status_code, self.reason_phrase, self.content_type, self.content = status, reason, content_type, content

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)


def _query(params: dict[str, Any] | None) -> str:
    """As httpx encodes them: lists as repeated keys, booleans as true/false, None left out."""
    if not params:
        return ""
    from urllib.parse import urlencode

    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        for v in value if isinstance(value, list | tuple) else [value]:
            if v is not None:
                pairs.append((key, ("true" if v else "false") if isinstance(v, bool) else str(v)))
    return "?" + urlencode(pairs) if pairs else ""


class Client:
    """JSON over HTTP to the center's API.

    The plain calls (``get``/``post``/…: every command on the hot path) go over one kept-alive connection of
    :mod:`aicc.cli.wire`: importing httpx cost ``aicc submit`` and ``aicc jobs`` more than the rest of their
    start-up (issue 25). ``http`` (an httpx client) is still there, made on first use,
    for the few commands that stream files.
    """

    def __init__(self, url: str | None = None, token: str | None = None, timeout: float = 30.0) -> None:
        saved_url, saved_token = load_credentials()
        self.url = (url or saved_url).rstrip("/")
        token = token or saved_token
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.timeout = timeout
        self._conn: Connection | None = None
        self._used = False
        self._http: httpx.Client | None = None

    @property
    def http(self) -> httpx.Client:
        if self._http is None:
            import httpx

            self._http = httpx.Client(base_url=self.url, headers=self.headers, timeout=self.timeout)
        return self._http

    @property
    def _httpx(self) -> Any:
        import httpx

        return httpx

    def _connection(self) -> Connection:
        if self._conn is None:
            from urllib.parse import urlsplit

            from aicc.cli.wire import Plain, Secure

            parts = urlsplit(self.url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise CliError(f"{self.url}: not an http(s) address (AICC_URL or `aicc login --url`)")
            self._prefix = parts.path.rstrip("/")
            if parts.scheme == "https":
                self._conn = Secure(parts.hostname, parts.port, self.timeout)
            else:
                self._conn = Plain(parts.hostname, parts.port or 80, self.timeout)
            self._used = False
        return self._conn

    def _send(self, method: str, path: str, params: dict[str, Any] | None, body: Any) -> _Response:
        from aicc.cli.wire import Disconnected

        data = None if body is None else json.dumps(body).encode()
        headers = {**self.headers, "Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        for attempt in (0, 1):
            conn = self._connection()
            reused = self._used
            try:
                answer = conn.exchange(method, self._prefix + "/api/v1" + path + _query(params), data, headers)
            except (Disconnected, BrokenPipeError, ConnectionResetError) as exc:
                conn.close()
                self._conn = None
                if reused and attempt == 0:
                    continue  # the server closed the kept-alive connection while we were idle: once more
                raise CliError(f"cannot reach AICC at {self.url}: {exc}", Exit.UNREACHABLE) from exc
            except OSError as exc:
                conn.close()
                self._conn = None
                raise CliError(f"cannot reach AICC at {self.url}: {exc}", Exit.UNREACHABLE) from exc
            self._used = True
            if answer.will_close:
                self._conn = None
            return _Response(answer.status, answer.reason, answer.headers.get("content-type", ""), answer.content)
        raise AssertionError("unreachable")  # pragma: no cover

    def request(self, method: str, path: str, *, params: dict[str, Any] | None = None, json: Any = None,
                **other: Any) -> Any:
        """``other`` (``files=`` for a multipart upload) goes through httpx, which knows how to send it."""
        resp: httpx.Response | _Response
        if other:
            try:
                resp = self.http.request(method, "/api/v1" + path, params=params, json=json, **other)
            except self._httpx.HTTPError as exc:
                raise CliError(f"cannot reach AICC at {self.url}: {exc}", Exit.UNREACHABLE) from exc
            content_type = resp.headers.get("content-type", "")
        else:
            resp = self._send(method, path, params, json)
            content_type = resp.content_type
        if resp.status_code >= 400:
            _explain(resp)
        if resp.status_code == 204 or not resp.content:
            return None
        if content_type.startswith("application/json"):
            return resp.json()
        return resp.text

    def download(self, path: str) -> bytes:
        """Raw bytes of a file endpoint (an output released by a data custodian)."""
        resp = self._send("GET", path, None, None)
        if resp.status_code >= 400:
            _explain(resp)
        return resp.content

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
