"""On an NVIDIA machine: an image job sees exactly the GPUs it was placed on (issue 15, point 6). Never run in CI.

It builds a tiny image root filesystem offline (the host's ``sh``, ``ls``, ``cat`` and the C libraries they and
``nvidia-smi`` need: a "scratch" image), then runs, as a job would run (the local executor's ``start`` with the
image and the placed GPU indexes: the shepherd, the runner, the project's uid, cgroups, bubblewrap with the
image at ``/``), ``nvidia-smi -L`` for each single GPU and for one pair, and compares each answer with the
host's ``nvidia-smi -L``: the same GPUs by UUID, no other. Run it as root (the runner drops to a job uid).

    sudo python bench/gpu_image_check.py [--bwrap /path/to/bwrap]

Writes bench/results/gpu_image_check.{json,md}; exits 1 when a check fails, 2 when the machine cannot run it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _machine import machine

from aicc.executors.base import ImageSpec, Launch, Placement
from aicc.executors.local import LocalExecutor
from aicc.images.gpu import driver_libraries
from aicc.images.unpack import add_mount_point

RESULTS = Path(__file__).resolve().parent / "results"
TOOLS = ("sh", "ls", "cat", "grep")
UUID = re.compile(r"UUID: (GPU-[0-9a-fA-F-]+)")


def _libs(binary: str) -> set[str]:
    out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=False).stdout
    return {m.group(1) for m in re.finditer(r"(/\S+\.so[\S]*)", out)}


def scratch_image(root: Path) -> None:
    """A minimal root filesystem from the host's own binaries: enough for a shell and nvidia-smi to start."""
    for d in ("bin", "proc", "dev", "tmp", "run", "etc"):
        (root / d).mkdir(parents=True, exist_ok=True)
    needed: set[str] = set()
    for tool in TOOLS:
        path = shutil.which(tool)
        assert path, f"{tool} not found on the host"
        shutil.copy2(path, root / "bin" / tool)
        needed |= _libs(path)
    smi = shutil.which("nvidia-smi")
    assert smi
    for binary in [smi, *map(str, driver_libraries())]:  # the driver's own libraries come from the GPU path
        needed |= {lib for lib in _libs(binary) if "nvidia" not in lib and "libcuda" not in lib}
    for lib in needed:
        real = Path(lib)
        dest = root / real.relative_to("/")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(real.resolve(), dest)
    (root / "etc" / "passwd").write_text("nobody:x:65534:65534::/:/bin/sh\n")
    add_mount_point(root)


def host_gpus() -> list[str]:
    out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, check=True).stdout
    return UUID.findall(out)


def inside(jobs: Path, rootfs: Path, job_id: int, devices: list[int]) -> tuple[list[str], str, str, float]:
    """One job through the local executor, placed on ``devices``; its stdout, stderr and run time."""
    ex = LocalExecutor(jobs)
    if ex.problems:
        raise SystemExit(f"cannot isolate here: {ex.problems}")
    workdir = jobs / str(job_id)
    workdir.mkdir(parents=True, exist_ok=True)
    launch = Launch(job_id=job_id, attempt=0, name=f"gpu-check-{job_id}", workdir=workdir, env={"LANG": "C"},
                    argv=["/bin/sh", "-c", "nvidia-smi -L; echo devs: $(ls /dev | grep nvidia); "
                          "echo cvd: $CUDA_VISIBLE_DEVICES"],
                    flavor="gpu", device_env="CUDA_VISIBLE_DEVICES", placements=[Placement("n1", tuple(devices))],
                    cpus=1, memory_mb=2048, time_limit_s=120, unix_uid=200_097,
                    image=ImageSpec("scratch", "sha256:" + "0" * 64, rootfs))
    t0 = time.perf_counter()
    ext = ex.start(launch)
    while not (status := ex.reconcile([(job_id, 0, ext)])[0]).phase.finished:
        if time.perf_counter() - t0 > 120:
            ex.cancel(ext, 1.0)
            break
        time.sleep(0.05)
    ex.close()
    out, err = ex.log_paths(workdir)
    stdout, stderr = out.read_text(errors="replace"), err.read_text(errors="replace")
    return UUID.findall(stdout), stdout, stderr + (status.reason or ""), time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bwrap", help="a bubblewrap binary to use when the machine has none on PATH")
    args = ap.parse_args()
    if args.bwrap:
        os.environ["PATH"] = f"{Path(args.bwrap).resolve().parent}:{os.environ['PATH']}"
    missing = [t for t in ("bwrap", "nvidia-smi") if shutil.which(t) is None]
    if missing:
        print(f"cannot run here: {', '.join(missing)} not found", file=sys.stderr)
        return 2
    gpus = host_gpus()
    if not gpus:
        print("cannot run here: nvidia-smi lists no GPU", file=sys.stderr)
        return 2
    cases = [[i] for i in range(len(gpus))] + ([[0, len(gpus) - 1]] if len(gpus) > 1 else [])
    checks = []
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o711)  # the job's uid passes through to its directory and the image
        rootfs, jobs = Path(tmp) / "rootfs", Path(tmp) / "jobs"
        scratch_image(rootfs)
        for job_id, devices in enumerate(cases, start=1):
            seen, out, err, seconds = inside(jobs, rootfs, job_id, devices)
            expected = [gpus[i] for i in devices]
            checks.append({"devices": devices, "expected": expected, "seen": seen, "ok": seen == expected,
                           "seconds": round(seconds, 3), "stdout": out[-2000:], "stderr": err[-2000:]})
            print(("ok  " if seen == expected else "FAIL"), devices, seen, f"{seconds:.2f} s")
    ok = all(c["ok"] for c in checks)
    RESULTS.mkdir(exist_ok=True)
    result = {"benchmark": "gpu_image_check", "machine": machine(), "host_gpus": gpus, "ok": ok, "checks": checks}
    (RESULTS / "gpu_image_check.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = ["# GPU inside an image job: only the placed GPUs are visible", "",
             f"Machine: {result['machine']}. Host GPUs: {len(gpus)}. Result: **{'pass' if ok else 'FAIL'}**.", "",
             "| placed (NVML index) | expected UUIDs | `nvidia-smi -L` inside | ok | run s |", "|---|---|---|---|---|"]
    lines += [f"| {c['devices']} | {', '.join(c['expected'])} | {', '.join(c['seen']) or '(none)'} | "
              f"{'yes' if c['ok'] else 'NO'} | {c['seconds']} |" for c in checks]
    (RESULTS / "gpu_image_check.md").write_text("\n".join(lines) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
