"""For code running *inside* the secure data zone: tables that carry their own disclosure checks.

A job on sensitive data makes its tables through an ACRO session from here and
calls :func:`finalise` at the end. ACRO checks every table as it is made
(threshold, p-ratio, nk-dominance, with the dataset custodian's settings, which
AICC passes in the environment), suppresses what it must, and writes its tables
and ``/out/acro/results.json``. That verdict helps the analyst make tables that
will pass; it is *not* what the custodian relies on: anything under ``/out`` is
written by the job, so AICC's server checks every held table again itself
(counts against the threshold, identifiers, copied rows) and treats
``results.json`` as one more held file.

    from aicc import datazone
    acro = datazone.session()
    table = acro.crosstab(df.region, df.year)
    datazone.finalise(acro)

ACRO is imported here only, in the job's process, never by the server.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

SDC_ENV = {
    "AICC_SDC_THRESHOLD": ("safe_threshold", int),
    "AICC_SDC_PRATIO_P": ("safe_pratio_p", float),
    "AICC_SDC_NK_N": ("safe_nk_n", int),
    "AICC_SDC_NK_K": ("safe_nk_k", float),
}


def output_dir() -> Path:
    """Where the job may write: ``/out`` in the sandbox (``AICC_OUTPUT_DIR`` says so)."""
    return Path(os.environ.get("AICC_OUTPUT_DIR", "/out"))


def dataset_dir(name: str) -> Path:
    """The read-only directory of a dataset the job was granted (``/data/<name>`` in the sandbox)."""
    root = Path(os.environ.get("AICC_DATA_DIR", "/data"))
    path = root / name
    if "/" in name or not path.is_dir():
        raise FileNotFoundError(f"dataset {name!r} is not mounted in this job")
    return path


def session(*, suppress: bool = False) -> Any:
    """An ACRO session configured with the custodian's disclosure-control settings."""
    import acro as acro_pkg  # type: ignore[import-untyped,unused-ignore]
    from acro import sdcchecks  # type: ignore[import-untyped,unused-ignore]

    s = acro_pkg.ACRO(suppress=suppress)
    for var, (key, cast) in SDC_ENV.items():
        if var in os.environ:
            s.config[key] = cast(os.environ[var])
    s.sdc_checks = sdcchecks.SDCChecks(s.config)
    return s


def finalise(acro_session: Any, out: Path | None = None) -> Path:
    """Write the session's tables and ``results.json`` under ``<out>/acro/`` (ACRO refuses an existing folder)."""
    target = (out or output_dir()) / "acro"
    with tempfile.TemporaryDirectory(dir=os.environ.get("TMPDIR")) as tmp:
        staged = Path(tmp) / "acro"
        acro_session.finalise(str(staged), "json")
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(staged, target)
    return target
