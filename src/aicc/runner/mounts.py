"""The run's view of the file system, as bubblewrap arguments. Pure apart from looking at the host's layout.

Nothing is visible unless named here: the system's programs and libraries read-only (the host's, or an
image's root filesystem), the run's own directory, its datasets read-only, the accelerator devices it was
placed on, a fresh ``/proc`` for its own PID namespace, a minimal ``/dev`` and a private ``/tmp``. AICC's
home (database, secrets, other jobs' directories and logs) is simply never bound; paths inside keep their
host names, so a script path or a dataset path means the same thing inside and out.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable

from aicc.runner.profiles import Profile
from aicc.runner.spec import RunSpec

SYSTEM_DIRS = ("/usr",)
SYSTEM_TOP = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
STANDARD_EXTRA = ("/etc", "/opt")
SENSITIVE_ETC = ("/etc/ld.so.cache", "/etc/alternatives", "/etc/localtime", "/etc/ssl/certs", "/etc/nsswitch.conf")
GPU_SHARED_DEVICES = ("/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools", "/dev/nvidia-modeset")
SPECIAL = ("proc", "dev", "tmp")
PYTHON_LINK_DIR = "/run/aicc/bin"
"""Holds ``python`` -> ``python3`` when the host has no ``/usr/bin/python`` (Debian); put on PATH."""


def host_python_dirs() -> list[str]:
    """The interpreter's environment (a venv and the installation it links to) and AICC's own package, so
    ``sys.executable`` and ``import aicc.datazone`` work inside; ``/usr`` is bound anyway."""
    import aicc

    dirs = {sys.prefix, sys.base_prefix, os.path.dirname(os.path.dirname(os.path.realpath(sys.executable))),
            os.path.dirname(os.path.realpath(aicc.__file__))}
    return sorted(d for d in dirs if d and d != "/" and not d.startswith("/usr"))


def _host_system(profile: Profile) -> list[str]:
    args: list[str] = []
    for d in SYSTEM_DIRS:
        args += ["--ro-bind", d, d]
    for top in SYSTEM_TOP:
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    if profile.whole_etc:
        for d in STANDARD_EXTRA:
            if os.path.isdir(d):
                args += ["--ro-bind", d, d]
    else:
        for f in SENSITIVE_ETC:
            if os.path.exists(f):
                args += ["--ro-bind", f, f]
    return args


def splice_rootfs(rootfs: str, mountpoints: Iterable[str], _dest: str = "") -> list[str]:
    """Show ``rootfs`` read-only as ``/`` with room for mount points the image lacks: a directory on the way
    to a mount point is recreated and its entries bound one by one, everything else is bound whole. Symlinks
    are recreated as symlinks (resolved inside the run, so a link out of the image's root points nowhere)."""
    want = [m.rstrip("/") for m in mountpoints]
    args: list[str] = []
    for name in sorted(os.listdir(rootfs or "/")):
        src, dest = os.path.join(rootfs, name), f"{_dest}/{name}"
        if not _dest and name in SPECIAL:
            continue
        if os.path.islink(src):
            args += ["--symlink", os.readlink(src), dest]
        elif os.path.isdir(src) and any(m.startswith(dest + "/") for m in want):
            args += ["--dir", dest, *splice_rootfs(src, want, dest)]
        elif any(m == dest for m in want):
            continue  # bound over by the run's own mount
        else:
            args += ["--ro-bind", src, dest]
    return args


def bwrap_argv(spec: RunSpec, bwrap: str, *, seccomp_fd: int | None = None) -> list[str]:
    """The whole bubblewrap command line for ``spec`` (ends with ``--`` and the job's argv)."""
    args = [bwrap, "--unshare-all", "--unshare-user", "--disable-userns", "--new-session", "--cap-drop", "ALL"]
    args += ["--as-pid-1"] if spec.step else ["--die-with-parent"]
    if spec.keeps_network:
        args.append("--share-net")
    if spec.rootfs:
        mountpoints = [b.target for b in spec.binds] + list(spec.devices)
        args += splice_rootfs(spec.rootfs, mountpoints)
    else:
        args += _host_system(spec.profile)
    args += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]  # noqa: S108 - the run's private /tmp
    if not spec.rootfs:
        args += ["--tmpfs", "/run"]
        if not os.path.exists("/usr/bin/python") and os.path.exists("/usr/bin/python3"):
            args += ["--symlink", "/usr/bin/python3", f"{PYTHON_LINK_DIR}/python"]
        for d in spec.python_dirs:
            args += ["--ro-bind", d, d]
        if spec.profile is Profile.STANDARD and spec.devices and os.path.isdir("/sys"):
            args += ["--ro-bind", "/sys", "/sys"]  # accelerator runtimes read the PCI topology there
    devices = list(spec.devices)
    if any(os.path.basename(d).startswith("nvidia") for d in devices):
        devices += [d for d in GPU_SHARED_DEVICES if os.path.exists(d)]
    for dev in devices:
        args += ["--dev-bind", dev, dev]
    for b in spec.binds:
        args += ["--bind" if b.writable else "--ro-bind", b.src, b.target]
    args += spec.extra
    args += ["--remount-ro", "/", "--chdir", spec.cwd]  # nothing writable but the binds, /tmp and /run
    if seccomp_fd is not None:
        args += ["--seccomp", str(seccomp_fd)]
    return [*args, "--", *spec.argv]


def run_env(spec: RunSpec) -> dict[str, str]:
    """The job's environment: the spec's, with the ``python`` link directory on PATH where it was made."""
    env = dict(spec.env)
    exact = {n for n in spec.passthrough if not n.endswith("*")}
    prefixes = tuple(n[:-1] for n in spec.passthrough if n.endswith("*"))
    env.update({k: v for k, v in os.environ.items() if k in exact or (prefixes and k.startswith(prefixes))})
    if not spec.rootfs and not os.path.exists("/usr/bin/python"):
        env["PATH"] = f"{env.get('PATH', '/usr/local/bin:/usr/bin:/bin')}:{PYTHON_LINK_DIR}"
    return env
