"""A JupyterLab session is a tenant's shell on the center: its kernel sees no more of it than a batch job does.

The student's code below is hostile. It runs in a real JupyterLab kernel, sent over the kernel's websocket
through AICC's proxy as a browser would, and reports everything it could find of the server's home (the
database, the secrets, other runs' directories), the host's first process, the server's environment and its
own identity. Against `aicc server` with its controller, the session isolated under the project's uid.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from aicc.config import load_settings
from tests.cli.conftest import AICC, free_port
from tests.live_server import aicc_server

SERVER_SECRET = "hunter2-of-the-session-server"

PROBE = r"""
import json, os
home = os.environ.get("T_HOME") or %r

def tried(read):
    try:
        return read()
    except OSError as exc:
        return type(exc).__name__

print(json.dumps({
    "db": tried(lambda: open(home + "/aicc.db", "rb").read(16).decode(errors="replace")),
    "secrets": tried(lambda: sorted(os.listdir(home + "/secrets"))),
    "key": tried(lambda: open(home + "/secrets/pseudonym.key").read()),
    "jobs": tried(lambda: sorted(os.listdir(home + "/jobs"))),
    "other_log": tried(lambda: open(home + "/jobs/other/stdout.log").read()),
    "init_environ": tried(lambda: open("/proc/1/environ", "rb").read().decode(errors="replace")),
    "init_cmdline": tried(lambda: open("/proc/1/cmdline", "rb").read().decode(errors="replace")),
    "procs": len([p for p in os.listdir("/proc") if p.isdigit()]),
    "uid": [os.getuid(), os.geteuid()],
    "own_environ": dict(os.environ),
    "swappiness": tried(lambda: open("/proc/sys/vm/swappiness", "w").write("61")),
}))
"""


@pytest.fixture(scope="module")
def center(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, str]]:
    """A live center: its URL, its home, and a member's (bob's) API token."""
    assert Path(load_settings({}).session_jupyter).exists(), "run scripts/install-jupyter (CI does)"
    root = tmp_path_factory.mktemp("hostile-session")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AICC_")}
    env.update(AICC_HOME=str(root / "var"), AICC_CONFIG_DIR=str(root / "config"), AICC_TICK_SECONDS="0.5",
               AICC_SESSION_POLL="1", AICC_TEST_SERVER_SECRET=SERVER_SECRET)
    subprocess.run([AICC, "db", "upgrade"], env=env, check=True, capture_output=True, timeout=60)
    subprocess.run([AICC, "demo", "--url", url], env=env, check=True, capture_output=True, timeout=60)
    with aicc_server(AICC, env, url, port, root / "server.log"):
        admin = httpx.Client(base_url=url + "/api/v1", timeout=30, headers={
            "Authorization": "Bearer " + json.loads((root / "config" / "credentials.json").read_text())["token"]})
        bob = next(u for u in admin.get("/users", params={"limit": 200}).json()["items"] if u["username"] == "bob")
        token = admin.post("/tokens", json={"name": "hostile-session", "user_id": bob["id"]}).json()["token"]
        yield url, root / "var", token
        running = admin.get("/jobs", params={"state": ["running", "admitted", "pending"]}).json()["items"]
        live = [j["id"] for j in running]
        for job_id in live:  # runs outlive a server by design: a test's must not outlive the test
            admin.post(f"/jobs/{job_id}/cancel")
        deadline = time.monotonic() + 30
        while live and time.monotonic() < deadline:
            live = [j for j in live if admin.get(f"/jobs/{j}").json()["state"] in ("running", "admitted", "pending")]
            time.sleep(0.5)


def _execute(url: str, session_id: int, token: str, code: str) -> str:
    """Run ``code`` in a new kernel of the session, through the proxy and the kernel's websocket (Jupyter's
    messaging protocol, JSON frames); its standard output."""
    cookies = {"aicc_session": token}
    kernel = httpx.post(f"{url}/s/{session_id}/api/kernels", cookies=cookies, json={}, timeout=60)
    assert kernel.status_code == 201, kernel.text
    channels = f"{url.replace('http', 'ws', 1)}/s/{session_id}/api/kernels/{kernel.json()['id']}/channels"
    msg_id = uuid.uuid4().hex
    request = {"header": {"msg_id": msg_id, "session": uuid.uuid4().hex, "username": "student", "version": "5.3",
                          "msg_type": "execute_request"},
               "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
               "content": {"code": code, "silent": False, "store_history": False, "user_expressions": {},
                           "allow_stdin": False, "stop_on_error": True}}
    out: list[str] = []
    with connect(channels, additional_headers={"Cookie": f"aicc_session={token}"}, open_timeout=30) as ws:
        ws.send(json.dumps(request))
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            msg = json.loads(ws.recv(timeout=120))
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "stream":
                out.append(msg["content"]["text"])
            elif msg["msg_type"] == "error":
                raise AssertionError(f"the probe failed in the kernel: {msg['content']}")
            elif msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                return "".join(out)
    raise AssertionError("the kernel never finished the probe")


def test_a_hostile_student_kernel_reads_nothing_of_the_server_home_nor_the_host(
        center: tuple[str, Path, str]) -> None:
    url, home, token = center
    assert (home / "aicc.db").stat().st_size > 0 and any((home / "secrets").iterdir())  # controls: they exist
    (home / "secrets" / "pseudonym.key").write_text("the key that undoes pseudonyms")
    (home / "jobs" / "other").mkdir(parents=True, exist_ok=True)
    (home / "jobs" / "other" / "stdout.log").write_text("another project's results")
    swappiness = Path("/proc/sys/vm/swappiness").read_text()
    api = httpx.Client(base_url=url + "/api/v1", timeout=30, headers={"Authorization": f"Bearer {token}"})
    started = api.post("/sessions", json={"project": "haneul-llm", "kind": "jupyter"})
    assert started.status_code == 201, started.text
    session_id = started.json()["id"]
    deadline = time.monotonic() + 180
    while (view := api.get(f"/sessions/{session_id}").json())["phase"] != "ready":
        assert view["phase"] != "ended" and time.monotonic() < deadline, view
        time.sleep(0.5)

    seen = json.loads(_execute(url, session_id, token, PROBE % str(home)).strip().splitlines()[-1])

    for secret in ("db", "secrets", "key", "other_log"):
        assert seen[secret] in ("FileNotFoundError", "PermissionError"), f"{secret}: {seen[secret]!r}"
    assert seen["jobs"] in ("FileNotFoundError", "PermissionError") or seen["jobs"] == [str(session_id)]
    # its own PID namespace: PID 1 is the session's, never the host's init, and only a handful of processes
    assert seen["init_cmdline"] != Path("/proc/1/cmdline").read_bytes().decode(errors="replace")
    assert seen["procs"] <= 12
    # the server's environment (its passwords, its database URL, its home) is not handed down
    assert SERVER_SECRET not in json.dumps(seen)
    server_settings = ("AICC_HOME", "AICC_CONFIG_DIR", "AICC_DATABASE_URL", "AICC_TICK_SECONDS",
                       "AICC_SESSION_POLL", "AICC_TEST_SERVER_SECRET")
    assert not set(server_settings) & set(seen["own_environ"]), sorted(seen["own_environ"])
    assert seen["own_environ"]["AICC_JOB_ID"] == str(session_id)  # control: the run's own variables are there
    assert 0 not in seen["uid"]
    assert seen["swappiness"] in ("OSError", "PermissionError") and Path("/proc/sys/vm/swappiness").read_text() == \
        swappiness  # the host's kernel settings are out of reach
    assert re.fullmatch(r"[0-9a-f]{48}", seen["own_environ"].get("JUPYTER_TOKEN", "")), \
        "control: the probe ran in the session's own server"
