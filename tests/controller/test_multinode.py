"""A multi-node job through the API, the controller and the local engine: ranks on the nodes the policy
placed, logs merged with rank labels and one rank's alone, a failing rank named, bad --tasks-per-node refused."""

from __future__ import annotations

from tests.controller.conftest import Harness
from tests.world import World

H = World.auth
PRINT = 'echo "rank=$RANK node=$NODE_RANK of=$AICC_NUM_NODES world=$WORLD_SIZE devices=$CUDA_VISIBLE_DEVICES"'


def test_a_gang_over_two_nodes_runs_one_task_per_node_with_rank_labelled_logs(harness: Harness) -> None:
    w = harness.world
    job_id = harness.submit(w.a.member_token, accelerators=8, flavors=["h100"], cpus=2, command=["sh", "-c", PRINT])
    job = harness.until_state(job_id, "succeeded", "failed")
    assert job["state"] == "succeeded", job
    assert len(job["placement"]) == 2 and job["tasks_per_node"] == 1 and job["mpi"] is False
    merged = harness.client.get(f"/api/v1/jobs/{job_id}/logs", headers=H(w.a.member_token)).json()["data"]
    assert "0: rank=0 node=0 of=2 world=2 devices=0,1,2,3\n" in merged
    assert "1: rank=1 node=1 of=2 world=2 devices=0,1,2,3\n" in merged
    one = harness.client.get(f"/api/v1/jobs/{job_id}/logs", params={"rank": 1}, headers=H(w.a.member_token)).json()
    assert one["data"] == "rank=1 node=1 of=2 world=2 devices=0,1,2,3\n" and one["finished"]
    other = harness.client.get(f"/api/v1/jobs/{job_id}/logs", params={"rank": 1}, headers=H(w.b.member_token))
    assert other.status_code == 404  # another tenant's job stays invisible, rank or not
    beyond = harness.client.get(f"/api/v1/jobs/{job_id}/logs", params={"rank": 2}, headers=H(w.a.member_token))
    assert beyond.status_code in (400, 422) and "rank 2: job" in beyond.text and "has ranks 0 to 1" in beyond.text


def test_a_failing_rank_fails_the_job_naming_the_rank_and_its_code(harness: Harness) -> None:
    w = harness.world
    job_id = harness.submit(w.a.member_token, accelerators=8, flavors=["h100"], cpus=2, tasks_per_node=2,
                            command=["sh", "-c", 'if [ "$RANK" = 2 ]; then exit 7; fi; sleep 60'])
    job = harness.until_state(job_id, "failed", "succeeded")
    assert job["state"] == "failed" and job["exit_code"] == 7, job
    assert "rank 2" in job["reason"] and "7" in job["reason"]


def test_more_tasks_per_node_than_the_node_gives_is_refused_with_the_reason(harness: Harness) -> None:
    w = harness.world
    r = harness.client.post("/api/v1/jobs", headers=H(w.a.member_token), json={
        "project": "proj-a", "command": ["true"], "accelerators": 8, "flavors": ["h100"], "tasks_per_node": 8})
    assert r.status_code in (400, 422), r.text
    assert "--tasks-per-node 8 is more than the 4 h100 accelerators the job gets on a node" in r.text
    r = harness.client.post("/api/v1/jobs", headers=H(w.a.member_token), json={
        "project": "proj-a", "command": ["true"], "cpus": 2, "flavors": ["cpu"], "tasks_per_node": 3})
    assert "--tasks-per-node 3 is more than the 2 cores the job asks for" in r.text
    r = harness.client.post("/api/v1/jobs", headers=H(w.a.member_token), json={
        "project": "proj-a", "command": ["true"], "tasks_per_node": 0})
    assert r.status_code == 422
