"""On a GPU machine: the same model served directly and as a 1-GPU service through the gateway, side by side.
Never in CI (it needs a GPU, ``onnxruntime-gpu``, and for part two ``vllm`` with a model already on disk).

    sudo .venv/bin/pip install onnxruntime-gpu          # in place of onnxruntime, same API
    sudo .venv/bin/python bench/check_gpu_serving.py [--seconds 10 --rounds 3 --clients 8]
    # part two, only when vLLM and a small model are there (nothing is downloaded):
    sudo AICC_VLLM_MODEL=/models/Qwen2.5-0.5B-Instruct .venv/bin/python bench/check_gpu_serving.py

A center is made from scratch in a short ``AICC_HOME`` (``bench/service_gateway.py``'s ``Center``): ``aicc db
upgrade``, ``aicc demo``, the demo's inventory replaced by this machine's GPUs (NVML) with haneul-llm's nominal
quota on them, then ``aicc server``. The replica runs through the runner with exactly one GPU
(``CUDA_VISIBLE_DEVICES`` renumbered from 0), in its own network namespace, behind the relay.

Part one, PP-OCR with ONNX Runtime on CUDA: the replica's ``/health`` names ``CUDAExecutionProvider`` first;
64 lines recognized through the gateway agree with the CPU model in this process on at least 95 % (a GPU may
round differently: the testbed's rule); then the model server started directly on a free port (same GPU,
same code) and the service are loaded in alternating rounds by the same closed-loop client: throughput ratio,
added p50 and p99 (the issue's goals: >= 0.9, <= 2 ms, <= 10 ms).

Part two, when ``import vllm`` works and ``AICC_VLLM_MODEL`` names a model directory: vLLM's OpenAI server as a
1-GPU service and directly (each given 40 % of the GPU's memory), ``/v1/completions`` of 32 tokens compared the
same way, and one streamed completion through the gateway must arrive as several server-sent events.
Writes bench/results/check_gpu_serving.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine
from service_gateway import SERVER, Center, closed_loop, free_port, merge, wait_for

RESULTS = Path(__file__).resolve().parent / "results"


def _ready(center: Center, sid: int, timeout: float) -> None:
    wait_for(lambda: any(r["replica_state"] == "ready" for r in center.api("GET", f"/services/{sid}")[
        "live_replicas"]), timeout, "replica ready")


def _service(center: Center, name: str, command: list[str], health: str, memory_mb: int) -> tuple[int, str]:
    svc = center.api("POST", "/services", json={
        "project": "haneul-llm", "name": name, "command": command, "port": 8000, "health": health, "replicas": 1,
        "flavors": [center.gpu_flavor], "accelerators": 1, "cpus": 4, "memory_mb": memory_mb})
    key = center.api("POST", f"/services/{svc['id']}/keys", json={"name": "check", "rate_per_s": 100000})["key"]
    return int(svc["id"]), str(key)


def side_by_side(center: Center, direct_port: int, prefix: str, path: str, method: str, key: str,
                 args: argparse.Namespace, body: bytes | None = None) -> dict[str, Any]:
    """Alternating rounds, direct then gateway, the same client: what the gateway adds at this concurrency."""
    import service_gateway

    if body is not None:
        service_gateway.BODY = body
    paths = {"direct": (direct_port, "", {}), "gateway": (center.port, prefix, {"Authorization": f"Bearer {key}"})}
    for port, pre, hdrs in paths.values():  # warm-up
        closed_loop(port, pre + path, method, hdrs, args.clients, 3)
    runs: dict[str, list[dict[str, Any]]] = {"direct": [], "gateway": []}
    for _ in range(args.rounds):
        for name, (port, pre, hdrs) in paths.items():
            runs[name].append(closed_loop(port, pre + path, method, hdrs, args.clients, args.seconds))
    d, g = merge(runs["direct"]), merge(runs["gateway"])
    return {"direct": d, "gateway": g, "throughput_ratio": g["rps"] / d["rps"],
            "added_p50_ms": g["p50_ms"] - d["p50_ms"], "added_p99_ms": g["p99_ms"] - d["p99_ms"]}


def ocr(center: Center, args: argparse.Namespace) -> dict[str, Any]:
    sid, key = _service(center, "ocr-gpu", [*SERVER, "--port", "8000"], "/health", 16384)
    _ready(center, sid, 300)
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
    port = free_port()
    direct = subprocess.Popen([*SERVER, "--port", str(port)], env={**os.environ, "CUDA_VISIBLE_DEVICES": "0"},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200, 180, "direct server")
        direct_providers = httpx.get(f"http://127.0.0.1:{port}/health").json().get("providers")
        compared = side_by_side(center, port, "/svc/haneul-llm/ocr-gpu", "/v1/recognize", "POST", key, args,
                                json.dumps({"lines": lines[:8]}).encode())
    finally:
        direct.terminate()
        direct.wait(30)
    providers = health.get("providers") or []
    ok = bool(providers) and providers[0] == "CUDAExecutionProvider" and agreement >= 0.95
    return {"providers": providers, "direct_providers": direct_providers, "agreement_with_cpu": agreement,
            **compared, "passed": ok}


def vllm(center: Center, args: argparse.Namespace) -> dict[str, Any]:
    model = os.environ.get("AICC_VLLM_MODEL", "")
    try:
        import vllm as _  # noqa: F401
    except ImportError:
        return {"skipped": "vllm is not installed"}
    if not model or not Path(model).is_dir():
        return {"skipped": "AICC_VLLM_MODEL does not name a model directory (nothing is downloaded)"}
    serve = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", model, "--served-model-name",
             "m", "--gpu-memory-utilization", "0.4", "--max-model-len", "2048"]
    sid, key = _service(center, "llm", [*serve, "--host", "127.0.0.1", "--port", "8000"], "/health", 65536)
    port = free_port()
    direct = subprocess.Popen([*serve, "--host", "127.0.0.1", "--port", str(port)],
                              env={**os.environ, "CUDA_VISIBLE_DEVICES": "0", "HF_HUB_OFFLINE": "1"},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _ready(center, sid, 900)
        wait_for(lambda: httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200, 900, "direct vLLM")
        body = {"model": "m", "prompt": "The capital of Korea is", "max_tokens": 32, "temperature": 0}
        events = []
        with httpx.stream("POST", center.url + "/svc/haneul-llm/llm/v1/completions", timeout=120,
                          headers={"Authorization": f"Bearer {key}"}, json={**body, "stream": True}) as stream:
            for chunk in stream.iter_text():
                events += [p for p in chunk.split("\n\n") if p.startswith("data: ")]
        same = httpx.post(f"http://127.0.0.1:{port}/v1/completions", json=body, timeout=120).json()[
            "choices"][0]["text"] == httpx.post(center.url + "/svc/haneul-llm/llm/v1/completions", json=body,
                                                headers={"Authorization": f"Bearer {key}"}, timeout=120).json()[
            "choices"][0]["text"]
        compared = side_by_side(center, port, "/svc/haneul-llm/llm", "/v1/completions", "POST", key, args,
                                json.dumps(body).encode())
    finally:
        direct.terminate()
        direct.wait(60)
    return {"model": model, "streamed_events": len(events), "same_text_greedy": same, **compared,
            "passed": len(events) > 2 and same}


def markdown(r: dict[str, Any]) -> str:
    m = r["machine"]
    lines = ["# GPU serving check: direct vs through the gateway", "",
             f"Machine: {m.get('cpus')} cores, {m.get('cpu_model')}, {m.get('memory_gib')} GiB; "
             f"GPUs: {m.get('gpus', '?')}. Args: `{json.dumps(r['args'])}`.", "",
             "| model | path | requests | errors | req/s | p50 ms | p99 ms |", "|---|---|---|---|---|---|---|"]
    for part in ("ocr", "vllm"):
        x = r[part]
        if "skipped" in x:
            lines.append(f"| {part} | skipped: {x['skipped']} | | | | | |")
            continue
        for path in ("direct", "gateway"):
            y = x[path]
            lines.append(f"| {part} | {path} | {y['requests']} | {y['errors']} | {y['rps']:.1f} | "
                         f"{y['p50_ms']:.2f} | {y['p99_ms']:.2f} |")
        lines.append(f"| {part} | ratio {x['throughput_ratio']:.3f}, added p50 {x['added_p50_ms']:.2f} ms, "
                     f"p99 {x['added_p99_ms']:.2f} ms | | | | | |")
    lines += ["", f"OCR providers {r['ocr'].get('providers')}, agreement with the CPU model "
              f"{r['ocr'].get('agreement_with_cpu', 0):.3f}; passed: {r['passed']}.", ""]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--clients", type=int, default=8)
    args = ap.parse_args()
    import onnxruntime as ort

    if "CUDAExecutionProvider" not in ort.get_available_providers():
        raise SystemExit("onnxruntime-gpu with CUDA is not installed here: pip install onnxruntime-gpu")
    center = Center(inventory="gpu")
    try:
        result: dict[str, Any] = {"benchmark": "check_gpu_serving", "machine": machine(), "args": vars(args),
                                  "at": time.time(), "ocr": ocr(center, args)}
        result["vllm"] = vllm(center, args)
    finally:
        center.stop()
    result["passed"] = result["ocr"]["passed"] and result["vllm"].get("passed", True)
    result["ratios"] = statistics.mean(
        [result[p]["throughput_ratio"] for p in ("ocr", "vllm") if "throughput_ratio" in result[p]])
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "check_gpu_serving.json").write_text(json.dumps(result, indent=1))
    (RESULTS / "check_gpu_serving.md").write_text(markdown(result))
    print(markdown(result))
    if not result["passed"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
