"""The privileged steps of a run, in order: cgroups (as root), then the identity drop, then bubblewrap.

Called by the local shepherd (``spawn``: the child's part in C; ``exec_child`` where that cannot be used),
and by ``python -m aicc.runner`` in a Slurm batch step (``exec_child``). Everything here happens before the
job's first instruction and nothing after it: once ``execve`` of bubblewrap returns control to the job, the
job holds no privilege, no capability, no file descriptor of ours (all are close-on-exec but the ones named),
and cannot regain any (``no_new_privs``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

from aicc.runner import cgroups, identity, mounts, rootless, seccomp
from aicc.runner.profiles import Profile
from aicc.runner.spec import RunSpec

NOT_ISOLATED = 125
"""The runner's exit status when it did not start the job because it could not isolate it."""


class IsolationUnavailable(RuntimeError):
    """This run cannot be isolated here; it must not start (the message says what is missing)."""


def bwrap_path() -> str:
    path = shutil.which("bwrap")
    if path is None:
        raise IsolationUnavailable("bubblewrap (bwrap) is not installed (scripts/install-bubblewrap)")
    return path


def check_command(spec: RunSpec) -> str | None:
    """Why the command cannot start (a missing program), checked before the sandbox hides the reason in a
    log line; None when it looks startable. Host paths mean the same inside, or the image's paths."""
    prog = spec.argv[0]
    root = spec.rootfs or ""
    if "/" in prog:
        path = prog if os.path.isabs(prog) else os.path.join(spec.cwd, prog)
        return None if os.path.exists(root + path) else f"{prog}: No such file or directory"
    for d in mounts.run_env(spec).get("PATH", "/usr/bin:/bin").split(":"):
        if d and os.path.exists(os.path.join(root + d, prog)):
            return None
    if prog == "python" and not spec.rootfs and os.path.exists("/usr/bin/python3"):
        return None
    return f"{prog}: command not found"


def engine_devices(spec: RunSpec, env: Mapping[str, str]) -> RunSpec:
    """The spec with the devices the engine gave this step (``spec.engine_devices``, ``SLURM_JOB_GPUS``) in
    place of the ones placed at submit time; unchanged when it names none. Pure but for ``exists``."""
    if not spec.engine_devices or "SLURM_JOB_GPUS" not in env:
        return spec
    indexes = [i for i in env["SLURM_JOB_GPUS"].split(",") if i.isdigit()]
    paths = [spec.engine_devices.format(i) for i in indexes]
    return dataclasses.replace(spec, devices=[p for p in paths if os.path.exists(p)])


_ROOT_PROBLEMS: list[str] | None = None
"""The machine's isolation problems for a runner as root (the same for every project's uid), found once by
``warm``; None: not looked at yet."""


def warm() -> None:
    """In the local executor's zygote, before it forks a shepherd per run: what every start would work out
    the same way (the machine's isolation problems, the seccomp programs, libc) is done once here and
    inherited by each fork, off the path between a submit and the job's first instruction. A machine that
    loses bubblewrap or user namespaces later still refuses to start jobs: bubblewrap fails, unisolated
    nothing runs."""
    global _ROOT_PROBLEMS
    if os.geteuid() == 0:
        _ROOT_PROBLEMS = identity.problems(engine_identity=False)
    identity.libc()
    for profile in Profile:
        with contextlib.suppress(seccomp.UnsupportedArchitecture):
            _seccomp_program(profile)


