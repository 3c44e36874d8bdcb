"""From a placed ``Launch`` to the runner's ``RunSpec``, and the file modes that keep runs apart on disk.

Every run on this engine goes through the runner (``aicc.runner``); this module only decides *what* the run
sees: its job directory (read-write, at its host path, so ``$HOME`` and script paths mean the same inside),
open datasets read-only, the device nodes of the accelerators it was placed on, and the host's Python
environment. A sensitive run gets the data zone's view instead: ``/data/<name>`` read-only, ``/out`` the
only writable path, ``$HOME`` in its private ``/tmp``.

On disk, the job directory belongs to root with the project's group, mode ``1770``: the job may create and
change its own files, but not rename or delete what the server keeps there (``run-<n>/`` with the shepherd's
state, the log files, the script), so nothing a job writes is ever read back by root as the server's own.
"""

from __future__ import annotations

import hashlib
import os
import stat
import struct
from collections.abc import Mapping
from pathlib import Path

from aicc.executors.base import Launch
from aicc.executors.discovery import selection
from aicc.runner.identity import UidRange
from aicc.runner.mounts import host_python_dirs
from aicc.runner.profiles import Profile
from aicc.runner.spec import Bind, Limits, RunSpec

DEVICE_NODES: Mapping[str, str] = {"CUDA_VISIBLE_DEVICES": "nvidia{}", "RBLN_DEVICES": "rbln{}"}
"""The device node of accelerator ``i`` per vendor (by the variable that selects it), under the device root."""
JOB_DIR_MODE = 0o1770
PIDS_MAX = 4096
WORKSPACE_MOUNT = "/workspace"


class UnsafePath(RuntimeError):
    """A path the server keeps for a run was replaced by something it does not own (a link, a job's file)."""


def device_paths(launch: Launch, device_root: Path) -> list[str]:
    pattern = DEVICE_NODES.get(launch.device_env or "")
    if pattern is None:
        return []
    indexes = [d for p in launch.placements for d in p.devices]
    return [str(device_root / pattern.format(i)) for i in indexes if (device_root / pattern.format(i)).exists()]


def uid_of(launch: Launch, uids: UidRange) -> int:
    uid = launch.unix_uid if launch.unix_uid is not None else uids.unowned
    if uid <= 0 or (uid == os.geteuid() and uid != 0):
        raise PermissionError(f"refusing to run job {launch.job_id} as uid {uid}")
    return uid


def prepare_dirs(launch: Launch, uid: int) -> None:
    """Job directory ``root:<gid> 1770``; a sensitive run's output folder its own (``uid:gid 0700``). A server
    that is not root cannot give them away: they stay its own, opened to the project's uid by an ACL."""
    if os.geteuid() != 0:
        me, group = os.geteuid(), os.getegid()
        own_dir(launch.workdir, me, group, JOB_DIR_MODE)
        grant(launch.workdir, uid)
        if launch.sandbox is not None:
            own_dir(launch.sandbox.output_dir, me, group, 0o700)
            grant(launch.sandbox.output_dir, uid)
        return
    own_dir(launch.workdir, 0, uid, JOB_DIR_MODE)
    if launch.sandbox is not None:
        own_dir(launch.sandbox.output_dir, uid, uid, 0o700)


_ACL_UNDEFINED = 0xFFFFFFFF


def acl_blob(mode: int, uid: int) -> bytes:
    """The ``system.posix_acl_access`` value: the owner, group and others as ``mode`` says, plus ``uid`` with
    rwx (the mask rwx, so the group's own bits stay the mode's). Pure."""
    entries = [(0x01, (mode >> 6) & 7, _ACL_UNDEFINED), (0x02, 7, uid), (0x04, (mode >> 3) & 7, _ACL_UNDEFINED),
               (0x10, 7, _ACL_UNDEFINED), (0x20, mode & 7, _ACL_UNDEFINED)]
    return struct.pack("<I", 2) + b"".join(struct.pack("<HHI", tag, perm, ident) for tag, perm, ident in entries)


