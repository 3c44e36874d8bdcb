"""Pure parsing and mapping of Slurm's records (no cluster needed)."""

from __future__ import annotations

import calendar
import os
import time
from dataclasses import replace
from pathlib import Path

import pytest

from aicc.executors.base import Launch, Placement, RunPhase
from aicc.executors.slurm import SlurmConfig, SlurmFlavor
from aicc.executors.slurm.batch import batch_script, sbatch_argv
from aicc.executors.slurm.inventory import node_from_sinfo, parse_gpu_gres
from aicc.executors.slurm.records import (
    from_squeue_job,
    local_time_to_epoch,
    parse_jobcomp_line,
    parse_jobcomp_lines,
)
from aicc.executors.slurm.states import run_status

CONFIG = SlurmConfig(
    flavors={
        "h100": SlurmFlavor("h100", "gpu-h100"),
        "a100": SlurmFlavor("a100", "gpu-a100"),
        "cpu": SlurmFlavor(None, "cpu"),
    }
)

JOBCOMP = (
    "JobId=12 UserId=root(0) GroupId=root(0) Name=aicc-7.2 JobState=NODE_FAIL Partition=a100 "
    "TimeLimit=5 StartTime=2026-11-23T13:00:00 EndTime=2026-11-23T13:00:30 NodeList=node2 NodeCnt=1 "
    "ProcCnt=1 WorkDir=/var/jobs/with space ReservationName= Tres=cpu=1,mem=100M,node=1 Account= QOS= "
    "WcKey= Cluster=unknown SubmitTime=2026-11-23T12:59:59 EligibleTime=2026-11-23T12:59:59 "
    "DerivedExitCode=0:0 ExitCode=0:0 \n"
)


