"""The Unix account Slurm needs for a project's uid before it takes a job under it.

``sbatch --uid N`` refuses a uid that names no user ("Invalid --uid specification"), and slurmd looks the
user up again on the node to start the step. AICC's project uids are numbers in the center's range
(``aicc.runner.identity``), so the controller gives each one a plain account the first time it submits
under it: ``aicc-<uid>``, its own group of the same number, no home, no login shell, no password. On a
cluster of several machines the site's directory (LDAP, sssd) must carry the same entries on every node;
here the controller's machine is the node.
"""

from __future__ import annotations

import grp
import pwd
import subprocess
from collections.abc import Callable

_known: set[int] = set()


class NoAccount(RuntimeError):
    """The project's uid has no account and none could be made; the message says why."""


def account_name(uid: int) -> str:
    return f"aicc-{uid}"


def ensure_account(uid: int) -> None:
    """Make sure ``uid`` (and group ``uid``) exist in the user database; idempotent and race-safe (another
    process may add the same entry at the same time: the entry existing afterwards is what counts)."""
    if uid in _known:
        return
    if uid <= 0:
        raise NoAccount(f"refusing to give uid {uid} an account for jobs")
    name = account_name(uid)
    steps = []
    if not _exists(grp.getgrgid, uid):
        steps.append(["groupadd", "--gid", str(uid), name])
    if not _exists(pwd.getpwuid, uid):
        steps.append(["useradd", "--uid", str(uid), "--gid", str(uid), "--no-create-home", "--home-dir",
                      "/nonexistent", "--shell", "/usr/sbin/nologin", "--comment", "AICC project identity", name])
    for argv in steps:
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise NoAccount(f"cannot add the account for project uid {uid}: {argv[0]}: {exc}") from exc
        lookup = grp.getgrgid if argv[0] == "groupadd" else pwd.getpwuid
        if done.returncode != 0 and not _exists(lookup, uid):
            raise NoAccount(f"cannot add the account for project uid {uid}: {argv[0]}: "
                            f"{done.stderr.strip() or done.returncode}")
    user = pwd.getpwuid(uid)
    if user.pw_gid != uid:
        raise NoAccount(f"uid {uid} belongs to {user.pw_name} with group {user.pw_gid}, not to an AICC project")
    _known.add(uid)


def _exists(lookup: Callable[[int], object], number: int) -> bool:
    try:
        lookup(number)
    except KeyError:
        return False
    return True
