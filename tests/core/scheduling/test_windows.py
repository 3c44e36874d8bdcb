"""Reserved windows (class hours) in the admission policy: one behaviour each."""

from __future__ import annotations

from aicc.core.jobs.reasons import ReasonCode
from aicc.core.scheduling import CycleResult, Scheduler
from aicc.core.scheduling.windows import Window, Windows
from tests.core.scheduling.helpers import center, job, project

H = 3600.0
CLASS_AT = 17 * H  # "17:00" on the scheduler's clock
COURSE, OTHER = 1, 2


def admitted(r: CycleResult) -> dict[int, bool]:
    return {a.job_id: a.borrowed for a in r.admissions}


def classroom(units: int = 8, *, other_h100: int = 8, other_borrow: int = 0) -> Scheduler:
    """Two nodes of 4 h100 (8), all reserved for the course 17:00-20:00; the other project may use all 8."""
    s = center(h100_nodes=2)
    project(s, COURSE, h100=0, borrow=0)
    project(s, OTHER, h100=other_h100, borrow=other_borrow)
    s.set_windows(Windows([Window(7, "h100", units, CLASS_AT, CLASS_AT + 3 * H, frozenset({COURSE}), "ai-101")]))
    return s


def test_a_1655_batch_job_that_would_run_into_the_class_waits_and_says_for_whom() -> None:
    s = classroom()
    s.submit(job(10, OTHER, gpus=4, limit=H))
    r = s.cycle(now=CLASS_AT - 5 * 60)
    assert admitted(r) == {}
    assert r.reasons[10].code is ReasonCode.WINDOW_COMING
    assert r.reasons[10].text().startswith("waiting: 8 h100 reserved for ai-101 from ")


def test_before_the_window_a_job_that_ends_in_time_uses_the_reserved_capacity() -> None:
    s = classroom()
    s.submit(job(10, OTHER, gpus=8, limit=50 * 60))
    r = s.cycle(now=CLASS_AT - H)
    assert admitted(r) == {10: False}


def test_before_the_window_an_outlasting_job_may_take_what_the_reservation_leaves() -> None:
    s = classroom(units=4)
    s.submit(job(10, OTHER, gpus=4, limit=10 * H))
    s.submit(job(11, OTHER, gpus=4, limit=10 * H))
    r = s.cycle(now=CLASS_AT - 5 * 60)
    assert admitted(r) == {10: False}
    assert r.reasons[11].code is ReasonCode.WINDOW_COMING


def test_a_borrower_may_start_before_the_window_if_it_can_be_preempted_by_its_start() -> None:
    s = classroom(other_h100=0, other_borrow=8)
    s.submit(job(10, OTHER, gpus=4, limit=10 * H))
    early = s.cycle(now=CLASS_AT - H)  # past its 10 min exemption by 17:00
    assert admitted(early) == {10: True}
    s.submit(job(11, OTHER, gpus=4, limit=10 * H))
    late = s.cycle(now=CLASS_AT - 5 * 60)  # it could not be preempted in time
    assert admitted(late) == {}
    assert late.reasons[11].code is ReasonCode.WINDOW_COMING


def test_during_the_window_only_members_use_it_and_the_class_starts() -> None:
    s = classroom()
    s.submit(job(10, OTHER, gpus=4, limit=H, t=1))
    for i in range(8):
        s.submit(job(20 + i, COURSE, gpus=1, limit=2 * H, t=2 + i))
    r = s.cycle(now=CLASS_AT + 60)
    assert admitted(r) == {20 + i: False for i in range(8)}  # within the reservation: not preemptible
    assert r.reasons[10].code is ReasonCode.WINDOW_HELD


def test_unused_reserved_capacity_is_lent_as_borrowed_and_taken_back_by_a_member() -> None:
    s = classroom()
    s.submit(job(10, OTHER, gpus=4, limit=2 * H))
    r = s.cycle(now=CLASS_AT + 60)
    assert admitted(r) == {10: True}  # lent: preemptible even within its own nominal quota
    for i in range(8):
        s.submit(job(20 + i, COURSE, gpus=1, limit=H, t=CLASS_AT + 700 + i))
    back = s.cycle(now=CLASS_AT + 700)  # past the 10 min exemption
    assert back.preemptions == [10]
    assert set(admitted(back)) == {20, 21, 22, 23}


def test_a_member_outside_the_window_has_only_its_own_quota() -> None:
    s = classroom()
    s.submit(job(20, COURSE, gpus=1, limit=H))
    r = s.cycle(now=CLASS_AT - 2 * H)
    assert admitted(r) == {}
    assert r.reasons[20].code is ReasonCode.NO_QUOTA


def test_after_the_window_the_capacity_is_everyones_again() -> None:
    s = classroom()
    s.submit(job(10, OTHER, gpus=8, limit=10 * H))
    r = s.cycle(now=CLASS_AT + 3 * H)
    assert admitted(r) == {10: False}


def test_a_member_uses_its_own_nominal_quota_before_the_reservation() -> None:
    """What the members run within their own quota does not eat the reservation others must leave."""
    s = center(h100_nodes=3)  # 12 h100
    project(s, COURSE, h100=4, borrow=0)
    project(s, OTHER, h100=8, borrow=0)
    s.set_windows(Windows([Window(7, "h100", 4, CLASS_AT, CLASS_AT + 3 * H, frozenset({COURSE}), "ai-101")]))
    for i in range(4):
        s.submit(job(20 + i, COURSE, gpus=1, limit=4 * H, t=i))
    s.submit(job(10, OTHER, gpus=4, limit=10 * H, t=10))
    s.submit(job(11, OTHER, gpus=4, limit=10 * H, t=11))
    r = s.cycle(now=CLASS_AT + 60)
    # the course's own 4 leave the 4 reserved unused: the second job takes them only as lent (borrowed)
    assert admitted(r) == {20: False, 21: False, 22: False, 23: False, 10: False, 11: True}


def test_removing_the_windows_lets_the_waiting_job_start() -> None:
    s = classroom()
    s.submit(job(10, OTHER, gpus=4, limit=H))
    assert admitted(s.cycle(now=CLASS_AT - 5 * 60)) == {}
    s.set_windows(Windows())
    assert admitted(s.cycle(now=CLASS_AT - 4 * 60)) == {10: False}
