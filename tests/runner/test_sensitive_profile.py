"""The data zone's sandbox as the runner's strictest profile: what a hostile analyst tried, each stopped."""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from pathlib import Path

from aicc.executors.base import Launch, Placement, RunPhase, SandboxSpec
from aicc.executors.local import LocalExecutor

UID = 200_021

PROBE = r'''
import ctypes, errno, json, os, socket
libc = ctypes.CDLL(None, use_errno=True)
def tried(fn):
    try:
        r = fn()
        return "done" if r is None or r == 0 else f"ret {r}"
    except Exception as exc:
        return f"{type(exc).__name__}: {getattr(exc, 'errno', '')}"
def write(path, text):
    with open(path, "w") as f:
        f.write(text)
def call(nr, *args):
    if libc.syscall(nr, *args) != 0:
        raise OSError(ctypes.get_errno(), "denied")
def read(path):
    with open(path, "rb") as f:
        return f.read()
out = {
    "uid": os.getuid(),
    "swappiness": tried(lambda: write("/proc/sys/vm/swappiness", "61")),
    "core_pattern": tried(lambda: write("/proc/sys/kernel/core_pattern", "|/tmp/x")),
    "environ_1": tried(lambda: read("/proc/1/environ")),
    "cmdline_1": read("/proc/1/cmdline").decode(errors="replace"),
    "sys": os.path.exists("/sys/kernel"),
    "netlink": tried(lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)),
    "packet": tried(lambda: socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)),
    "ptrace": tried(lambda: call(101, 0, 0, 0, 0)),           # PTRACE_TRACEME
    "keyctl": tried(lambda: call(250, 0, 0, 0, 0)),
    "unshare": tried(lambda: call(272, 0x10000000)),          # CLONE_NEWUSER
    "bpf": tried(lambda: call(321, 0, 0, 0)),
    "tcp": tried(lambda: socket.create_connection(("1.1.1.1", 53), timeout=2)),
    "data": read("/data/cxr/rows.csv").decode(),
    "out": tried(lambda: write("/out/result.txt", "42")),
    "elsewhere": tried(lambda: write("/tmp/../etc/x", "1")),
}
print(json.dumps(out))
'''


def test_a_sensitive_job_cannot_touch_kernel_settings_host_processes_or_denied_syscalls(tmp_path: Path) -> None:
    jobs = tmp_path / "jobs"
    data = tmp_path / "data" / "cxr"
    data.mkdir(parents=True)
    (data / "rows.csv").write_text("id,age\n1,54\n")
    workdir = jobs / "1"
    (workdir / "out").mkdir(parents=True)
    ex = LocalExecutor(jobs)
    launch = Launch(job_id=1, attempt=0, name="s-1", argv=[sys.executable, "-c", PROBE], workdir=workdir,
                    env={"AICC_OUTPUT_DIR": "/out"}, flavor="cpu", device_env=None, placements=[Placement("n1")],
                    cpus=1, memory_mb=512, time_limit_s=60, unix_uid=UID,
                    sandbox=SandboxSpec({"cxr": data}, workdir / "out"))
    ext = ex.start(launch)
    deadline = time.monotonic() + 60
    while (st := ex.reconcile([(1, 0, ext)])[0]).phase in (RunPhase.STARTING, RunPhase.RUNNING):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    out_log, err_log = ex.log_paths(workdir)
    assert st.phase is RunPhase.SUCCEEDED, err_log.read_text()
    got = json.loads(out_log.read_text().splitlines()[-1])
    assert got["uid"] == UID
    assert got["swappiness"] != "done" and got["core_pattern"] != "done"
    assert got["environ_1"] != "done"
    assert got["cmdline_1"] != Path("/proc/1/cmdline").read_bytes().decode(errors="replace")  # not the host's init
    assert got["sys"] is False
    for call in ("netlink", "packet", "ptrace", "keyctl", "unshare", "bpf"):
        assert got[call].endswith(": 1"), f"{call}: {got[call]}"  # EPERM from the seccomp filter
    assert got["tcp"] != "done" and got["elsewhere"] != "done"
    assert got["data"].startswith("id,age") and got["out"] == "done"
    assert (workdir / "out" / "result.txt").read_text() == "42"
    # controls: the host has what the job was denied
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0):
        pass
    assert os.access("/proc/sys/vm/swappiness", os.W_OK) and Path("/sys/kernel").exists()
