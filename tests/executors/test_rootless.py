"""A server that is not root runs isolated jobs under each project's uid through subordinate ids.

The test (root) does once what an administrator would (``scripts/rootless-setup``: a user, its subordinate
ids, a cgroup delegated to it), then runs the local executor *as that user* in a subprocess, and checks from
outside what the job was: its host uid, its files, its limits.
"""

from __future__ import annotations

import json
import os
import pwd
import subprocess
import sys
from pathlib import Path

from aicc.executors.local.isolation import acl_blob
from aicc.runner import rootless

REPO = Path(__file__).resolve().parents[2]
USER, FIRST, COUNT = "aicc-rootless-t", 410_000, 100
PROJECT_UID = FIRST + 1

DRIVER = r'''
import json, os, sys, time
from pathlib import Path
from aicc.executors.base import Launch, Placement, RunPhase
from aicc.executors.local import LocalExecutor
from aicc.runner.identity import UidRange
jobs, secret, uid = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
ex = LocalExecutor(jobs, uids=UidRange(int(sys.argv[4]), int(sys.argv[5])), grace_s=0.5)
probe = ("import os, json\n"
         "def tried(f):\n    try:\n        f(); return 'done'\n    except OSError as e: return type(e).__name__\n"
         f"print(json.dumps({{'ids': [os.getuid(), os.geteuid(), os.getgid()],"
         f" 'secret': tried(lambda: open({secret!r}).read()),"
         " 'state': tried(lambda: os.listdir('run-0')), 'write': tried(lambda: open('mine.txt', 'w').write('x'))}))\n")
runs = {1: ["python3", "-c", probe], 2: ["python3", "-c", "b = bytearray(400 << 20)"]}
out = {"problems": ex.problems, "server": os.geteuid()}
for job_id, argv in runs.items():
    workdir = jobs / str(job_id)
    workdir.mkdir(parents=True)
    ext = ex.start(Launch(job_id=job_id, attempt=0, name=f"r-{job_id}", argv=argv, workdir=workdir, env={},
                          flavor="cpu", device_env=None, placements=[Placement("n1")], cpus=1, memory_mb=64,
                          time_limit_s=60, unix_uid=uid))
    deadline = time.monotonic() + 60
    while (st := ex.reconcile([(job_id, 0, ext)])[0]).phase not in (RunPhase.SUCCEEDED, RunPhase.FAILED):
        assert time.monotonic() < deadline, st
        time.sleep(0.05)
    logs = [(workdir / name).read_text() for name in ("stdout.log", "stderr.log")]
    out[job_id] = [st.phase.value, st.reason, *logs]
ex.close()
print(json.dumps(out))
'''


def _setup() -> tuple[int, int, list[str]]:
    """The user, its subordinate ids and its delegated cgroups (idempotent, as scripts/rootless-setup is)."""
    try:
        pw = pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", USER], check=True)
        pw = pwd.getpwnam(USER)
    done = subprocess.run([str(REPO / "scripts" / "rootless-setup"), USER, str(FIRST), str(COUNT)],
                          capture_output=True, text=True, check=True, timeout=300)
    dirs = done.stdout.strip().split("=", 1)[1].strip("'").split()
    return pw.pw_uid, pw.pw_gid, dirs


def test_a_server_that_is_not_root_runs_each_job_as_its_projects_uid_with_limits(tmp_path: Path) -> None:
    uid, gid, cgroup_dirs = _setup()
    srv = tmp_path / "srv"
    srv.mkdir()
    secret = srv / "server-secret"
    secret.write_text("the server's own")
    os.chmod(secret, 0o600)
    for path in (srv, secret):
        os.chown(path, uid, gid)
    (tmp_path / "driver.py").write_text(DRIVER)
    join = "; ".join(f"echo $$ > {d}/cgroup.procs" for d in cgroup_dirs)
    argv = [sys.executable, str(tmp_path / "driver.py"), str(srv / "jobs"), str(secret), str(PROJECT_UID),
            str(FIRST), str(COUNT)]
    done = subprocess.run(
        ["sh", "-c", f'{join}; exec setpriv --reuid={uid} --regid={gid} --clear-groups -- "$@"', "sh", *argv],
        capture_output=True, text=True, timeout=240, env={"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(srv)},
        check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["server"] == uid and out["problems"] == []  # not root, and nothing missing to isolate
    phase, reason, stdout, stderr = out["1"]
    assert phase == "succeeded", (reason, stderr)
    seen = json.loads(stdout.strip().splitlines()[-1])
    assert seen == {"ids": [PROJECT_UID, PROJECT_UID, PROJECT_UID], "secret": "FileNotFoundError",  # out of view
                    "state": "PermissionError", "write": "done"}  # the server's run state beside it: not its own
    assert os.stat(srv / "jobs" / "1" / "mine.txt").st_uid == PROJECT_UID  # the host sees the project's uid
    assert secret.read_text() == "the server's own"  # host-side control: the file is there to read
    phase, reason, _, stderr = out["2"]
    assert (phase, reason) == ("failed", "out of memory (limit 64 MiB)"), stderr


def test_a_user_without_subordinate_ids_is_told_what_to_configure() -> None:
    text = "alice:100000:65536\naicc:200000:65536\n"
    assert rootless.parse(text, ("aicc", "1001")) == [(200000, 65536)]
    assert rootless.covering([(200000, 65536)], 200000, 65536) == (200000, 65536)
    assert rootless.covering([(200000, 65536)], 199999, 2) is None
    why = rootless.problem(os.geteuid(), 1, 1)  # this user (root) has no such range here
    assert why is not None and ("/etc/subuid" in why or "not installed" in why)
    assert acl_blob(0o1770, 200001)[4:12] == bytes([1, 0, 7, 0, 0xFF, 0xFF, 0xFF, 0xFF])
