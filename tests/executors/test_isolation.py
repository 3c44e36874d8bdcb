"""Every ordinary job isolated, tried from inside as a hostile tenant would (real bubblewrap, real cgroups).

Each attempt has a positive control: the host (this test, as root) can do what the job cannot, so a test
fails when isolation breaks rather than when the probe itself is broken.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

import aicc
from aicc.executors.base import Launch, Placement, RunPhase, RunStatus
from aicc.executors.local import LocalExecutor
from aicc.executors.local.isolation import run_name
from aicc.runner import cgroups

A_UID, B_UID = 200_011, 200_012

PROBE = r'''
import ctypes, json, os, socket, subprocess, sys
e = os.environ
def tried(fn):
    try:
        fn()
        return "done"
    except Exception as exc:
        return type(exc).__name__
def read(path):
    with open(path, "rb") as f:
        return f.read(64)
def write(path):
    with open(path, "a") as f:
        f.write("# owned\n")
libc = ctypes.CDLL(None, use_errno=True)
def ptrace(pid):
    if libc.ptrace(16, int(pid), 0, 0) != 0:  # PTRACE_ATTACH
        raise OSError(ctypes.get_errno(), "ptrace")
procs = [p for p in os.listdir("/proc") if p.isdigit()]
cmdlines = [open(f"/proc/{p}/cmdline", "rb").read().replace(b"\0", b" ").decode() for p in procs]
out = {
    "uid": [os.getuid(), os.geteuid(), os.getgid(), os.getgroups()],
    "db": tried(lambda: read(e["T_DB"])), "secret": tried(lambda: read(e["T_SECRET"])),
    "raw": tried(lambda: read(e["T_RAW"])), "granted": tried(lambda: read(e["T_GRANTED"])),
    "other_log": tried(lambda: read(e["T_OTHER_LOG"])), "other_dir": tried(lambda: os.listdir(e["T_OTHER_DIR"])),
    "jobs_list": sorted(os.listdir(e["T_JOBS"])), "home_list": sorted(os.listdir(e["T_HOME"])),
    "server_environ": tried(lambda: read(f"/proc/{e['T_SERVER']}/environ")),
    "server_mem": tried(lambda: read(f"/proc/{e['T_SERVER']}/mem")),
    "victim_root": tried(lambda: os.listdir(f"/proc/{e['T_VICTIM']}/root")),
    "code": tried(lambda: write(e["T_CODE"])),
    "kill_server": tried(lambda: os.kill(int(e["T_SERVER"]), 0)),
    "kill_victim": tried(lambda: os.kill(int(e["T_VICTIM"]), 15)),
    "ptrace_server": tried(lambda: ptrace(e["T_SERVER"])), "ptrace_victim": tried(lambda: ptrace(e["T_VICTIM"])),
    "procs": len(procs), "sees_server": e["T_SERVER_CMD"] in cmdlines,
    "own_device": tried(lambda: read(e["T_DEV_MINE"])), "other_device": tried(lambda: read(e["T_DEV_OTHER"])),
    "setuid": subprocess.run([e["T_SETUID"], "-u"], capture_output=True, text=True).stdout.strip(),
    "home": tried(lambda: write(os.path.join(e["HOME"], "mine.txt"))),
    "python": subprocess.run(["python", "-c", "print(1)"], capture_output=True, text=True).stdout.strip(),
    "status": dict(line.split(":\t", 1) for line in open("/proc/self/status").read().splitlines()
                   if line.split(":")[0] in ("NoNewPrivs", "Seccomp", "CapEff", "CapPrm", "Groups")),
}
print(json.dumps(out))
'''


def wait(ex: LocalExecutor, job_id: int, ext: str, phases: tuple[RunPhase, ...], timeout: float = 60) -> RunStatus:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        (st,) = ex.reconcile([(job_id, 0, ext)])
        if st.phase in phases:
            return st
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} is {st.phase}")


def make_launch(jobs: Path, job_id: int, argv: list[str], uid: int, *, env: dict[str, str] | None = None,
                devices: tuple[int, ...] = (), readonly: tuple[Path, ...] = (), memory_mb: int = 1000,
                cpus: int = 1) -> Launch:
    workdir = jobs / str(job_id)
    workdir.mkdir(parents=True, exist_ok=True)
    return Launch(job_id=job_id, attempt=0, name=f"t-{job_id}", argv=argv, workdir=workdir, env=env or {},
                  flavor="h100", device_env="CUDA_VISIBLE_DEVICES", placements=[Placement("n1", devices)],
                  cpus=cpus, memory_mb=memory_mb, time_limit_s=120, unix_uid=uid, readonly=readonly,
                  extra={"grace_s": "1"})


@pytest.fixture
def center(tmp_path: Path) -> dict[str, Path]:
    """An AICC_HOME as a server keeps it: database, secrets, raw and published data, job directories."""
    home = tmp_path / "home"
    (home / "secrets").mkdir(parents=True)
    (home / "aicc.db").write_text("every organization's users and token hashes")
    (home / "secrets" / "pseudonym.key").write_text("the key that undoes pseudonyms")
    for name in ("raw", "granted"):
        (home / "data" / name).mkdir(parents=True)
        (home / "data" / name / "rows.csv").write_text("id,value\n1,2\n")
    dev = tmp_path / "dev"
    dev.mkdir()
    for i in range(2):
        (dev / f"nvidia{i}").write_text(f"gpu {i}")
    setuid = tmp_path / "bin" / "id"
    setuid.parent.mkdir()
    shutil.copy("/usr/bin/id", setuid)
    os.chmod(setuid, 0o4755)
    from aicc.executors.local.isolation import harden_home

    harden_home(home)
    return {"home": home, "jobs": home / "jobs", "dev": dev, "setuid": setuid}


def test_an_ordinary_job_reaches_nothing_of_the_server_or_another_tenant(center: dict[str, Path]) -> None:
    jobs, home = center["jobs"], center["home"]
    ex = LocalExecutor(jobs, device_root=center["dev"])
    assert ex.problems == []
    victim_ext = ex.start(make_launch(jobs, 2, ["sh", "-c", "echo b-secret; sleep 60"], B_UID))
    wait(ex, 2, victim_ext, (RunPhase.RUNNING,))
    victim = json.loads((jobs / "2" / "run-0" / "state.json").read_text())["pid"]
    os.kill(victim, 0)  # control: the host sees and may signal the victim
    code = Path(aicc.__file__).parent / "runner" / "launch.py"
    env = {"T_DB": str(home / "aicc.db"), "T_SECRET": str(home / "secrets" / "pseudonym.key"),
           "T_RAW": str(home / "data" / "raw" / "rows.csv"), "T_GRANTED": str(home / "data" / "granted" / "rows.csv"),
           "T_OTHER_LOG": str(jobs / "2" / "stdout.log"), "T_OTHER_DIR": str(jobs / "2"), "T_JOBS": str(jobs),
           "T_HOME": str(home), "T_SERVER": str(os.getpid()),
           "T_SERVER_CMD": Path("/proc/self/cmdline").read_bytes().replace(b"\0", b" ").decode(),
           "T_VICTIM": str(victim), "T_CODE": str(code),
           "T_DEV_MINE": str(center["dev"] / "nvidia1"), "T_DEV_OTHER": str(center["dev"] / "nvidia0"),
           "T_SETUID": str(jobs / "1" / "id")}
    (jobs / "1").mkdir()
    shutil.copy(center["setuid"], jobs / "1" / "id")
    os.chmod(jobs / "1" / "id", 0o4755)  # a setuid-root binary in the job's own directory
    ext = ex.start(make_launch(jobs, 1, [sys.executable, "-c", PROBE], A_UID, env=env, devices=(1,),
                               readonly=(home / "data" / "granted",)))
    st = wait(ex, 1, ext, (RunPhase.SUCCEEDED, RunPhase.FAILED))
    out_log, err_log = ex.log_paths(jobs / "1")
    assert st.phase is RunPhase.SUCCEEDED, err_log.read_text()
    got = json.loads(out_log.read_text().splitlines()[-1])
    assert got["uid"] == [A_UID, A_UID, A_UID, [A_UID]] or got["uid"] == [A_UID, A_UID, A_UID, []]
    assert got["jobs_list"] == ["1"] and got["home_list"] == ["data", "jobs"]  # only the way to its own
    for attempt in ("db", "secret", "raw", "other_log", "other_dir", "server_environ", "server_mem",
                    "victim_root", "code", "kill_server", "kill_victim", "ptrace_server", "ptrace_victim",
                    "other_device"):
        assert got[attempt] != "done", f"a job could {attempt}"
    assert got["granted"] == "done" and got["own_device"] == "done" and got["home"] == "done"
    assert got["procs"] <= 6 and not got["sees_server"]  # its own namespace: bwrap, itself, its children
    assert got["setuid"] == str(A_UID)  # a setuid-root binary does not raise it (no_new_privs, nosuid)
    assert got["python"] == "1"  # `python` resolves on a host with only python3
    status = {k: v.strip() for k, v in got["status"].items()}
    assert status == {"NoNewPrivs": "1", "Seccomp": "2", "CapEff": "0" * 16, "CapPrm": "0" * 16, "Groups": ""}
    # controls: the host reads what the job could not, and the setuid copy works outside a run
    assert (home / "aicc.db").read_text() and (jobs / "2" / "stdout.log").read_text().strip().endswith("b-secret")
    assert os.access(code, os.W_OK)
    outside = subprocess.run(["setpriv", f"--reuid={A_UID}", f"--regid={A_UID}", "--clear-groups",
                              str(center["setuid"]), "-u"], capture_output=True, text=True, check=True)
    assert outside.stdout.strip() == "0"  # the same binary outside a run does make the project uid root
    os.kill(victim, 0)  # the victim survived the attack
    # the shepherd entered the victim's cgroups only to fork it there: the job is in all four, it in none
    shepherd = json.loads((jobs / "2" / "run-0" / "state.json").read_text())["shepherd_pid"]
    own = cgroups.parse_self(Path(f"/proc/{shepherd}/cgroup").read_text())
    theirs = cgroups.parse_self(Path(f"/proc/{victim}/cgroup").read_text())
    for controller in cgroups.V1_CONTROLLERS:
        assert theirs[controller].endswith(f"/aicc/{run_name(make_launch(jobs, 2, [], B_UID))}"), theirs
        assert "/aicc/" not in own[controller], own
    ex.cancel(victim_ext, grace_s=1)
    wait(ex, 2, victim_ext, (RunPhase.CANCELLED,))


def test_job_files_are_the_projects_and_the_servers_files_stay_the_servers(center: dict[str, Path]) -> None:
    jobs = center["jobs"]
    ex = LocalExecutor(jobs)
    ext = ex.start(make_launch(jobs, 3, ["sh", "-c", "echo x > made.txt; rm -f stdout.log; mv run-0 gone"], A_UID))
    wait(ex, 3, ext, (RunPhase.SUCCEEDED, RunPhase.FAILED))
    assert (jobs / "3" / "made.txt").stat().st_uid == A_UID
    assert (jobs / "3" / "run-0" / "exit.json").exists() and (jobs / "3" / "stdout.log").exists()
    st = os.stat(jobs / "3")
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (0, A_UID, 0o1770)
    assert stat.S_IMODE(os.stat(jobs).st_mode) == 0o711 and stat.S_IMODE(os.stat(center["home"]).st_mode) == 0o711
    assert stat.S_IMODE(os.stat(center["home"] / "aicc.db").st_mode) == 0o600


def test_a_memory_hog_ends_failed_with_the_out_of_memory_reason(center: dict[str, Path]) -> None:
    jobs = center["jobs"]
    ex = LocalExecutor(jobs)
    hog = "b = bytearray(400 * 1024 * 1024); print('survived')"
    ext = ex.start(make_launch(jobs, 4, ["python3", "-c", hog], A_UID, memory_mb=128))
    st = wait(ex, 4, ext, (RunPhase.SUCCEEDED, RunPhase.FAILED))
    assert (st.phase, st.reason) == (RunPhase.FAILED, "out of memory (limit 128 MiB)")
    ok = ex.start(make_launch(jobs, 5, ["python3", "-c", "b = bytearray(40 * 1024 * 1024)"], A_UID, memory_mb=128))
    assert wait(ex, 5, ok, (RunPhase.SUCCEEDED, RunPhase.FAILED)).phase is RunPhase.SUCCEEDED  # control


def test_eight_spinning_processes_with_one_cpu_get_at_most_one_core(center: dict[str, Path]) -> None:
    """Measured by the kernel: the run's CPU time (cpuacct) over wall time while it runs. When the quota is
    what holds it back (CFS throttled it) it gets that one core within 20 %; on a machine busy with others it
    may get less, never more."""
    jobs = center["jobs"]
    ex = LocalExecutor(jobs)
    spin = "for i in 1 2 3 4 5 6 7 8; do (while :; do :; done) & done; wait"
    launch = make_launch(jobs, 6, ["sh", "-c", spin], A_UID, cpus=1)
    ext = ex.start(launch)
    wait(ex, 6, ext, (RunPhase.RUNNING,))
    cg = cgroups.Cgroup(run_name(launch), cgroups.Limits())
    time.sleep(1.0)
    t0, u0 = time.monotonic(), cg.cpu_usage_ns()
    time.sleep(3.0)
    t1, u1 = time.monotonic(), cg.cpu_usage_ns()
    stat_lines = (cg.dirs["cpu"] / "cpu.stat").read_text().splitlines()
    throttled = {k: int(v) for k, v in (line.split() for line in stat_lines)}
    quota = int((cg.dirs["cpu"] / "cpu.cfs_quota_us").read_text()) if cg.layout.version == 1 else 0
    cores = (u1 - u0) / 1e9 / (t1 - t0)
    ex.cancel(ext, grace_s=1)
    wait(ex, 6, ext, (RunPhase.CANCELLED,))
    assert cores <= 1.2, f"{cores:.2f} cores with --cpus 1"
    assert cg.layout.version == 2 or quota == 100_000
    if throttled.get("nr_throttled", 0) > 10:  # the quota, not other load, was the limit: one core's worth
        assert cores >= 0.8, f"{cores:.2f} cores with --cpus 1"
    assert not cg.dirs["cpu"].exists()  # removed when the run ended


def test_cgroups_a_killed_runner_left_behind_are_swept_but_not_fresh_ones() -> None:
    """A Slurm step's runner can be SIGKILLed before it removes its cgroups; the next run removes old empty
    ones, never a sibling that may be between its creation and its join."""
    layout = cgroups.current_layout()
    assert layout is not None
    stale = cgroups.plan(layout, f"stale-{os.getpid()}")["pids"]
    fresh = cgroups.plan(layout, f"fresh-{os.getpid()}")["pids"]
    stale.mkdir(parents=True)
    fresh.mkdir()
    try:
        os.utime(stale, (time.time() - 3600, time.time() - 3600))
        cg = cgroups.Cgroup(f"sweeper-{os.getpid()}", cgroups.Limits(), layout)
        cg.create()
        cg.close()
        assert not stale.exists() and fresh.exists()
    finally:
        for d in (stale, fresh):
            if d.exists():
                d.rmdir()


def _joined_in_child(cg: cgroups.Cgroup, *, threaded: bool) -> tuple[int, set[int]]:
    """Fork a child that (with a second thread when ``threaded``) joins ``cg`` and forks a grandchild; return
    the child's pid and the thread ids it had, once both are in place (they wait for a kill)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            if threaded:
                import threading

                threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
            cg.join()
            if os.fork() == 0:
                time.sleep(60)
                os._exit(0)
            os.write(w, " ".join(os.listdir("/proc/self/task")).encode())
            time.sleep(60)
        finally:
            os._exit(0)
    os.close(w)
    tids = {int(t) for t in os.read(r, 4096).split()}
    os.close(r)
    return pid, tids


@pytest.mark.parametrize("threaded", [False, True], ids=["single-threaded", "threaded"])
def test_a_joining_process_its_threads_and_its_later_children_are_in_every_hierarchy(threaded: bool) -> None:
    """The cheap join (the caller's own thread, v1 ``tasks``) must move the whole process when it has one
    thread, and a caller with threads must fall back to moving all of them (``cgroup.procs``)."""
    cg = cgroups.Cgroup(f"join-{os.getpid()}-{int(threaded)}", cgroups.Limits())
    cg.create()
    pid = 0
    try:
        pid, tids = _joined_in_child(cg, threaded=threaded)
        assert len(tids) == (2 if threaded else 1)
        for controller, path in cg.dirs.items():
            procs = {int(x) for x in (path / "cgroup.procs").read_text().split()}
            assert pid in procs and len(procs) == 2, controller  # the child and the grandchild it forked after
            if cg.layout.version == 1:
                assert tids <= {int(x) for x in (path / "tasks").read_text().split()}, controller
    finally:
        cg.close()  # kills the child and the grandchild
        if pid:
            os.waitpid(pid, 0)
    assert not any(p.exists() for p in cg.dirs.values())
