"""Why a job is where it is, as data: a code with typed parameters, rendered in English or Korean.

The policy and the controller emit :class:`Reason` values; the database stores the code and its
parameters (``jobs.reason_code``, ``jobs.reason_params``) beside the English text (for the API and the
command line, which speak English, and for rows written before codes existed). Pages render from the
code through :data:`TEXTS`, so no reason ever stays English on a Korean page and nothing parses English
back. ``tests/core/jobs/test_reasons.py`` fails for a code missing a language or a parameter.
"""

from __future__ import annotations

import datetime as dt
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

Param = str | int | float | bool | list[int]


class ReasonCode(StrEnum):
    # the policy
    QUOTA = "quota"
    QUOTA_AND_BORROWING = "quota_and_borrowing"
    NO_QUOTA = "no_quota"
    BUDGET = "budget"
    WINDOW_NOT_STARTED = "window_not_started"
    WINDOW_ENDED = "window_ended"
    SUSPENDED = "suspended"
    NO_CAPACITY = "no_capacity"
    NO_CAPACITY_CORES = "no_capacity_cores"
    RESERVED = "reserved"
    RESERVED_NOW = "reserved_now"
    RESERVED_HELD = "reserved_held"
    PREEMPT_EXEMPT = "preempt_exempt"
    PREEMPT_NO_BORROWED = "preempt_no_borrowed"
    PREEMPT_NO_BORROWED_RESERVED = "preempt_no_borrowed_reserved"
    PREEMPT_COSTLY = "preempt_costly"
    BEHIND_RESERVATION = "behind_reservation"
    BEHIND_FIFO = "behind_fifo"
    PREEMPTING = "preempting"
    PREEMPTION_IN_PROGRESS = "preemption_in_progress"
    CENTER_FULL = "center_full"
    WINDOW_HELD = "window_held"
    WINDOW_COMING = "window_coming"
    # the controller
    SUBMITTED = "submitted"
    NO_LIVE_GRANT = "no_live_grant"
    DEPENDENCY_FAILED = "dependency_failed"
    AFTEROK = "afterok"
    ARRAY_LIMIT = "array_limit"
    STARTING = "starting"
    STARTING_BORROWED = "starting_borrowed"
    RUNNING = "running"
    RUNNING_BORROWED = "running_borrowed"
    REQUEUED = "requeued"
    RUN_LOST = "run_lost"
    PREEMPTED = "preempted"
    BEING_PREEMPTED = "being_preempted"
    COULD_NOT_START = "could_not_start"
    COMPLETED = "completed"
    TIME_LIMIT = "time_limit"
    EXITED = "exited"
    SIGNALLED = "signalled"
    OUT_OF_MEMORY = "out_of_memory"
    ENGINE = "engine"
    CANCELLED_BY_ENGINE = "cancelled_by_engine"
    CANCELLED_BY = "cancelled_by"
    CANCEL_REQUESTED_BY = "cancel_requested_by"
    HELD_BY = "held_by"
    REQUEUE_REQUESTED_BY = "requeue_requested_by"
    REQUEUED_BY = "requeued_by"
    GRANT_REVOKED = "grant_revoked"
    SESSION_IDLE = "session_idle"
    IMAGE_RESOLVING = "image_resolving"
    IMAGE_PULLING = "image_pulling"
    IMAGE_UNPACKING = "image_unpacking"
    IMAGE_FAILED = "image_failed"
    IMAGE_ENGINE = "image_engine"
    IMAGE_PREEMPTED = "image_preempted"


TIME_PARAMS = frozenset({"at", "until"})
"""Parameters that are Unix times, rendered as a UTC date and time."""

