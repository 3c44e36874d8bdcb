"""`aicc ws` against a real server on a btrfs workspace root: a 2 GiB upload killed half-way resumes and ends
with the right checksum while the server's memory stays flat; the everyday commands round-trip."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.cli.conftest import AICC, Cli, free_port
from tests.live_server import aicc_server

GIB = 1 << 30
MIB = 1 << 20


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@pytest.fixture(scope="module")
def center(tmp_path_factory: pytest.TempPathFactory, btrfs_mount: Path) -> Iterator[tuple[Cli, int]]:
    home = tmp_path_factory.mktemp("ws-center")
    root = btrfs_mount / home.name
    root.mkdir()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AICC_")}
    env.update(AICC_HOME=str(home / "var"), AICC_CONFIG_DIR=str(home / "config"), AICC_URL=url,
               AICC_WORKSPACE_ROOT=str(root), AICC_CONTROLLER="off")
    subprocess.run([AICC, "db", "upgrade"], env=env, check=True, capture_output=True, timeout=60)
    demo = subprocess.run([AICC, "demo", "--url", url], env=env, check=True, capture_output=True, text=True,
                          timeout=60)
    lines = demo.stdout.splitlines()
    admin = lines[lines.index(next(x for x in lines if x.startswith("admin API token"))) + 1]
    tokens = {line.split()[2].rstrip(":"): line.split()[-1] for line in lines if line.startswith("token for ")}
    with aicc_server(AICC, env, url, port, home / "server.log") as server:
        yield Cli(env, url, admin, tokens), server.pid


def project_of(cli: Cli) -> tuple[str, str]:
    """A demo project and a token of one of its members."""
    name = next(iter(cli.tokens))
    token = cli.tokens[name]
    mine = httpx.get(cli.url + "/api/v1/projects", headers={"Authorization": f"Bearer {token}"}).json()["items"]
    return mine[0]["name"], token


def test_a_2_gib_upload_killed_half_way_resumes_with_the_right_checksum_and_flat_server_memory(
        center: tuple[Cli, int], tmp_path: Path) -> None:
    cli, server_pid = center
    project, token = project_of(cli)
    big = tmp_path / "big.bin"
    block = os.urandom(MIB)
    digest = hashlib.sha256()
    with big.open("wb") as f:
        for i in range(2 * 1024):
            chunk = i.to_bytes(8, "big") + block[8:]
            f.write(chunk)
            digest.update(chunk)
    env = {**cli.env, "AICC_TOKEN": token}
    baseline, peak, stop = rss(server_pid), [0], threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], rss(server_pid))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        first = subprocess.Popen([AICC, "ws", "put", "-p", project, str(big), "data/big.bin"], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        state_dir = Path(cli.env["AICC_CONFIG_DIR"]) / "uploads"
        headers = {"Authorization": f"Bearer {token}"}
        pid = httpx.get(f"{cli.url}/api/v1/projects", headers=headers).json()["items"][0]["id"]
        deadline = time.monotonic() + 300
        offset = 0
        while offset < GIB:  # kill the client once the server holds half the file
            assert time.monotonic() < deadline and first.poll() is None, first.communicate()
            states = list(state_dir.glob("*.json")) if state_dir.exists() else []
            if states:
                upload_id = json.loads(states[0].read_text())["id"]
                offset = httpx.get(f"{cli.url}/api/v1/projects/{pid}/workspace/uploads/{upload_id}",
                                   headers=headers).json()["offset"]
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        first.wait()
        assert offset < 2 * GIB
        second = cli.run("ws", "put", "-p", project, str(big), "data/big.bin", token=token)
    finally:
        stop.set()
        sampler.join()
    assert second.stdout.split()[-1] == digest.hexdigest()
    listed = cli.json("ws", "ls", "-p", project, "data", token=token)
    assert listed == [{"path": "data/big.bin", "kind": "file", "size": 2 * GIB, "mtime": listed[0]["mtime"]}]
    assert peak[0] - baseline < 100 * MIB, f"server grew {(peak[0] - baseline) / MIB:.0f} MiB during 2 GiB"
    cli.run("ws", "rm", "-p", project, "data", "-r", token=token)


def test_put_ls_mv_get_rm_round_trip_and_a_partial_download_resumes(center: tuple[Cli, int],
                                                                      tmp_path: Path) -> None:
    cli, _ = center
    project, token = project_of(cli)
    src = tmp_path / "notes.txt"
    src.write_bytes(os.urandom(3 * MIB + 5))
    cli.run("ws", "put", "-p", project, str(src), "docs/", token=token)
    refused = cli.run("ws", "put", "-p", project, str(src), "docs/", token=token, check=False)
    assert refused.returncode != 0 and "already exists" in refused.stderr
    cli.run("ws", "mv", "-p", project, "docs/notes.txt", "docs/renamed.txt", token=token)
    out = tmp_path / "back.txt"
    (tmp_path / "back.txt.part").write_bytes(src.read_bytes()[:MIB])  # an earlier download that broke
    got = cli.run("ws", "get", "docs/renamed.txt", str(out), "-p", project, token=token)
    assert out.read_bytes() == src.read_bytes() and hashlib.sha256(src.read_bytes()).hexdigest() in got.stdout
    info = cli.json("ws", "info", "-p", project, token=token)
    assert isinstance(info, dict) and info["enforcement"] == "filesystem" and info["used_bytes"] > 0
    cli.run("ws", "rm", "-p", project, "docs", "-r", token=token)
    assert cli.json("ws", "ls", "-p", project, token=token) == []
