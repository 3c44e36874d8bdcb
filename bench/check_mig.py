"""On a machine with NVIDIA GPUs (never in CI): check AICC's MIG discovery and slice hand-over for real.

    PYTHONPATH=src python3 bench/check_mig.py [OUT_DIR]

1. Discovery two ways: NVML (``aicc.executors.discovery.nvml_slices``) and ``nvidia-smi -L`` parsed by
   ``parse_nvidia_smi_l``; both must name the same slices (UUIDs), and the inventory written for them
   (``slices_inventory_toml``) must load.
2. Hand-over: for each slice (or, with MIG off, each whole GPU by its ``GPU-<uuid>``), a run started by the
   local executor with the inventory's selector gets ``CUDA_VISIBLE_DEVICES=<uuid>`` and the CUDA driver in
   it sees exactly one device, that one (``cuDeviceGetCount`` / ``cuDeviceGetUuid`` through ctypes: no
   framework needed).

It changes no GPU setting (MIG mode is left as found). Writes check_mig.{json,md} to OUT_DIR (default
bench/results) and exits 1 when a check fails.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from aicc.core.inventory import parse_inventory
from aicc.executors.base import Launch, Placement
from aicc.executors.discovery import nvml_slices, parse_nvidia_smi_l, selection, slices_inventory_toml
from aicc.executors.local import LocalExecutor

PROBE = r"""
import ctypes, json, os
cuda = ctypes.CDLL("libcuda.so.1")
out = {"visible": os.environ.get("CUDA_VISIBLE_DEVICES"), "init": cuda.cuInit(0)}
n = ctypes.c_int(0)
out["count_rc"] = cuda.cuDeviceGetCount(ctypes.byref(n))
out["count"] = n.value
uuids = []
for i in range(n.value):
    dev = ctypes.c_int(0)
    cuda.cuDeviceGet(ctypes.byref(dev), i)
    raw = (ctypes.c_ubyte * 16)()
    getter = getattr(cuda, "cuDeviceGetUuid_v2", None) or cuda.cuDeviceGetUuid  # v2: a MIG slice's own UUID
    getter(raw, dev)
    h = bytes(raw).hex()
    uuids.append(f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}")
out["uuids"] = uuids
print(json.dumps(out))
"""


def smi_list() -> str:
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return ""
    return subprocess.run([exe, "-L"], capture_output=True, text=True, timeout=30, check=False).stdout


def hand_over(selector: str, tmp: Path, job_id: int) -> dict[str, object]:
    """Start the probe as AICC would hand it one device named ``selector``; what its CUDA driver saw."""
    ex = LocalExecutor(tmp)
    workdir = tmp / str(job_id)
    workdir.mkdir()
    launch = Launch(job_id=job_id, attempt=0, name=f"aicc-mig-{job_id}", argv=[sys.executable, "-c", PROBE],
                    workdir=workdir, env={}, flavor="slice", device_env="CUDA_VISIBLE_DEVICES",
                    placements=[Placement("here", (0,))], cpus=1, memory_mb=2048, time_limit_s=120,
                    device_ids={"here": (selector,)})
    assert selection(launch, "here", (0,)) == selector
    ext = ex.start(launch)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        (st,) = ex.reconcile([(job_id, 0, ext)])
        if st.phase.finished:
            break
        time.sleep(0.2)
    out, err = ex.log_paths(workdir)
    lines = [x for x in out.read_text().splitlines() if x.startswith("{")]
    seen: dict[str, object] = json.loads(lines[-1]) if lines else {"error": err.read_text()[-2000:]}
    uuids = seen.get("uuids") or []
    bare = selector.split("-", 1)[1].lower() if "-" in selector else selector
    seen["ok"] = seen.get("visible") == selector and seen.get("count") == 1 and \
        isinstance(uuids, list) and bare in [str(u).lower() for u in uuids]
    return seen


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent / "results"
    text = smi_list()
    gpus, smi_slices = parse_nvidia_smi_l(text)
    nv = nvml_slices()
    result: dict[str, object] = {
        "nvidia_smi_L": text, "gpus": gpus, "nvml_slices": [dataclasses.asdict(s) for s in nv],
        "smi_slices": [dataclasses.asdict(s) for s in smi_slices],
        "same_slices": sorted(s.uuid for s in nv) == sorted(s.uuid for s in smi_slices),
    }
    if nv:
        whole = "".join(f'[[flavors]]\nname = "{f}"\nvendor = "nvidia"\nsu_rate = 1.0\n\n'
                        for f in sorted({s.flavor.split(".", 1)[0] for s in nv}))
        inv = parse_inventory(whole + slices_inventory_toml(nv, "this-host", cpus=8, memory_gb=64), "mig.toml")
        result["inventory_capacity"] = inv.capacity()
    selectors = [s.uuid for s in nv] or [g[2] for g in gpus]  # MIG off: whole GPUs by GPU-<uuid>
    with tempfile.TemporaryDirectory() as tmp:
        result["hand_over"] = {sel: hand_over(sel, Path(tmp), k + 1) for k, sel in enumerate(selectors[:8])}
    checks = [bool(gpus), bool(result["same_slices"]), all(v["ok"] for v in result["hand_over"].values())]  # type: ignore[attr-defined]
    result["ok"] = all(checks)
    out.mkdir(parents=True, exist_ok=True)
    (out / "check_mig.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    md = ["# MIG discovery and slice hand-over (bench/check_mig.py)", "",
          f"- GPUs (nvidia-smi -L): {len(gpus)}; MIG slices: NVML {len(nv)}, nvidia-smi {len(smi_slices)}; "
          f"same: {result['same_slices']}",
          f"- hand-over: {sum(1 for v in result['hand_over'].values() if v['ok'])} of "  # type: ignore[attr-defined]
          f"{len(selectors[:8])} selectors seen alone by the run's CUDA driver", f"- ok: {result['ok']}", ""]
    (out / "check_mig.md").write_text("\n".join(md))
    print("\n".join(md))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
