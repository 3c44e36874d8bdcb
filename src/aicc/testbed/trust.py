"""Which benchmark results to trust: only those of the center's own runner, run from the center's code.

A result feeds the center-wide matrix and every job's placement, so it is trusted only when

- the job ran exactly the center's runner: the server's own interpreter, ``-I`` (isolated mode: no
  ``PYTHONPATH``/``PYTHON*`` variables, no user site-packages, not the working directory on the path),
  ``-m aicc.testbed.run``, no shell script, and no environment of the job's own that could load other
  code (``PYTHON*``, ``LD_*``...);
- the result names the hash of the runner's code (every ``.py`` file of the ``aicc`` package it imported)
  and that hash equals the one the server computes over its own installation;
- no file of that code, nor its folders, is writable by anyone but its owner.

Anything else is stored, marked invalid with the reason, and never ranked (an attack session had a job
with ``PYTHONPATH`` pointing at its own ``aicc/testbed/run.py`` report 1e9 samples/s into the matrix).
The hash alone proves little (a forger can copy it); the fixed command line and environment are what keep
the job from running other code, and the hash catches a runner changed between submission and ingest.
"""

from __future__ import annotations

import functools
import hashlib
import os
import stat
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

RUNNER_MODULE = "aicc.testbed.run"
RUNNER_FLAGS = ("-I", "-m", RUNNER_MODULE)
UNSAFE_ENV_PREFIXES = ("PYTHON", "LD_", "DYLD_", "OPENBLAS_CORETYPE", "MALLOC_")


def package_root() -> Path:
    """The folder of the ``aicc`` package this process imported."""
    import aicc

    return Path(aicc.__file__).resolve().parent


def _code_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)


@functools.cache
def runner_hash(root: Path | None = None) -> str:
    """SHA-256 over every ``.py`` file of the package (relative path, size, bytes), in path order."""
    root = root or package_root()
    h = hashlib.sha256()
    for path in _code_files(root):
        data = path.read_bytes()
        h.update(f"{path.relative_to(root).as_posix()}\0{len(data)}\0".encode())
        h.update(data)
    return h.hexdigest()


def runner_identity() -> dict[str, Any]:
    """What the runner writes into its result, for the server to compare."""
    return {"hash": runner_hash(), "isolated": bool(sys.flags.isolated), "python": sys.executable,
            "package": str(package_root())}


def runner_argv(python: str | None = None) -> list[str]:
    return [python or sys.executable, *RUNNER_FLAGS]


def looks_like_runner(command: Sequence[str]) -> bool:
    """Any command that asks for the runner module (trusted or not): its result is ingested, maybe invalid."""
    return RUNNER_MODULE in command


def job_reasons(command: Sequence[str], env: Mapping[str, str] | None, script: str | None,
                python: str | None = None) -> list[str]:
    """Why this job is not the center's runner (empty: it is)."""
    reasons = []
    cmd = list(command)
    if script is not None:
        reasons.append("the job runs a script, not the center's runner")
    want = os.path.realpath(python or sys.executable)
    if not cmd or os.path.realpath(cmd[0]) != want:
        reasons.append(f"the job's interpreter {cmd[0] if cmd else '(none)'!r} is not the center's ({want})")
    if tuple(cmd[1:4]) != RUNNER_FLAGS:
        reasons.append(f"the job's command is not `python {' '.join(RUNNER_FLAGS)}` (isolated mode)")
    unsafe = sorted(k for k in (env or {}) if k.upper().startswith(UNSAFE_ENV_PREFIXES))
    if unsafe:
        reasons.append(f"the job's environment sets {', '.join(unsafe)}, which could load code other than the "
                       "center's runner")
    return reasons


def result_reasons(doc: Mapping[str, Any]) -> list[str]:
    """Why the result was not written by the center's runner as installed now (empty: it was)."""
    runner = doc.get("runner")
    if not isinstance(runner, Mapping) or not isinstance(runner.get("hash"), str):
        return ["the result carries no runner hash: not written by the center's runner"]
    reasons = []
    mine = runner_hash()
    if runner["hash"] != mine:
        reasons.append(f"runner hash {str(runner['hash'])[:16]}… is not the center's runner ({mine[:16]}…)")
    if runner.get("isolated") is not True:
        reasons.append("the runner did not run in isolated mode (python -I)")
    return reasons


@functools.cache
def install_reasons(root: Path | None = None) -> tuple[str, ...]:
    """The runner's code (files and folders) must not be writable by group or others."""
    root = root or package_root()
    bad = [p for p in [root, *{f.parent for f in _code_files(root)}, *_code_files(root)]
           if p.stat().st_mode & (stat.S_IWGRP | stat.S_IWOTH)]
    if not bad:
        return ()
    return (f"the runner's code is writable by other users ({bad[0]}{' and more' if len(bad) > 1 else ''}): "
            "install AICC read-only",)
