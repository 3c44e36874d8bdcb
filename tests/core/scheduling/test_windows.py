"""Reserved windows (class hours) in the admission policy: one behaviour each."""

from __future__ import annotations

from aicc.core.jobs.reasons import ReasonCode
from aicc.core.scheduling import CycleResult, Scheduler
from aicc.core.scheduling.windows import Window, Windows
from tests.core.scheduling.helpers import center, job, project

H = 3600.0
CLASS_AT = 17 * H  # "17:00" on the scheduler's clock
COURSE, OTHER, LAB = 1, 2, 3


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


def _ran(s: Scheduler, jid: int, pid: int, gpus: int, start: float, limit: float) -> None:
    """A job of ``pid`` admitted at ``start``, still running (time limit ``limit``); LAB has 8 of its own."""
    if pid not in s.projects:
        project(s, pid, h100=8, borrow=0)
    s.submit(job(jid, pid, gpus=gpus, limit=limit, t=start))
    assert admitted(s.cycle(now=start)) == {jid: False}


def test_a_head_a_window_keeps_off_reserves_after_the_class_and_a_short_job_backfills_before_it() -> None:
    s = classroom()
    _ran(s, 1, LAB, 4, CLASS_AT - 2 * H, 1.5 * H)  # ends 16:30
    s.submit(job(10, OTHER, gpus=8, limit=H, t=CLASS_AT - H))  # fits by shape at 16:30, but would run into the class
    s.submit(job(11, OTHER, gpus=4, limit=50 * 60, t=CLASS_AT - H + 1))  # ends 16:50: before the head can start
    r = s.cycle(now=CLASS_AT - H)
    assert r.reservation is not None and r.reservation.job_id == 10
    assert r.reservation.start == CLASS_AT + 3 * H  # after the class, not at 16:30
    assert r.reasons[10].code is ReasonCode.RESERVED and r.reasons[10].params["at"] == CLASS_AT + 3 * H
    assert admitted(r) == {11: False}


def _halves(s: Scheduler, until: float) -> None:
    """LAB holds 3 of each node's 4 until ``until``: a 4-gang fits on no node, a single accelerator does."""
    _ran(s, 1, LAB, 3, CLASS_AT - 2 * H, until - (CLASS_AT - 2 * H))
    _ran(s, 2, LAB, 3, CLASS_AT - 2 * H, until - (CLASS_AT - 2 * H))


def test_a_head_whose_run_leaves_the_window_its_units_is_not_moved() -> None:
    s = classroom(units=4)
    _halves(s, CLASS_AT - H / 2)  # free by 16:30
    s.submit(job(10, OTHER, gpus=4, limit=2 * H, t=CLASS_AT - H))  # from 16:30 it leaves the class its 4
    s.submit(job(11, OTHER, gpus=1, limit=10 * H, t=CLASS_AT - H + 1))  # something that could backfill
    r = s.cycle(now=CLASS_AT - H)
    assert r.reservation is not None and r.reservation.job_id == 10
    assert r.reservation.start == CLASS_AT - H / 2


def test_a_member_heads_reservation_is_not_pushed_past_its_own_window() -> None:
    def reserved_at(head_project: int) -> float:
        s = center(h100_nodes=2)
        project(s, COURSE, h100=8, borrow=0)
        project(s, OTHER, h100=8, borrow=0)
        s.set_windows(Windows([Window(7, "h100", 8, CLASS_AT, CLASS_AT + 3 * H, frozenset({COURSE}), "ai-101")]))
        _halves(s, CLASS_AT - H / 2)  # free by 16:30
        s.submit(job(10, head_project, gpus=4, limit=H, t=CLASS_AT - H))
        s.submit(job(11, LAB, gpus=1, limit=10 * 60, t=CLASS_AT - H + 1))
        r = s.cycle(now=CLASS_AT - H)
        assert r.reservation is not None and r.reservation.job_id == 10
        return r.reservation.start

    assert reserved_at(COURSE) == CLASS_AT - H / 2  # runs into its own class: at 16:30 as the nodes free
    assert reserved_at(OTHER) == CLASS_AT + 3 * H  # the class holds all 8 from 17:00 to 20:00


def test_a_head_blocked_during_a_partly_reserved_window_waits_for_a_runs_end_not_the_windows() -> None:
    """4 of 8 reserved, 3 in use by the class: a non-member 4-gang may start at 17:30, when a node frees beside
    the class's units, not only when the class ends."""
    s = classroom(units=4)
    _ran(s, 1, LAB, 4, CLASS_AT - 2 * H, 2.5 * H)  # one node until 17:30
    for i in range(3):
        s.submit(job(20 + i, COURSE, gpus=1, limit=2 * H, t=CLASS_AT + i))
    assert set(admitted(s.cycle(now=CLASS_AT))) == {20, 21, 22}
    s.submit(job(10, OTHER, gpus=4, limit=H, t=CLASS_AT + 60))
    s.submit(job(11, OTHER, gpus=1, limit=H, t=CLASS_AT + 61))
    r = s.cycle(now=CLASS_AT + 60)
    assert r.reservation is not None and r.reservation.job_id == 10
    assert r.reservation.start == CLASS_AT + H / 2


def test_no_preemption_for_a_job_the_coming_window_would_keep_off_anyway() -> None:
    """Preempting the borrowed run would free units the coming class still needs (the run that is not
    borrowed holds the others at its start): the job waits, and the borrowed run keeps its work."""
    s = classroom(units=4)
    project(s, LAB, h100=4, borrow=4)
    s.submit(job(1, LAB, gpus=4, limit=6 * H, t=CLASS_AT - 2 * H))  # its own quota, past the class
    assert admitted(s.cycle(now=CLASS_AT - 2 * H)) == {1: False}
    s.submit(job(2, LAB, gpus=4, limit=10 * H, t=CLASS_AT - 70 * 60))  # lent: preemptible before 17:00
    assert admitted(s.cycle(now=CLASS_AT - 70 * 60)) == {2: True}
    s.submit(job(10, OTHER, gpus=4, limit=2 * H, t=CLASS_AT - H))  # within its quota, but into the class
    r = s.cycle(now=CLASS_AT - H)
    assert r.preemptions == [] and admitted(r) == {}
    assert r.reasons[10].code is not ReasonCode.PREEMPTING


def test_a_head_the_class_keeps_off_until_its_end_is_not_placed_at_a_runs_end_in_between() -> None:
    """4 of 8 reserved, idle: a non-member 5-gang fits by shape as the first of four single runs ends (17:20),
    but with the other three running it leaves the class too little, and when they have ended too (18:20) the
    5 still leave it only 3: its reservation is the class's end."""
    s = classroom(units=4)
    project(s, LAB, h100=8, borrow=0)
    for i, minutes in enumerate((20, 40, 60, 80)):  # from 15:00, each past 17:00, ending 17:20 ... 18:20
        s.submit(job(1 + i, LAB, gpus=1, limit=2 * H + minutes * 60, t=CLASS_AT - 2 * H + i))
    assert set(admitted(s.cycle(now=CLASS_AT - 2 * H))) == {1, 2, 3, 4}
    s.submit(job(10, OTHER, gpus=5, limit=H, t=CLASS_AT + 300))
    s.submit(job(11, OTHER, gpus=1, limit=H, t=CLASS_AT + 301))
    r = s.cycle(now=CLASS_AT + 300)
    assert r.reservation is not None and r.reservation.job_id == 10
    assert r.reservation.start == CLASS_AT + 3 * H
