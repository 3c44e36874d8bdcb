"""Kernel limits for one run: memory, CPU quota and process count, on cgroup v1 (hybrid) and v2 alike.

Job cgroups are made beneath the server's own cgroup in each hierarchy (``/proc/self/cgroup``), under one
``aicc`` directory, and nowhere else: a center may run AICC inside a container or a systemd slice, and
writing elsewhere under ``/sys/fs/cgroup`` would be writing into somebody else's. On a v1 hybrid machine the
controllers are separate hierarchies (``memory`` may sit in a sub-cgroup of the machine's own while ``cpu``
is at the root); on v2 they are one tree and the parent must delegate them (``cgroup.subtree_control``).

The path logic (``plan``) is pure and unit-tested; ``Cgroup`` does the writes. A machine where a limit
cannot be set is reported by ``probe`` with what is missing: jobs then fail to start with that reason, they
never run unlimited.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from aicc.runner.spec import Limits

ROOT = Path("/sys/fs/cgroup")
V1_CONTROLLERS = ("memory", "cpu", "cpuacct", "pids")
V2_CONTROLLERS = ("memory", "cpu", "pids")
CFS_PERIOD_US = 100_000
PARENT = "aicc"


class CgroupUnavailable(RuntimeError):
    """Limits cannot be set on this machine; the message names what is missing."""


@dataclass(frozen=True, slots=True)
class Layout:
    """Where each controller's hierarchy is mounted and where this process sits in it."""

    version: int  # 1 or 2
    places: dict[str, tuple[Path, str]]
    """controller -> (hierarchy mount point, own cgroup path); on v2 every controller maps to the one tree."""


def parse_self(text: str) -> dict[str, str]:
    """``/proc/self/cgroup`` as {controller: path}; the v2 line (``0::/x``) is keyed ``""``."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        for name in parts[1].split(",") if parts[1] else [""]:
            out[name] = parts[2]
    return out


def detect(self_cgroup: str, mounted: dict[str, bool], v2_controllers: str = "") -> Layout | None:
    """Choose v1 when its controllers are mounted as hierarchies (``mounted``: controller -> its directory
    exists under /sys/fs/cgroup), else v2 when the unified tree offers them. Pure: tested with strings."""
    own = parse_self(self_cgroup)
    if all(mounted.get(c) and c in own for c in V1_CONTROLLERS):
        return Layout(1, {c: (ROOT / c, own[c]) for c in V1_CONTROLLERS})
    offered = set(v2_controllers.split())
    if "" in own and set(V2_CONTROLLERS) <= offered:
        return Layout(2, {c: (ROOT, own[""]) for c in V2_CONTROLLERS})
    return None


def plan(layout: Layout, run: str) -> dict[str, Path]:
    """The run's cgroup directory per controller: <mount>/<own cgroup>/aicc/<run>."""
    if not run or "/" in run or run in (".", ".."):
        raise ValueError(f"cgroup name {run!r} is not a plain name")
    return {c: mount / own.lstrip("/") / PARENT / run for c, (mount, own) in layout.places.items()}


def limit_files(version: int, limits: Limits) -> dict[str, list[tuple[str, str]]]:
    """What to write into each controller's directory, in order. Pure."""
    mem = str(max(1, limits.memory_mb) * 1024 * 1024)
    quota = max(1000, int(limits.cpus * CFS_PERIOD_US))
    if version == 1:
        return {"memory": [("memory.limit_in_bytes", mem), ("memory.memsw.limit_in_bytes", mem),
                           ("memory.swappiness", "0")],
                "cpu": [("cpu.cfs_period_us", str(CFS_PERIOD_US)), ("cpu.cfs_quota_us", str(quota))],
                "pids": [("pids.max", str(limits.pids))]}
    return {"memory": [("memory.max", mem), ("memory.swap.max", "0")],
            "cpu": [("cpu.max", f"{quota} {CFS_PERIOD_US}")], "pids": [("pids.max", str(limits.pids))]}


def human_mb(mb: int) -> str:
    """4096 -> "4 GiB", 256 -> "256 MiB": the unit users gave in --mem."""
    return f"{mb // 1024} GiB" if mb >= 1024 and mb % 1024 == 0 else f"{mb} MiB"


def current_layout() -> Layout | None:
    try:
        own = Path("/proc/self/cgroup").read_text()
    except OSError:
        return None
    mounted = {c: (ROOT / c / "cgroup.procs").exists() for c in V1_CONTROLLERS}
    try:
        offered = (ROOT / "cgroup.controllers").read_text()
    except OSError:
        offered = ""
    return detect(own, mounted, offered)


def probe() -> str | None:
    """None when job cgroups can be made here; else a sentence naming what is missing."""
    layout = current_layout()
    if layout is None:
        return ("no usable cgroup hierarchy: need cgroup v1 controllers memory, cpu, cpuacct, pids mounted under "
                "/sys/fs/cgroup, or cgroup v2 offering memory, cpu, pids")
    for controller, path in plan(layout, "probe").items():
        parent = path.parent
        try:
            parent.mkdir(exist_ok=True)
            if layout.version == 2:
                _delegate(parent)
        except OSError as exc:
            return f"cannot create job cgroups under {parent} ({controller}): {exc.strerror or exc}"
        if not os.access(parent, os.W_OK):
            return f"cannot create job cgroups under {parent} ({controller}): not writable by this user"
    return None


