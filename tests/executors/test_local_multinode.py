"""Multi-node jobs on the local engine: one isolated process per placed node (or per accelerator), started
together, told where their peers are, all or nothing, with rank-labelled logs."""

from __future__ import annotations

import dataclasses
import json
import shutil
import sys
import time
from pathlib import Path

from aicc.executors.base import Launch, Placement, RunPhase
from aicc.executors.local import LocalExecutor
from aicc.executors.tasks import rank_lines
from tests.executors.test_local import alive, running_with, wait_done, wait_running

REPO = Path(__file__).resolve().parents[2]
RENDEZVOUS = REPO / "examples" / "multinode" / "rendezvous.py"
ENV_DUMP = "import json, os; print(json.dumps({k: v for k, v in os.environ.items() if k.isupper()}))"


def gang(tmp: Path, job_id: int, argv: list[str], *, nodes: int = 2, tasks_per_node: int = 1, mpi: bool = False,
         env: dict[str, str] | None = None, limit: int = 60, devices: tuple[int, ...] = (0, 1)) -> Launch:
    workdir = tmp / str(job_id)
    workdir.mkdir(parents=True, exist_ok=True)
    shutil.copy(RENDEZVOUS, workdir / "rendezvous.py")  # the job sees its own directory, not the repository
    placements = [Placement(f"h100-node-{i:02d}", tuple(d + 4 * i for d in devices)) for i in range(nodes)]
    return Launch(job_id=job_id, attempt=0, name=f"aicc-{job_id}-0", argv=argv, workdir=workdir, env=env or {},
                  flavor="h100", device_env="CUDA_VISIBLE_DEVICES", placements=placements, cpus=4, memory_mb=1000,
                  time_limit_s=limit, extra={"grace_s": "1"}, tasks_per_node=tasks_per_node, mpi=mpi)


def by_rank(path: Path, world: int) -> dict[int, list[str]]:
    data = path.read_bytes()
    return {r: rank_lines(data, r, complete=True)[0].decode().splitlines() for r in range(world)}


def test_each_node_runs_one_task_that_knows_its_peers_and_they_meet_at_the_master(tmp_path: Path) -> None:
    ex = LocalExecutor(tmp_path)
    job = gang(tmp_path, 1, ["sh", "-c", f"{sys.executable} -c '{ENV_DUMP}' && {sys.executable} rendezvous.py"])
    st = wait_done(ex, 1, ex.start(job))
    out, _ = ex.log_paths(job.workdir)
    assert st.phase is RunPhase.SUCCEEDED, (st, out.read_text())
    lines = by_rank(out, 2)
    envs = {r: json.loads(lines[r][0]) for r in (0, 1)}
    for rank, env in envs.items():
        assert (env["AICC_NODE_RANK"], env["NODE_RANK"], env["RANK"]) == (str(rank),) * 3
        assert (env["AICC_NUM_NODES"], env["WORLD_SIZE"], env["LOCAL_WORLD_SIZE"]) == ("2", "2", "1")
        assert env["AICC_NODELIST"] == "h100-node-00,h100-node-01"
        assert env["MASTER_ADDR"] == "127.0.0.1" and env["MASTER_PORT"] == envs[0]["MASTER_PORT"]
        assert env["LOCAL_RANK"] == "0" and env["AICC_JOB_ID"] == "1"
    assert envs[0]["CUDA_VISIBLE_DEVICES"] == "0,1" and envs[1]["CUDA_VISIBLE_DEVICES"] == "4,5"  # its node's
    assert lines[0][1] == "rank 0 of 2 (node 0 local 0) sum 3"
    assert lines[1][1] == "rank 1 of 2 (node 1 local 0) sum 3"
    assert all(line.split(": ", 1)[0].strip() in ("0", "1") for line in out.read_text().splitlines()[1:])


