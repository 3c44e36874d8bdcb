"""On a machine with NVIDIA GPUs: discover them (NVML), build the inventory, run a real job on device 0.

    PYTHONPATH=src python3 bench/gpu_discovery.py [OUT_DIR]

Checks that AICC's local executor hands a job exactly the GPUs it was placed on
(CUDA_VISIBLE_DEVICES) and that the job's CUDA runtime sees them. Writes
gpu_discovery.{json,md} to OUT_DIR (default bench/results).
"""

from __future__ import annotations

import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path

from aicc.core.inventory import parse_inventory
from aicc.executors.base import Launch, Placement
from aicc.executors.local import LocalExecutor
from aicc.testbed.devices import inventory_toml, nvidia

PROBE = ("import os, json, torch; print(json.dumps({'visible': os.environ.get('CUDA_VISIBLE_DEVICES'), "
         "'count': torch.cuda.device_count(), 'name': torch.cuda.get_device_name(0) if torch.cuda.is_available() "
         "else None, 'matmul_ok': bool((torch.ones(64, 64, device='cuda') @ torch.ones(64, 64, device='cuda'))"
         ".sum().item() == 64 ** 3) if torch.cuda.is_available() else False}))")


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent / "results"
    devices = nvidia()
    toml = inventory_toml(devices)
    inv = parse_inventory(toml, "discovered.toml")
    result: dict[str, object] = {"devices": [dataclasses.asdict(d) for d in devices], "capacity": inv.capacity()}
    if devices:
        with tempfile.TemporaryDirectory() as tmp:
            ex = LocalExecutor(Path(tmp))
            workdir = Path(tmp) / "1"
            workdir.mkdir()
            launch = Launch(job_id=1, attempt=0, name="gpu-probe", argv=[sys.executable, "-c", PROBE],
                            workdir=workdir, env={}, flavor=inv.nodes[0].flavor, device_env="CUDA_VISIBLE_DEVICES",
                            placements=[Placement(inv.nodes[0].name, (0,))], cpus=1, memory_mb=1000,
                            time_limit_s=120)
            ext = ex.start(launch)
            for _ in range(1200):
                (st,) = ex.reconcile([(1, 0, ext)])
                if st.phase.finished:
                    break
                time.sleep(0.1)
            stdout = (workdir / "stdout.log").read_text().splitlines()
            result["job"] = {"phase": st.phase.value, "exit_code": st.exit_code, "output": json.loads(stdout[-1])}
            ex.close()
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu_discovery.json").write_text(json.dumps(result, indent=2) + "\n")
    md = ["# GPU discovery and a real job on a discovered GPU", "",
          f"{len(devices)} device(s): " + ", ".join(f"{d.name} ({d.memory_mb} MiB, MIG {d.mig_enabled})"
                                                    for d in devices), "", "Inventory from discovery:", "",
          "```toml", toml, "```", ""]
    if "job" in result:
        md.append(f"Job placed on device 0 through the local executor: {json.dumps(result['job'])}")
    (out / "gpu_discovery.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
