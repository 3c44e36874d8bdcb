"""Running Slurm's command-line tools with bounded time and typed failures.

The controller must be able to tell "Slurm is unreachable right now" (keep all
state, retry next cycle) from "Slurm refused this request" (a real error). Both
are exceptions here, never run states: a down slurmctld must not mark runs lost.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping, Sequence
from typing import Any

from aicc.executors.base import EngineUnavailable
from aicc.executors.slurm.config import SlurmConfig

# Messages the Slurm tools print when slurmctld cannot be reached (22.05 wording).
_UNREACHABLE = (
    "unable to contact slurm controller",
    "connection refused",
    "socket timed out",
    "zero bytes were transmitted or received",
    "communication connection failure",
    "slurm_persist_conn_open",
    "could not establish a configuration source",
)


class SlurmError(RuntimeError):
    """Slurm answered and refused (bad request, unknown partition, ...)."""


class SlurmUnavailable(SlurmError, EngineUnavailable):
    """slurmctld could not be reached or did not answer in time; retry later."""


def slurm_env(config: SlurmConfig, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """A small, explicit environment: the controller's own secrets never reach jobs."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "TZ": os.environ.get("TZ", ""),
    }
    if not env["TZ"]:
        del env["TZ"]
    if config.slurm_conf is not None:
        env["SLURM_CONF"] = str(config.slurm_conf)
    env.update(config.extra_env)
    if extra:
        env.update(extra)
    return env


def run_slurm(
    config: SlurmConfig,
    argv: Sequence[str],
    env: Mapping[str, str] | None = None,
    timeout_s: float | None = None,
) -> str:
    """Run one Slurm tool and return its stdout; raise ``SlurmUnavailable`` or ``SlurmError``."""
    program = argv[0] if config.bin_dir is None else str(config.bin_dir / argv[0])
    niced = ["nice", "-n", str(config.nice)] if config.nice else []
    try:
        proc = subprocess.run(
            [*niced, program, *argv[1:]],
            capture_output=True,
            text=True,
            env=dict(env) if env is not None else slurm_env(config),
            timeout=timeout_s if timeout_s is not None else config.command_timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise SlurmUnavailable(f"{argv[0]} did not answer within {exc.timeout:.0f} s") from exc
    except FileNotFoundError as exc:
        raise SlurmUnavailable(f"{argv[0]} is not installed") from exc
    if niced and proc.returncode == 127:  # nice found no such program
        raise SlurmUnavailable(f"{argv[0]} is not installed")
    if proc.returncode != 0:
        message = proc.stderr.strip() or proc.stdout.strip() or f"exit status {proc.returncode}"
        lowered = message.lower()
        if any(marker in lowered for marker in _UNREACHABLE):
            raise SlurmUnavailable(f"{argv[0]}: {message}")
        raise SlurmError(f"{argv[0]}: {message}")
    return proc.stdout


def run_slurm_json(config: SlurmConfig, argv: Sequence[str]) -> dict[str, Any]:
    """Run a ``--json`` query. 22.05 exits 0 with an empty list and an ``errors`` entry
    when slurmctld is down ("Failed while looking for jobs"): reading that as "no jobs"
    would mark every run lost, so any reported error is ``SlurmUnavailable``."""
    text = run_slurm(config, argv)
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise SlurmError(f"{argv[0]} gave an answer that is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise SlurmError(f"{argv[0]} gave an unexpected answer: {text[:200]!r}")
    errors = data.get("errors") or []
    if errors:
        details = "; ".join(
            str(e.get("description") or e.get("error") or e) if isinstance(e, dict) else str(e)
            for e in errors
        )
        raise SlurmUnavailable(f"{' '.join(argv)}: {details}")
    return data
