"""The secure data zone's sandbox: bubblewrap around a job's command.

A job on sensitive data sees only what is bound in: the system's programs and
libraries and the Python environment (read-only), its datasets under
``/data/<name>`` (read-only), one writable ``/out``, a private ``/tmp``. It has
its own empty network namespace (only ``lo``), its own PID namespace (no other
process is visible), no capabilities, and a clean environment. Nothing else of
the host exists inside: not ``/root`` or ``/home``, not other jobs' directories,
not AICC's database, and no Unix socket of the host (a network namespace alone
does not cut those; binding only approved paths does).
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from aicc.executors.base import SandboxSpec

SYSTEM_DIRS = ("/usr",)
SYSTEM_LINKS = {"/bin": "usr/bin", "/sbin": "usr/sbin", "/lib": "usr/lib", "/lib64": "usr/lib64"}
ETC_FILES = ("/etc/ld.so.cache", "/etc/alternatives", "/etc/localtime", "/etc/ssl/certs", "/etc/nsswitch.conf")
LIMITS = ("--nofile=1024:1024", "--nproc=4096:4096", "--core=0")


def bwrap_available() -> bool:
    return shutil.which("bwrap") is not None


def python_dirs() -> list[str]:
    """The interpreter and environment a Python job needs (venv and the base install it links to), and
    AICC's own package (for ``aicc.datazone``) when it is installed from a source checkout."""
    import aicc

    dirs = {sys.prefix, sys.base_prefix, os.path.dirname(os.path.dirname(os.path.realpath(sys.executable))),
            os.path.dirname(os.path.realpath(aicc.__file__))}
    return sorted(d for d in dirs if d and not d.startswith("/usr"))


def wrap(
    argv: Sequence[str],
    spec: SandboxSpec,
    *,
    env: Mapping[str, str],
    workdir_in_sandbox: str = "/out",
    extra_ro: Sequence[Path] = (),
) -> list[str]:
    """The command line that runs ``argv`` inside the sandbox."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise RuntimeError("bubblewrap (bwrap) is not installed: scripts/install-bubblewrap")
    args = [bwrap, "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL", "--clearenv",
            "--hostname", "sandbox"]
    for d in SYSTEM_DIRS:
        args += ["--ro-bind", d, d]
    for link, target in SYSTEM_LINKS.items():
        if os.path.islink(link):
            args += ["--symlink", target, link]
        elif os.path.isdir(link):
            args += ["--ro-bind", link, link]
    for f in ETC_FILES:
        if os.path.exists(f):
            args += ["--ro-bind", f, f]
    # the private /tmp first: the Python environment may itself live under the host's /tmp (a CI checkout)
    args += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--dir", "/data"]  # noqa: S108 - private
    for d in [*python_dirs(), *map(str, spec.readonly), *map(str, extra_ro)]:
        args += ["--ro-bind", d, d]
    for name, host_dir in sorted(spec.datasets.items()):
        if "/" in name or name in ("", ".", ".."):
            raise ValueError(f"dataset mount name {name!r} is not a plain name")
        args += ["--ro-bind", str(host_dir), f"/data/{name}"]
    args += ["--bind", str(spec.output_dir), "/out", "--chdir", workdir_in_sandbox]
    for key, value in env.items():
        args += ["--setenv", key, value]
    if "PYTHONPATH" not in env:  # find AICC's own package (aicc.datazone) even where it is not installed
        import aicc

        args += ["--setenv", "PYTHONPATH", os.path.dirname(os.path.dirname(os.path.realpath(aicc.__file__)))]
    # HOME and caches in the private /tmp: only what the job means to write lands in /out
    args += ["--setenv", "HOME", "/tmp", "--setenv", "TMPDIR", "/tmp",  # noqa: S108 - the private tmpfs
             "--setenv", "XDG_CACHE_HOME", "/tmp/.cache", "--setenv", "MPLCONFIGDIR", "/tmp/.matplotlib"]  # noqa: S108
    prlimit = shutil.which("prlimit")
    prefix = [prlimit, *LIMITS, "--"] if prlimit else []
    return [*prefix, *args, "--", *argv]
