"""Benchmark results → throughput matrix → a placement a user can read: pure logic, no I/O.

A result is one run of a workload on a flavor in one MLPerf-style scenario. Only
*valid* results (LoadGen said VALID, the accuracy check passed, the run finished)
ever enter the matrix: a fast-but-wrong run is kept for the record and never ranked.

The matrix holds samples/s **per unit** (one accelerator, or one core on a CPU
flavor), because that is what the scheduler charges: comparing flavors per SU is
``speed / su_rate``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

SCENARIOS = ("SingleStream", "MultiStream", "Server", "Offline")
"""MLPerf Inference scenarios, as LoadGen spells them."""

TRAINING = "Training"
"""The second kind of benchmark: steps/s and time-to-quality (no LoadGen)."""
KINDS = (*SCENARIOS, TRAINING)

THROUGHPUT_PREFERENCE = ("Offline", "Server", "MultiStream", "SingleStream", TRAINING)
"""Which scenario's figure speaks for a flavor's throughput: Offline is the batch-throughput scenario; a
latency-bound scenario is used only when no Offline result exists. Training results have classes of their
own (samples/s while reaching the target quality)."""


@dataclass(frozen=True, slots=True)
class ResultFacts:
    """What the matrix needs from one stored result (the rest is provenance)."""

    workload_class: str
    flavor: str
    scenario: str
    valid: bool
    samples_per_s: float | None
    """Offline: samples/s; Server: the highest valid QPS × samples per query; latency scenarios: 1/p90 or
    samples per query / p99."""
    units: int = 1
    """Accelerators (or cores on a CPU flavor) the run used."""
    created: float = 0.0


def validity(loadgen_valid: bool | None, accuracy_passed: bool | None, errors: Iterable[str] = (), *,
             loadgen: bool = True) -> list[str]:
    """Reasons a run must not be ranked; empty when it may be.

    A missing LoadGen verdict or accuracy verdict is a reason too: a result that was not checked is not valid.
    ``loadgen=False`` for training, which has no LoadGen verdict (its quality target is its accuracy check).
    """
    reasons = list(errors)
    if not loadgen:
        pass
    elif loadgen_valid is None:
        reasons.append("no LoadGen verdict")
    elif not loadgen_valid:
        reasons.append("LoadGen: INVALID")
    if accuracy_passed is None:
        reasons.append("accuracy not checked")
    elif not accuracy_passed:
        reasons.append("accuracy check failed")
    return reasons


def build_matrix(results: Iterable[ResultFacts]) -> dict[str, dict[str, float]]:
    """Workload class → flavor → samples/s per unit, from the newest valid result of the preferred scenario.

    Newest rather than best: a driver update that slowed a flavor down should show, and a lucky run should
    not stand for ever.
    """
    newest: dict[tuple[str, str, str], ResultFacts] = {}
    for r in results:
        if not r.valid or not r.samples_per_s or r.samples_per_s <= 0:
            continue
        key = (r.workload_class, r.flavor, r.scenario)
        if key not in newest or r.created >= newest[key].created:
            newest[key] = r
    out: dict[str, dict[str, float]] = {}
    for cls, flavor in sorted({(c, f) for c, f, _ in newest}):
        for scenario in THROUGHPUT_PREFERENCE:
            hit = newest.get((cls, flavor, scenario))
            if hit is not None and hit.samples_per_s:
                out.setdefault(cls, {})[flavor] = hit.samples_per_s / max(hit.units, 1)
                break
    return out


def samples_per_su(speed: float, su_rate: float) -> float:
    """Samples one SU buys: an SU is one unit-hour at rate 1."""
    return speed * 3600.0 / max(su_rate, 1e-9)


def rank_flavors(matrix: Mapping[str, Mapping[str, float]], workload_class: str,
                 su_rates: Mapping[str, float], acceptable: Iterable[str]) -> list[tuple[str, float]]:
    """Acceptable flavors with a measurement for the class, best samples/SU first."""
    speeds = matrix.get(workload_class, {})
    ranked = [(f, samples_per_su(speeds[f], su_rates[f])) for f in acceptable if f in speeds and f in su_rates]
    return sorted(ranked, key=lambda item: -item[1])


def explain_choice(matrix: Mapping[str, Mapping[str, float]], workload_class: str | None, chosen: str,
                   su_rates: Mapping[str, float], acceptable: Iterable[str]) -> str:
    """Why ``chosen`` in words, e.g. "a100: 2.1× the samples/SU of h100 for class ocr-inference".

    Compares with the best *other* measured flavor the job accepted; says plainly when nothing was measured,
    so a user never mistakes the cheapest-first fallback for a measured choice.
    """
    if not workload_class:
        return f"{chosen}: no workload class given; cheapest acceptable flavor that fits"
    acceptable = list(acceptable)
    ranked = rank_flavors(matrix, workload_class, su_rates, acceptable)
    by_flavor = dict(ranked)
    if chosen not in by_flavor:
        return f"{chosen}: no valid benchmark of class {workload_class} on {chosen}; cheapest acceptable that fits"
    others = [(f, v) for f, v in ranked if f != chosen]
    if not others:
        unmeasured = [f for f in acceptable if f != chosen]
        tail = f" ({', '.join(unmeasured)} not measured)" if unmeasured else ""
        return f"{chosen}: the only measured flavor for class {workload_class}{tail}"
    other, value = others[0]
    ratio = by_flavor[chosen] / value if value > 0 else float("inf")
    if ratio >= 1.0:
        return f"{chosen}: {ratio:.1f}× the samples/SU of {other} for class {workload_class}"
    return (f"{chosen}: {1 / ratio:.1f}× fewer samples/SU than {other} for class {workload_class}, "
            f"but {other} had no room")


def compare_rows(results: Iterable[Mapping[str, object]], su_rates: Mapping[str, float]) -> list[dict[str, object]]:
    """For ``aicc bench compare``: the newest valid result per (flavor, scenario), with samples/SU and the
    ratio to the best flavor of the same scenario. Invalid results never appear here."""
    newest: dict[tuple[str, str], Mapping[str, object]] = {}
    for r in results:
        if not r.get("valid"):
            continue
        key = (str(r["flavor"]), str(r["scenario"]))
        if key not in newest or int(str(r["id"])) > int(str(newest[key]["id"])):
            newest[key] = r
    rows: list[dict[str, object]] = []
    for (flavor, scenario), r in newest.items():
        sps = r.get("samples_per_s")
        units = max(int(str(r.get("units") or 1)), 1)
        per_unit = float(str(sps)) / units if sps is not None else None
        rate = su_rates.get(flavor)
        rows.append({"flavor": flavor, "scenario": scenario, "metric": r.get("metric"), "value": r.get("value"),
                     "samples_per_s_per_unit": per_unit,
                     "samples_per_su": samples_per_su(per_unit, rate) if per_unit and rate else None,
                     "p90_ms": r.get("p90_ms"), "p99_ms": r.get("p99_ms"),
                     "j_per_sample": r.get("energy_j_per_sample"), "accuracy": r.get("accuracy"),
                     "device": r.get("device_model"), "result": r.get("id")})
    for scenario in {str(row["scenario"]) for row in rows}:
        same = [row for row in rows if row["scenario"] == scenario and row["samples_per_su"]]
        best = max((float(str(row["samples_per_su"])) for row in same), default=0.0)
        for row in same:
            row["vs_best"] = float(str(row["samples_per_su"])) / best if best else None
    rows.sort(key=lambda row: (str(row["scenario"]), -float(str(row.get("samples_per_su") or 0.0))))
    return rows
