"""The runner's pure parts: cgroup paths on v1 hybrid and v2, limits, uid allocation, seccomp, mounts."""

from __future__ import annotations

import dataclasses
import struct
from pathlib import Path

import pytest

from aicc.runner import cgroups, seccomp
from aicc.runner.identity import UidRange, UidRangeExhausted, problems
from aicc.runner.mounts import bwrap_argv, splice_rootfs
from aicc.runner.profiles import Profile
from aicc.runner.spec import Bind, Limits, RunSpec

V1_HYBRID = """9:name=systemd:/
8:pids:/
5:devices:/
4:memory:/process_api/f9d3
2:cpuacct:/
1:cpu:/
0::/
"""
V2 = "0::/user.slice/user-1000.slice/aicc.service\n"


def test_v1_hybrid_puts_each_controller_beneath_the_servers_own_cgroup() -> None:
    layout = cgroups.detect(V1_HYBRID, {c: True for c in cgroups.V1_CONTROLLERS})
    assert layout is not None and layout.version == 1
    dirs = cgroups.plan(layout, "job-7-0")
    assert dirs["memory"] == Path("/sys/fs/cgroup/memory/process_api/f9d3/aicc/job-7-0")
    assert dirs["cpu"] == Path("/sys/fs/cgroup/cpu/aicc/job-7-0")
    assert dirs["pids"] == Path("/sys/fs/cgroup/pids/aicc/job-7-0")


def test_v2_is_chosen_when_v1_is_not_mounted_and_uses_the_one_tree() -> None:
    layout = cgroups.detect(V2, {}, "cpuset cpu io memory pids")
    assert layout is not None and layout.version == 2
    assert set(cgroups.plan(layout, "job-1-2").values()) == {
        Path("/sys/fs/cgroup/user.slice/user-1000.slice/aicc.service/aicc/job-1-2")}


def test_no_usable_hierarchy_is_none_not_a_guess() -> None:
    assert cgroups.detect(V2, {}, "cpuset io") is None  # v2 without memory/cpu/pids delegated
    assert cgroups.detect("4:memory:/x\n", {"memory": True}) is None  # v1 missing cpu, pids


def test_cgroup_names_cannot_climb_out() -> None:
    layout = cgroups.detect(V2, {}, "cpu memory pids")
    assert layout is not None
    for bad in ("..", "a/b", ""):
        with pytest.raises(ValueError):
            cgroups.plan(layout, bad)


def test_limits_are_written_as_each_version_spells_them() -> None:
    v1 = cgroups.limit_files(1, Limits(cpus=1.5, memory_mb=4096, pids=64))
    assert ("memory.limit_in_bytes", str(4 << 30)) in v1["memory"]
    assert ("cpu.cfs_quota_us", "150000") in v1["cpu"] and v1["pids"] == [("pids.max", "64")]
    v2 = cgroups.limit_files(2, Limits(cpus=1, memory_mb=256, pids=10))
    assert ("memory.max", str(256 << 20)) in v2["memory"] and v2["cpu"] == [("cpu.max", "100000 100000")]
    assert cgroups.human_mb(4096) == "4 GiB" and cgroups.human_mb(256) == "256 MiB"


def test_uids_are_given_from_the_range_skipping_the_reserved_first_and_taken_ones() -> None:
    rng = UidRange(base=300_000, count=4)
    assert rng.unowned == 300_000
    assert rng.next_free([]) == 300_001
    assert rng.next_free([300_001, 12, 300_003]) == 300_002
    with pytest.raises(UidRangeExhausted, match="uid range exhausted"):
        rng.next_free([300_001, 300_002, 300_003])
    with pytest.raises(ValueError):
        UidRange(base=0, count=10)  # never root's neighbourhood


def test_a_server_without_root_is_told_why_jobs_will_not_start() -> None:
    assert any("not root" in p for p in problems(server_uid=1000))


def test_a_slurm_step_is_checked_for_slurms_limits_and_refused_when_unlimited() -> None:
    limits = Limits(cpus=1, memory_mb=128)
    assert cgroups.engine_limit_problem(128 << 20, 1, limits) is None
    assert cgroups.engine_limit_problem(100 << 20, 1, limits) is None  # tighter than asked: still held
    unlimited = cgroups.engine_limit_problem(None, 1, limits)
    assert unlimited is not None and "no memory limit" in unlimited and "ConstrainRAMSpace=yes" in unlimited
    loose = cgroups.engine_limit_problem(1 << 30, 1, limits)
    assert loose is not None and "1024 MiB, not 128 MiB" in loose
    cores = cgroups.engine_limit_problem(128 << 20, 8, Limits(cpus=2, memory_mb=128))
    assert cores is not None and "8 CPUs, not 2" in cores and "ConstrainCores=yes" in cores
    assert problems(4242, engine_identity=True) == [p for p in problems(0) if "root" not in p]  # not root: expected


