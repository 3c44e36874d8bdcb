"""The controller's metrics appear at /metrics and move: cycles by kind, queue and running jobs per project and
flavor, admissions, preemptions, waits of started jobs and the engine's start latency."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from aicc.controller.loop import Controller
from aicc.executors.local import LocalExecutor
from tests.controller.conftest import Harness
from tests.world import World

H = World.auth


def scrape(h: Harness) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    r = h.client.get("/metrics")
    assert r.status_code == 200
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(r.text) for s in family.samples}


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_controller_metrics_appear_at_metrics_and_move(harness: Harness) -> None:
    h, w = harness, harness.world
    h.controller = Controller(h.settings, h.db, LocalExecutor(h.settings.jobs_dir, grace_s=0.5),
                              metrics=h.client.app.state.metrics.controller)  # type: ignore[attr-defined]
    before = scrape(h)
    for name in ("aicc_scheduling_cycle_seconds_count", "aicc_admissions_total", "aicc_preemptions_total",
                 "aicc_job_wait_seconds_count", "aicc_executor_start_seconds_count"):
        assert not any(k[0] == name and v for k, v in before.items()), name
    a, b = str(w.a.project_id), str(w.b.project_id)
    borrowers = [h.submit(w.a.member_token, accelerators=4, flavors=["h100"], command=["sleep", "60"])
                 for _ in range(2)]
    waiting = h.submit(w.a.member_token, accelerators=1, flavors=["h100"], depends_on=[borrowers[0]])
    for job in borrowers:
        h.until_state(job, "running")
    mid = scrape(h)
    assert value(mid, "aicc_scheduling_cycle_seconds_count", kind="rebuild") == 1
    assert value(mid, "aicc_scheduling_cycle_seconds_count", kind="full") >= 1
    assert value(mid, "aicc_admissions_total", flavor="h100") == 2
    assert value(mid, "aicc_job_wait_seconds_count") == 2
    assert value(mid, "aicc_executor_start_seconds_count", engine="local") == 2
    assert value(mid, "aicc_jobs_running", project=a, flavor="h100") == 2
    assert value(mid, "aicc_jobs_pending", project=a, flavor="h100") == 1
    h.controller.cycle(full=False)
    assert value(scrape(h), "aicc_scheduling_cycle_seconds_count", kind="light") == 1

    entitled = h.submit(w.b.member_token, project="proj-b", accelerators=4, flavors=["h100"],
                        command=["sh", "-c", "true"])
    h.until_state(entitled, "succeeded")
    h.controller.cycle(full=False)  # a run that ended within the cycle that started it: the state learns it now
    after = scrape(h)
    assert value(after, "aicc_preemptions_total") == 1
    assert value(after, "aicc_admissions_total", flavor="h100") >= 3
    assert value(after, "aicc_job_wait_seconds_count") >= 3
    assert value(after, "aicc_jobs_running", project=b, flavor="h100") == 0
    for job in (*borrowers, waiting):
        h.client.post(f"/api/v1/jobs/{job}/cancel", headers=H(w.a.member_token))
    for job in (*borrowers, waiting):
        h.until_state(job, "cancelled")
    assert value(scrape(h), "aicc_jobs_running", project=a, flavor="h100") == 0


def test_the_grafana_dashboard_queries_only_metrics_the_controller_exports() -> None:
    import json
    import re
    from pathlib import Path

    from prometheus_client import generate_latest

    from aicc.controller.metrics import ControllerMetrics

    m = ControllerMetrics()
    m.watch(lambda: ({("1", "h100"): 1}, {("1", "h100"): 1}))
    m.cycle.labels("light").observe(0.01)
    m.admissions.labels("h100").inc()
    m.start_latency.labels("local").observe(0.01)
    exported = {s.name for f in text_string_to_metric_families(generate_latest(m.registry).decode())
                for s in f.samples}
    dashboard = json.loads((Path(__file__).parents[2] / "deploy/grafana/aicc-controller.json").read_text())
    queried = {name for p in dashboard["panels"] for t in p["targets"] for name in re.findall(r"aicc_\w+", t["expr"])}
    assert queried and queried <= exported, queried - exported
