"""`aicc server --processes N`: N API workers and one controller in a process of its own, one command."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import httpx

from tests.cli.conftest import AICC, free_port
from tests.live_server import aicc_server


def _children(pid: int) -> set[int]:
    try:
        return {int(x) for x in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}
    except OSError:
        return set()


def test_two_api_workers_and_the_controller_process_run_a_job_and_stop_together(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    tmp_path.chmod(0o711)  # jobs run as their project's uid and pass through to their own directory
    env = {k: v for k, v in os.environ.items() if not k.startswith("AICC_")}
    env.update(AICC_HOME=str(tmp_path / "var"), AICC_CONFIG_DIR=str(tmp_path / "config"), AICC_URL=url)
    subprocess.run([AICC, "db", "upgrade"], env=env, check=True, capture_output=True, timeout=60)
    demo = subprocess.run([AICC, "demo", "--url", url], env=env, check=True, capture_output=True, text=True,
                          timeout=60).stdout
    token = next(line.split()[-1] for line in demo.splitlines() if line.startswith("token for bob"))
    controllers: list[int] = []
    with aicc_server(AICC, env, url, port, tmp_path / "server.log", "--processes", "2", ready_within_s=60,
                     stop_within_s=60) as server:
        h = {"Authorization": f"Bearer {token}"}
        r = httpx.post(url + "/api/v1/jobs", headers=h, json={"project": "haneul-llm", "command": ["true"],
                                                               "flavors": ["cpu"]})
        assert r.status_code == 201, r.text
        job_id = r.json()["id"]
        deadline = time.monotonic() + 60
        while (job := httpx.get(f"{url}/api/v1/jobs/{job_id}", headers=h).json())["state"] != "succeeded":
            assert time.monotonic() < deadline, job
            time.sleep(0.1)
        controllers = [p for p in _children(server.pid)
                       if b"aicc.cli.main import main" in Path(f"/proc/{p}/cmdline").read_bytes()]
        assert len(controllers) == 1  # the controller process, beside uvicorn's workers
    assert not [p for p in controllers if Path(f"/proc/{p}").exists()], "the controller outlived the server"


def test_a_token_revoked_through_one_worker_is_refused_by_every_worker_at_once(tmp_path: Path) -> None:
    """Each worker caches authenticated tokens; a revocation in one must reach the others' caches at once."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AICC_")}
    env.update(AICC_HOME=str(tmp_path / "var"), AICC_CONFIG_DIR=str(tmp_path / "config"), AICC_URL=url,
               AICC_CONTROLLER="off")
    subprocess.run([AICC, "db", "upgrade"], env=env, check=True, capture_output=True, timeout=60)
    demo = subprocess.run([AICC, "demo", "--url", url], env=env, check=True, capture_output=True, text=True,
                          timeout=60).stdout
    token = next(line.split()[-1] for line in demo.splitlines() if line.startswith("token for bob"))
    with aicc_server(AICC, env, url, port, tmp_path / "server.log", "--processes", "2", ready_within_s=60,
                     stop_within_s=60):
        issued = httpx.post(url + "/api/v1/tokens", headers={"Authorization": f"Bearer {token}"},
                            json={"name": "laptop"}).json()
        h = {"Authorization": f"Bearer {issued['token']}"}
        # a new connection each time: the two workers accept from one socket, so both see (and cache) it
        assert {httpx.get(url + "/api/v1/users/me", headers=h).status_code for _ in range(40)} == {200}
        r = httpx.delete(f"{url}/api/v1/tokens/{issued['id']}", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200
        assert {httpx.get(url + "/api/v1/users/me", headers=h).status_code for _ in range(40)} == {401}
