"""Notifications, the pure part: event kinds, their default channels, the Korean and English texts, webhook
signatures and the retry schedule. Nothing here sends anything (services/notify does)."""

from __future__ import annotations

import enum
import hashlib
import hmac
from collections.abc import Mapping


class Event(enum.StrEnum):
    JOB_ENDED = "job.ended"
    JOB_FAILED = "job.failed"
    BUDGET_80 = "budget.80"
    BUDGET_100 = "budget.100"
    BUDGET_PROJECTED = "budget.projected"
    """At the last week's pace the budget runs out within 7 days."""
    ALLOCATION_UNDERUSE = "allocation.underuse"
    RECLAIM_PROPOSED = "allocation.reclaim"
    GRANT_DECIDED = "grant.decided"
    OUTPUT_DECIDED = "output.decided"
    APPLICATION_REVIEWED = "application.reviewed"
    APPLICATION_DECIDED = "application.decided"
    SESSION_CULL = "session.cull"
    SERVICE_UNHEALTHY = "service.unhealthy"


class Channel(enum.StrEnum):
    EMAIL = "email"
    WEBHOOK = "webhook"


class Outcome(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    """Retries spent (a webhook receiver that stayed down, a mail relay that kept deferring)."""
    BOUNCED = "bounced"
    """The address was refused for good: the user's address is marked and gets no more mail until changed."""


MAX_ATTEMPTS = 5
LANGS = ("ko", "en")

TEXTS: dict[Event, dict[str, tuple[str, str]]] = {
    Event.JOB_ENDED: {
        "en": ("Job {job_id} ({name}) ended: {state}", "Your job {job_id} ({name}) in project {project} ended in "
               "state {state}.\n\n{url}/jobs/{job_id}"),
        "ko": ("작업 {job_id} ({name}) 종료: {state}", "프로젝트 {project}의 작업 {job_id} ({name})이(가) {state} "
               "상태로 끝났습니다.\n\n{url}/jobs/{job_id}"),
    },
    Event.JOB_FAILED: {
        "en": ("Job {job_id} ({name}) failed: {state}", "Your job {job_id} ({name}) in project {project} ended in "
               "state {state}: {reason}\n\n{url}/jobs/{job_id}"),
        "ko": ("작업 {job_id} ({name}) 실패: {state}", "프로젝트 {project}의 작업 {job_id} ({name})이(가) {state} "
               "상태로 끝났습니다: {reason}\n\n{url}/jobs/{job_id}"),
    },
    Event.BUDGET_80: {
        "en": ("{allocation}: 80 % of the budget used", "Project {project} has used {used} of {budget} SU "
               "({percent} %) of allocation {allocation}."),
        "ko": ("{allocation}: 예산의 80 % 사용", "프로젝트 {project}가 배정 {allocation}의 {budget} SU 가운데 "
               "{used} SU({percent} %)를 썼습니다."),
    },
    Event.BUDGET_100: {
        "en": ("{allocation}: budget spent", "Project {project} has used all {budget} SU of allocation "
               "{allocation}; new jobs wait until it is topped up."),
        "ko": ("{allocation}: 예산 소진", "프로젝트 {project}가 배정 {allocation}의 {budget} SU를 모두 썼습니다. "
               "추가 배정 전까지 새 작업은 대기합니다."),
    },
    Event.BUDGET_PROJECTED: {
        "en": ("{allocation}: budget runs out in {days} days", "At the last week's pace, allocation {allocation} of "
               "project {project} runs out in about {days} days."),
        "ko": ("{allocation}: {days}일 뒤 예산 소진 예상", "지난 한 주의 사용 속도라면 프로젝트 {project}의 배정 "
               "{allocation}은(는) 약 {days}일 뒤에 소진됩니다."),
    },
    Event.ALLOCATION_UNDERUSE: {
        "en": ("{allocation}: little used", "Allocation {allocation} of project {project} is under-used: {detail}"),
        "ko": ("{allocation}: 사용 저조", "프로젝트 {project}의 배정 {allocation} 사용이 저조합니다: {detail}"),
    },
    Event.RECLAIM_PROPOSED: {
        "en": ("{allocation}: reclaim proposed", "The center proposes to reclaim {su} SU of allocation "
               "{allocation} (project {project})."),
        "ko": ("{allocation}: 회수 제안", "센터가 프로젝트 {project}의 배정 {allocation}에서 {su} SU 회수를 "
               "제안했습니다."),
    },
    Event.GRANT_DECIDED: {
        "en": ("Data grant for {dataset}: {decision}", "The custodian decided your project {project}'s request "
               "for dataset {dataset}: {decision}."),
        "ko": ("데이터 {dataset} 이용 신청: {decision}", "데이터 관리자가 프로젝트 {project}의 데이터셋 {dataset} "
               "이용 신청을 결정했습니다: {decision}."),
    },
    Event.OUTPUT_DECIDED: {
        "en": ("Output {path}: {decision}", "The custodian decided output {path} of job {job_id}: {decision}."),
        "ko": ("반출 파일 {path}: {decision}", "데이터 관리자가 작업 {job_id}의 반출 파일 {path}을(를) "
               "결정했습니다: {decision}."),
    },
    Event.APPLICATION_REVIEWED: {
        "en": ("Application {application}: review {step}", "Application {application} to {call}: {step}."),
        "ko": ("과제 {application}: 심사 {step}", "{call} 공고에 낸 과제 {application}: {step}."),
    },
    Event.APPLICATION_DECIDED: {
        "en": ("Application {application}: {decision}", "Application {application} to {call} was decided: "
               "{decision}."),
        "ko": ("과제 {application}: {decision}", "{call} 공고에 낸 과제 {application}이(가) 결정되었습니다: "
               "{decision}."),
    },
    Event.SESSION_CULL: {
        "en": ("Session {job_id} ends soon", "Your session {job_id} will be ended at {at} ({why})."),
        "ko": ("세션 {job_id} 곧 종료", "세션 {job_id}이(가) {at}에 종료됩니다 ({why})."),
    },
    Event.SERVICE_UNHEALTHY: {
        "en": ("Service {name} unhealthy", "Service {name} of project {project} is unhealthy: {detail}"),
        "ko": ("서비스 {name} 이상", "프로젝트 {project}의 서비스 {name}에 이상이 있습니다: {detail}"),
    },
}


class _Blank(dict[str, object]):
    def __missing__(self, key: str) -> str:
        return "–"


def render(event: Event, lang: str, params: Mapping[str, object]) -> tuple[str, str]:
    """Subject and body in ``lang`` (Korean unless English); a missing value shows as a dash, never a crash."""
    subject, body = TEXTS[event]["en" if lang == "en" else "ko"]
    values = _Blank(params)
    return subject.format_map(values)[:200], body.format_map(values)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """``X-AICC-Signature``: HMAC-SHA256 over "timestamp." + body, so a captured request cannot be replayed
    later with a new timestamp; receivers compare in constant time and reject old timestamps."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={mac}"


def backoff_s(attempt: int, base_s: float = 30.0) -> float:
    """Seconds before the next try after ``attempt`` failed: 30 s, 1, 2, 4 min … at most an hour."""
    return float(min(base_s * 2 ** max(attempt - 1, 0), 3600.0))
