"""The testbed's workloads in every MLPerf scenario on this machine's CPU flavor, through real LoadGen.

    PYTHONPATH=src python3 bench/testbed_cpu.py [OUT_DIR] [DURATION_MS]

Writes testbed_cpu.{json,md} to OUT_DIR (default bench/results). Each figure is one short run (DURATION_MS,
default 2000, per LoadGen performance run): a quick comparison, not an MLPerf submission. On a GPU node the
same runner measures the GPU when ONNX Runtime's CUDA provider is installed (``onnxruntime-gpu``).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _machine import machine

from aicc.core.benchmarks import SCENARIOS
from aicc.testbed.run import benchmark
from aicc.testbed.scenarios import RunConfig

WORKLOADS = ("ocr-cls", "dicom-prep", "ocr-rec")


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent / "results"
    duration = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    cfg = RunConfig(duration_ms=duration, min_queries=64)
    docs: dict[str, Any] = {}
    load_before = os.getloadavg()
    for name in WORKLOADS:
        with tempfile.TemporaryDirectory() as tmp:
            began = time.perf_counter()
            doc = benchmark(name, list(SCENARIOS), Path(tmp), cfg, flavor="cpu")
            doc["wall_s"] = time.perf_counter() - began
            docs[name] = doc
    out.mkdir(parents=True, exist_ok=True)
    (out / "testbed_cpu.json").write_text(json.dumps({"machine": machine(), "duration_ms": duration,
                                                      "runs": docs}, indent=1, default=str))
    lines = [
        "# Testbed: MLPerf-style scenarios on the CPU flavor",
        "",
        f"Machine: {machine()}. LoadGen minimum duration {duration} ms per performance run; "
        "the pilot calibrates each scenario first. A quick comparison, not an MLPerf submission. "
        "No energy figure: this VM exposes no RAPL or board power sensor. "
        f"Load average before/after: {load_before[0]:.1f} / {os.getloadavg()[0]:.1f} (other work on the same cores "
        "moves latency tails and the Server verdict most).",
        "",
        "| workload | class | scenario | valid | figure of merit | samples/s | p50 ms | p90 ms | p99 ms | accuracy |",
        "|---|---|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for name, doc in docs.items():
        acc = f"{doc['accuracy']['value']:.3f}"
        for r in doc["results"]:
            lat = r.get("latency_ns", {})
            fig = f"{r.get('metric')} = {r.get('value'):.4g}" if r.get("value") is not None else "-"
            lines.append(
                f"| {name} | {doc['workload_class']} | {r['scenario']} | "
                f"{'yes' if r['valid'] else 'no: ' + '; '.join(r['invalid_reasons'])} | {fig} | "
                f"{(r.get('samples_per_s') or 0):.1f} | {(lat.get('p50') or 0) / 1e6:.2f} | "
                f"{(lat.get('p90') or 0) / 1e6:.2f} | {(lat.get('p99') or 0) / 1e6:.2f} | {acc} |")
    lines += ["", "Pilot (predict timed directly, then a 100 ms LoadGen Offline run) and wall time per workload:", ""]
    for name, doc in docs.items():
        p = doc["pilot"]
        lines.append(f"- {name}: single-sample median {p['single_latency_s'] * 1e3:.2f} ms, "
                     f"LoadGen-path throughput {p['batch_throughput']:.0f} samples/s; "
                     f"model load {doc['load_s']:.2f} s; whole job {doc['wall_s']:.1f} s")
    server = {n: next(r for r in d["results"] if r["scenario"] == "Server") for n, d in docs.items()}
    lines += ["", "Server search (target QPS tried, LoadGen verdict, p99):", ""]
    for name, r in server.items():
        tries = ", ".join(f"{t['target_qps']} → {'VALID' if t['valid'] else 'INVALID'} "
                          f"(p99 {(t['p99_ns'] or 0) / 1e6:.1f} ms)" for t in r.get("server_tries", []))
        lines.append(f"- {name}: bound {r.get('latency_bound_ns', 0) / 1e6:.0f} ms; {tries}")
    (out / "testbed_cpu.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
