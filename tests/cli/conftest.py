"""A real `aicc server` on a free port, and a helper that runs the real `aicc` command against it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.live_server import aicc_server

AICC = str(Path(sys.executable).with_name("aicc"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Cli:
    env: dict[str, str]
    url: str
    admin_token: str
    tokens: dict[str, str]

    def run(self, *args: str, token: str | None = None, check: bool = True, stdin: str | None = None,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        env = {**self.env, **(env or {})}
        if token:
            env["AICC_TOKEN"] = token
        proc = subprocess.run([AICC, *args], env=env, capture_output=True, text=True, timeout=60, input=stdin)
        if check and proc.returncode != 0:
            raise AssertionError(f"aicc {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return proc

    def json(self, *args: str, token: str | None = None) -> object:
        return json.loads(self.run(*args, "--json", token=token).stdout)


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    home = tmp_path_factory.mktemp("center")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AICC_")}
    env.update(AICC_HOME=str(home / "var"), AICC_CONFIG_DIR=str(home / "config"), AICC_URL=url)
    subprocess.run([AICC, "db", "upgrade"], env=env, check=True, capture_output=True, timeout=60)
    demo = subprocess.run([AICC, "demo", "--url", url], env=env, check=True, capture_output=True, text=True,
                          timeout=60)
    lines = demo.stdout.splitlines()
    admin_token = lines[lines.index(next(x for x in lines if x.startswith("admin API token"))) + 1]
    tokens = {line.split()[2].rstrip(":"): line.split()[-1] for line in lines if line.startswith("token for ")}
    with aicc_server(AICC, env, url, port, home / "server.log"):
        yield Cli(env, url, admin_token, tokens)
