"""Run a job's command inside its image: bubblewrap with the image's root filesystem bound read-only at ``/``.

Jobs run through the shared runner (``aicc.runner``; ``executors.local.isolation`` builds an image run's spec
from the constants and :func:`inside` here, with the project's uid and cgroups). :func:`image_argv` stays as the
bare bubblewrap view for the benchmarks' inner figure and the GPU check script. What a job sees:

- ``/``: the image, read-only (an absolute symlink in it resolves inside the image, never on the host);
- ``/aicc/job``: its own job directory, read-write (also ``HOME`` and the working directory); the image has an
  empty ``/aicc`` made at unpack, because a read-only root cannot take new mount points;
- a fresh ``/proc`` (its own PID namespace), a minimal ``/dev``, private ``/tmp`` and ``/run``;
- the accelerators it was placed on and nothing else (``aicc.images.gpu``);
- the network (ordinary jobs keep it), no capabilities, ``no_new_privs`` (a setuid binary gains nothing),
  uid/gid 65534 inside a user namespace; a clean environment: the image's own (its config's ``Env``), the
  job's variables on top.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

from aicc.executors.base import ImageSpec
from aicc.images.gpu import gpu_args

INSIDE_JOB = "/aicc/job"
NOBODY = "65534"
IMAGE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def inside(value: str, workdir: Path) -> str:
    """A host path under the job's directory, as the job sees it."""
    host = str(workdir)
    if value == host or value.startswith(host + "/"):
        return INSIDE_JOB + value[len(host):]
    return value


def image_argv(
    argv: Sequence[str], image: ImageSpec, *, workdir: Path, env: Mapping[str, str],
    device_env: str | None = None, devices: Sequence[int] = (), network: bool = True,
) -> list[str]:
    """The command line that runs ``argv`` in ``image`` (see the module's docstring)."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise RuntimeError("bubblewrap (bwrap) is not installed: scripts/install-bubblewrap")
    if not (image.rootfs / "aicc").is_dir():
        raise RuntimeError(f"image {image.ref}: its root filesystem {image.rootfs} is not an unpacked image")
    args = [bwrap, "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL", "--clearenv",
            "--uid", NOBODY, "--gid", NOBODY, "--hostname", "job",
            "--ro-bind", str(image.rootfs), "/", "--proc", "/proc", "--dev", "/dev",
            "--tmpfs", "/tmp", "--tmpfs", "/run",  # noqa: S108 - private tmpfs inside the namespace
            "--tmpfs", "/aicc", "--bind", str(workdir), INSIDE_JOB]
    if network:
        args.insert(2, "--share-net")
    job_env = {"PATH": IMAGE_PATH, **image.env, **{k: inside(v, workdir) for k, v in env.items()},
               "HOME": INSIDE_JOB}
    gpu, gpu_env = gpu_args(devices) if devices else ([], {})
    args += gpu
    for key, value in gpu_env.items():  # driver libraries and tools first, the image's own after
        job_env[key] = value + (":" + job_env[key] if job_env.get(key) else "")
    if device_env and devices:
        job_env[device_env] = ",".join(str(i) for i in range(len(devices)))  # the only ones, renumbered from 0
    for key, value in job_env.items():
        args += ["--setenv", key, value]
    return [*args, "--chdir", INSIDE_JOB, "--", *(inside(a, workdir) for a in argv)]