def test_tasks_per_node_splits_each_nodes_accelerators_between_its_tasks(tmp_path: Path) -> None:
    ex = LocalExecutor(tmp_path)
    job = gang(tmp_path, 2, [sys.executable, "-c", ENV_DUMP], tasks_per_node=2)
    st = wait_done(ex, 2, ex.start(job))
    assert st.phase is RunPhase.SUCCEEDED, st
    envs = {r: json.loads(lines[0]) for r, lines in by_rank(ex.log_paths(job.workdir)[0], 4).items()}
    assert [envs[r]["CUDA_VISIBLE_DEVICES"] for r in range(4)] == ["0", "1", "4", "5"]
    assert [(envs[r]["NODE_RANK"], envs[r]["LOCAL_RANK"]) for r in range(4)] == [
        ("0", "0"), ("0", "1"), ("1", "0"), ("1", "1")]
    assert {envs[r]["WORLD_SIZE"] for r in range(4)} == {"4"} and envs[3]["LOCAL_WORLD_SIZE"] == "2"
    spec = json.loads((tmp_path / "2" / "run-0" / "spec.json").read_text())
    quotas = [t["run"]["limits"]["cpus"] for t in spec["tasks"]]
    assert quotas == [1.0] * 4 and sum(quotas) == job.cpus  # the job's 4 cores split, never more in all
    assert len({t["run"]["name"] for t in spec["tasks"]}) == 4  # each rank its own cgroups


def test_one_failing_rank_stops_the_others_and_fails_the_job_naming_it(tmp_path: Path) -> None:
    ex = LocalExecutor(tmp_path)
    marker = f"mn-sleeper-{time.time_ns()}"
    script = f'if [ "$RANK" = 1 ]; then sleep 0.5; echo bye >&2; exit 3; fi; sleep 300; : {marker}'
    job = gang(tmp_path, 3, ["sh", "-c", script])
    st = wait_done(ex, 3, ex.start(job))
    assert st.phase is RunPhase.FAILED and st.exit_code == 3
    assert st.reason == "rank 1 exited with code 3"
    assert running_with(marker) == []  # rank 0's sleep did not outlive the gang
    _, err = ex.log_paths(job.workdir)
    assert rank_lines(err.read_bytes(), 1, complete=True)[0] == b"bye\n"


def test_cancel_stops_every_rank(tmp_path: Path) -> None:
    ex = LocalExecutor(tmp_path)
    marker = f"mn-cancel-{time.time_ns()}"
    ext = ex.start(gang(tmp_path, 4, ["sh", "-c", f"sleep 300; : {marker}"], nodes=3))
    wait_running(ex, 4, ext)
    pids = json.loads((tmp_path / "4" / "run-0" / "state.json").read_text())["pids"]
    assert len(pids) == 3 and all(alive(pid) for pid in pids)
    ex.cancel(ext, 1.0)
    st = wait_done(ex, 4, ext)
    assert st.phase is RunPhase.CANCELLED
    assert running_with(marker) == [] and not any(alive(pid) for pid in pids)


def test_a_rank_that_never_reaches_the_rendezvous_is_named(tmp_path: Path) -> None:
    ex = LocalExecutor(tmp_path)
    job = gang(tmp_path, 5, [sys.executable, "rendezvous.py"],
               env={"RENDEZVOUS_TIMEOUT_S": "1", "RENDEZVOUS_STALL_RANK": "1"})
    st = wait_done(ex, 5, ex.start(job))
    assert st.phase is RunPhase.FAILED and st.reason == "rank 0 exited with code 3"
    err = rank_lines(ex.log_paths(job.workdir)[1].read_bytes(), 0, complete=True)[0].decode()
    assert "rank(s) 1 never reached the rendezvous" in err


MPI_ALLREDUCE = ("from mpi4py import MPI; c = MPI.COMM_WORLD; "
                 "print('rank', c.Get_rank(), 'of', c.Get_size(), 'sum', c.allreduce(c.Get_rank() + 1))")


