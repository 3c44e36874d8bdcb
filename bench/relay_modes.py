"""A replica's relay in Unix mode vs TCP mode (``AICC_SLURM_RELAY``), side by side, through the gateway's client.

    sudo .venv/bin/python bench/relay_modes.py --seconds 5 --rounds 3 --clients 4

One replica: ``aicc.testbed.serve --no-model`` on port 8000 of its own network namespace (``unshare -n``, as
bubblewrap gives a replica), and both relays the Slurm runner would fork for it (``aicc.runner.relay.spawn``):
one on a Unix socket, one on a TCP port of the host's loopback with the replica's secret. The client is the
gateway's own upstream leg (``aicc.api.gateway.upstream``: its pooled keep-alive connections, request head,
response framing), ``--clients`` concurrent requests in a closed loop on ``GET /v1/version`` (no model: what the
relay adds, with nothing to hide it), the two modes in alternating rounds. Also timed: a fresh connection per
request (``Connection: close``), where TCP mode pays its handshake and the secret's preamble every time. Not
the whole gateway (key check, ASGI): that part is the same in both modes (``service_gateway.md``). Writes
bench/results/relay_modes.{json,md}.
"""

from __future__ import annotations

import argparse
import asyncio
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine

from aicc.api.gateway import upstream
from aicc.runner import relay, relay_address
from aicc.runner.launch import children_of
from aicc.services.serving.replicas import Target, probe

RESULTS = Path(__file__).resolve().parent / "results"
PORT = 8000


async def _one(pool: upstream.Pool, target: Target, head: bytes, fresh: bool) -> None:
    conn = await pool.acquire(target)
    conn.writer.write(head)
    await conn.writer.drain()
    answer = await upstream.read_head(conn, "GET")
    async for _ in upstream.body_pieces(conn, answer):
        pass
    if answer.status != 200:
        raise RuntimeError(f"answered {answer.status}")
    if answer.keep_alive and not fresh:
        pool.release(str(target), conn)
    else:
        upstream.close_quietly(conn)


async def _round(target: Target, seconds: float, clients: int, fresh: bool) -> dict[str, Any]:
    pool = upstream.Pool()
    head = upstream.request_head("GET", "/v1/version", [("host", "replica")] +
                                 ([("connection", "close")] if fresh else []), -1)
    latencies: list[float] = []
    errors = 0
    until = time.perf_counter() + seconds

    async def client() -> None:
        nonlocal errors
        while time.perf_counter() < until:
            t0 = time.perf_counter()
            try:
                await _one(pool, target, head, fresh)
            except Exception:  # counted, the round goes on
                errors += 1
                continue
            latencies.append(time.perf_counter() - t0)

    await asyncio.gather(*(client() for _ in range(clients)))
    for path in list(pool.idle):
        pool.forget(path)
    return {"requests": len(latencies), "errors": errors, "latencies": latencies}


def _summary(rounds: list[dict[str, Any]], seconds: float) -> dict[str, Any]:
    lat = sorted(x for r in rounds for x in r["latencies"])
    return {"requests": len(lat), "errors": sum(r["errors"] for r in rounds),
            "req_per_s": round(len(lat) / (seconds * len(rounds)), 1),
            "p50_ms": round(statistics.median(lat) * 1000, 3) if lat else None,
            "p99_ms": round(lat[int(len(lat) * 0.99) - 1] * 1000, 3) if lat else None}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("run as root: the replica gets its own network namespace", file=sys.stderr)
        return 2
    load0 = os.getloadavg()[0]
    directory = Path(tempfile.mkdtemp(prefix="relay-bench-"))
    secret = relay_address.new_secret()
    (directory / relay_address.SECRET_NAME).write_text(secret)
    replica = subprocess.Popen(["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$@"', "sh", sys.executable,
                                "-m", "aicc.testbed.serve", "--no-model", "--port", str(PORT)],
                               stdout=subprocess.DEVNULL)
    sock = directory / relay.SOCKET_NAME
    relays = [relay.spawn(sock, PORT, replica.pid, children_of),
              relay.spawn(sock, PORT, replica.pid, children_of, bind="127.0.0.1", secret=secret)]
    try:
        tcp = relay_address.published(directory)
        assert tcp is not None
        targets: dict[str, Target] = {"unix": sock, "tcp": tcp}
        deadline = time.monotonic() + 30
        while any(probe(t, "/health", PORT) for t in targets.values()):
            if time.monotonic() > deadline:
                why = [probe(t, "/health", PORT) for t in targets.values()]
                raise RuntimeError(f"the replica did not come up: {why}")
            time.sleep(0.1)
        out: dict[str, dict[str, list[dict[str, Any]]]] = {kind: {m: [] for m in targets}
                                                           for kind in ("keep-alive", "new connection")}
        for _ in range(args.rounds):
            for kind, fresh in (("keep-alive", False), ("new connection", True)):
                for mode, target in targets.items():
                    out[kind][mode].append(asyncio.run(_round(target, args.seconds, args.clients, fresh)))
    finally:
        for pid in relays:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        replica.kill()
        replica.wait()
    summary = {kind: {mode: _summary(rounds, args.seconds) for mode, rounds in modes.items()}
               for kind, modes in out.items()}
    result = {"machine": machine(), "load_avg_start": load0, "load_avg_end": os.getloadavg()[0],
              "args": vars(args), "results": summary}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "relay_modes.json").write_text(json.dumps(result, indent=2))
    m = result["machine"]
    lines = ["# A replica's relay: Unix mode vs TCP mode (with its secret), through the gateway's client", "",
             f"Machine: {m['cpus']} cores, {m['cpu_model']}, {m['memory_gib']} GiB; load average {load0:.1f} at start, "
             f"{result['load_avg_end']:.1f} at the end. `bench/relay_modes.py --seconds {args.seconds} "
             f"--rounds {args.rounds} --clients {args.clients}`: `GET /v1/version` of `aicc.testbed.serve --no-model`"
             " in its own network namespace; client, relays and server share the cores.", "",
             "| connections | relay | requests | errors | req/s | p50 ms | p99 ms |", "|---|---|---|---|---|---|---|"]
    for kind, modes in summary.items():
        for mode, s in modes.items():
            lines.append(f"| {kind} | {mode} | {s['requests']} | {s['errors']} | {s['req_per_s']} | {s['p50_ms']} | "
                         f"{s['p99_ms']} |")
    (RESULTS / "relay_modes.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
