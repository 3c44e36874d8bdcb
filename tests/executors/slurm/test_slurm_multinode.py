"""Multi-node jobs on the real Slurm cluster: srun inside the batch step puts every rank on the node AICC
placed it (node3 before node1 here, against Slurm's own order), each through the runner, all or nothing."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from aicc.executors.base import Launch, Placement, RunPhase
from aicc.executors.slurm import SlurmExecutor
from aicc.executors.tasks import rank_lines

pytestmark = pytest.mark.slurm

UID = 200_041
RENDEZVOUS = Path(__file__).resolve().parents[3] / "examples" / "multinode" / "rendezvous.py"
PROBE = ("import json, os; print(json.dumps({k: os.environ.get(k) for k in ('RANK', 'NODE_RANK', 'WORLD_SIZE', "
         "'AICC_NODE_RANK', 'AICC_NUM_NODES', 'AICC_NODELIST', 'LOCAL_WORLD_SIZE', 'SLURMD_NODENAME', 'MASTER_ADDR', "
         "'MASTER_PORT')}) + ' uid=' + str(os.getuid()), flush=True)")


def gang(make_launch, job_id: int, argv: list[str], **kw: object) -> Launch:  # type: ignore[no-untyped-def]
    launch = make_launch(argv, job_id=job_id, placements=[Placement("node3"), Placement("node1")])
    launch = dataclasses.replace(launch, partition="multi", unix_uid=UID, **kw)  # type: ignore[arg-type]
    launch.workdir.mkdir(parents=True, exist_ok=True)
    shutil.copy(RENDEZVOUS, launch.workdir / "rendezvous.py")
    return launch


def logs(launch: Launch) -> tuple[str, str]:
    out, err = launch.workdir / "stdout.log", launch.workdir / "stderr.log"
    return (out.read_text() if out.exists() else ""), (err.read_text() if err.exists() else "")


def test_each_rank_runs_isolated_on_its_placed_node_and_they_meet_at_the_master(
    slurm_executor: SlurmExecutor, make_launch, wait_run  # type: ignore[no-untyped-def]
) -> None:
    launch = gang(make_launch, 71, ["sh", "-c", f"python3 -c \"{PROBE}\" && python3 rendezvous.py"])
    ext = slurm_executor.start(launch)
    st = wait_run(slurm_executor, (71, 1, ext), lambda s: s.phase.finished, 90)
    out, err = logs(launch)
    assert st.phase is RunPhase.SUCCEEDED, (st, out, err)
    data = out.encode()
    ranks = {r: rank_lines(data, r, complete=True)[0].decode().splitlines() for r in (0, 1)}
    for rank, node in ((0, "node3"), (1, "node1")):  # AICC's order, not Slurm's
        probe, uid = ranks[rank][0].rsplit(" uid=", 1)
        env = json.loads(probe)
        assert (env["RANK"], env["NODE_RANK"], env["AICC_NODE_RANK"]) == (str(rank),) * 3
        assert env["SLURMD_NODENAME"] == node and int(uid) == UID
        assert (env["WORLD_SIZE"], env["AICC_NUM_NODES"], env["LOCAL_WORLD_SIZE"]) == ("2", "2", "1")
        assert env["AICC_NODELIST"] == "node3,node1" and env["MASTER_ADDR"] == "127.0.0.1"
        assert int(env["MASTER_PORT"]) > 0
        assert ranks[rank][1] == f"rank {rank} of 2 (node {rank} local 0) sum 3"


def test_a_failing_rank_stops_the_other_and_fails_the_job_with_its_code(
    slurm_executor: SlurmExecutor, make_launch, wait_run  # type: ignore[no-untyped-def]
) -> None:
    script = 'if [ "$RANK" = 1 ]; then exit 3; fi; sleep 300'
    launch = gang(make_launch, 72, ["sh", "-c", script])
    ext = slurm_executor.start(launch)
    st = wait_run(slurm_executor, (72, 1, ext), lambda s: s.phase.finished, 60)
    out, err = logs(launch)
    assert st.phase is RunPhase.FAILED and st.exit_code == 3, (st, out, err)
    assert st.reason == "rank 1 exited with code 3"  # the job's record names the rank (Slurm's job comment)
    assert "AICC: rank 1 failed with exit code 3; the other ranks were stopped" in err


MPI_ALLREDUCE = ("from mpi4py import MPI; c = MPI.COMM_WORLD; "
                 "print('rank', c.Get_rank(), 'of', c.Get_size(), 'sum', c.allreduce(c.Get_rank() + 1))")


def test_mpi_job_runs_isolated_under_srun_pmix_across_two_nodes(
    slurm_executor: SlurmExecutor, make_launch, wait_run  # type: ignore[no-untyped-def]
) -> None:
    executor = slurm_executor
    launch = gang(make_launch, 73, ["/usr/bin/python3", "-c", MPI_ALLREDUCE], mpi=True)
    ext = executor.start(launch)
    st = wait_run(executor, (73, 1, ext), lambda s: s.phase.finished, 90)
    out, err = logs(launch)
    assert st.phase is RunPhase.SUCCEEDED, (st, out, err)
    assert "--mpi=pmix" in (launch.workdir / "slurm-batch-1.sh").read_text()
    assert rank_lines(out.encode(), 0, complete=True)[0] == b"rank 0 of 2 sum 3\n"
    assert rank_lines(out.encode(), 1, complete=True)[0] == b"rank 1 of 2 sum 3\n"


def test_cancel_stops_every_rank(
    slurm_executor: SlurmExecutor, make_launch, wait_run  # type: ignore[no-untyped-def]
) -> None:
    launch = gang(make_launch, 74, ["sh", "-c", 'echo "up $RANK"; exec sleep 300'])
    ext = slurm_executor.start(launch)
    wait_run(slurm_executor, (74, 1, ext), lambda s: s.phase is RunPhase.RUNNING, 60)
    deadline = time.monotonic() + 30
    while logs(launch)[0].count("up ") < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert logs(launch)[0].count("up ") == 2  # both ranks run
    slurm_executor.cancel(ext, 1.0)
    st = wait_run(slurm_executor, (74, 1, ext), lambda s: s.phase.finished, 60)
    assert st.phase is RunPhase.CANCELLED
    left = subprocess.run(["pgrep", "-f", str(launch.workdir)], capture_output=True, check=False).stdout
    assert left == b""  # no rank's runner (its spec lies in the job's directory) outlived the cancel


def test_mpi_with_a_launcher_the_cluster_lacks_is_refused_with_the_reason(
    slurm_executor: SlurmExecutor, make_launch, monkeypatch  # type: ignore[no-untyped-def]
) -> None:
    from aicc.executors.slurm import SlurmError
    from aicc.executors.slurm import gang as slurm_gang

    monkeypatch.setattr(slurm_gang, "MPI_PLUGIN", "pmi9")  # a plugin this cluster's srun really does not have
    launch = gang(make_launch, 75, ["true"], mpi=True)
    with pytest.raises(SlurmError, match=r"--mpi: this Slurm cluster has no MPI launcher .*pmix"):
        slurm_executor.start(launch)
