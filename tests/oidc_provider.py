"""A real OpenID provider for tests: panva's `oidc-provider` on Node (scripts/oidc-provider.mjs), behind a
small reverse proxy of ours that can tamper with the token endpoint's answers.

The proxy is the provider's public address (its issuer), as a TLS-terminating proxy would be; everything
passes through unchanged unless a test sets ``tamper``: then the ID token the real provider issued is
re-signed by another key, or with another audience, an expiry in the past or another issuer (signed by the
provider's own key, so that only the one property differs).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from joserfc import jwt
from joserfc.jwk import RSAKey

ROOT = Path(__file__).resolve().parents[1]
PROVIDER_DIR = os.environ.get("AICC_OIDC_PROVIDER_DIR", "/var/cache/aicc-oidc-provider")
HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding", "host"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rsa_key(kid: str) -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig", "alg": "RS256"}, private=True)


@dataclass
class Op:
    issuer: str
    key: RSAKey
    tamper: str | None = None
    """None, other-key, wrong-aud, expired, other-issuer."""
    token_responses: list[dict[str, Any]] = field(default_factory=list)

    def retoken(self, id_token: str) -> str:
        claims = dict(jwt.decode(id_token, self.key).claims)
        key = self.key
        if self.tamper == "other-key":
            key = rsa_key(self.key.kid or "k1")  # same key id, another key: a forger's token
        elif self.tamper == "wrong-aud":
            claims["aud"] = "another-service"
        elif self.tamper == "expired":
            claims["iat"], claims["exp"] = int(time.time()) - 7200, int(time.time()) - 3600
        elif self.tamper == "other-issuer":
            claims["iss"] = "http://127.0.0.1:9/unknown-idp"
        return jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)


def _proxy(op: Op, upstream: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _forward(self) -> None:
            n = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(n) if n else None
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
            headers["host"] = op.issuer.split("//", 1)[1]
            try:
                r = httpx.request(self.command, upstream + self.path, headers=headers, content=body, timeout=10)
            except httpx.HTTPError:
                self.send_error(502)
                return
            content = r.content
            if self.path.startswith("/token") and r.status_code == 200 and op.tamper:
                doc = r.json()
                doc["id_token"] = op.retoken(doc["id_token"])
                content = json.dumps(doc).encode()
            self.send_response(r.status_code)
            for k, v in r.headers.multi_items():
                if k.lower() not in HOP:
                    self.send_header(k, v)
            self.send_header("content-length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        do_GET = do_POST = _forward

    return Handler


@contextmanager
def oidc_provider(tmp: Path, *, clients: list[dict[str, Any]], accounts: dict[str, dict[str, Any]]) -> Iterator[Op]:
    """Start the provider (on a hidden port) and its proxy (the issuer); stop both afterwards."""
    node_port, public_port = free_port(), free_port()
    issuer = f"http://127.0.0.1:{public_port}"
    op = Op(issuer, rsa_key("k1"))
    config = {"issuer": issuer, "port": node_port, "clients": clients, "accounts": accounts,
              "jwks": {"keys": [op.key.as_dict(private=True)]}}
    path = tmp / "oidc-provider.json"
    path.write_text(json.dumps(config))
    log = (tmp / "oidc-provider.log").open("w")
    node = subprocess.Popen(["node", str(ROOT / "scripts" / "oidc-provider.mjs"), str(path)], stdout=log,
                            stderr=subprocess.STDOUT, env={**os.environ, "AICC_OIDC_PROVIDER_DIR": PROVIDER_DIR})
    server = ThreadingHTTPServer(("127.0.0.1", public_port), _proxy(op, f"http://127.0.0.1:{node_port}"))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(issuer + "/.well-known/openid-configuration", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or node.poll() is not None:
                raise RuntimeError("oidc-provider did not start: " + (tmp / "oidc-provider.log").read_text())
            time.sleep(0.1)
        yield op
    finally:
        server.shutdown()
        node.terminate()
        node.wait(10)
        log.close()
