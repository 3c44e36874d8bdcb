"""Benchmark: 10,000 job-end notifications queued in one burst, delivered to a real SMTP server, and the
submit -> start latency of new jobs during the burst against the same without it (issue 23).

A real `aicc server` (demo center, SQLite, controller and notification worker in the server process) mails
to aiosmtpd running in its own process, which counts what it accepted. The burst is queued as the
controller queues endings: ``outbox.queue`` in one transaction. Submit -> start is the server's own
``started_at - submitted_at`` of jobs submitted one after another over HTTP (median and max of N).
Writes bench/results/notify_burst.{json,md}.

    .venv/bin/python bench/notify_burst.py [--messages 10000] [--jobs 20]
"""

from __future__ import annotations

import argparse
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

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _machine import machine  # noqa: E402
from submit_http import AICC, free_port  # noqa: E402


def serve_smtp(port: int, count_file: Path) -> None:
    """The receiving server (own process): counts accepted messages, writes the count when stopped."""
    from aiosmtpd.controller import Controller

    class Counter:
        n = 0

        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            Counter.n += 1
            return "250 OK"

    def stop(*_: object) -> None:
        count_file.write_text(str(Counter.n))
        os._exit(0)

    controller = Controller(Counter(), hostname="127.0.0.1", port=port)
    controller.start()
    signal.signal(signal.SIGTERM, stop)
    while True:
        time.sleep(3600)


