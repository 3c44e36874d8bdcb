"""The data-zone sandbox, tested from inside with real bubblewrap: each test fails if isolation breaks."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from aicc.executors.base import Launch, Placement, RunPhase, SandboxSpec
from aicc.executors.local import LocalExecutor
from aicc.executors.sandbox import python_dirs, wrap

ALLOWED_TOP = {"bin", "data", "dev", "etc", "lib", "lib64", "out", "proc", "run", "sbin", "tmp", "usr"}


def parents() -> set[str]:
    """Directories that exist inside only as the path down to a bound Python environment."""
    out = set()
    for d in python_dirs():
        p = Path(d).parent
        while p != Path("/"):
            out.add(str(p))
            p = p.parent
    return out


@pytest.fixture
def zone(tmp_path: Path) -> dict[str, Path]:
    data = tmp_path / "datasets" / "cxr"
    data.mkdir(parents=True)
    (data / "patients.csv").write_text("id,age\n1,54\n")
    out = tmp_path / "jobs" / "1" / "out"
    out.mkdir(parents=True)
    other = tmp_path / "jobs" / "2"
    other.mkdir(parents=True)
    (other / "secret.txt").write_text("another job's output")
    db = tmp_path / "var" / "aicc.db"
    db.parent.mkdir()
    db.write_text("not for jobs")
    return {"data": data, "out": out, "other": other / "secret.txt", "db": db, "tmp": tmp_path}


def inside(zone: dict[str, Path], code: str) -> dict[str, object]:
    """Run Python code in the sandbox; it prints one JSON object."""
    argv = wrap([sys.executable, "-c", code], SandboxSpec({"cxr": zone["data"]}, zone["out"]), env={"LANG": "C"})
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return dict(json.loads(proc.stdout))


@pytest.fixture
def listeners(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    tcp = socket.socket()
    tcp.bind(("127.0.0.1", 0))
    tcp.listen()
    unix_path = tmp_path / "host.sock"
    unix = socket.socket(socket.AF_UNIX)
    unix.bind(str(unix_path))
    unix.listen()
    stop = threading.Event()

    def serve(s: socket.socket) -> None:
        s.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = s.accept()
                conn.close()
            except OSError:
                continue

    threads = [threading.Thread(target=serve, args=(s,), daemon=True) for s in (tcp, unix)]
    for t in threads:
        t.start()
    yield tcp.getsockname()[1], unix_path
    stop.set()
    tcp.close()
    unix.close()


NET_PROBE = """
import json, socket
res = {"ifaces": [n for _, n in socket.if_nameindex()]}
def attempt(kind, addr):
    s = socket.socket(kind)
    s.settimeout(2)
    try:
        s.connect(addr); return "connected"
    except OSError as e:
        return type(e).__name__
res["tcp"] = attempt(socket.AF_INET, ("127.0.0.1", PORT))
res["unix"] = attempt(socket.AF_UNIX, "SOCK")
try:
    socket.getaddrinfo("example.org", 443); res["dns"] = "resolved"
except OSError as e:
    res["dns"] = type(e).__name__
res["netns"] = __import__("os").readlink("/proc/self/ns/net")
print(json.dumps(res))
"""


def test_no_network_and_no_host_sockets(zone: dict[str, Path], listeners: tuple[int, Path]) -> None:
    port, unix_path = listeners
    # positive control: the host itself reaches both listeners
    socket.create_connection(("127.0.0.1", port), timeout=2).close()
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(str(unix_path))
    res = inside(zone, NET_PROBE.replace("PORT", str(port)).replace("SOCK", str(unix_path)))
    assert res["ifaces"] == ["lo"]
    assert res["tcp"] != "connected" and res["unix"] != "connected" and res["dns"] != "resolved"
    assert res["netns"] != os.readlink("/proc/self/ns/net")


def test_data_is_read_only_output_is_writable_and_nothing_else_is_there(zone: dict[str, Path]) -> None:
    code = f"""
import json, os
res = {{"read": open("/data/cxr/patients.csv").read()}}
try:
    open("/data/cxr/patients.csv", "a").write("x"); res["write_data"] = "ok"
except OSError as e:
    res["write_data"] = e.errno
open("/out/result.txt", "w").write("aggregate")
for key, path in [("other_job", "{zone['other']}"), ("db", "{zone['db']}"), ("home", "/home"),
                  ("etc_shadow", "/etc/shadow"), ("ssh", "/root/.ssh"), ("bashrc", "/root/.bashrc")]:
    res[key] = os.path.exists(path)
res["top"] = sorted(os.listdir("/"))
res["walk"] = {{d: sorted(os.listdir(d)) for d in PARENTS}}
res["pids"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
res["uid_caps"] = open("/proc/self/status").read().split("CapEff:")[1].split()[0]
print(json.dumps(res))
"""
    res = inside(zone, code.replace("PARENTS", repr(sorted(parents()))))
    assert res["read"] == "id,age\n1,54\n"
    assert res["write_data"] == 30  # EROFS
    assert (zone["out"] / "result.txt").read_text() == "aggregate"
    assert not any(res[k] for k in ("other_job", "db", "home", "etc_shadow", "ssh", "bashrc"))
    assert set(res["top"]) <= ALLOWED_TOP | {Path(d).parts[1] for d in python_dirs()}
    for parent, entries in res["walk"].items():  # e.g. /root holds nothing but the way to the interpreter
        assert set(entries) <= {Path(d).relative_to(parent).parts[0] for d in python_dirs()
                                if Path(d).is_relative_to(parent) and Path(d) != Path(parent)}, (parent, entries)
    assert os.getpid() not in res["pids"] and len(res["pids"]) <= 3  # its own PID namespace
    assert res["uid_caps"] == "0000000000000000"
    assert (zone["data"] / "patients.csv").read_text() == "id,age\n1,54\n"


def test_local_executor_runs_sandboxed_jobs(zone: dict[str, Path]) -> None:
    ex = LocalExecutor(zone["tmp"] / "jobs")
    workdir = zone["tmp"] / "jobs" / "1"
    launch = Launch(job_id=1, attempt=0, name="sandboxed", workdir=workdir, env={"MODEL": "x"}, flavor="cpu",
                    argv=["sh", "-c", "wc -l < /data/cxr/patients.csv > /out/rows.txt; ls /"], device_env=None,
                    placements=[Placement("cpu-node", ())], cpus=1, memory_mb=100, time_limit_s=60,
                    sandbox=SandboxSpec({"cxr": zone["data"]}, zone["out"]))
    ext = ex.start(launch)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        (st,) = ex.reconcile([(1, 0, ext)])
        if st.phase.finished:
            break
        time.sleep(0.05)
    assert st.phase is RunPhase.SUCCEEDED, st
    assert (zone["out"] / "rows.txt").read_text().strip() == "2"
    listing = set((workdir / "stdout.log").read_text().splitlines()[1:])
    assert {"data", "out"} <= listing <= ALLOWED_TOP | {Path(d).parts[1] for d in python_dirs()}
    ex.close()


def test_dataset_names_cannot_escape_data(zone: dict[str, Path]) -> None:
    with pytest.raises(ValueError, match="plain name"):
        wrap(["true"], SandboxSpec({"../etc": zone["data"]}, zone["out"]), env={})