TEXTS: dict[ReasonCode, dict[str, str]] = {
    ReasonCode.QUOTA: {
        "en": "waiting: project quota of {nominal} {flavor} in use",
        "ko": "대기: 프로젝트 할당량({flavor} {nominal}개)을 모두 사용 중"},
    ReasonCode.QUOTA_AND_BORROWING: {
        "en": "waiting: project quota of {nominal} {flavor} and borrowing limit of {limit} in use",
        "ko": "대기: 프로젝트 할당량({flavor} {nominal}개)과 차용 한도({limit}개)를 모두 사용 중"},
    ReasonCode.NO_QUOTA: {
        "en": "waiting: the project's allocation has no quota for {flavors}",
        "ko": "대기: 프로젝트 배정에 {flavors} 할당량이 없음"},
    ReasonCode.BUDGET: {
        "en": "waiting: allocation budget too low for {hours:g} h time limit (needs {needs:,.1f} SU, {left:,.1f} left)",
        "ko": "대기: 시간 제한 {hours:g}시간에 필요한 예산 부족 (필요 {needs:,.1f} SU, 잔여 {left:,.1f} SU)"},
    ReasonCode.WINDOW_NOT_STARTED: {
        "en": "waiting: allocation window starts {at}",
        "ko": "대기: 배정 기간이 {at}에 시작됨"},
    ReasonCode.WINDOW_ENDED: {
        "en": "waiting: the project's allocation has ended; ask for an extension",
        "ko": "대기: 배정 기간이 끝남. 연장을 신청하세요"},
    ReasonCode.SUSPENDED: {
        "en": "waiting: the project's allocation is suspended",
        "ko": "대기: 프로젝트 배정이 정지됨"},
    ReasonCode.NO_CAPACITY: {
        "en": "waiting: no flavor in {flavors} has {units} free accelerators",
        "ko": "대기: {flavors} 중 빈 가속기 {units}개를 가진 종류가 없음"},
    ReasonCode.NO_CAPACITY_CORES: {
        "en": "waiting: no flavor in {flavors} has {units} free CPU cores",
        "ko": "대기: {flavors} 중 빈 CPU 코어 {units}개를 가진 종류가 없음"},
    ReasonCode.RESERVED: {
        "en": "waiting: next in line; {flavor} capacity expected free by {at}",
        "ko": "대기: 다음 차례. {flavor} 자원이 {at}까지 비워질 예정"},
    ReasonCode.RESERVED_NOW: {
        "en": "waiting: next in line; {flavor} accelerators of its shape are free, but their nodes lack the CPU "
              "cores or memory it asks for",
        "ko": "대기: 다음 차례. 필요한 모양의 {flavor} 가속기는 비어 있지만, "
              "그 노드에 요청한 CPU 코어나 메모리가 부족함"},
    ReasonCode.RESERVED_HELD: {
        "en": "waiting: next in line; the free {flavor} capacity is held for jobs within their quota whose "
              "borrowed capacity is being returned",
        "ko": "대기: 다음 차례. 비어 있는 {flavor} 자원은 빌려준 자원을 돌려받는 할당량 안의 작업을 위해 잡혀 있음"},
    ReasonCode.PREEMPT_EXEMPT: {
        "en": "waiting: within the project's quota; the borrowed {flavor} jobs that would make room for {units} "
              "may be preempted from {at} (a borrowed job first runs {minutes:g} min)",
        "ko": "대기: 프로젝트 할당량 안의 작업. {units}개 자리를 낼 {flavor} 차용 작업은 {at}부터 선점할 수 있음 "
              "(차용 작업도 먼저 {minutes:g}분 실행됨)"},
    ReasonCode.PREEMPT_NO_BORROWED: {
        "en": "waiting: within the project's quota, but preempting every borrowed {flavor} job of other projects "
              "would not free {units} on the nodes it needs (the rest runs within quotas)",
        "ko": "대기: 프로젝트 할당량 안의 작업이지만, 다른 프로젝트의 {flavor} 차용 작업을 모두 선점해도 필요한 노드에 "
              "{units}개가 비지 않음 (나머지는 할당량 안에서 실행 중)"},
    ReasonCode.PREEMPT_NO_BORROWED_RESERVED: {
        "en": "waiting: next in line; preempting borrowed {flavor} jobs would not free {units} on the nodes it "
              "needs (the rest runs within quotas); expected free by {at}",
        "ko": "대기: 다음 차례. {flavor} 차용 작업을 선점해도 필요한 노드에 {units}개가 비지 않음 (나머지는 할당량 "
              "안에서 실행 중). {at}까지 비워질 예정"},
    ReasonCode.PREEMPT_COSTLY: {
        "en": "waiting: within the project's quota, but preempting the borrowed {flavor} jobs that would make room "
              "for {units} would lose {lost_h:,.1f} accelerator-hours of their work, more than the {gain_h:,.1f} "
              "it saves; {units} expected free by {at}",
        "ko": "대기: 프로젝트 할당량 안의 작업이지만, {units}개 자리를 낼 {flavor} 차용 작업을 선점하면 그 작업의 "
              "{lost_h:,.1f} 가속기-시간이 사라져 절약되는 {gain_h:,.1f}보다 많음. {at}까지 {units}개가 비워질 예정"},
    ReasonCode.WINDOW_HELD: {
        "en": "waiting: {units} {flavor} reserved for {name} until {until}",
        "ko": "대기: {flavor} {units}개가 {until}까지 {name}에 예약되어 있음"},
    ReasonCode.WINDOW_COMING: {
        "en": "waiting: {units} {flavor} reserved for {name} from {at}; it would still run then",
        "ko": "대기: {flavor} {units}개가 {at}부터 {name}에 예약되어 있고, 이 작업은 그때도 실행 중일 것임"},
    ReasonCode.BEHIND_RESERVATION: {
        "en": "waiting: behind reservation for job {job}",
        "ko": "대기: 작업 {job}의 예약 뒤에서 기다리는 중"},
    ReasonCode.BEHIND_FIFO: {
        "en": "waiting: behind job {job} (first in line)",
        "ko": "대기: 맨 앞의 작업 {job} 뒤에서 기다리는 중"},
    ReasonCode.PREEMPTING: {
        "en": "waiting: preempting borrowed capacity ({jobs_word} {jobs})",
        "ko": "대기: 빌려준 자원 회수 중 (작업 {jobs})"},
    ReasonCode.PREEMPTION_IN_PROGRESS: {
        "en": "waiting: borrowed capacity is being returned for this job",
        "ko": "대기: 이 작업을 위해 빌려준 자원을 돌려받는 중"},
    ReasonCode.CENTER_FULL: {
        "en": "waiting: the center is full; queued behind jobs with a lower fair share or earlier submission",
        "ko": "대기: 센터 자원이 가득 참. 공정 분배 몫이 적거나 먼저 제출된 작업 뒤에 있음"},
    ReasonCode.SUBMITTED: {
        "en": "waiting for the next scheduling cycle",
        "ko": "다음 스케줄링 주기를 기다리는 중"},
    ReasonCode.NO_LIVE_GRANT: {
        "en": "waiting: no live grant for dataset {dataset} (revoked, expired or withdrawn); ask its custodian",
        "ko": "대기: 데이터셋 {dataset}의 유효한 이용 승인이 없음 (철회, 만료 또는 취소). 관리자에게 문의하세요"},
    ReasonCode.DEPENDENCY_FAILED: {
        "en": "dependency never satisfied: job {job} {state}",
        "ko": "선행 조건을 충족할 수 없음: 작업 {job}이(가) {state} 상태로 끝남"},
    ReasonCode.AFTEROK: {
        "en": "waiting: for job {job} to succeed (afterok)",
        "ko": "대기: 작업 {job}의 성공을 기다리는 중 (afterok)"},
    ReasonCode.ARRAY_LIMIT: {
        "en": "waiting: array limit of {limit} running tasks",
        "ko": "대기: 배열 작업 동시 실행 한도 {limit}개"},
    ReasonCode.STARTING: {
        "en": "starting on {flavor}{note}",
        "ko": "{flavor}에서 시작하는 중{note}"},
    ReasonCode.STARTING_BORROWED: {
        "en": "starting on {flavor} (borrowed capacity){note}",
        "ko": "{flavor}에서 시작하는 중 (빌린 자원){note}"},
    ReasonCode.RUNNING: {
        "en": "running on {flavor}",
        "ko": "{flavor}에서 실행 중"},
    ReasonCode.RUNNING_BORROWED: {
        "en": "running on {flavor} (borrowed capacity)",
        "ko": "{flavor}에서 실행 중 (빌린 자원)"},
    ReasonCode.REQUEUED: {
        "en": "requeued: {detail}",
        "ko": "다시 대기열로: {detail}"},
    ReasonCode.RUN_LOST: {
        "en": "requeued: the run was lost",
        "ko": "다시 대기열로: 실행이 사라짐"},
    ReasonCode.PREEMPTED: {
        "en": "preempted to return borrowed capacity; waiting to run again in its original place",
        "ko": "빌린 자원을 돌려주려고 선점됨. 원래 순서에서 다시 실행을 기다리는 중"},
    ReasonCode.BEING_PREEMPTED: {
        "en": "being preempted: its borrowed capacity is needed by a job within its quota",
        "ko": "선점되는 중: 할당량 안의 작업이 빌려준 자원을 필요로 함"},
    ReasonCode.COULD_NOT_START: {
        "en": "could not start: {error}",
        "ko": "시작하지 못함: {error}"},
    ReasonCode.COMPLETED: {"en": "completed", "ko": "완료"},
    ReasonCode.TIME_LIMIT: {
        "en": "killed at its time limit of {seconds} s",
        "ko": "시간 제한 {seconds}초에 도달해 종료됨"},
    ReasonCode.SIGNALLED: {
        "en": "killed by signal {signal}",
        "ko": "시그널 {signal}(으)로 종료됨"},
    ReasonCode.OUT_OF_MEMORY: {
        "en": "out of memory (limit {limit})",
        "ko": "메모리 부족 (한도 {limit})"},
    ReasonCode.EXITED: {
        "en": "exited with code {code}",
        "ko": "종료 코드 {code}(으)로 끝남"},
    ReasonCode.IMAGE_RESOLVING: {
        "en": "resolving image {image}",
        "ko": "이미지 {image} 확인 중"},
    ReasonCode.IMAGE_PULLING: {
        "en": "pulling image {image} … {percent} %",
        "ko": "이미지 {image} 받는 중 … {percent}%"},
    ReasonCode.IMAGE_UNPACKING: {
        "en": "unpacking image {image} … {percent} %",
        "ko": "이미지 {image} 푸는 중 … {percent}%"},
    ReasonCode.IMAGE_FAILED: {
        "en": "{detail}",
        "ko": "이미지를 준비하지 못함: {detail}"},
    ReasonCode.IMAGE_ENGINE: {
        "en": "images run on the local and Slurm engines, not on {engine}",
        "ko": "이미지는 로컬 엔진과 Slurm 엔진에서만 실행됩니다 ({engine} 엔진에서는 불가)"},
    ReasonCode.IMAGE_PREEMPTED: {
        "en": "preempted before it started (its image was being pulled); waiting to run again",
        "ko": "이미지를 받는 동안 선점됨: 다시 실행을 기다리는 중"},
    ReasonCode.ENGINE: {
        "en": "{detail}",
        "ko": "실행 엔진 보고: {detail}"},
    ReasonCode.CANCELLED_BY_ENGINE: {
        "en": "cancelled by the engine",
        "ko": "실행 엔진이 취소함"},
    ReasonCode.CANCELLED_BY: {
        "en": "cancelled by {user}",
        "ko": "{user}님이 취소함"},
    ReasonCode.CANCEL_REQUESTED_BY: {
        "en": "cancel requested by {user}",
        "ko": "{user}님이 취소를 요청함"},
    ReasonCode.HELD_BY: {
        "en": "held by {user}: not started until released (aicc release)",
        "ko": "{user}님이 보류함: 해제(aicc release)할 때까지 시작하지 않음"},
    ReasonCode.REQUEUE_REQUESTED_BY: {
        "en": "requeue requested by {user}: stopping this attempt to run again",
        "ko": "{user}님이 다시 대기열에 넣기를 요청함: 이번 실행을 멈추고 다시 실행함"},
    ReasonCode.REQUEUED_BY: {
        "en": "requeued by {user}; waiting to run again as a new attempt",
        "ko": "{user}님이 다시 대기열에 넣음. 새 시도로 다시 실행을 기다리는 중"},
    ReasonCode.GRANT_REVOKED: {
        "en": "cancelled: the grant for dataset {dataset} was revoked by its custodian",
        "ko": "취소됨: 데이터셋 {dataset}의 이용 승인을 관리자가 철회함"},
    ReasonCode.SESSION_IDLE: {
        "en": "stopped: the session was idle for {minutes} min",
        "ko": "중지됨: 세션이 {minutes}분 동안 사용되지 않음"},
}
"""Per code, its text in each language; parameters by name (the engine's own words, ``detail``/``error``,
are shown as the engine wrote them)."""