def _delegate(parent: Path) -> None:
    """v2: controllers must be enabled in every ancestor's subtree_control down to our ``aicc`` directory."""
    for p in (parent.parent, parent):
        have = set((p / "cgroup.subtree_control").read_text().split())
        missing = [c for c in V2_CONTROLLERS if c not in have]
        if missing:
            try:
                (p / "cgroup.subtree_control").write_text(" ".join(f"+{c}" for c in missing))
            except OSError as exc:
                raise CgroupUnavailable(
                    f"cgroup v2: cannot enable {', '.join(missing)} in {p} ({exc.strerror}); run AICC in a cgroup "
                    "delegated to it with no other processes in it (systemd: Delegate=yes)") from exc


def engine_limit_problem(memory_limit: int | None, cpus_allowed: int, limits: Limits) -> str | None:
    """Why the cgroup an engine put a step in does not hold ``limits`` (None: it does). ``memory_limit``: its
    memory limit in bytes (None: unlimited); ``cpus_allowed``: the CPUs the step may run on. Pure."""
    wanted = max(1, limits.memory_mb) * 1024 * 1024
    if memory_limit is None or memory_limit > wanted:
        have = "no memory limit" if memory_limit is None else f"a memory limit of {memory_limit >> 20} MiB"
        return (f"the engine gave the step {have}, not {human_mb(limits.memory_mb)}: Slurm must confine jobs "
                "(TaskPlugin=task/cgroup, ConstrainRAMSpace=yes in cgroup.conf; scripts/slurm-up)")
    if cpus_allowed > max(1, math.ceil(limits.cpus)):
        return (f"the engine lets the step run on {cpus_allowed} CPUs, not {limits.cpus:g}: Slurm must confine "
                "jobs to their cores (TaskPlugin=task/cgroup, ConstrainCores=yes in cgroup.conf)")
    return None
def _single_threaded() -> bool:
    try:
        return len(os.listdir("/proc/self/task")) == 1
    except OSError:
        return False


