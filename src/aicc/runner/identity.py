"""Who a run is on this machine: one Unix uid/gid per project, never root, never the server's own user.

AICC allocates each project a uid from a range the center configures (``AICC_UID_BASE``, ``AICC_UID_COUNT``;
gid = uid) and records it on the project (``projects.unix_uid``), rather than mapping everything through
one user namespace: files a job leaves in its directory, processes in ``ps`` on the host and Slurm's
accounting then show *which project* it was, the same number on every node that shares the database, and
two projects can never share an identity. The first uid of the range is kept for runs without a project
(center-owned runs, tests); nobody else gets it.

The runner itself runs as root under the local shepherd: it creates the cgroups, then drops to the
project's uid/gid with no supplementary groups and ``no_new_privs`` before it executes bubblewrap, which
builds the sandbox with an unprivileged user namespace. A Slurm step already runs as the project's uid
(``sbatch --uid/--gid``): there ``drop_to`` only checks that identity and sets ``no_new_privs``. A server
that does not run as root switches through its subordinate ids (``rootless``) when it has them; otherwise
``problems`` says what is missing at start-up and jobs fail with that reason instead of running as the
server's user.
"""

from __future__ import annotations

import ctypes
import functools
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass

from aicc.runner import rootless

PR_SET_NO_NEW_PRIVS = 38


class UidRangeExhausted(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class UidRange:
    base: int = 200_000
    count: int = 65_536

    def __post_init__(self) -> None:
        if self.base < 1000 or self.count < 2:
            raise ValueError("AICC_UID_BASE must be >= 1000 and AICC_UID_COUNT >= 2 (the first uid is reserved)")

    @property
    def unowned(self) -> int:
        """The uid of runs without a project."""
        return self.base

    def next_free(self, taken: Iterable[int]) -> int:
        """The lowest uid of the range not yet given to a project. Pure."""
        used = {u for u in taken if self.base < u < self.base + self.count}
        for uid in range(self.base + 1, self.base + self.count):
            if uid not in used:
                return uid
        raise UidRangeExhausted(f"uid range exhausted: all {self.count - 1} uids from {self.base + 1} are given to "
                                "projects (raise AICC_UID_COUNT)")


def drop_to(uid: int, gid: int) -> None:
    """In the child, after fork and before exec: become ``uid``/``gid`` for good, with no supplementary
    groups and no way back up (``no_new_privs``: a setuid binary will not raise it again)."""
    if uid <= 0 or gid <= 0:
        raise PermissionError("refusing to run a job as root")
    if os.geteuid() != 0:  # the engine switched already (sbatch --uid): only check it and lock it
        if (os.getresuid(), os.getresgid()) != ((uid,) * 3, (gid,) * 3) or not set(os.getgroups()) <= {gid}:
            raise PermissionError(f"the step runs as uid {os.getuid()} gid {os.getgid()} groups {os.getgroups()}, "
                                  f"not as the project's {uid}:{gid}")
        _no_new_privs()
        return
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    _no_new_privs()
    if os.getuid() != uid or os.geteuid() != uid or os.getgid() != gid or os.getgroups():
        raise PermissionError("identity change did not take")


@functools.cache
def libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _no_new_privs() -> None:
    if libc().prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")


def userns_available() -> str | None:
    """None when unprivileged user namespaces can be created (what bubblewrap needs after the drop)."""
    try:
        with open("/proc/sys/user/max_user_namespaces") as f:
            if int(f.read()) == 0:
                return "user namespaces are disabled (user.max_user_namespaces = 0)"
    except (OSError, ValueError):
        pass
    try:
        with open("/proc/sys/kernel/unprivileged_userns_clone") as f:
            if f.read().strip() == "0":
                return "unprivileged user namespaces are disabled (kernel.unprivileged_userns_clone = 0)"
    except OSError:
        pass  # mainline kernels have no such switch: allowed
    return None


def problems(server_uid: int | None = None, *, engine_identity: bool = False,
             span: tuple[int, int] | None = None) -> list[str]:
    """What stops this machine from running isolated jobs; empty when nothing does. ``engine_identity``: the
    engine gave the step its identity (a Slurm step of ``sbatch --uid``), so not being root is expected.
    ``span`` (first uid, count): the project uids a server that is not root must map (``rootless``)."""
    out = []
    if shutil.which("bwrap") is None:
        out.append("bubblewrap (bwrap) is not installed (scripts/install-bubblewrap)")
    uid = os.geteuid() if server_uid is None else server_uid
    if uid != 0 and not engine_identity:
        why = rootless.problem(uid, *span) if span is not None else "no uid range to map"
        if why:
            out.append(f"the server runs as uid {uid}, not root, so it can give jobs their project's identity "
                       f"only through subordinate ids, and {why}; run it as root, or give its user the range "
                       "(scripts/rootless-setup USER), or jobs stay unstarted")
    reason = userns_available()
    if reason:
        out.append(reason)
    return out
