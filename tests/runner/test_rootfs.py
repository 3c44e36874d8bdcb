"""An image's root filesystem as ``/`` (the interface the images work builds on): the run sees the image's
files, not the host's, its own directory at its usual path, and a link out of the image leads nowhere."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from aicc.executors.base import Launch, Placement, RunPhase
from aicc.executors.local import LocalExecutor
from aicc.runner.spec import RunSpec


@pytest.fixture
def rootfs(tmp_path: Path) -> Iterator[Path]:
    """A small image tree: its own /etc, links like Debian's, and /usr lent from the host (a bind mount)."""
    root = tmp_path / "image"
    for d in ("usr", "etc", "proc", "dev", "tmp", "var/lib"):
        (root / d).mkdir(parents=True)
    for link in ("bin", "lib", "lib64", "sbin"):
        (root / link).symlink_to(f"usr/{link}")
    (root / "etc" / "image-release").write_text("tiny image 1.0\n")
    secret = tmp_path / "host-secret"
    secret.write_text("host only")
    (root / "etc" / "escape").symlink_to(secret)
    subprocess.run(["mount", "--bind", "-o", "ro", "/usr", str(root / "usr")], check=True)
    yield root
    subprocess.run(["umount", str(root / "usr")], check=True)


class ImageExecutor(LocalExecutor):
    def __init__(self, jobs: Path, rootfs: Path) -> None:
        super().__init__(jobs)
        self.rootfs = rootfs

    def run_spec(self, launch: Launch, env: dict[str, str], rootfs: Path | None = None) -> RunSpec | None:
        return super().run_spec(launch, env, rootfs=self.rootfs)


def test_a_run_on_an_image_root_sees_the_image_not_the_host(tmp_path: Path, rootfs: Path) -> None:
    jobs = tmp_path / "var" / "lib" / "aicc" / "jobs"
    workdir = jobs / "1"
    workdir.mkdir(parents=True)
    ex = ImageExecutor(jobs, rootfs)
    script = ("cat /etc/image-release; test -e /etc/debian_version && echo HOST-ETC; "
              "cat /etc/escape 2>/dev/null && echo ESCAPED; echo mine > \"$HOME/out.txt\"; "
              "touch /etc/x 2>/dev/null && echo WROTE-IMAGE; echo done")
    launch = Launch(job_id=1, attempt=0, name="i-1", argv=["sh", "-c", script], workdir=workdir, env={},
                    flavor="cpu", device_env=None, placements=[Placement("n1")], cpus=1, memory_mb=256,
                    time_limit_s=60, unix_uid=200_031)
    ext = ex.start(launch)
    deadline = time.monotonic() + 60
    while (st := ex.reconcile([(1, 0, ext)])[0]).phase in (RunPhase.STARTING, RunPhase.RUNNING):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    out, err = ex.log_paths(workdir)
    assert st.phase is RunPhase.SUCCEEDED, err.read_text()
    lines = out.read_text().splitlines()[1:]
    assert lines == ["tiny image 1.0", "done"]
    assert (workdir / "out.txt").read_text() == "mine\n"
    assert Path("/etc/debian_version").exists() and (tmp_path / "host-secret").read_text()  # host controls