def grant(path: Path, uid: int) -> None:
    """Let ``uid`` (and only it, beyond the owner) read, write and enter ``path``, keeping the sticky bit."""
    mode = stat.S_IMODE(os.lstat(path).st_mode)
    try:
        os.setxattr(path, "system.posix_acl_access", acl_blob(mode, uid), follow_symlinks=False)
    except OSError as exc:
        raise UnsafePath(f"cannot open {path} to uid {uid} with an ACL: {exc.strerror}") from exc
    if stat.S_IMODE(os.lstat(path).st_mode) & 0o7000 != mode & 0o7000:
        os.chmod(path, mode, follow_symlinks=False)


def own_dir(path: Path, uid: int, gid: int, mode: int) -> None:
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode):
        raise UnsafePath(f"{path} is not a directory")
    if (st.st_uid, st.st_gid) != (uid, gid):
        os.lchown(path, uid, gid)
    if stat.S_IMODE(st.st_mode) != mode:
        os.chmod(path, mode, follow_symlinks=False)


def traversal_problem(path: Path) -> str | None:
    """Project uids reach their directory through its ancestors: each must let others pass (``o+x``)."""
    for parent in path.absolute().parents:
        try:
            mode = os.stat(parent).st_mode
        except OSError as exc:
            return f"{parent}: {exc.strerror}"
        if not mode & stat.S_IXOTH:
            return f"{parent} is mode {stat.S_IMODE(mode):o}: jobs (project uids) cannot pass it to their directory"
    return None


def write_new(path: Path, text: str, mode: int = 0o644) -> None:
    """(Re)write a file the server keeps in a job's directory without following anything the job left there."""
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)


def run_name(launch: Launch, engine: str = "job") -> str:
    """Names the run's cgroups: unique per center on a shared host, not only per job id. Two AICC homes on
    one machine (a second center, test servers side by side) both have a job 1, and a cgroup named after
    the job alone would be shared, so a cancel in one would kill the other's run."""
    home = hashlib.sha256(str(launch.workdir.parent.absolute()).encode()).hexdigest()[:10]
    return f"{engine}-{home}-{launch.job_id}-{launch.attempt}"


def workspace_binds(launch: Launch) -> list[Bind]:
    """The project's workspace, read-write at ``/workspace``: the one place every kind of run (job, session,
    service, on either engine) gets it, so they all see the same thing. None for a sensitive-data run (its
    only writable place is ``/out``, whose files are held for review) or a run without a project."""
    if launch.workspace is None or launch.sandbox is not None:
        return []
    st = os.lstat(launch.workspace)
    if not stat.S_ISDIR(st.st_mode):
        raise UnsafePath(f"{launch.workspace} (the workspace) is not a directory")
    return [Bind(str(launch.workspace), WORKSPACE_MOUNT, writable=True)]


def run_spec(launch: Launch, env: dict[str, str], *, uid: int, device_root: Path, rootfs: Path | None = None,
             pids: int = PIDS_MAX, engine: str = "job") -> RunSpec:
    """The runner's spec for ``launch``; ``rootfs`` an unpacked image to use instead of the host's system."""
    argv = list(launch.argv)
    limits = Limits(cpus=float(max(1, launch.cpus)), memory_mb=max(16, launch.memory_mb), pids=pids)
    common = {"uid": uid, "gid": uid, "name": run_name(launch, engine), "limits": limits,
              "devices": device_paths(launch, device_root), "rootfs": str(rootfs) if rootfs else None,
              "python_dirs": [] if rootfs else host_python_dirs()}
    if launch.image is not None and launch.sandbox is None:
        return _image_spec(launch, env, common)
    if launch.sandbox is None:
        binds = [Bind(str(launch.workdir), writable=True)]
        binds += [Bind(str(p)) for p in launch.readonly]
        binds += workspace_binds(launch)
        if binds[-1].target == WORKSPACE_MOUNT:
            env = {**env, "AICC_WORKSPACE": WORKSPACE_MOUNT}
        return RunSpec(argv=argv, env=env, cwd=str(launch.workdir), binds=binds, network=launch.network,
                       profile=Profile.STANDARD, **common)  # type: ignore[arg-type]
    box = launch.sandbox
    binds = [Bind(str(p)) for p in box.readonly]
    for name, host_dir in sorted(box.datasets.items()):
        if "/" in name or name in ("", ".", ".."):
            raise ValueError(f"dataset mount name {name!r} is not a plain name")
        binds.append(Bind(str(host_dir), f"/data/{name}"))
    binds.append(Bind(str(box.output_dir), "/out", writable=True))
    inside = {k: v for k, v in env.items() if k != "HOME"}
    if "PYTHONPATH" not in inside:  # AICC's own package (aicc.datazone) where it is not installed
        import aicc

        inside["PYTHONPATH"] = os.path.dirname(os.path.dirname(os.path.realpath(aicc.__file__)))
    inside.update({"HOME": "/tmp", "TMPDIR": "/tmp", "XDG_CACHE_HOME": "/tmp/.cache",  # noqa: S108 - private
                   "MPLCONFIGDIR": "/tmp/.matplotlib"})  # noqa: S108
    return RunSpec(argv=argv, env=inside, cwd="/out", binds=binds, network=False, profile=Profile.SENSITIVE,
                   **common)  # type: ignore[arg-type]


