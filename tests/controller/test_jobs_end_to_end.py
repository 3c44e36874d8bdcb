"""Jobs through the API, the controller and real processes: run, wait reasons, limits, preemption, restarts."""

from __future__ import annotations

import itertools
import json
import os
import signal
import time

from sqlalchemy import select

from aicc.store.models import UsageRow, utcnow
from tests.controller.conftest import Harness
from tests.world import INVENTORY, World

H = World.auth


def test_job_runs_writes_logs_and_is_charged(harness: Harness) -> None:
    w = harness.world
    job_id = harness.submit(w.a.member_token, accelerators=2, flavors=["h100"], time_limit_s=60,
                            command=["sh", "-c", "echo devices=$CUDA_VISIBLE_DEVICES; sleep 1.2"])
    job = harness.until_state(job_id, "succeeded")
    assert job["exit_code"] == 0 and job["flavor"] == "h100" and job["reason"] == "completed"
    assert job["allocation_id"] == w.a.allocation_id and job["borrowed"] is False
    logs = harness.client.get(f"/api/v1/jobs/{job_id}/logs", headers=H(w.a.member_token)).json()
    assert "devices=0,1" in logs["data"] and logs["finished"]
    with harness.db.read() as s:
        rows = s.execute(select(UsageRow).where(UsageRow.job_id == job_id)).scalars().all()
    seconds = sum((r.ended_at - r.started_at).total_seconds() for r in rows)
    assert 1.1 < seconds < 5
    assert abs(sum(r.su for r in rows) - 2 * seconds / 3600 * 2.0) < 1e-9  # 2 GPUs x rate 2.0
    usage = harness.client.get("/api/v1/usage", headers=H(w.a.member_token)).json()
    mine = next(u for u in usage if u["allocation_id"] == w.a.allocation_id)
    assert abs(mine["used_su"] - sum(r.su for r in rows)) < 1e-9
    ledger = harness.client.get("/api/v1/usage/ledger.csv", headers=H(w.a.member_token)).text
    assert ledger.count("\n") == len(rows) + 1
    assert harness.client.get("/api/v1/usage/ledger.csv", headers=H(w.b.member_token)).text.count("\n") == 1


def test_two_jobs_never_share_a_device(harness: Harness) -> None:
    w = harness.world
    ids = [harness.submit(w.a.member_token, accelerators=2, flavors=["h100"],
                          command=["sh", "-c", "echo $CUDA_VISIBLE_DEVICES $AICC_NODE; sleep 0.5"]) for _ in range(4)]
    for i in ids:
        harness.until_state(i, "succeeded")
    seen = set()
    for i in ids:
        job = harness.job(i)
        for node, devices, *_ in job["placement"]:
            for d in devices:
                assert (node, d) not in seen
                seen.add((node, d))
    assert len(seen) == 8


def test_wait_reason_for_quota_and_time_limit_and_cancel(harness: Harness) -> None:
    w = harness.world
    hog = harness.submit(w.a.member_token, accelerators=8, flavors=["h100"], command=["sleep", "30"])
    harness.until_state(hog, "running")
    waiting = harness.submit(w.a.member_token, accelerators=1, flavors=["h100"])
    harness.controller.cycle()
    assert harness.job(waiting)["reason"] == "waiting: project quota of 4 h100 and borrowing limit of 4 in use"
    r = harness.client.post(f"/api/v1/jobs/{hog}/cancel", headers=H(w.a.member_token))
    assert r.status_code == 200
    job = harness.until_state(hog, "cancelled")
    assert "cancel requested by a-member" in job["reason"]
    harness.until_state(waiting, "succeeded")
    slow = harness.submit(w.a.member_token, accelerators=1, flavors=["h100"], time_limit_s=1,
                          command=["sleep", "30"])
    job = harness.until_state(slow, "timed_out")
    assert job["reason"] == "killed at its time limit of 1 s"


