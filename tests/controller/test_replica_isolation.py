"""A service replica is a tenant's code running for days: it sees no more of the center than a batch job does.

The replica below is hostile. It serves, on its own port, everything it could find of the server's home (the
database, the secrets, other runs' directories), the host's first process and its own identity; the test
reads that report through the gateway, as the tenant would.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.controller.serving_live import Live, sqlite_center

PROBE = r"""
import http.server, json, os, sys
home = sys.argv[1]

def tried(read):
    try:
        return read()
    except OSError as exc:
        return type(exc).__name__

def probe():
    return {
        "db": tried(lambda: open(home + "/aicc.db").read()),
        "key": tried(lambda: open(home + "/secrets/pseudonym.key").read()),
        "jobs": tried(lambda: sorted(os.listdir(home + "/jobs"))),
        "other_log": tried(lambda: open(home + "/jobs/other/stdout.log").read()),
        "init_environ": tried(lambda: open("/proc/1/environ", "rb").read().decode(errors="replace")),
        "init_cmdline": tried(lambda: open("/proc/1/cmdline", "rb").read().decode(errors="replace")),
        "uid": os.getuid(),
        "own_environ": dict(os.environ),
    }

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps(probe()).encode() if self.path == "/probe" else b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

http.server.HTTPServer(("127.0.0.1", 8000), Handler).serve_forever()
"""


SERVER_SECRET = "hunter2-of-the-server"


@pytest.fixture
def live(tmp_path: Path, sqlite_template: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Live]:
    monkeypatch.setenv("AICC_TEST_SERVER_SECRET", SERVER_SECRET)  # in the server's environment, as a password is
    with sqlite_center(tmp_path, sqlite_template) as center:
        yield center


def test_a_hostile_replica_reads_nothing_of_the_server_home_nor_the_host(live: Live) -> None:
    home = live.settings.home
    (home / "aicc.db").write_text("every organization's users and token hashes")
    (home / "secrets").mkdir(exist_ok=True)
    (home / "secrets" / "pseudonym.key").write_text("the key that undoes pseudonyms")
    (home / "jobs" / "other").mkdir(parents=True, exist_ok=True)
    (home / "jobs" / "other" / "stdout.log").write_text("another project's results")
    w = live.world
    svc = live.create(w.a.member_token, name="probe", replicas=1,
                      command=[sys.executable, "-c", PROBE, str(home)])
    key = live.key(w.a.member_token, svc["id"])
    live.ready(svc["id"], 1)

    r = live.gateway("/svc/proj-a/probe/probe", key)
    assert r.status_code == 200, r.text
    seen = r.json()
    for secret in ("db", "key", "other_log"):
        assert seen[secret] in ("FileNotFoundError", "PermissionError"), f"{secret}: {seen[secret]!r}"
    assert seen["jobs"] in ("FileNotFoundError", "PermissionError") or "other" not in seen["jobs"]
    # PID 1 is the replica's own (its PID namespace), never the host's init; the server's environment is not
    # handed down to the tenant's code
    host_init = Path("/proc/1/cmdline").read_bytes().decode(errors="replace")
    assert seen["init_cmdline"] != host_init
    assert SERVER_SECRET not in str(seen["init_environ"]) and SERVER_SECRET not in str(seen["own_environ"])
    assert seen["uid"] != 0 and "AICC_HOME" not in seen["own_environ"]
