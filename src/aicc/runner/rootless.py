"""Project identities for a server that is not root: subordinate uids, as rootless container runtimes use.

An ordinary user cannot switch to another uid, but the administrator can give it a range of subordinate
ids (``/etc/subuid``, ``/etc/subgid``: ``aicc:200000:65536``), and Debian's ``newuidmap``/``newgidmap``
(package ``uidmap``, setuid root) let it map that range into a user namespace it creates. When AICC's
project range (``AICC_UID_BASE``, ``AICC_UID_COUNT``) lies inside it, the runner starts each job through

    unshare --user --map-user=0 --map-group=0 --map-users=S,S,N --map-groups=S,S,N --
        setpriv --reuid=P --regid=P --clear-groups --no-new-privs -- bwrap ...

so the job runs as host uid ``P`` exactly as under a root server (the same number in ``ps`` and on its
files): the server's user is root only inside that namespace, for the instant before ``setpriv`` drops it,
and the range maps one to one. The server keeps the right to signal its jobs (it owns their namespace) and
never gains any over other users' processes. The job's directory is the server's, opened to the project's
uid by an ACL (``isolation.grant``) since only root may ``chown`` it.

Limits still need cgroups the server may write: a cgroup delegated to its user (systemd ``Delegate=yes``;
on a v1 machine, directories an administrator made and handed over: ``scripts/install-isolation
--rootless``). Without them jobs fail with the cgroup's reason, never unlimited.
"""

from __future__ import annotations

import os
import pwd
import shutil

SUBUID, SUBGID = "/etc/subuid", "/etc/subgid"
TOOLS = ("newuidmap", "newgidmap", "unshare", "setpriv")


def parse(text: str, names: tuple[str, ...]) -> list[tuple[int, int]]:
    """The (start, count) ranges an ``/etc/subuid``-format text gives to any of ``names`` (user name or
    number). Pure."""
    out = []
    for line in text.splitlines():
        parts = line.strip().split(":")
        if len(parts) == 3 and parts[0] in names and parts[1].isdigit() and parts[2].isdigit():
            out.append((int(parts[1]), int(parts[2])))
    return out


def covering(ranges: list[tuple[int, int]], first: int, count: int) -> tuple[int, int] | None:
    """The range holding all of ``first`` .. ``first + count - 1``, or None. Pure."""
    for start, n in ranges:
        if start <= first and first + count <= start + n:
            return start, n
    return None


def _names(uid: int) -> tuple[str, ...]:
    try:
        return (pwd.getpwuid(uid).pw_name, str(uid))
    except KeyError:
        return (str(uid),)


def _ranges(path: str, uid: int) -> list[tuple[int, int]]:
    try:
        with open(path) as f:
            return parse(f.read(), _names(uid))
    except OSError:
        return []


def problem(server_uid: int, first: int, count: int) -> str | None:
    """Why this user cannot run uids ``first`` .. ``first + count - 1`` (None: it can)."""
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        return f"{', '.join(missing)} not installed (Debian's uidmap and util-linux)"
    for path in (SUBUID, SUBGID):
        if covering(_ranges(path, server_uid), first, count) is None:
            return f"{path} gives {_names(server_uid)[0]} no range holding uids {first}-{first + count - 1}"
    return None


def prefix(uid: int, gid: int) -> list[str]:
    """The commands that put ``uid``/``gid`` in place before bubblewrap (see the module docstring)."""
    me = os.geteuid()
    users = covering(_ranges(SUBUID, me), uid, 1)
    groups = covering(_ranges(SUBGID, me), gid, 1)
    unshare, setpriv = shutil.which("unshare"), shutil.which("setpriv")
    if users is None or groups is None or unshare is None or setpriv is None:
        raise PermissionError(problem(me, uid, 1) or f"uid {uid} is not in this user's subordinate ids")
    return [unshare, "--user", "--map-user=0", "--map-group=0", f"--map-users={users[0]},{users[0]},{users[1]}",
            f"--map-groups={groups[0]},{groups[0]},{groups[1]}", "--",
            setpriv, f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "--no-new-privs", "--"]