def test_afterok_dependencies_and_array_throttle(harness: Harness) -> None:
    w = harness.world
    first = harness.submit(w.a.member_token, command=["sh", "-c", "sleep 0.3"], flavors=["cpu"])
    then = harness.submit(w.a.member_token, depends_on=[first], flavors=["cpu"])
    harness.controller.cycle()
    assert harness.job(then)["reason"] == f"waiting: for job {first} to succeed (afterok)"
    harness.until_state(then, "succeeded")
    assert harness.job(then)["started_at"] >= harness.job(first)["ended_at"]
    broken = harness.submit(w.a.member_token, command=["sh", "-c", "exit 1"], flavors=["cpu"])
    orphan = harness.submit(w.a.member_token, depends_on=[broken], flavors=["cpu"])
    job = harness.until_state(orphan, "cancelled")
    assert job["reason"] == f"dependency never satisfied: job {broken} failed"
    r = harness.client.post("/api/v1/jobs", headers=H(w.a.member_token), json={
        "project": "proj-a", "command": ["sh", "-c", "sleep 0.4; echo task $AICC_ARRAY_TASK_ID"],
        "flavors": ["cpu"], "array": "0-5%2"})
    ids = r.json()["ids"]
    most = 0
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        harness.controller.cycle()
        states = [harness.job(i)["state"] for i in ids]
        most = max(most, sum(s in ("admitted", "running") for s in states))
        if all(s == "succeeded" for s in states):
            break
        time.sleep(0.05)
    assert all(harness.job(i)["state"] == "succeeded" for i in ids)
    assert most == 2
    out = harness.client.get(f"/api/v1/jobs/{ids[3]}/logs", headers=H(w.a.member_token)).json()["data"]
    assert "task 3" in out


def test_preemption_returns_borrowed_capacity_and_the_victim_requeues(harness: Harness) -> None:
    w = harness.world
    borrowers = [harness.submit(w.a.member_token, accelerators=4, flavors=["h100"], command=["sleep", "60"])
                 for _ in range(2)]
    for b in borrowers:
        harness.until_state(b, "running")
    borrowed = [b for b in borrowers if harness.job(b)["borrowed"]]
    assert len(borrowed) == 1
    entitled = harness.submit(w.b.member_token, project="proj-b", accelerators=4, flavors=["h100"],
                              command=["sh", "-c", "echo mine"])
    harness.controller.cycle()
    assert harness.job(entitled)["reason"].startswith("waiting: preempting borrowed capacity")
    job = harness.until_state(entitled, "succeeded")
    assert job["borrowed"] is False
    victim = harness.job(borrowed[0])
    assert victim["attempt"] == 1 and victim["state"] in ("pending", "admitted", "running")
    assert harness.job(borrowers[0] if borrowed[0] != borrowers[0] else borrowers[1])["attempt"] == 0
    for b in borrowers:
        harness.client.post(f"/api/v1/jobs/{b}/cancel", headers=H(w.a.member_token))
    for b in borrowers:
        harness.until_state(b, "cancelled")


def test_controller_restart_re_adopts_and_charges_each_second_once(harness: Harness) -> None:
    w = harness.world
    job_id = harness.submit(w.a.member_token, accelerators=1, flavors=["h100"], command=["sleep", "1.5"])
    harness.until_state(job_id, "running")
    pid_file = harness.settings.jobs_dir / str(job_id) / "run-0" / "state.json"
    first_pid = json.loads(pid_file.read_text())["pid"]
    harness.restart_controller()
    harness.controller.cycle()
    assert harness.job(job_id)["state"] == "running"
    assert json.loads(pid_file.read_text())["pid"] == first_pid  # not started twice
    job = harness.until_state(job_id, "succeeded")
    with harness.db.read() as s:
        rows = sorted(s.execute(select(UsageRow).where(UsageRow.job_id == job_id)).scalars(),
                      key=lambda r: r.interval)
    for a, b in itertools.pairwise(rows):
        assert a.ended_at == b.started_at  # contiguous: nothing lost, nothing charged twice
    assert rows[0].started_at.isoformat()[:19] == job["started_at"][:19]


def test_lost_run_is_requeued_with_the_reason(harness: Harness) -> None:
    w = harness.world
    job_id = harness.submit(w.a.member_token, accelerators=1, flavors=["h100"], command=["sleep", "30"])
    harness.until_state(job_id, "running")
    state = json.loads((harness.settings.jobs_dir / str(job_id) / "run-0" / "state.json").read_text())
    os.kill(state["shepherd_pid"], signal.SIGKILL)
    harness.until(lambda: harness.job(job_id)["attempt"] == 1)
    job = harness.job(job_id)
    assert "requeued" in job["reason"] or job["state"] in ("admitted", "running")
    harness.client.post(f"/api/v1/jobs/{job_id}/cancel", headers=H(w.a.member_token))
    harness.until_state(job_id, "cancelled")


