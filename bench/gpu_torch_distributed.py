"""On a GPU machine: a real two-process ``torch.distributed`` all-reduce as a multi-node AICC job (issue 22,
point 4). Never run in CI.

The job is a gang of two "nodes" on this machine, started as the center starts one (the local executor: the
shepherd, one runner per rank with the project's uid, cgroups and bubblewrap, each rank its own GPU when the
machine has two, else both on GPU 0): each rank calls ``init_process_group(init_method="env://")`` with
nothing but the variables AICC set (MASTER_ADDR, MASTER_PORT, WORLD_SIZE, RANK), all-reduces ``rank + 1``
on its GPU (NCCL; gloo on CPU tensors when only one GPU, since NCCL refuses two ranks on one device) and
prints the sum. torch must be importable by this interpreter (``pip install torch``); run as root.

    sudo .venv/bin/python bench/gpu_torch_distributed.py

Writes bench/results/gpu_torch_distributed.{json,md}; exits 1 when the check fails, 2 when the machine
cannot run it (no torch, no GPU, cannot isolate).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _machine import machine

from aicc.executors.base import Launch, Placement
from aicc.executors.local import LocalExecutor
from aicc.executors.tasks import rank_lines

RESULTS = Path(__file__).resolve().parent / "results"
PROGRAM = """
import os, torch, torch.distributed as dist
backend = os.environ["BENCH_BACKEND"]
dist.init_process_group(backend, init_method="env://")
rank = dist.get_rank()
device = torch.device("cuda", 0) if backend == "nccl" else torch.device("cpu")
x = torch.tensor([float(rank + 1)], device=device)
dist.all_reduce(x)
name = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
print(f"rank {rank} of {dist.get_world_size()} sum {x.item():g} on {name} ({backend})", flush=True)
dist.destroy_process_group()
"""


def gpus() -> int:
    out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, check=False).stdout
    return sum(1 for line in out.splitlines() if line.startswith("GPU "))


def main() -> int:
    try:
        import torch  # noqa: F401
    except ImportError:
        print("torch is not importable here: pip install torch, then run again", file=sys.stderr)
        return 2
    n = gpus() if shutil.which("nvidia-smi") else 0
    if n == 0:
        print("no NVIDIA GPU here (nvidia-smi -L lists none)", file=sys.stderr)
        return 2
    backend = "nccl" if n >= 2 else "gloo"
    devices = [(0,), (1,)] if n >= 2 else [(0,), (0,)]
    with tempfile.TemporaryDirectory(prefix="aicc-bench-torch-") as tmp:
        root = Path(tmp)
        root.chmod(0o711)
        workdir = root / "1"
        workdir.mkdir()
        (workdir / "allreduce.py").write_text(PROGRAM)
        executor = LocalExecutor(root / "jobs")
        if executor.problems:
            print("cannot isolate jobs here: " + "; ".join(executor.problems), file=sys.stderr)
            return 2
        launch = Launch(job_id=1, attempt=0, name="bench-torch-1-0", argv=[sys.executable, "allreduce.py"],
                        workdir=workdir, env={"BENCH_BACKEND": backend}, flavor="h100",
                        device_env="CUDA_VISIBLE_DEVICES", placements=[Placement("gpu-a", devices[0]),
                                                                        Placement("gpu-b", devices[1])],
                        cpus=4, memory_mb=16000, time_limit_s=300)
        t0 = time.perf_counter()
        ext = executor.start(launch)
        while not (status := executor.reconcile([(1, 0, ext)])[0]).phase.finished:
            time.sleep(0.1)
        took = time.perf_counter() - t0
        out = (workdir / "stdout.log").read_bytes()
        err = (workdir / "stderr.log").read_text(errors="replace")
    lines = [rank_lines(out, r, complete=True)[0].decode().strip() for r in (0, 1)]
    ok = status.phase.value == "succeeded" and all(" sum 3 " in line for line in lines)
    result = {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "machine": machine(), "gpus": n,
              "backend": backend, "phase": status.phase.value, "reason": status.reason, "ranks": lines,
              "seconds_start_to_end": round(took, 2), "ok": ok, "stderr_tail": err[-2000:]}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "gpu_torch_distributed.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / "gpu_torch_distributed.md").write_text(
        f"# torch.distributed all-reduce as a two-node AICC job\n\n{result['when']}, {n} GPU(s), backend "
        f"{backend}: **{'passed' if ok else 'FAILED'}** ({status.phase.value}, {took:.1f} s start to end).\n\n"
        + "".join(f"- {line}\n" for line in lines))
    print(json.dumps(result, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