def submit_to_start(url: str, token: str, jobs: int) -> list[float]:
    out = []
    h = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, headers=h, timeout=30) as c:
        for i in range(jobs):
            r = c.post("/api/v1/jobs", json={"project": "haneul-llm", "command": ["true"], "flavors": ["cpu"],
                                             "name": f"probe{i}", "time_limit_s": 60})
            r.raise_for_status()
            job_id = r.json()["id"]
            for _ in range(2000):
                j = c.get(f"/api/v1/jobs/{job_id}").json()
                if j["started_at"]:
                    break
                if j["state"] not in ("pending", "admitted"):
                    raise RuntimeError(f"probe job {job_id} ended without starting: {j['reason']}")
                time.sleep(0.01)
            start = dt.datetime.fromisoformat(j["started_at"])
            out.append((start - dt.datetime.fromisoformat(j["submitted_at"])).total_seconds() * 1000)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=10_000)
    ap.add_argument("--jobs", type=int, default=20)
    ap.add_argument("--serve-smtp", nargs=2, metavar=("PORT", "COUNT_FILE"))
    a = ap.parse_args()
    if a.serve_smtp:
        serve_smtp(int(a.serve_smtp[0]), Path(a.serve_smtp[1]))
        return
    from sqlalchemy import select

    from aicc.core.notify import Event
    from aicc.services import tokens
    from aicc.services.notify import outbox
    from aicc.services.principal import SYSTEM
    from aicc.store.db import Database
    from aicc.store.models import OutboxRow, UserRow

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        os.chmod(home, 0o711)  # jobs run as project uids and must pass through to their directories
        smtp_port, port = free_port(), free_port()
        url = f"http://127.0.0.1:{port}"
        smtp = subprocess.Popen([sys.executable, __file__, "--serve-smtp", str(smtp_port), str(home / "count")])
        env = {**os.environ, "AICC_HOME": str(home / "var"), "AICC_CONFIG_DIR": str(home / "cfg"),
               "AICC_TICK_SECONDS": "0.5", "AICC_SMTP_HOST": "127.0.0.1", "AICC_SMTP_PORT": str(smtp_port),
               "AICC_SMTP_STARTTLS": "off"}
        subprocess.run([AICC, "db", "upgrade"], env=env, check=True, capture_output=True)
        subprocess.run([AICC, "demo", "--url", url], env=env, check=True, capture_output=True)
        db = Database(f"sqlite:///{home / 'var' / 'aicc.db'}")
        with db.write() as s:
            bob = s.execute(select(UserRow).where(UserRow.username == "bob")).scalar_one()
            token = tokens.issue(s, SYSTEM, user_id=bob.id, name="bench", ttl_days=1, default_ttl_days=1).token
            bob_id = bob.id
        log = open(os.environ.get("AICC_BENCH_LOG", os.devnull), "w")  # noqa: SIM115
        server = subprocess.Popen([AICC, "server", "--port", str(port)], env=env, stdout=log, stderr=log)
        try:
            for _ in range(300):
                try:
                    if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
            print("server up", file=sys.stderr)
            submit_to_start(url, token, 3)  # warm up
            quiet = submit_to_start(url, token, a.jobs)
            print("quiet submit->start (ms):", [round(x) for x in quiet], file=sys.stderr)
            notices = [outbox.Notice(Event.JOB_ENDED, bob_id, f"job{900_000 + i}",
                                     {"job_id": 900_000 + i, "name": f"train{i}", "state": "succeeded",
                                      "project": "haneul-llm"}) for i in range(a.messages)]
            t0 = time.perf_counter()
            with db.write() as s:
                assert outbox.queue(s, notices, base_url=url) == a.messages
            t1 = time.perf_counter()
            queued_s = t1 - t0
            busy = submit_to_start(url, token, a.jobs)
            print("burst submit->start (ms):", [round(x) for x in busy], file=sys.stderr)
            from sqlalchemy import func

            deadline = time.monotonic() + 600
            while time.monotonic() < deadline:
                with db.read() as s:
                    left = s.execute(select(func.count()).select_from(OutboxRow).where(
                        OutboxRow.state == "pending")).scalar_one()
                if left == 0:
                    break
                time.sleep(0.05)
            else:
                raise RuntimeError(f"{left} messages still pending after 10 minutes")
            delivered_s = time.perf_counter() - t1
            with db.read() as s:
                states = dict(s.execute(select(OutboxRow.state, func.count()).group_by(OutboxRow.state)).all())
        finally:
            server.terminate()
            server.wait(30)
            smtp.terminate()
            smtp.wait(10)
        received = int((home / "count").read_text())
    rate = a.messages / delivered_s
    result = {
        "benchmark": "notify_burst", "machine": machine(), "database": "sqlite", "messages": a.messages,
        "queue_one_transaction_s": round(queued_s, 3), "committed_to_all_delivered_s": round(delivered_s, 2),
        "delivered_per_s": round(rate, 1), "smtp_server_received": received, "outbox_states": states,
        "submit_to_start_ms_quiet": {"median": round(statistics.median(quiet), 1), "max": round(max(quiet), 1)},
        "submit_to_start_ms_burst": {"median": round(statistics.median(busy), 1), "max": round(max(busy), 1)},
        "jobs_per_sample": a.jobs, "goal_per_s": 200,
    }
    out = HERE / "results"
    (out / "notify_burst.json").write_text(json.dumps(result, indent=2) + "\n")
    m = result["machine"]
    quiet_ms = "{median} / {max} ms".format(**result["submit_to_start_ms_quiet"])
    busy_ms = "{median} / {max} ms".format(**result["submit_to_start_ms_burst"])
    (out / "notify_burst.md").write_text(f"""# Notification burst (issue 23)

{a.messages:,} job-end notifications queued in one transaction (`outbox.queue`, {queued_s:.2f} s), delivered
by the server's notification worker over one SMTP connection per pass to aiosmtpd in its own process.
Machine: {m['cpus']} CPUs ({m['cpu_model']}), {m['memory_gib']} GiB, shared with other sessions; SQLite.

| figure | value | goal |
|---|---|---|
| queue commit -> all delivered | {delivered_s:.1f} s | |
| delivery rate | **{rate:,.0f} messages/s** | >= 200 |
| received by the SMTP server | {received:,} | {a.messages:,} |
| submit -> start, no burst (median / max of {a.jobs}) | {quiet_ms} | |
| submit -> start, during the burst (median / max of {a.jobs}) | {busy_ms} | not slower |

Submit -> start is the server's `started_at - submitted_at` of jobs submitted one after another over HTTP
(`true` on the cpu flavor), the same run, before the burst and while it is being delivered.
""")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