def test_a_job_cancelled_while_the_cycle_plans_is_not_admitted(harness: Harness) -> None:
    """Planning reads a snapshot; its admissions are written only to jobs still pending."""
    w = harness.world
    job_id = harness.submit(w.a.member_token, accelerators=1, flavors=["h100"], command=["sleep", "30"])
    with harness.db.read() as s:
        decision = harness.controller.planner.plan(s, utcnow())
    assert job_id in decision.admitted
    r = harness.client.post(f"/api/v1/jobs/{job_id}/cancel", headers=H(w.a.member_token))
    assert r.status_code == 200
    with harness.db.write() as s:
        harness.controller.planner.apply(s, decision)
    job = harness.job(job_id)
    assert job["state"] == "cancelled" and job["flavor"] is None and job["placement"] is None


def test_an_inventory_that_retires_a_busy_node_does_not_stop_scheduling(harness: Harness, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Re-inventorying a center while jobs run (a node renamed or sold): the job on the retired node runs to
    its end and still counts against its quota; the rest of the center keeps admitting."""
    h = harness
    busy = h.submit(h.world.a.member_token, flavors=["cpu"], cpus=6,  # a job sees its own directory only: $HOME
                    command=["sh", "-c", 'while [ ! -e "$HOME/release" ]; do sleep 0.05; done'])
    release = h.settings.jobs_dir / str(busy) / "release"
    assert h.until_state(busy, "running")["placement"][0][0] == "cpu-node"
    renamed = INVENTORY.replace('name = "cpu-node"', 'name = "cpu-node-2"')
    r = h.client.post("/api/v1/inventory", headers=World.auth(h.world.admin_token),
                      json={"toml": renamed, "source": "renamed.toml"})
    assert r.status_code == 200, r.text
    fits = h.submit(h.world.a.member_token, flavors=["cpu"], cpus=2)
    assert h.until_state(fits, "succeeded")["placement"][0][0] == "cpu-node-2"
    over = h.submit(h.world.a.member_token, flavors=["cpu"], cpus=11)  # 6 + 11 > quota 8 + borrowing 8
    h.controller.cycle()
    assert h.job(over)["state"] == "pending"
    release.touch()
    assert h.until_state(busy, "succeeded")["exit_code"] == 0
    assert h.until_state(over, "succeeded")["placement"][0][0] == "cpu-node-2"


def test_runs_ending_together_are_written_in_bounded_transactions_each_once(harness: Harness, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A tick that sees many runs end writes them in chunks (SQLite's write lock is not held for all of them at
    once); every ending is still written exactly once, with its audit event and its charge."""
    from aicc.controller import reconcile
    from aicc.store.models import AuditEventRow

    monkeypatch.setattr(reconcile, "WRITE_CHUNK", 2)
    chunks: list[int] = []
    write_news = harness.controller._write_news

    def counting(news, now, report):  # type: ignore[no-untyped-def]
        chunks.append(len(news))
        return write_news(news, now, report)

    monkeypatch.setattr(harness.controller, "_write_news", counting)
    w = harness.world
    ids = [harness.submit(w.a.member_token, flavors=["cpu"], command=["sh", "-c", "sleep 1"]) for _ in range(5)]
    harness.until(lambda: all(harness.job(i)["state"] == "running" for i in ids))
    time.sleep(1.5)  # all five end before the next tick looks
    harness.until(lambda: all(harness.job(i)["state"] == "succeeded" for i in ids))
    assert max(chunks) == 2 and sum(chunks) >= 5 and len(chunks) >= 3
    with harness.db.read() as s:
        for i in ids:
            actions = list(s.execute(select(AuditEventRow.action).where(
                AuditEventRow.target_type == "job", AuditEventRow.target_id == str(i))).scalars())
            assert actions == ["job.submit", "job.start", "job.succeeded"], actions
            assert s.execute(select(UsageRow).where(UsageRow.job_id == i)).scalars().first() is not None