def prepare(spec: RunSpec) -> cgroups.Cgroup:
    """In the (root) parent: the run's cgroups with their limits; in a step the engine gave its identity and
    cgroups (``spec.engine_identity``), those checked instead. Raises IsolationUnavailable."""
    root_run = _ROOT_PROBLEMS is not None and not spec.engine_identity and os.geteuid() == 0
    problems = list(_ROOT_PROBLEMS) if root_run and _ROOT_PROBLEMS is not None else identity.problems(
        engine_identity=spec.engine_identity, span=(spec.uid, 1))
    if spec.engine_identity and os.geteuid() not in (0, spec.uid):
        problems.append(f"the step runs as uid {os.geteuid()}, not as the project's uid {spec.uid}")
    if problems:
        raise IsolationUnavailable("; ".join(problems))
    try:
        if spec.engine_identity and os.geteuid() != 0:
            return cgroups.Cgroup.adopt(spec.limits)
        cg = cgroups.Cgroup(spec.name, spec.limits)
        cg.create()
    except (cgroups.CgroupUnavailable, OSError) as exc:
        raise IsolationUnavailable(f"cannot set the job's limits: {exc}") from exc
    return cg


def exec_child(spec: RunSpec, cg: cgroups.Cgroup, bwrap: str) -> None:
    """In the forked child: join the cgroups, drop to the project's identity, execute bubblewrap. Only
    returns by raising (the caller reports the error and exits)."""
    cg.join()
    program = _seccomp_program(spec.profile)
    r, w = os.pipe()
    os.write(w, program)  # a few hundred bytes: fits the pipe's buffer, so no reader is needed yet
    os.close(w)
    os.set_inheritable(r, True)
    argv = mounts.bwrap_argv(spec, bwrap, seccomp_fd=r)
    if os.geteuid() != 0 and not spec.engine_identity:  # a server that is not root: subordinate ids
        argv = [*rootless.prefix(spec.uid, spec.gid), *argv]
    else:
        identity.drop_to(spec.uid, spec.gid)
    os.execve(argv[0], argv, mounts.run_env(spec))  # noqa: S606 - a fixed program with our own argv


def spawn(spec: RunSpec, cg: cgroups.Cgroup, bwrap: str, stdout: int, stderr: int) -> subprocess.Popen[bytes] | None:
    """What ``exec_child`` does, with the child's part in C: the identity drop and exec by ``subprocess``'s
    fork (``_posixsubprocess``), the cgroups entered by this (single-threaded) process around the fork so the
    child is born in them. A Python child between fork and exec touches thousands of pages of its parent's
    heap (reference counts), each a copy-on-write fault: about 1 ms of every job's start on this machine.

    None when this run needs the Python child: a server that is not root (subordinate ids), an identity the
    engine gave, cgroups that cannot be entered and left (v2, several threads). The caller keeps the
    returned process object: dropped, ``subprocess`` would reap the job behind the caller's ``waitpid``.
    No ``no_new_privs`` here: bubblewrap sets it itself before it executes anything of the job's."""
    if os.geteuid() != 0 or spec.engine_identity or not cg.can_lend():
        return None
    if spec.uid <= 0 or spec.gid <= 0:
        raise PermissionError("refusing to run a job as root")
    r, w = os.pipe()
    try:
        try:
            os.write(w, _seccomp_program(spec.profile))
        finally:
            os.close(w)
        argv = mounts.bwrap_argv(spec, bwrap, seccomp_fd=r)
        cg.join()
        try:
            return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr,
                                    env=mounts.run_env(spec), start_new_session=True, user=spec.uid,
                                    group=spec.gid, extra_groups=[], pass_fds=(r,))
        finally:
            cg.leave()
    finally:
        os.close(r)


@functools.cache
def _seccomp_program(profile: Profile) -> bytes:
    """Built once per profile in the zygote or runner, not in every job's child between fork and exec."""
    return seccomp.program(profile.denied_syscalls, profile.denied_socket_families)


def usage_ns(cg: cgroups.Cgroup) -> int:
    return cg.cpu_usage_ns()


def children_of(pid: int) -> set[int]:
    """Direct children of ``pid`` (bubblewrap's PID-namespace init under its monitor), to spare them when
    the job's own processes get SIGTERM and a grace period."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return set()
    return {int(x) for x in text.split()}
