"""On a GPU machine: the PP-OCR model served as a 1-GPU service with onnxruntime-gpu, through the gateway,
answering what the CPU model answers. Never in CI (it needs a GPU and `onnxruntime-gpu`).

    sudo .venv/bin/pip install onnxruntime-gpu   # in place of onnxruntime, same API
    sudo .venv/bin/python bench/service_gpu_check.py

A center is made from scratch in a short ``AICC_HOME``: ``aicc db upgrade``, ``aicc demo``, then the demo's
inventory replaced by this machine's GPUs (NVML discovery) with haneul-llm's nominal quota on them, then
``aicc server``. Written and linted without a GPU (none was lent to the session that wrote it): not yet run.
The service asks ``--gpus 1``; its replica runs through the runner with exactly that device
(``CUDA_VISIBLE_DEVICES`` renumbered from 0), in its own network namespace, behind the relay. The check:
the replica's ``/health`` names ``CUDAExecutionProvider`` first; 64 lines recognized through the gateway agree
with the CPU model in this process on at least 95 % (a GPU may round differently: the testbed's rule);
throughput and latency of 200 requests at 4 clients. Writes bench/results/service_gpu_check.{json,md}.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine
from service_gateway import SERVER, Center, closed_loop, wait_for

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> None:
    import onnxruntime as ort

    if "CUDAExecutionProvider" not in ort.get_available_providers():
        raise SystemExit("onnxruntime-gpu with CUDA is not installed here: pip install onnxruntime-gpu")
    center = Center(inventory="gpu")
    try:
        svc = center.api("POST", "/services", json={
            "project": "haneul-llm", "name": "ocr-gpu", "command": [*SERVER, "--port", "8000"], "port": 8000,
            "replicas": 1, "flavors": [center.gpu_flavor], "accelerators": 1, "cpus": 4, "memory_mb": 16384})
        key = center.api("POST", f"/services/{svc['id']}/keys", json={"name": "check", "rate_per_s": 10000})["key"]
        wait_for(lambda: any(r["replica_state"] == "ready" for r in center.api("GET", f"/services/{svc['id']}")[
            "live_replicas"]), 300, "replica ready")
        auth = {"Authorization": f"Bearer {key}"}
        health = httpx.get(center.url + "/svc/haneul-llm/ocr-gpu/health", headers=auth).json()
        from aicc.testbed.serve import Recognizer
        from aicc.testbed.workloads.ocr import text_lines

        lines = text_lines()
        got: list[str] = []
        for i in range(0, len(lines), 16):
            r = httpx.post(center.url + "/svc/haneul-llm/ocr-gpu/v1/recognize", headers=auth,
                           json={"lines": lines[i:i + 16]}, timeout=60)
            r.raise_for_status()
            got += r.json()["text"]
        os.environ["AICC_TESTBED_THREADS"] = "4"
        cpu = Recognizer().recognize(lines)
        agreement = sum(a == b for a, b in zip(got, cpu, strict=True)) / len(lines)
        load = closed_loop(center.port, "/svc/haneul-llm/ocr-gpu/v1/recognize", "POST", auth, 4, 20)
        result = {"benchmark": "service_gpu_check", "machine": machine(), "providers": health.get("providers"),
                  "agreement_with_cpu": agreement, "load": load, "at": time.time()}
        ok = bool(health.get("providers")) and health["providers"][0] == "CUDAExecutionProvider" and agreement >= 0.95
        result["passed"] = ok
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "service_gpu_check.json").write_text(json.dumps(result, indent=1))
        print(json.dumps(result, indent=1))
        if not ok:
            raise SystemExit(1)
    finally:
        center.stop()


if __name__ == "__main__":
    main()