class Cgroup:
    """The run's cgroups in every controller. Create before the job starts; ``close`` after it ended."""

    def __init__(self, run: str, limits: Limits, layout: Layout | None = None) -> None:
        found = layout or current_layout()
        if found is None:
            raise CgroupUnavailable(probe() or "no cgroup hierarchy")
        self.layout: Layout = found
        self.limits = limits
        self.dirs = plan(self.layout, run)
        self.owned = True
        """Made (and removed) by us; False: the engine's, adopted (``adopt``)."""

    @classmethod
    def adopt(cls, limits: Limits) -> Cgroup:
        """The cgroup the engine already holds this process in (a Slurm step's, made by ``task/cgroup``), its
        limits checked rather than written; nothing is created, joined, killed or removed here. Only its
        memory cgroup is used (to signal the step's processes and read its OOM kills): on a v1 machine the
        other controllers may be the hierarchy's root, which holds every process of the machine."""
        layout = current_layout()
        if layout is None:
            raise CgroupUnavailable(probe() or "no cgroup hierarchy")
        mount, own = layout.places["memory"]
        memory = mount / own.lstrip("/")
        name = "memory.limit_in_bytes" if layout.version == 1 else "memory.max"
        limit: int | None = None  # the tightest on the way up: Slurm limits the job and step, not the task
        for directory in [memory, *memory.parents]:
            if not directory.is_relative_to(mount) or not (directory / name).exists():
                break
            try:
                text = (directory / name).read_text().strip()
            except OSError as exc:
                raise CgroupUnavailable(f"cannot read {directory / name}: {exc.strerror or exc}") from exc
            if text != "max" and int(text) < 1 << 62:
                limit = int(text) if limit is None else min(limit, int(text))
        problem = engine_limit_problem(limit, len(os.sched_getaffinity(0)), limits)
        if problem:
            raise CgroupUnavailable(problem)
        cg = cls.__new__(cls)
        cg.layout, cg.limits, cg.dirs, cg.owned = layout, limits, {"memory": memory}, False
        return cg

    def create(self) -> None:
        files = limit_files(self.layout.version, self.limits)
        for controller, path in self.dirs.items():
            try:
                path.parent.mkdir(exist_ok=True)
                if self.layout.version == 2:
                    _delegate(path.parent)
                path.mkdir(exist_ok=True)
            except OSError as exc:
                raise CgroupUnavailable(f"cannot create cgroup {path}: {exc.strerror or exc}") from exc
            for name, value in files.get(controller, []):
                try:
                    (path / name).write_text(value)
                except FileNotFoundError:
                    if name in ("memory.memsw.limit_in_bytes", "memory.swap.max", "memory.swappiness"):
                        continue  # no swap accounting on this kernel: memory.limit still holds
                    raise CgroupUnavailable(f"cgroup {path} has no {name}") from None
                except OSError as exc:
                    raise CgroupUnavailable(f"cannot set {name} in {path}: {exc.strerror or exc}") from exc

    def sweep(self, older_than_s: float = 300.0) -> None:
        """Remove runs' cgroups left empty by a runner that was killed before it could (a Slurm step gets
        SIGKILL after its grace). Called as a run closes, so a start never waits for it. Only old ones: a new
        sibling may be between its creation and its join; the kernel refuses to remove one that still holds
        a process."""
        now = time.time()
        for parent in {p.parent for p in self.dirs.values()}:
            try:
                entries = list(os.scandir(parent))
            except OSError:
                continue
            for entry in entries:
                with contextlib.suppress(OSError):
                    if entry.is_dir(follow_symlinks=False) and now - entry.stat().st_mtime > older_than_s:
                        os.rmdir(entry.path)

    def join(self, pid: int = 0) -> None:
        """Move ``pid`` (0: the caller) into every controller's cgroup; the job's children inherit them.

        The caller joins on v1 by writing ``0`` to each hierarchy's ``tasks``: the kernel then moves the
        calling thread without taking the global threadgroup lock (a ``cgroup.procs`` write takes it for
        writing: an RCU grace period and a wait for every fork and exit on the machine in flight, 5-10 ms
        over four hierarchies on a busy host, most of the runner's start-up cost). For a single-threaded
        caller, as the child between fork and exec always is, that thread is the whole process."""
        if not self.owned:
            return  # already in it
        single = pid == 0 and self.layout.version == 1 and _single_threaded()
        for path in {p for p in self.dirs.values()}:
            if single:
                (path / "tasks").write_text("0")
            else:
                (path / "cgroup.procs").write_text(str(pid or os.getpid()))

    def leave(self) -> None:
        """Move the calling thread back to its own cgroups (the layout's), after a ``join`` whose only purpose
        was to have a child forked in them (``launch.spawn``). v1 only, single-threaded caller: the same
        ``tasks`` write as ``join``; on v2 a process cannot go back into a cgroup that delegates controllers."""
        if self.layout.version != 1:
            raise CgroupUnavailable("leaving a cgroup is only done on v1")
        for path in {mount / own.lstrip("/") for mount, own in self.layout.places.values()}:
            (path / "tasks").write_text("0")

    def can_lend(self) -> bool:
        """The caller may ``join`` these cgroups, fork, and ``leave``: v1, owned, one thread."""
        return self.owned and self.layout.version == 1 and _single_threaded()

    def pids(self) -> set[int]:
        out: set[int] = set()
        for path in set(self.dirs.values()):
            with contextlib.suppress(OSError):
                out.update(int(x) for x in (path / "cgroup.procs").read_text().split())
        return out

    def signal_all(self, sig: int, spare: frozenset[int] = frozenset()) -> None:
        """Oldest process first, so a parent has the signal pending before its children die of it: a shell
        trapping SIGTERM around ``wait`` would otherwise see its child end, finish its script and exit
        before its own SIGTERM arrived, and its clean-up would never run."""
        for pid in sorted(self.pids() - spare, key=_started_at):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)

    def kill_all(self, timeout: float = 5.0) -> None:
        """SIGKILL everything left in the cgroup (v2: cgroup.kill) until it is empty."""
        deadline = time.monotonic() + timeout
        while self.pids() and time.monotonic() < deadline:
            kill = self.dirs["pids"] / "cgroup.kill"
            if self.layout.version == 2 and kill.exists():
                with contextlib.suppress(OSError):
                    kill.write_text("1")
            self.signal_all(signal.SIGKILL)
            time.sleep(0.01)

    def oom_killed(self) -> bool:
        """The kernel killed something in this run for exceeding its memory limit."""
        path = self.dirs["memory"]
        name = "memory.oom_control" if self.layout.version == 1 else "memory.events"
        try:
            for line in (path / name).read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill" and int(value) > 0:
                    return True
        except OSError:
            pass
        return False

    def cpu_usage_ns(self) -> int:
        """CPU time used by the run so far (cpuacct on v1, cpu.stat on v2)."""
        if self.layout.version == 1:
            return int((self.dirs["cpuacct"] / "cpuacct.usage").read_text())
        for line in (self.dirs["cpu"] / "cpu.stat").read_text().splitlines():
            if line.startswith("usage_usec "):
                return int(line.split()[1]) * 1000
        return 0

    def close(self) -> None:
        if not self.owned:
            return  # the engine's: it kills what is left and removes it
        self.kill_all()
        for path in set(self.dirs.values()):
            for _ in range(50):
                try:
                    path.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)
        self.sweep()  # after a run, not before one: leftovers of killed runners cost no start any time


def _started_at(pid: int) -> tuple[int, int]:
    """When ``pid`` started (clock ticks since boot), then the pid; a process already gone sorts last."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
        return int(stat[stat.rindex(b")") + 2 :].split()[19]), pid
    except (OSError, ValueError, IndexError):
        return 1 << 62, pid
