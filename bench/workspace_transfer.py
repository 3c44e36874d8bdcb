"""Benchmark: 1 GiB into and out of a workspace through the API vs ``cp`` on the same disks (issue 21).

Live path: a real ``aicc server`` (controller off) on a btrfs workspace root with quotas (scripts/workspaces-up,
a loop file on the machine's disk), and the real ``aicc ws put`` / ``aicc ws get`` commands, which also read
the file once more to hash it on the client side (the end-to-end check; hashed on a second thread while
sending). Inner figure: the same transfer as bare
HTTP with httpx (one streamed PUT per 64 MiB part, one streamed GET), no client-side hashing. Against: ``cp``
of the same file to the same place, then ``fsync`` (the server fsyncs each part; a bare ``cp`` leaves the
data in the page cache and would flatter itself). The server's memory is sampled (VmRSS, every 20 ms) during
every transfer. Goals: throughput >= 0.5x cp; server peak under 100 MiB above idle.
Writes bench/results/workspace_transfer.{json,md}.

    .venv/bin/python bench/workspace_transfer.py [--size-mib 1024] [--rounds 3]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from _machine import machine  # noqa: E402

AICC = str(Path(sys.executable).with_name("aicc"))
MIB = 1 << 20
PART = 64 * MIB


class Sampler:
    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, 0, threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def rss(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return 0

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.rss())
            time.sleep(0.02)

    def __enter__(self) -> Sampler:
        self._t.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._t.join()


def timed(fn: Callable[..., object], *args: object, **kwargs: object) -> float:
    t0 = time.perf_counter()
    fn(*args, **kwargs)
    return time.perf_counter() - t0


def same_file(a: Path, b: Path) -> bool:
    digests = []
    for p in (a, b):
        h = hashlib.sha256()
        with p.open("rb") as f:
            while data := f.read(MIB):
                h.update(data)
        digests.append(h.hexdigest())
    return digests[0] == digests[1]


def cp_fsync(src: Path, dst: Path) -> None:
    subprocess.run(["cp", str(src), str(dst)], check=True)
    fd = os.open(dst, os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)


def raw_put(url: str, headers: dict[str, str], base: str, src: Path, remote: str) -> None:
    size = src.stat().st_size
    up = httpx.post(f"{url}{base}/uploads", headers=headers, json={"path": remote, "size": size}).json()

    def part(start: int, end: int) -> Iterator[bytes]:
        with src.open("rb") as f:
            f.seek(start)
            pos = start
            while pos < end:
                data = f.read(min(MIB, end - pos))
                pos += len(data)
                yield data

    with httpx.Client(timeout=300) as c:
        for start in range(0, size, PART):
            end = min(start + PART, size)
            r = c.put(f"{url}{base}/uploads/{up['id']}", params={"offset": start}, headers={
                **headers, "Content-Length": str(end - start)}, content=part(start, end))
            r.raise_for_status()
        c.post(f"{url}{base}/uploads/{up['id']}/finish", headers=headers, json={}).raise_for_status()


def raw_get(url: str, headers: dict[str, str], base: str, remote: str, dst: Path) -> None:
    with httpx.stream("GET", f"{url}{base}/content", params={"path": remote}, headers=headers, timeout=300) as r, \
            dst.open("wb") as f:
        for data in r.iter_bytes(MIB):
            f.write(data)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    size = args.size_mib * MIB
    tmp = Path(tempfile.mkdtemp(prefix="aicc-bench-ws-", dir="/var/tmp"))
    os.chmod(tmp, 0o755)
    mnt = tmp / "ws"
    subprocess.run([ROOT / "scripts" / "workspaces-up", str(mnt), f"{4 * args.size_mib + 1024}M"], check=True,
                   capture_output=True)
    src = tmp / "src.bin"
    block = os.urandom(MIB)
    with src.open("wb") as f:
        for i in range(args.size_mib):
            f.write(i.to_bytes(8, "big") + block[8:])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AICC_")}
    env.update(AICC_HOME=str(tmp / "var"), AICC_CONFIG_DIR=str(tmp / "config"), AICC_URL=url,
               AICC_WORKSPACE_ROOT=str(mnt / "root"), AICC_CONTROLLER="off", AICC_WORKSPACE_DEFAULT_GIB="64")
    subprocess.run([AICC, "db", "upgrade"], env=env, check=True, capture_output=True)
    demo = subprocess.run([AICC, "demo", "--url", url], env=env, check=True, capture_output=True, text=True)
    token = next(line.split()[-1] for line in demo.stdout.splitlines() if line.startswith("token for "))
    headers = {"Authorization": f"Bearer {token}"}
    server = subprocess.Popen([AICC, "server", "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    results: dict[str, list[float]] = {k: [] for k in (
        "cp_in", "api_in_cli", "api_in_raw", "cp_out", "api_out_cli", "api_out_raw")}
    peaks: list[int] = []
    try:
        while True:
            try:
                if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        project = httpx.get(url + "/api/v1/projects", headers=headers).json()["items"][0]
        base = f"/api/v1/projects/{project['id']}/workspace"
        httpx.get(url + base, headers=headers).raise_for_status()  # makes the workspace
        files = mnt / "root" / f"p{project['id']}" / "files"
        sampler = Sampler(server.pid)
        idle = sampler.rss()
        cli_env = {**env, "AICC_TOKEN": token}
        with sampler:
            for r in range(args.rounds):
                raw, cli, out = f"raw{r}.bin", f"cli{r}.bin", tmp / "out.bin"
                put = [AICC, "ws", "put", "-p", project["name"], str(src), cli]
                get = [AICC, "ws", "get", "-p", project["name"], cli, str(out)]
                results["cp_in"].append(timed(cp_fsync, src, files / "cp.bin"))
                (files / "cp.bin").unlink()
                results["api_in_raw"].append(timed(raw_put, url, headers, base, src, raw))
                results["api_in_cli"].append(timed(subprocess.run, put, env=cli_env, check=True, capture_output=True))
                results["cp_out"].append(timed(cp_fsync, files / raw, out))
                out.unlink()
                results["api_out_raw"].append(timed(raw_get, url, headers, base, raw, out))
                assert out.stat().st_size == size
                out.unlink()
                results["api_out_cli"].append(timed(subprocess.run, get, env=cli_env, check=True, capture_output=True))
                assert same_file(out, src)
                out.unlink()
                for name in (raw, cli):
                    (files / name).unlink()
                peaks.append(sampler.peak)
    finally:
        server.terminate()
        server.wait(10)
        subprocess.run([ROOT / "scripts" / "workspaces-down", str(mnt), "--purge"], check=False)
        shutil.rmtree(tmp, ignore_errors=True)
    med = {k: statistics.median(v) for k, v in results.items()}
    mibs = {k: args.size_mib / v for k, v in med.items()}
    ratio = {"upload_cli": mibs["api_in_cli"] / mibs["cp_in"], "upload_raw": mibs["api_in_raw"] / mibs["cp_in"],
             "download_cli": mibs["api_out_cli"] / mibs["cp_out"],
             "download_raw": mibs["api_out_raw"] / mibs["cp_out"]}
    grew = (max(peaks) - idle) / MIB
    load = os.getloadavg()
    data = {"machine": machine(), "loadavg_1_5_15": load, "size_mib": args.size_mib, "rounds": args.rounds,
            "seconds": results, "median_mib_s": {k: round(v, 1) for k, v in mibs.items()},
            "ratio_to_cp": {k: round(v, 3) for k, v in ratio.items()}, "server_idle_rss_mib": round(idle / MIB, 1),
            "server_peak_above_idle_mib": round(grew, 1)}
    out_dir = HERE / "results"
    (out_dir / "workspace_transfer.json").write_text(json.dumps(data, indent=2) + "\n")
    m = data["machine"]
    lines = [
        "# Workspace transfer: 1 GiB through the API vs cp (issue 21)", "",
        f"Machine: {m['cpus']} CPUs ({m['cpu_model']}), {m['memory_gib']} GiB, Python {m['python']}; "
        f"**loaded**: shared with other sessions (load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} "
        "at the end), so absolute figures wander; each figure is the median of "
        f"{args.rounds} rounds, API and cp interleaved.",
        "Workspace: btrfs with quotas on a loop file (scripts/workspaces-up) on the machine's disk; the other end "
        "on the same disk. cp is followed by fsync (the server fsyncs each part: 256 MiB from `aicc ws put`, 64 MiB "
        "in the bare HTTP figure).", "",
        "| transfer | MiB/s | ratio to cp |", "|---|---|---|",
        f"| cp into the workspace (+fsync) | {mibs['cp_in']:.0f} | 1 |",
        f"| `aicc ws put` (live: client hashes while sending, resumable parts, server hashes and fsyncs) | "
        f"{mibs['api_in_cli']:.0f} | {ratio['upload_cli']:.2f} |",
        f"| bare HTTP upload (inner: 64 MiB PUTs, no client hash) | {mibs['api_in_raw']:.0f} | "
        f"{ratio['upload_raw']:.2f} |",
        f"| cp out of the workspace (+fsync) | {mibs['cp_out']:.0f} | 1 |",
        f"| `aicc ws get` (live: checksum request, streamed GET, client re-hash) | {mibs['api_out_cli']:.0f} | "
        f"{ratio['download_cli']:.2f} |",
        f"| bare HTTP download (inner: one streamed GET) | {mibs['api_out_raw']:.0f} | {ratio['download_raw']:.2f} |",
        "",
        f"Server memory: idle {idle / MIB:.0f} MiB, peak during all transfers {grew:.1f} MiB above idle "
        f"(goal: under 100 MiB: {'met' if grew < 100 else 'NOT met'}).",
        f"Goal throughput >= 0.5x cp: upload {'met' if ratio['upload_cli'] >= 0.5 else 'NOT met'} "
        f"({ratio['upload_cli']:.2f}x live), download {'met' if ratio['download_cli'] >= 0.5 else 'NOT met'} "
        f"({ratio['download_cli']:.2f}x live).",
    ]
    (out_dir / "workspace_transfer.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