def _image_spec(launch: Launch, env: dict[str, str], common: dict[str, object]) -> RunSpec:
    """A run in its image: the image read-only at ``/``, the job directory at ``/aicc/job`` (the image's root
    is read-only and has an empty ``/aicc`` for it), paths under the job directory rewritten to it, the image's
    own environment with the job's variables on top, and exactly the placed GPUs with the host's driver."""
    from aicc.images.gpu import gpu_args
    from aicc.images.launch import IMAGE_PATH, INSIDE_JOB, inside

    image = launch.image
    assert image is not None
    workdir = launch.workdir
    job_env = {"PATH": IMAGE_PATH, **image.env,
               **{k: inside(v, workdir) for k, v in env.items() if k not in ("PATH", "HOME")}, "HOME": INSIDE_JOB}
    devices = [d for p in launch.placements for d in p.devices]
    extra: list[str] = []
    if devices and launch.device_env == "CUDA_VISIBLE_DEVICES":
        extra, gpu_env = gpu_args(devices)
        for key, value in gpu_env.items():  # driver libraries and tools first, the image's own after
            job_env[key] = value + (":" + job_env[key] if job_env.get(key) else "")
        named = [selection(launch, p.node, p.devices) for p in launch.placements if p.node in launch.device_ids]
        # slices by their own names (MIG-<uuid>: the driver resolves them), whole devices renumbered from 0
        job_env[launch.device_env] = ",".join(named) if named else ",".join(str(i) for i in range(len(devices)))
    binds = [Bind(str(workdir), INSIDE_JOB, writable=True), *(Bind(str(p)) for p in launch.readonly),
             *workspace_binds(launch)]
    if launch.workspace is not None:
        job_env["AICC_WORKSPACE"] = WORKSPACE_MOUNT
    spec = dict(common, rootfs=str(image.rootfs), python_dirs=[], devices=[] if extra else common["devices"])
    return RunSpec(argv=[inside(a, workdir) for a in launch.argv], env=job_env, cwd=INSIDE_JOB, binds=binds,
                   network=launch.network, profile=Profile.STANDARD, extra=extra, **spec)  # type: ignore[arg-type]


def harden_home(home: Path) -> list[str]:
    """AICC_HOME as jobs must find it: passable (``0711``) but not listable, the database and the secrets the
    server's alone. Returns what it changed, for the start-up log. Only the server's own files are touched."""
    changed = []
    wanted = [(home, 0o711), (home / "jobs", 0o711), (home / "secrets", 0o700), (home / "published", 0o711),
              (home / "data", 0o711)]
    wanted += [(home / name, 0o600) for name in ("aicc.db", "aicc.db-wal", "aicc.db-shm", "admin-token")]
    if (home / "secrets").is_dir():
        wanted += [(p, 0o600) for p in (home / "secrets").iterdir() if p.is_file() and not p.is_symlink()]
    for path, mode in wanted:
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            continue
        if stat.S_ISLNK(st.st_mode) or stat.S_IMODE(st.st_mode) == mode:
            continue
        os.chmod(path, mode)
        changed.append(f"{path} {mode:o}")
    return changed
