"""Trace formats: the Philly/Gavel sample, CSV, the synthetic generator."""

from __future__ import annotations

from pathlib import Path

import pytest

from aicc.sim.trace import (
    GANG_SIZES,
    TraceError,
    dump_csv,
    load_csv,
    load_philly,
    load_throughputs,
    synthetic,
)

SAMPLE = Path(__file__).parent.parent / "data" / "philly-gavel"


def test_philly_sample_makes_one_project_per_virtual_cluster() -> None:
    t = load_philly(SAMPLE)
    lines = sum(len(p.read_text().splitlines()) for p in SAMPLE.glob("*.trace"))
    assert len(t.jobs) == lines and t.skipped == 0
    assert t.projects == sorted(p.stem for p in SAMPLE.glob("*.trace"))
    assert [j.submit for j in t.jobs] == sorted(j.submit for j in t.jobs)


def test_philly_duration_is_total_steps_over_the_flavors_throughput() -> None:
    tput = load_throughputs((SAMPLE / "simulation_throughputs.json").read_text())
    first = (SAMPLE / "0e4a51.trace").read_text().splitlines()[0].split("\t")
    job_type, steps, arrival, scale = first[0], float(first[4]), float(first[5]), int(first[6])
    t = load_philly(SAMPLE)
    job = next(j for j in t.jobs if j.project == "0e4a51" and j.submit == arrival)
    for flavor in ("k80", "p100", "v100"):
        assert job.durations[flavor] == pytest.approx(steps / tput[flavor][(job_type, scale)])
    assert job.accelerators == scale
    assert t.throughput[f"{job_type}|{scale}"]["v100"] == pytest.approx(tput["v100"][(job_type, scale)])


def test_malformed_philly_line_names_its_line_or_is_skipped_when_lenient(tmp_path: Path) -> None:
    (tmp_path / "simulation_throughputs.json").write_text((SAMPLE / "simulation_throughputs.json").read_text())
    good = (SAMPLE / "0e4a51.trace").read_text().splitlines()[:3]
    (tmp_path / "vc.trace").write_text("\n".join([good[0], good[1], "garbage\tline", good[2]]) + "\n")
    with pytest.raises(TraceError) as e:
        load_philly(tmp_path)
    assert e.value.line == 3 and "vc.trace:3" in str(e.value)
    t = load_philly(tmp_path, lenient=True)
    assert (len(t.jobs), t.skipped) == (3, 1)


CSV = """submit,project,accelerators,flavors,duration
0,alpha,2,h100|a100,h100:100|a100:250
5,beta,1,a100,60
"""


def test_csv_reads_per_flavor_durations_and_round_trips() -> None:
    t = load_csv(CSV)
    assert [(j.project, j.accelerators, dict(j.durations)) for j in t.jobs] == [
        ("alpha", 2, {"h100": 100.0, "a100": 250.0}), ("beta", 1, {"a100": 60.0})]
    again = load_csv(dump_csv(t.jobs))
    assert [(j.submit, j.project, dict(j.durations)) for j in again.jobs] == \
        [(j.submit, j.project, dict(j.durations)) for j in t.jobs]


def test_csv_work_column_divides_by_the_gang() -> None:
    t = load_csv("submit,project,accelerators,flavors,work\n0,p,4,gpu,400\n")
    assert t.jobs[0].durations == {"gpu": 100.0}


@pytest.mark.parametrize("bad", ["x,alpha,1,a100,60", "0,alpha,0,a100,60", "0,alpha,1,a100,-5",
                                 "0,alpha,1,a100,h100:5", "0,alpha,1"])
def test_csv_malformed_row_reports_its_line(bad: str) -> None:
    text = CSV + bad + "\n"
    with pytest.raises(TraceError) as e:
        load_csv(text, "t.csv")
    assert e.value.line == 4 and str(e.value).startswith("t.csv:4:")
    assert load_csv(text, lenient=True).skipped == 1


def test_csv_checkpoint_column_is_read_and_round_trips() -> None:
    t = load_csv("submit,project,accelerators,flavors,duration,checkpoint\n0,p,1,gpu,100,1800\n1,p,1,gpu,100,\n")
    assert [j.checkpoint_s for j in t.jobs] == [1800.0, None]
    assert [j.checkpoint_s for j in load_csv(dump_csv(t.jobs)).jobs] == [1800.0, None]


@pytest.mark.parametrize("bad", ["0", "-60", "soon", "inf"])
def test_csv_checkpoint_of_zero_or_less_names_the_field_and_line(bad: str) -> None:
    with pytest.raises(TraceError, match="checkpoint must be a positive number of seconds") as e:
        load_csv(f"submit,project,accelerators,flavors,duration,checkpoint\n0,p,1,gpu,100,60\n0,p,1,gpu,100,{bad}\n",
                 "t.csv")
    assert str(e.value).startswith("t.csv:3:")


def test_csv_without_the_required_header_is_refused() -> None:
    with pytest.raises(TraceError, match="header"):
        load_csv("a,b,c\n1,2,3\n")


def test_synthetic_is_reproducible_and_shaped_like_the_trace() -> None:
    a = synthetic(2000, projects=5, flavors={"fast": 2.0, "slow": 1.0}, seed=7)
    b = synthetic(2000, projects=5, flavors={"fast": 2.0, "slow": 1.0}, seed=7)
    c = synthetic(2000, projects=5, flavors={"fast": 2.0, "slow": 1.0}, seed=8)
    assert a.jobs == b.jobs and a.jobs != c.jobs
    assert {j.accelerators for j in a.jobs} <= set(GANG_SIZES)
    assert 0.6 < sum(j.accelerators == 1 for j in a.jobs) / 2000 < 0.78  # Philly: 69% single-GPU jobs
    assert len(a.projects) == 5
    for j in a.jobs:
        if set(j.durations) == {"fast", "slow"}:
            assert j.durations["slow"] == pytest.approx(2 * j.durations["fast"])


def test_diurnal_arrivals_are_denser_in_the_day_peak() -> None:
    t = synthetic(20000, mean_interarrival=30, diurnal=True, seed=1)
    peak = sum(1 for j in t.jobs if (j.submit % 86400) < 43200)
    assert peak > 0.6 * len(t.jobs)
