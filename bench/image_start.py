"""Admission → process start: a bare process vs a job in a cached image, side by side in one live run; and the
first pull of a ~100 MB image from the local registry (issue 15's image benchmark).

    export AICC_TEST_REGISTRY=$(scripts/registry-up | tail -1); scripts/build-test-images --bench
    python bench/image_start.py [ROUNDS]

A real ``aicc server`` (its controller thread, the local executor) on the demo center, allowed to pull from the
test registry. Each job runs ``date +%s.%N`` as its command: the start is the moment the job's own process
runs (its clock reading), the admission is the ``admitted_at`` the controller recorded. Bare and image jobs
alternate, one at a time, so both see the same machine. Inner figures beside the live path: ``bwrap`` with the
image at ``/`` running ``true`` vs ``true`` alone, and the first pull split into skopeo's copy and our unpack.
Writes bench/results/image_start.{json,md}.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from _machine import machine

from aicc.core.images import RegistryPolicy, parse_image_ref
from aicc.executors.base import ImageSpec
from aicc.images import registry
from aicc.images.cache import _layers
from aicc.images.launch import image_argv
from aicc.images.unpack import unpack

AICC = str(Path(sys.executable).with_name("aicc"))
RESULTS = Path(__file__).resolve().parent / "results"


def start_server(home: Path, reg: str) -> tuple[subprocess.Popen[bytes], str, str]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "AICC_HOME": str(home), "AICC_CONFIG_DIR": str(home / "cfg"), "AICC_TICK_SECONDS": "2",
           "AICC_REGISTRIES": reg, "AICC_INSECURE_REGISTRIES": reg}
    subprocess.run([AICC, "db", "upgrade"], env=env, check=True, capture_output=True)
    out = subprocess.run([AICC, "demo", "--url", url], env=env, check=True, capture_output=True, text=True).stdout
    token = next(line.split()[-1] for line in out.splitlines() if line.startswith("token for bob"))
    proc = subprocess.Popen([AICC, "server", "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                return proc, url, token
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("server did not start")


def run_job(c: httpx.Client, image: str | None, timeout: float = 600) -> dict[str, Any]:
    body: dict[str, Any] = {"project": "haneul-llm", "command": ["date", "+%s.%N"], "flavors": ["cpu"]}
    if image:
        body["image"] = image
    t_submit = time.time()
    job_id = c.post("/api/v1/jobs", json=body).raise_for_status().json()["id"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = c.get(f"/api/v1/jobs/{job_id}").json()
        if job["state"] in ("succeeded", "failed", "cancelled", "timed_out"):
            break
        time.sleep(0.05)
    assert job["state"] == "succeeded", job
    log = c.get(f"/api/v1/jobs/{job_id}/logs").json()["data"]
    started = float([line for line in log.splitlines() if line and not line.startswith("==")][-1])
    admitted = dt.datetime.fromisoformat(job["admitted_at"]).timestamp()
    return {"job": job_id, "admit_to_start_ms": (started - admitted) * 1000,
            "submit_to_start_ms": (started - t_submit) * 1000, "digest": job.get("image_digest")}


def inner_bwrap(rootfs: Path, reps: int = 20) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        argv = image_argv(["true"], ImageSpec("x", "sha256:" + "0" * 64, rootfs), workdir=Path(tmp), env={})
        times = {"true": [], "bwrap_image_true": []}
        for _ in range(reps):
            for key, cmd in (("true", ["true"]), ("bwrap_image_true", argv)):
                t0 = time.perf_counter()
                subprocess.run(cmd, check=True)
                times[key].append((time.perf_counter() - t0) * 1000)
    return {k: statistics.median(v) for k, v in times.items()}


def inner_pull(reg: str, ref_text: str) -> dict[str, float]:
    policy = RegistryPolicy.from_env(reg, "", reg)
    ref = parse_image_ref(ref_text, policy)
    t0 = time.perf_counter()
    digest, manifest = registry.resolve(ref, policy)
    t1 = time.perf_counter()
    with tempfile.TemporaryDirectory(dir="/var/tmp") as tmp:
        layout, blobs = Path(tmp) / "layout", Path(tmp) / "blobs"
        subprocess.run(registry.copy_command(ref.pinned(digest), policy, layout, blobs), check=True)
        t2 = time.perf_counter()
        root = Path(tmp) / "rootfs"
        root.mkdir()
        unpack(root, [blobs / "sha256" / d.split(":")[1] for d in _layers(layout, blobs)])
        t3 = time.perf_counter()
    return {"resolve_ms": (t1 - t0) * 1000, "copy_ms": (t2 - t1) * 1000, "unpack_ms": (t3 - t2) * 1000,
            "download_mb": (registry.download_size(manifest) or 0) / 1e6}


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    reg = os.environ.get("AICC_TEST_REGISTRY") or sys.exit("set AICC_TEST_REGISTRY (see --help)")
    cached, big = f"{reg}/aicc-test/python:3.13", f"{reg}/aicc-test/big:1"
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(dir="/var/tmp") as tmp:
        home = Path(tmp) / "home"
        proc, url, token = start_server(home, reg)
        try:
            with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as c:
                first_pull = run_job(c, big)  # empty cache: resolve, pull ~100 MB, unpack, start
                run_job(c, cached)  # warm the cached image (its pull is not measured)
                run_job(c, None)
                bare, image = [], []
                for _ in range(rounds):
                    bare.append(run_job(c, None))
                    image.append(run_job(c, cached))
            rootfs = next((home / "images" / "rootfs").iterdir())
            bwrap = inner_bwrap(rootfs)
        finally:
            proc.terminate()
            proc.wait(30)
    pull = inner_pull(reg, big)
    med = {k: statistics.median(r["admit_to_start_ms"] for r in rows) for k, rows in (("bare", bare),
                                                                                       ("image", image))}
    p90 = {k: sorted(r["admit_to_start_ms"] for r in rows)[int(0.9 * (len(rows) - 1))]
           for k, rows in (("bare", bare), ("image", image))}
    result = {"benchmark": "image_start", "machine": machine(), "rounds": rounds, "load_before": load_before,
              "load_after": os.getloadavg()[0], "median_ms": med, "p90_ms": p90,
              "image_over_bare_median_ms": med["image"] - med["bare"], "goal_ms": 300,
              "first_pull": first_pull, "first_pull_parts": pull, "bwrap_inner_median_ms": bwrap,
              "bare": bare, "image": image}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "image_start.json").write_text(json.dumps(result, indent=1) + "\n")
    m = result["machine"]
    lines = [
        "# Image jobs: admission → process start, bare vs cached image; first pull of a ~100 MB image", "",
        f"Machine: {m['cpus']} CPUs ({m['cpu_model']}), shared with other work (load {load_before:.1f} → "
        f"{result['load_after']:.1f}). Live path: `aicc server` with its controller and the local executor; "
        f"{rounds} rounds, a bare job and an image job alternating, one at a time; start = the job's own "
        "`date +%s.%N`, admission = the job's `admitted_at`.", "",
        "| path | median ms | p90 ms |", "|---|---:|---:|",
        f"| bare process (today's path) | {med['bare']:.0f} | {p90['bare']:.0f} |",
        f"| image job, cached image (bwrap, image at /) | {med['image']:.0f} | {p90['image']:.0f} |",
        f"| **image over bare** (goal ≤ 300 ms) | **{med['image'] - med['bare']:.0f}** | |", "",
        f"Inner figure: `true` alone {bwrap['true']:.1f} ms, through bwrap with the image at `/` "
        f"{bwrap['bwrap_image_true']:.1f} ms (median of 20).", "",
        f"First pull of `aicc-test/big:1` ({pull['download_mb']:.0f} MB compressed) into an empty cache, live: "
        f"admission → start {first_pull['admit_to_start_ms'] / 1000:.1f} s (submit → start "
        f"{first_pull['submit_to_start_ms'] / 1000:.1f} s). Its parts, measured alone: resolve "
        f"{pull['resolve_ms']:.0f} ms, skopeo copy {pull['copy_ms'] / 1000:.1f} s, unpack "
        f"{pull['unpack_ms'] / 1000:.1f} s.",
    ]
    (RESULTS / "image_start.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    if "--help" in sys.argv:
        print(__doc__)
        sys.exit(0)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # run the finally blocks: stop the server
    main()