def test_a_slurm_step_binds_the_gpus_slurm_allocated_not_the_ones_placed_at_submit(tmp_path: Path) -> None:
    from aicc.runner.launch import engine_devices

    for i in (0, 2):
        (tmp_path / f"nvidia{i}").touch()
    spec = RunSpec(argv=["x"], env={}, cwd="/", uid=200_001, gid=200_001, name="r", devices=[f"{tmp_path}/nvidia2"],
                   engine_devices=f"{tmp_path}/nvidia{{}}")
    assert engine_devices(spec, {"SLURM_JOB_GPUS": "0,1"}).devices == [f"{tmp_path}/nvidia0"]  # 1: no such node
    assert engine_devices(spec, {}).devices == [f"{tmp_path}/nvidia2"]  # Slurm named none: as placed
    plain = dataclasses.replace(spec, engine_devices="")
    assert engine_devices(plain, {"SLURM_JOB_GPUS": "0"}) is plain


def test_a_run_spec_refuses_root_and_odd_names() -> None:
    with pytest.raises(ValueError, match="root"):
        RunSpec(argv=["true"], env={}, cwd="/", uid=0, gid=0, name="x")
    with pytest.raises(ValueError):
        RunSpec(argv=["true"], env={}, cwd="/", uid=5, gid=5, name="../x")
    spec = RunSpec(argv=["true"], env={}, cwd="/", uid=5, gid=5, name="x", binds=[Bind("/a", "/b", True)])
    assert RunSpec.from_json(spec.to_json()) == spec


def _insns(program: bytes) -> list[tuple[int, int, int, int]]:
    return [struct.unpack("=HBBI", program[i:i + 8]) for i in range(0, len(program), 8)]


def test_seccomp_program_checks_the_architecture_first_and_denies_by_number() -> None:
    x86 = _insns(seccomp.program(["ptrace", "mount"], [16], machine="x86_64"))
    assert x86[1][3] == seccomp.ARCHES["x86_64"] and x86[2][3] == seccomp.RET_KILL_PROCESS
    compared = {k for code, _, _, k in x86 if code == 0x15}
    assert {101, 165, 41, 16} <= compared  # ptrace, mount, socket, AF_NETLINK
    arm = _insns(seccomp.program(["ptrace", "iopl"], machine="aarch64"))
    assert {k for code, _, _, k in arm if code == 0x15} == {seccomp.ARCHES["aarch64"], 117}  # no iopl on arm64
    with pytest.raises(seccomp.UnsupportedArchitecture):
        seccomp.program(["ptrace"], machine="sparc")


def test_profiles_differ_in_network_etc_and_syscalls() -> None:
    base = {"argv": ["true"], "env": {}, "cwd": "/", "uid": 5, "gid": 5, "name": "x"}
    std = bwrap_argv(RunSpec(**base), "bwrap")  # type: ignore[arg-type]
    sens = bwrap_argv(RunSpec(**base, profile=Profile.SENSITIVE), "bwrap")  # type: ignore[arg-type]
    off = bwrap_argv(RunSpec(**base, network=False), "bwrap")  # type: ignore[arg-type]
    assert "--share-net" in std and "--share-net" not in sens and "--share-net" not in off
    assert std[std.index("/etc") - 1:std.index("/etc") + 2] == ["--ro-bind", "/etc", "/etc"]
    assert "/etc" not in sens  # only single files of it
    assert "ptrace" in Profile.SENSITIVE.denied_syscalls and "ptrace" not in Profile.STANDARD.denied_syscalls


def test_an_image_root_is_spliced_around_mount_points_and_keeps_links_as_links(tmp_path: Path) -> None:
    root = tmp_path / "rootfs"
    (root / "var" / "lib").mkdir(parents=True)
    (root / "var" / "cache").mkdir()
    (root / "etc").mkdir()
    (root / "proc").mkdir()
    (root / "bin").symlink_to("usr/bin")
    (root / "etc" / "escape").symlink_to("/../../etc/shadow")
    args = splice_rootfs(str(root), ["/var/lib/aicc/jobs/3"])
    assert args[args.index("/bin") - 2:args.index("/bin") + 1] == ["--symlink", "usr/bin", "/bin"]
    assert ["--ro-bind", str(root / "etc"), "/etc"] == args[args.index("/etc") - 2:args.index("/etc") + 1]
    assert args[args.index("/var") - 1:args.index("/var") + 1] == ["--dir", "/var"]  # opened up, not bound whole
    assert ["--ro-bind", str(root / "var" / "cache"), "/var/cache"] == \
        args[args.index("/var/cache") - 2:args.index("/var/cache") + 1]
    assert "/proc" not in args  # the run's own /proc goes there


def test_runs_of_two_centers_on_one_host_never_share_a_cgroup(tmp_path: Path) -> None:
    """Both centers have a job 1: their runs' cgroups must differ, or a cancel in one kills the other's."""
    from aicc.executors.base import Launch, Placement
    from aicc.executors.local.isolation import run_name

    def launch(home: Path) -> Launch:
        return Launch(job_id=1, attempt=0, name="aicc-1-0", argv=["true"], workdir=home / "jobs" / "1", env={},
                      flavor="cpu", device_env=None, placements=[Placement("n1")], cpus=1, memory_mb=64,
                      time_limit_s=60)

    a, b = run_name(launch(tmp_path / "a")), run_name(launch(tmp_path / "b"))
    assert a != b and a.endswith("-1-0") and b.endswith("-1-0")
    assert run_name(launch(tmp_path / "a")) == a  # stable: a restarted controller finds the same cgroup