@pytest.fixture
def seoul_time(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TZ", "KST-9")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_jobcomp_values_may_contain_spaces_and_empty_values() -> None:
    fields = parse_jobcomp_line(JOBCOMP.rstrip("\n"))
    assert fields["WorkDir"] == "/var/jobs/with space"
    assert fields["ReservationName"] == ""
    assert fields["Tres"] == "cpu=1,mem=100M,node=1"
    assert fields["ExitCode"] == "0:0"


def test_jobcomp_times_are_read_in_the_cluster_local_zone(seoul_time: None) -> None:
    [record] = parse_jobcomp_lines([JOBCOMP])
    assert record.start_time == calendar.timegm((2026, 11, 23, 4, 0, 0, 0, 0, 0))
    assert record.end_time == record.start_time + 30
    assert local_time_to_epoch("Unknown") is None


def test_node_failure_from_the_log_is_lost_naming_the_node() -> None:
    [record] = parse_jobcomp_lines([JOBCOMP])
    status = run_status(7, 2, record)
    assert (status.phase, status.reason, status.external_id) == (RunPhase.LOST, "node node2 failed", "12")


@pytest.mark.parametrize(
    ("state", "raw_exit", "phase", "exit_code", "reason"),
    [
        ("COMPLETED", 0, RunPhase.SUCCEEDED, 0, None),
        ("FAILED", 3 << 8, RunPhase.FAILED, 3, "exit code 3"),
        ("FAILED", 9, RunPhase.FAILED, 137, "killed by signal 9"),
        ("OUT_OF_MEMORY", 9, RunPhase.FAILED, 137, "out of memory"),
        ("TIMEOUT", 15, RunPhase.TIMED_OUT, 143, "time limit 5 min reached"),
        ("CANCELLED", 15, RunPhase.CANCELLED, 143, "cancelled"),
        ("PREEMPTED", 15, RunPhase.LOST, 143, "preempted by Slurm"),
        ("BOOT_FAIL", 0, RunPhase.LOST, 0, "node node1 failed to boot"),
        ("FAILED", 125 << 8, RunPhase.FAILED, 125,
         "not started: the job could not be isolated on its node (its stderr log says why)"),
    ],
)
def test_finished_squeue_states_map_to_phases_exit_codes_and_reasons(
    state: str, raw_exit: int, phase: RunPhase, exit_code: int, reason: str | None
) -> None:
    job = {
        "job_id": 5, "name": "x", "job_state": state, "nodes": "node1", "start_time": 100,
        "end_time": 160, "exit_code": raw_exit, "state_reason": "None", "time_limit": 5,
    }  # fmt: skip
    status = run_status(1, 1, from_squeue_job(job))
    assert (status.phase, status.exit_code, status.reason) == (phase, exit_code, reason)
    assert (status.started_at, status.ended_at) == (100.0, 160.0)


def test_an_out_of_memory_job_names_its_limit_from_squeue_or_the_completion_log() -> None:
    job = {"job_id": 5, "name": "x", "job_state": "OUT_OF_MEMORY", "nodes": "node1", "start_time": 100,
           "end_time": 160, "exit_code": 9, "memory_per_node": 4096}
    assert run_status(1, 1, from_squeue_job(job)).reason == "out of memory (limit 4 GiB)"
    [record] = parse_jobcomp_lines([JOBCOMP.replace("JobState=NODE_FAIL", "JobState=OUT_OF_MEMORY")])
    assert record.memory_mb == 100 and run_status(1, 1, record).reason == "out of memory (limit 100 MiB)"


def test_pending_job_has_no_times_and_says_why_it_waits() -> None:
    job = {
        "job_id": 5, "name": "x", "job_state": "PENDING", "nodes": "", "start_time": 1795400000,
        "end_time": 1795403600, "exit_code": 0, "state_reason": "Resources", "time_limit": 60,
    }  # fmt: skip
    status = run_status(1, 1, from_squeue_job(job))
    assert status.phase is RunPhase.STARTING
    assert (status.started_at, status.ended_at, status.exit_code) == (None, None, None)
    assert status.reason == "waiting in Slurm: Resources"


def test_sbatch_pins_the_placement_and_rounds_the_time_limit_up(tmp_path: Path) -> None:
    launch = Launch(
        job_id=9, attempt=2, name="aicc-9.2", argv=["python", "train.py", "--lr", "1e-3 x"],
        workdir=tmp_path, env={}, flavor="h100", device_env="CUDA_VISIBLE_DEVICES",
        placements=[Placement("node1", (0, 1)), Placement("node4", (2, 3))],
        cpus=4, memory_mb=2048, time_limit_s=61,
    )  # fmt: skip
    argv = sbatch_argv(launch, CONFIG)
    assert "--job-name=aicc-9.2" in argv
    assert "--partition=gpu-h100" in argv
    assert "--gres=gpu:h100:2" in argv
    assert [a for a in argv if a.startswith("--node")] == ["--nodes=2", "--nodelist=node1,node4"]
    assert "--time=2" in argv
    # a gang over two nodes: one task per node, each with its share of the job's CPUs and memory
    assert "--ntasks-per-node=1" in argv and "--cpus-per-task=2" in argv and "--mem=1024M" in argv
    assert f"--output={tmp_path}/stdout.log" in argv
    assert argv[-1] == str(tmp_path / "slurm-batch-2.sh")
    assert batch_script(launch).endswith("exec python train.py --lr '1e-3 x'\n")
    assert not [a for a in argv if a.startswith(("--uid", "--gid"))]  # the script tests' bare runs
    as_project = sbatch_argv(launch, CONFIG, uid=200_007)
    assert "--uid=200007" in as_project and "--gid=200007" in as_project  # Slurm's records name the project


def test_gres_strings() -> None:
    assert parse_gpu_gres("gpu:h100:4") == ("h100", 4)
    assert parse_gpu_gres("gpu:a100:8(S:0-1)") == ("a100", 8)
    assert parse_gpu_gres("gpu:2") == (None, 2)
    assert parse_gpu_gres("") == (None, 0)
    assert parse_gpu_gres("(null)") == (None, 0)


def test_down_or_drained_nodes_are_unavailable() -> None:
    base = {"name": "n", "gres": "gpu:a100:4", "cpus": 8, "real_memory": 1000, "partitions": ["gpu-a100"]}
    idle = node_from_sinfo({**base, "state": "idle", "state_flags": []}, CONFIG)
    down = node_from_sinfo({**base, "state": "down", "state_flags": [], "reason": "Not responding"}, CONFIG)
    draining = node_from_sinfo({**base, "state": "mixed", "state_flags": ["DRAIN"]}, CONFIG)
    assert (idle.flavor, idle.available, idle.reason) == ("a100", True, None)
    assert (down.available, down.reason) == (False, "Not responding")
    assert (draining.available, draining.reason, draining.state) == (
        False,
        "node is mixed+drain",
        "mixed+drain",
    )


@pytest.mark.parametrize("nice", [0, 10])
def test_tools_run_at_the_configured_priority_and_a_missing_one_is_unavailable(nice: int, tmp_path: Path) -> None:
    from aicc.executors.slurm import SlurmUnavailable
    from aicc.executors.slurm.commands import run_slurm

    config = SlurmConfig(flavors={}, nice=nice)
    assert int(run_slurm(config, ["sh", "-c", "nice"])) == os.nice(0) + nice  # any program runs the same way
    with pytest.raises(SlurmUnavailable, match="sbatch is not installed"):
        run_slurm(replace(config, bin_dir=tmp_path), ["sbatch", "--parsable"])


def test_task_expressions_as_slurm_writes_them() -> None:
    from aicc.executors.slurm.records import task_in

    assert [i for i in range(12) if task_in("0-3", i)] == [0, 1, 2, 3]
    assert [i for i in range(12) if task_in("[2,5-9:2]%4", i)] == [2, 5, 7, 9]
    assert [i for i in range(12) if task_in("11", i)] == [11]
    assert not any(task_in(expr, 1) for expr in ("", "x-y", "2-"))


def test_array_tasks_in_both_records() -> None:
    split = from_squeue_job({"job_id": 7, "name": "a", "job_state": "RUNNING", "array_job_id": 5,
                             "array_task_id": 2, "array_task_string": "", "start_time": 10})
    waiting = from_squeue_job({"job_id": 5, "name": "a", "job_state": "PENDING", "array_job_id": 5,
                               "array_task_id": None, "array_task_string": "3-9", "start_time": 0})
    plain = from_squeue_job({"job_id": 8, "name": "b", "job_state": "PENDING", "array_job_id": 0,
                             "array_task_id": 4294967294})
    assert split.array_key == (5, 2) and waiting.array_key is None and waiting.array_pending == "3-9"
    assert plain.array_job_id is None and plain.array_key is None
    [done] = parse_jobcomp_lines(["JobId=9 Name=a JobState=FAILED ArrayJobId=5 ArrayTaskId=3 ExitCode=3:0"])
    assert done.array_key == (5, 3) and done.exit_code == 3


def _launch(tmp_path: Path, job_id: int, **changes: object) -> Launch:
    launch = Launch(job_id=job_id, attempt=0, name=f"t-{job_id}-0", argv=["sh", "-c", 'echo "$AICC_JOB_ID:$X"'],
                    workdir=tmp_path / str(job_id), env={"X": f"it's {job_id}"}, flavor="cpu", device_env=None,
                    placements=[Placement("node3")], cpus=1, memory_mb=64, time_limit_s=60)
    return replace(launch, **changes)  # type: ignore[arg-type]


def test_like_shaped_runs_share_an_array_key_and_their_script_runs_each_as_itself(tmp_path: Path) -> None:
    import subprocess

    from aicc.executors.slurm.batch import array_key, array_script, batch_script_path

    config = SlurmConfig(flavors={"cpu": SlurmFlavor(None, "cpu")})
    a, b = _launch(tmp_path, 1), _launch(tmp_path, 2)
    assert array_key(a, config) is not None and array_key(a, config) == array_key(b, config)
    assert array_key(a, config, 200_001) != array_key(b, config, 200_002)  # two projects never share an array
    assert array_key(_launch(tmp_path, 3, cpus=2), config) != array_key(a, config)
    assert array_key(_launch(tmp_path, 4, time_limit_s=600), config) != array_key(a, config)
    assert array_key(_launch(tmp_path, 5, env={"NOT-A-NAME": "1"}), config) is None
    for launch in (a, b):
        launch.workdir.mkdir()
        batch_script_path(launch).write_text(batch_script(launch))
        batch_script_path(launch).chmod(0o755)
    dispatch = tmp_path / "dispatch.sh"
    dispatch.write_text(array_script([a, b]))
    outs = [subprocess.run(["sh", str(dispatch)], env={"SLURM_ARRAY_TASK_ID": str(t), "PATH": "/usr/bin:/bin"},
                           capture_output=True, text=True, check=False) for t in (0, 1, 2)]
    assert [o.stdout for o in outs[:2]] == ["1:it's 1\n", "2:it's 2\n"]
    assert outs[2].returncode == 1 and "no run for array task 2" in outs[2].stderr