LANGS = ("en", "ko")


@dataclass(frozen=True, slots=True)
class Reason:
    code: ReasonCode
    params: Mapping[str, Param] = field(default_factory=dict)

    def text(self, lang: str = "en") -> str:
        return render(self, lang)

    def to_json(self) -> dict[str, Param]:
        return dict(self.params)


def fields(code: ReasonCode, lang: str) -> set[str]:
    """The parameter names a code's text uses in ``lang``."""
    return {name for _, name, _, _ in string.Formatter().parse(TEXTS[code][lang]) if name}


def _value(name: str, value: Param) -> object:
    if name in TIME_PARAMS and isinstance(value, int | float):
        return dt.datetime.fromtimestamp(value, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return value


def render(reason: Reason, lang: str = "en") -> str:
    table = TEXTS[reason.code]
    values = {k: _value(k, v) for k, v in reason.params.items()}
    if reason.code is ReasonCode.PREEMPTING:
        jobs = reason.params.get("jobs")
        values["jobs_word"] = "jobs" if isinstance(jobs, list) and len(jobs) > 1 else "job"
    return table.get(lang, table["en"]).format(**values)


def from_row(code: str | None, params: Mapping[str, Param] | None) -> Reason | None:
    """A stored reason, or None for a row written before codes (or with a code this version does not know)."""
    if not code:
        return None
    try:
        return Reason(ReasonCode(code), dict(params or {}))
    except ValueError:
        return None


def columns(reason: Reason) -> dict[str, object]:
    """The job row's columns for ``reason``: the code, its parameters and the English text."""
    return {"reason": render(reason), "reason_code": reason.code.value, "reason_params": reason.to_json()}
