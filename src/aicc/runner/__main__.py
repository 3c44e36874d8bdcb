"""``python -m aicc.runner SPEC.json``: run one isolated job in the foreground and exit with its status.

What a Slurm batch step calls, so a Slurm job is isolated exactly as a local one. Slurm starts the step as
the project's uid in its own cgroups (``sbatch --uid/--gid``, ``task/cgroup``): the runner checks that
identity and those limits (``RunSpec.engine_identity``) instead of making them, then builds the same
bubblewrap view. Run as root (a step of a cluster without ``--uid``) it makes its cgroups beneath the
step's own and drops identity as the local shepherd does. Exit status: the job's own; 125 when the run could
not be isolated (the reason on stderr, the job not started); 137 with "out of memory (limit …)" on stderr
when the kernel killed it for its memory limit.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from pathlib import Path

from aicc.runner import cgroups
from aicc.runner.launch import (
    NOT_ISOLATED,
    IsolationUnavailable,
    bwrap_path,
    check_command,
    engine_devices,
    exec_child,
    prepare,
)
from aicc.runner.spec import RunSpec


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m aicc.runner SPEC.json", file=sys.stderr)
        return 2
    spec = engine_devices(RunSpec.read(Path(argv[0])), os.environ)
    missing = check_command(spec)
    if missing:
        print(f"aicc: could not start the command: {missing}", file=sys.stderr)
        return 127
    try:
        bwrap = bwrap_path()
        cg = prepare(spec)
    except IsolationUnavailable as exc:
        print(f"aicc: the job was not started: {exc}", file=sys.stderr)
        return NOT_ISOLATED
    if spec.step:  # the job, init of its PID namespace, is re-parented to us when bubblewrap's monitor goes
        import ctypes

        ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    pid = os.fork()
    if pid == 0:
        try:
            exec_child(spec, cg, bwrap)
        except BaseException as exc:
            print(f"aicc: the job was not started: {exc}", file=sys.stderr)
        os._exit(NOT_ISOLATED)

    relay_pid = None
    if (spec.relay_port or spec.relay_target) and spec.relay_socket:  # a replica's port inside, or a session's
        # socket on this node, bridged to a listener the server reaches
        from aicc.runner import relay, relay_address
        from aicc.runner.launch import children_of

        try:
            secret = Path(spec.relay_secret_file).read_text().strip() if spec.relay_secret_file else None
            relay_pid = relay.spawn(Path(spec.relay_socket), spec.relay_target or spec.relay_port or 0, pid,
                                    children_of, bind=spec.relay_bind, secret=secret)
        except OSError as exc:  # the replica runs, unreachable: its health checks fail and name the socket
            print(f"aicc: the service's relay did not start: {exc}", file=sys.stderr)

    def forward(sig: int, _frame: object) -> None:
        """Slurm's SIGTERM at cancel or time limit, to every process of the job. With proctrack/cgroup
        Slurm signals only the step's first process (us) before its SIGKILL; the job's init (``--as-pid-1``)
        gets it too, so its handler runs. Bubblewrap's monitor is spared: it reports the job's exit."""
        cg.signal_all(sig, frozenset({os.getpid(), pid}))

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1):
        signal.signal(sig, forward)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if relay_pid is not None:  # out of the gateway's reach at once, and never the run's exit status
        relay_address.withdraw(Path(str(spec.relay_socket)))
        with contextlib.suppress(OSError):
            os.kill(relay_pid, signal.SIGKILL)
            os.waitpid(relay_pid, 0)
    while True:  # whatever of the job outlived bubblewrap (its init after a SIGTERM to all): its status wins
        try:
            _, status = os.waitpid(-1, 0)
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        code = os.waitstatus_to_exitcode(status)
    oom = cg.oom_killed()
    cg.close()
    if oom:
        print(f"aicc: out of memory (limit {cgroups.human_mb(spec.limits.memory_mb)})", file=sys.stderr)
        return 137
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
