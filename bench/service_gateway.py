"""A model server directly vs through the service gateway, side by side; and a rolling update under load.

    sudo .venv/bin/python bench/service_gateway.py --seconds 10 --rounds 2 --clients 4 --rate 200

One real center: ``aicc db upgrade``, ``aicc demo`` and ``aicc server`` (a separate process, SQLite) in a
short ``AICC_HOME`` under /tmp. The same PP-OCR model server (``aicc.testbed.serve``) runs twice, given the
same cores (2 ONNX Runtime threads):

- **direct**: started on a free loopback port of the host, reached with no AICC in between;
- **replica**: the same service's replica reached at its relay's Unix socket (the same process in the same
  cgroup as the gateway's answers come from: what the gateway alone adds, beside the engine's CPU share);
- **gateway**: a 1-replica service, reached at ``/svc/haneul-llm/ocr/…`` with an API key: uvicorn,
  FastAPI's routing and middlewares, the key check and rate bucket, ``aicc.proxy.forward`` (httpx over a
  Unix socket), the replica's relay (into its network namespace), then the same server.

Both are measured in alternating rounds by the same client: ``--clients`` threads, each with its own
keep-alive ``http.client`` connection, closed loop. Two request kinds: ``recognize`` (one text line through
the model: the live path), and ``version`` (no model: what the gateway itself adds, with nothing to hide it).

Part two, the rolling update: a 2-replica service under an open-loop ``--rate`` requests/s on ``/v1/version``
(200 recognitions a second do not fit these cores), ``update --env MODEL_VERSION=2`` and the time until the
``rollout_done`` event; every failed request is counted. Writes bench/results/service_gateway.{json,md}.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine

RESULTS = Path(__file__).resolve().parent / "results"
AICC = str(Path(sys.executable).with_name("aicc"))
SERVER = [sys.executable, "-m", "aicc.testbed.serve"]
BODY = json.dumps({"lines": ["Tm4Q7hAB"]}).encode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = check()
        except (httpx.HTTPError, OSError):
            value = None
        if value:
            return value
        time.sleep(0.2)
    raise RuntimeError(f"timed out: {what}")


class Center:
    gpu_flavor = ""

    def __init__(self, inventory: str = "demo") -> None:
        self.home = Path(tempfile.mkdtemp(prefix="bsvc", dir="/tmp"))
        self.home.chmod(0o755)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("AICC_")}
        self.env.update(AICC_HOME=str(self.home / "var"), AICC_CONFIG_DIR=str(self.home / "cfg"), AICC_URL=self.url,
                        AICC_TICK_SECONDS="0.5", AICC_PREEMPT_GRACE="5")
        subprocess.run([AICC, "db", "upgrade"], env=self.env, check=True, capture_output=True)
        out = subprocess.run([AICC, "demo", "--url", self.url], env=self.env, check=True, capture_output=True,
                             text=True).stdout.splitlines()
        self.token = next(line.split()[-1] for line in out if line.startswith("token for bob"))
        if inventory == "gpu":
            self._this_machines_gpus()
        self.log = open(self.home / "server.log", "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen([AICC, "server", "--port", str(self.port)], env=self.env, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        wait_for(lambda: httpx.get(self.url + "/readyz").status_code == 200, 60, "server ready")

    def _this_machines_gpus(self) -> None:
        """The demo's inventory replaced by this machine's GPUs (NVML) and a CPU node; haneul-llm may use them."""
        from aicc.config import load_settings
        from aicc.core.allocations import FlavorQuota
        from aicc.executors.discovery import flavor_for, inventory_toml, nvidia_devices
        from aicc.services import allocations
        from aicc.services import inventory as inventory_svc
        from aicc.services.audit_seal import AuditSeal
        from aicc.services.principal import SYSTEM
        from aicc.store.db import Database
        from aicc.store.models import AllocationRow, ProjectRow

        devices = nvidia_devices()
        if not devices:
            raise SystemExit("no NVIDIA GPU found by NVML")
        self.gpu_flavor = flavor_for(devices[0].name)
        settings = load_settings(self.env)
        db = Database(settings.database_url, audit_seal=AuditSeal.from_settings(settings))
        with db.write() as s:
            text = inventory_toml(devices)
            inventory_svc.load(s, SYSTEM, text, "gpu-check")
            project = s.query(ProjectRow).filter_by(name="haneul-llm").one()
            a = s.query(AllocationRow).filter_by(project_id=project.id).first()
            assert a is not None
            allocations.update(s, SYSTEM, a.id, version=a.version, changes={"quotas": {
                self.gpu_flavor: FlavorQuota(len(devices), 0)}})
        db.dispose()

    def api(self, method: str, path: str, **kw: Any) -> Any:
        r = httpx.request(method, self.url + "/api/v1" + path, headers={"Authorization": f"Bearer {self.token}"},
                          timeout=30, **kw)
        r.raise_for_status()
        return r.json()

    def service(self, name: str, replicas: int, extra: list[str], env: dict[str, str]) -> tuple[int, str]:
        svc = self.api("POST", "/services", json={
            "project": "haneul-llm", "name": name, "command": [*SERVER, "--port", "8000", *extra], "port": 8000,
            "replicas": replicas, "flavors": ["cpu"], "cpus": 2, "memory_mb": 2048, "env": env})
        key = self.api("POST", f"/services/{svc['id']}/keys", json={"name": "bench", "rate_per_s": 100000})["key"]
        wait_for(lambda: sum(r["replica_state"] == "ready" for r in self.api("GET", f"/services/{svc['id']}")[
            "live_replicas"]) == replicas, 180, f"{name} ready")
        return int(svc["id"]), str(key)

    def stop(self) -> None:
        for svc in self.api("GET", "/services"):
            self.api("DELETE", f"/services/{svc['id']}")
        time.sleep(8)
        self.proc.terminate()
        self.proc.wait(20)
        self.log.close()


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("replica", timeout=timeout)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def _connect(port: int | str) -> http.client.HTTPConnection:
    """A TCP port on the loopback, or a Unix socket's path (the replica's own relay socket)."""
    if isinstance(port, str):
        return UnixHTTPConnection(port, 30)
    return http.client.HTTPConnection("127.0.0.1", port, timeout=30)


def closed_loop(port: int | str, path: str, method: str, headers: dict[str, str], clients: int,
                seconds: float) -> dict[str, Any]:
    lat: list[float] = []
    errors = [0]
    stop = time.monotonic() + seconds

    def worker() -> None:
        conn = _connect(port)
        mine = []
        while time.monotonic() < stop:
            t0 = time.perf_counter()
            try:
                conn.request(method, path, body=BODY if method == "POST" else None,
                             headers={**headers, "Content-Type": "application/json"})
                resp = conn.getresponse()
                resp.read()
                if resp.status != 200:
                    errors[0] += 1
            except (OSError, http.client.HTTPException):
                errors[0] += 1
                conn.close()
                conn = _connect(port)
                continue
            mine.append(time.perf_counter() - t0)
        conn.close()
        lat.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    took = time.perf_counter() - t0
    lat.sort()
    return {"requests": len(lat), "errors": errors[0], "rps": len(lat) / took,
            "p50_ms": 1000 * lat[len(lat) // 2] if lat else None,
            "p99_ms": 1000 * lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else None}


def merge(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {"requests": sum(r["requests"] for r in runs), "errors": sum(r["errors"] for r in runs),
            "rps": statistics.mean(r["rps"] for r in runs), "p50_ms": statistics.median(r["p50_ms"] for r in runs),
            "p99_ms": statistics.median(r["p99_ms"] for r in runs), "rounds": runs}


def rolling_update(center: Center, rate: float) -> dict[str, Any]:
    sid, key = center.service("roll", 2, ["--no-model"], {"MODEL_VERSION": "1"})
    results: list[tuple[float, int, str]] = []
    stop = threading.Event()
    lock = threading.Lock()
    threads_n = 8
    gap = threads_n / rate

    def worker(offset: float) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", center.port, timeout=10)
        next_at = time.monotonic() + offset
        while not stop.is_set():
            time.sleep(max(0.0, next_at - time.monotonic()))
            next_at += gap
            try:
                conn.request("GET", "/svc/haneul-llm/roll/v1/version", headers={"Authorization": f"Bearer {key}"})
                resp = conn.getresponse()
                body = resp.read().decode()
                with lock:
                    results.append((time.monotonic(), resp.status, body))
            except (OSError, http.client.HTTPException) as exc:
                with lock:
                    results.append((time.monotonic(), 0, repr(exc)))
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", center.port, timeout=10)

    workers = [threading.Thread(target=worker, args=(i * gap / threads_n,)) for i in range(threads_n)]
    for t in workers:
        t.start()
    time.sleep(3)
    t0 = time.monotonic()
    center.api("POST", f"/services/{sid}/revisions", json={"env": {"MODEL_VERSION": "2"}})
    wait_for(lambda: any(e["kind"] == "rollout_done" for e in center.api("GET", f"/services/{sid}/events")), 300,
             "rollout")
    took = time.monotonic() - t0
    time.sleep(2)
    stop.set()
    for t in workers:
        t.join()
    results.sort()
    during = [r for r in results if t0 <= r[0] <= t0 + took]
    failed = [r for r in results if r[1] != 200]
    versions = [json.loads(r[2])["version"] for r in results if r[1] == 200]
    span = results[-1][0] - results[0][0]
    return {"rate_asked": rate, "rate_achieved": len(results) / span, "requests": len(results),
            "during_update": len(during), "failed": len(failed), "failed_examples": [r[2][:200] for r in failed[:5]],
            "update_seconds": took, "versions_seen": sorted(set(versions)), "last_version": versions[-1]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--rate", type=float, default=200)
    args = ap.parse_args()
    load_before = os.getloadavg()
    center = Center()
    direct_port = free_port()
    direct = subprocess.Popen([*SERVER, "--port", str(direct_port)], env={**os.environ, "OMP_NUM_THREADS": "2"},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: httpx.get(f"http://127.0.0.1:{direct_port}/health").status_code == 200, 120, "direct")
        sid, key = center.service("ocr", 1, [], {})
        auth = {"Authorization": f"Bearer {key}"}
        replica = center.api("GET", f"/services/{sid}")["live_replicas"][0]["id"]
        sock = str(sorted((center.home / "var" / "jobs" / str(replica)).glob("run-*/service.sock"))[-1])
        paths: dict[str, tuple[int | str, str, dict[str, str]]] = {
            "direct": (direct_port, "", {}), "replica": (sock, "", {}),
            "gateway": (center.port, "/svc/haneul-llm/ocr", auth)}
        out: dict[str, Any] = {}
        for kind, method, path in (("recognize", "POST", "/v1/recognize"), ("version", "GET", "/v1/version")):
            runs: dict[str, list[dict[str, Any]]] = {name: [] for name in paths}
            for port, prefix, hdrs in paths.values():  # warm-up: connections, pools, the model's caches
                closed_loop(port, prefix + path, method, hdrs, args.clients, 2)
            for _ in range(args.rounds):
                for name, (port, prefix, hdrs) in paths.items():
                    runs[name].append(closed_loop(port, prefix + path, method, hdrs, args.clients, args.seconds))
            d, r, g = merge(runs["direct"]), merge(runs["replica"]), merge(runs["gateway"])
            out[kind] = {"direct": d, "replica": r, "gateway": g, "throughput_ratio": g["rps"] / d["rps"],
                         "added_p50_ms": g["p50_ms"] - d["p50_ms"], "added_p99_ms": g["p99_ms"] - d["p99_ms"],
                         "vs_replica": {"throughput_ratio": g["rps"] / r["rps"],
                                        "added_p50_ms": g["p50_ms"] - r["p50_ms"],
                                        "added_p99_ms": g["p99_ms"] - r["p99_ms"]}}
            print(kind, json.dumps({k: v for k, v in out[kind].items() if k not in paths}), flush=True)
        out["rolling_update"] = rolling_update(center, args.rate)
        print("rolling", json.dumps(out["rolling_update"]), flush=True)
    finally:
        direct.terminate()
        center.stop()
    result = {"benchmark": "service_gateway", "machine": machine(), "load_before": load_before,
              "load_after": os.getloadavg(), "args": vars(args), **out}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "service_gateway.json").write_text(json.dumps(result, indent=1))
    (RESULTS / "service_gateway.md").write_text(markdown(result))
    print(markdown(result))


def markdown(r: dict[str, Any]) -> str:
    m = r["machine"]
    lines = ["# Service gateway: the model server directly vs through the gateway; a rolling update under load", "",
             f"Machine: {m['cpus']} cores, {m['cpu_model']}, {m['memory_gib']} GiB; load average "
             f"{r['load_before'][0]:.1f} at start, {r['load_after'][0]:.1f} at the end (the machine is shared with "
             "other sessions). One run: `" + " ".join(["bench/service_gateway.py"] + [
                 f"--{k} {v}" for k, v in r["args"].items()]) + "`.", "",
             "| request | path | requests | errors | req/s | p50 ms | p99 ms |", "|---|---|---|---|---|---|---|"]
    for kind in ("recognize", "version"):
        for path in ("direct", "replica", "gateway"):
            x = r[kind][path]
            lines.append(f"| {kind} | {path} | {x['requests']} | {x['errors']} | {x['rps']:.1f} | {x['p50_ms']:.2f} "
                         f"| {x['p99_ms']:.2f} |")
    lines += ["", "| request | throughput ratio (goal >= 0.9) | added p50 ms (goal <= 2) | added p99 ms (goal <= 10) |",
              "|---|---|---|---|"]
    for kind in ("recognize", "version"):
        x = r[kind]
        lines.append(f"| {kind}: gateway vs direct | {x['throughput_ratio']:.3f} | {x['added_p50_ms']:.2f} | "
                     f"{x['added_p99_ms']:.2f} |")
        y = x["vs_replica"]
        lines.append(f"| {kind}: gateway vs the replica's socket | {y['throughput_ratio']:.3f} | "
                     f"{y['added_p50_ms']:.2f} | {y['added_p99_ms']:.2f} |")
    u = r["rolling_update"]
    lines += ["", f"Rolling update of a 2-replica service under {u['rate_asked']:g} requests/s asked "
              f"({u['rate_achieved']:.1f} achieved, `GET /v1/version`): **{u['failed']} failed** of {u['requests']} "
              f"({u['during_update']} during the update); the update took **{u['update_seconds']:.1f} s** (call to "
              f"`rollout_done`: two new replicas started one at a time, each ready before an old one drained "
              f"for 2 s); versions seen {u['versions_seen']}, last {u['last_version']}.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
