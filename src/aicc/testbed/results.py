"""A result document (``bench-result.json``) → one row per scenario: pure, and suspicious of its input.

The document is written by a job, so it is *input*: every field is type-checked and bounded here, and what
AICC knows better than the job (the flavor it placed the job on, the units it gave it) overrides the file.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from aicc.core.benchmarks import KINDS, TRAINING, validity
from aicc.core.errors import InvalidInput

SCHEMA = "aicc.testbed.result/1"
MAX_DOCUMENT_BYTES = 1 << 20
MAX_UNITS = 65_536


def _str(value: Any, limit: int) -> str:
    return str(value if value is not None else "")[:limit]


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    v = float(value)
    return v if math.isfinite(v) else None


def _ms(latency: Mapping[str, Any], key: str) -> float | None:
    v = _num(latency.get(key))
    return v / 1e6 if v is not None else None


def _when(text: Any) -> dt.datetime | None:
    try:
        t = dt.datetime.fromisoformat(str(text))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


def run_key(doc: Mapping[str, Any], job_id: int | None) -> str:
    if job_id is not None:
        return f"job:{job_id}"
    return "sha256:" + hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()[:64]


def rows_from_document(doc: Mapping[str, Any], *, job_id: int | None = None, flavor: str | None = None,
                       units: int | None = None, untrusted: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Column values per scenario; ``flavor``/``units`` from the job row win over the file's.

    ``untrusted``: why the result did not come from the center's runner (``aicc.testbed.trust``); each
    makes every row invalid with that reason."""
    if not isinstance(doc, Mapping) or doc.get("schema") != SCHEMA:
        raise InvalidInput(f"not a testbed result (schema must be {SCHEMA!r})")
    try:
        size = len(json.dumps(doc, default=str, allow_nan=False))
    except ValueError:
        raise InvalidInput("result document holds NaN or infinity") from None
    if size > MAX_DOCUMENT_BYTES:
        raise InvalidInput("result document too large")
    results = doc.get("results")
    if not isinstance(results, list) or not results:
        raise InvalidInput("result document has no results")
    prov = doc.get("provenance") if isinstance(doc.get("provenance"), Mapping) else {}
    assert isinstance(prov, Mapping)
    acc = doc.get("accuracy") if isinstance(doc.get("accuracy"), Mapping) else {}
    assert isinstance(acc, Mapping)
    workload = _str(doc.get("workload"), 63)
    cls = _str(doc.get("workload_class"), 63)
    if not workload or not cls:
        raise InvalidInput("result document names no workload or workload class")
    key = run_key(doc, job_id)
    out = []
    for r in results:
        if not isinstance(r, Mapping) or r.get("scenario") not in KINDS:
            raise InvalidInput("a result names no known scenario")
        # Recompute validity from the facts rather than trusting the file's "valid".
        perf = r.get("perf_accuracy") if isinstance(r.get("perf_accuracy"), Mapping) else {}
        assert isinstance(perf, Mapping)
        accuracy_ok = acc.get("passed") is True and perf.get("passed") is True
        loadgen = r.get("loadgen_valid")
        errors = [_str(e, 300) for e in (r.get("errors") or [])][:20] if isinstance(r.get("errors"), list) else []
        reasons = validity(loadgen if isinstance(loadgen, bool) else None, accuracy_ok, errors,
                           loadgen=r["scenario"] != TRAINING)
        if doc.get("corrupted_on_purpose"):
            reasons.append("outputs corrupted on purpose (--corrupt)")
        reasons += list(untrusted)
        latency = r.get("latency_ns") if isinstance(r.get("latency_ns"), Mapping) else {}
        assert isinstance(latency, Mapping)
        energy = r.get("energy") if isinstance(r.get("energy"), Mapping) else {}
        assert isinstance(energy, Mapping)
        out.append({
            "run_key": key, "job_id": job_id, "workload": workload, "workload_class": cls,
            "scenario": r["scenario"], "flavor": _str(flavor or doc.get("flavor"), 63) or "unknown",
            "device_model": _str(prov.get("device_model"), 128), "driver": _str(prov.get("driver"), 64),
            "units": min(MAX_UNITS, max(1, int(units if units else (_num(doc.get("units")) or 1)))),
            "valid": not reasons, "invalid_reasons": reasons,
            "metric": _str(r.get("metric"), 32), "value": _num(r.get("value")),
            "samples_per_s": _num(r.get("samples_per_s")),
            "p50_ms": _ms(latency, "p50"), "p90_ms": _ms(latency, "p90"), "p99_ms": _ms(latency, "p99"),
            "accuracy": _num(acc.get("value")),
            "energy_j_per_sample": _num(energy.get("j_per_sample")),
            "samples_per_j": _num(energy.get("samples_per_s_per_w")),
            "aicc_commit": _str(prov.get("aicc_commit"), 64), "started_at": _when(doc.get("started_at")),
            "document": {k: v for k, v in doc.items() if k != "results"} | {"result": dict(r)},
        })
    return out