def test_mpi_job_runs_under_mpirun_with_a_generated_hostfile(tmp_path: Path) -> None:
    ex = LocalExecutor(tmp_path)
    job = gang(tmp_path, 6, ["/usr/bin/python3", "-c", MPI_ALLREDUCE], mpi=True)
    st = wait_done(ex, 6, ex.start(job), timeout=60)
    out, err = ex.log_paths(job.workdir)
    assert st.phase is RunPhase.SUCCEEDED, (st, out.read_text(), err.read_text())
    assert rank_lines(out.read_bytes(), 0, complete=True)[0] == b"rank 0 of 2 sum 3\n"
    assert rank_lines(out.read_bytes(), 1, complete=True)[0] == b"rank 1 of 2 sum 3\n"
    assert "slots=2" in (job.workdir / "mpi-hostfile-0").read_text()


def test_without_network_the_ranks_still_meet_each_other_and_nothing_else(tmp_path: Path) -> None:
    import socket

    with socket.create_server(("127.0.0.1", 0)) as host:  # on the host: a rank must not reach it
        port = host.getsockname()[1]
        probe = (f"import socket, sys\ntry:\n    socket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
                 "    print('host reached')\nexcept OSError as e:\n    print('host unreachable')\n")
        (tmp_path / "7").mkdir()
        (tmp_path / "7" / "probe.py").write_text(probe)
        job = dataclasses.replace(gang(tmp_path, 7, ["sh", "-c", f"{sys.executable} probe.py && "
                                                     f"{sys.executable} rendezvous.py"]), network=False)
        ex = LocalExecutor(tmp_path)
        st = wait_done(ex, 7, ex.start(job))
    out = ex.log_paths(job.workdir)[0]
    assert st.phase is RunPhase.SUCCEEDED, (st, out.read_text(), ex.log_paths(job.workdir)[1].read_text())
    lines = by_rank(out, 2)
    assert lines[0] == ["host unreachable", "rank 0 of 2 (node 0 local 0) sum 3"]
    assert lines[1] == ["host unreachable", "rank 1 of 2 (node 1 local 0) sum 3"]


def test_mpi_on_a_machine_without_an_mpi_launcher_is_refused_with_the_reason(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import pytest

    from aicc.runner.launch import IsolationUnavailable

    ex = LocalExecutor(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))  # a site without mpirun
    job = gang(tmp_path, 8, ["true"], mpi=True)
    with pytest.raises(IsolationUnavailable, match="--mpi: this site has no MPI launcher"):
        ex.start(job)
    assert not (tmp_path / "8" / "run-0" / "started").exists()  # not started: a later try may start it


def test_a_gang_over_its_time_limit_is_stopped_whole(tmp_path: Path) -> None:
    ex = LocalExecutor(tmp_path)
    job = gang(tmp_path, 9, ["sh", "-c", "sleep 300"], limit=1)
    st = wait_done(ex, 9, ex.start(job))
    assert st.phase is RunPhase.TIMED_OUT and st.reason == "time limit of 1 s reached"
    pids = json.loads((tmp_path / "9" / "run-0" / "state.json").read_text())["pids"]
    assert len(pids) == 2 and not any(alive(pid) for pid in pids)


def test_a_vanished_shepherd_leaves_no_rank_behind(tmp_path: Path) -> None:
    import os
    import signal

    ex = LocalExecutor(tmp_path)
    ext = ex.start(gang(tmp_path, 10, ["sh", "-c", "sleep 60"]))
    wait_running(ex, 10, ext)
    state = json.loads((tmp_path / "10" / "run-0" / "state.json").read_text())
    os.kill(state["shepherd_pid"], signal.SIGKILL)
    deadline = time.monotonic() + 5
    while alive(state["shepherd_pid"]) and time.monotonic() < deadline:
        time.sleep(0.02)
    (st,) = LocalExecutor(tmp_path).reconcile([(10, 0, ext)])  # a restarted controller finds it so
    assert st.phase is RunPhase.LOST
    deadline = time.monotonic() + 5
    while any(alive(pid) for pid in state["pids"]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(state["pids"]) == 2 and not any(alive(pid) for pid in state["pids"])  # rank 1 too, by its cgroup
