"""/api/v1 support programs: programs, calls, applications, reviews, agreements, reclaims, reports.

A thin wrapper: parse, open one transaction, call the service, shape the answer.
Who may do what is decided in the services.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, UploadFile

from aicc.api.deps import DB, Actor, Config
from aicc.api.schemas import programs as w
from aicc.api.schemas.common import MAX_ID, Cursor, Limit, Page, PathId, decode_cursor, encode_cursor
from aicc.core import programs as rules
from aicc.core.errors import InvalidInput
from aicc.services import agreements, applications, program_reports, programs, reviews
from aicc.store.models import AgreementRow, AmendmentRow, ApplicationRow, CallRow, ReclaimRow

router = APIRouter(tags=["programs"])
IdQ = Annotated[int | None, Query(ge=1, le=MAX_ID)]


def _program(v: programs.ProgramView) -> w.Program:
    p = v.row
    return w.Program(id=p.id, name=p.name, title=p.title, description=p.description, budget_su=p.budget_su,
                     committed_su=v.committed_su, remaining_su=v.remaining_su, created_at=p.created_at,
                     version=p.version)


def _call(c: CallRow) -> w.Call:
    return w.Call.model_validate(c)


def _app(a: ApplicationRow) -> w.Application:
    return w.Application.model_validate(a)


def _agreement(g: AgreementRow) -> w.Agreement:
    return w.Agreement.model_validate(g)


# -- programs and calls --------------------------------------------------------------------------------

@router.post("/programs", response_model=w.Program, status_code=201)
def create_program(db: DB, actor: Actor, body: w.ProgramCreate) -> w.Program:
    with db.write() as s:
        return _program(programs.create_program(s, actor, name=body.name, title=body.title,
                                                description=body.description, budget_su=body.budget_su))


@router.get("/programs", response_model=Page[w.Program])
def list_programs(db: DB, actor: Actor, limit: Limit = 50, cursor: Cursor = None) -> Page[w.Program]:
    with db.read() as s:
        pg = programs.list_programs(s, actor, after=decode_cursor(cursor), limit=limit)
        return Page(items=[_program(v) for v in pg.items], next_cursor=encode_cursor(pg.next_after))


@router.get("/programs/{program_id}", response_model=w.Program)
def get_program(db: DB, actor: Actor, program_id: PathId) -> w.Program:
    with db.read() as s:
        return _program(programs.get_program(s, actor, program_id))


@router.put("/programs/{program_id}/budget", response_model=w.Program)
def set_budget(db: DB, actor: Actor, program_id: PathId, body: w.ProgramBudget) -> w.Program:
    with db.write() as s:
        return _program(programs.update_program_budget(s, actor, program_id, version=body.version,
                                                       budget_su=body.budget_su))


@router.post("/programs/{program_id}/calls", response_model=w.Call, status_code=201)
def create_call(db: DB, actor: Actor, program_id: PathId, body: w.CallCreate) -> w.Call:
    fields = body.model_dump(exclude={"rubric"})
    with db.write() as s:
        return _call(programs.create_call(
            s, actor, program_id=program_id, **fields,
            rubric_=[rules.Criterion(c.name, c.weight, c.max_score) for c in body.rubric]))


@router.get("/calls", response_model=Page[w.Call])
def list_calls(db: DB, actor: Actor, program_id: IdQ = None, limit: Limit = 50,
               cursor: Cursor = None) -> Page[w.Call]:
    with db.read() as s:
        pg = programs.list_calls(s, actor, program_id=program_id, after=decode_cursor(cursor), limit=limit)
        return Page(items=[_call(c) for c in pg.items], next_cursor=encode_cursor(pg.next_after))


@router.get("/calls/{call_id}", response_model=w.Call)
def get_call(db: DB, actor: Actor, call_id: PathId) -> w.Call:
    with db.read() as s:
        return _call(programs.get_call(s, actor, call_id))


@router.post("/calls/{call_id}/close", response_model=w.Call)
def close_call(db: DB, actor: Actor, call_id: PathId) -> w.Call:
    """End the round now: no more submissions; decisions may follow."""
    with db.write() as s:
        return _call(programs.close_call(s, actor, call_id))


@router.post("/calls/{call_id}/assign-reviewers", response_model=list[w.Assignment])
def assign_round_robin(db: DB, actor: Actor, call_id: PathId) -> list[w.Assignment]:
    """Round-robin: fill every submitted application up to the call's reviewers per application."""
    with db.write() as s:
        return [w.Assignment.model_validate(r) for r in reviews.assign_round_robin(s, actor, call_id)]


@router.get("/calls/{call_id}/ranking", response_model=list[w.RankEntry])
def ranking(db: DB, actor: Actor, call_id: PathId) -> list[w.RankEntry]:
    with db.read() as s:
        return [w.RankEntry(rank=r.rank, application_id=r.application.id, organization_id=r.organization_id,
                            title=r.application.title, state=rules.ApplicationState(r.application.state),
                            requested_su=r.application.requested_su, mean=r.mean, spread=r.spread, stdev=r.stdev,
                            reviews=r.reviews, assigned=r.assigned)
                for r in reviews.ranking(s, actor, call_id)]


@router.post("/calls/{call_id}/auto-award", response_model=list[w.Application])
def auto_award(db: DB, actor: Actor, call_id: PathId) -> list[w.Application]:
    with db.write() as s:
        return [_app(a) for a in reviews.auto_award(s, actor, call_id)]


# -- applications ---------------------------------------------------------------------------------------

@router.post("/applications", response_model=w.Application, status_code=201)
def create_application(db: DB, actor: Actor, body: w.ApplicationCreate) -> w.Application:
    with db.write() as s:
        return _app(applications.create(
            s, actor, call_id=body.call_id, project_id=body.project_id, track=body.track, title=body.title,
            plan=body.plan, expected_outcomes=body.expected_outcomes, team=[m.model_dump() for m in body.team],
            requested_su=body.requested_su, requested_accelerators=body.requested_accelerators,
            starts_at=body.starts_at, ends_at=body.ends_at, youth=body.youth,
            requested_storage_gib=body.requested_storage_gib))


@router.get("/applications", response_model=Page[w.Application])
def list_applications(db: DB, actor: Actor, call_id: IdQ = None, state: rules.ApplicationState | None = None,
                      limit: Limit = 50, cursor: Cursor = None) -> Page[w.Application]:
    with db.read() as s:
        pg = applications.list_applications(s, actor, after=decode_cursor(cursor), limit=limit, call_id=call_id,
                                            state=state)
        return Page(items=[_app(a) for a in pg.items], next_cursor=encode_cursor(pg.next_after))


@router.get("/applications/{application_id}", response_model=w.Application)
def get_application(db: DB, actor: Actor, application_id: PathId) -> w.Application:
    with db.read() as s:
        return _app(applications.get(s, actor, application_id))


@router.patch("/applications/{application_id}", response_model=w.Application)
def update_application(db: DB, actor: Actor, application_id: PathId, body: w.ApplicationUpdate) -> w.Application:
    changes: dict[str, Any] = body.model_dump(exclude_unset=True, exclude={"version"})
    if None in changes.values():
        raise InvalidInput("fields cannot be set to null; leave them out to keep them")
    with db.write() as s:
        return _app(applications.update(s, actor, application_id, version=body.version, changes=changes))


@router.post("/applications/{application_id}/submit", response_model=w.Application)
def submit_application(db: DB, actor: Actor, application_id: PathId) -> w.Application:
    with db.write() as s:
        return _app(applications.submit(s, actor, application_id))


@router.post("/applications/{application_id}/withdraw", response_model=w.Application)
def withdraw_application(db: DB, actor: Actor, application_id: PathId) -> w.Application:
    with db.write() as s:
        return _app(applications.withdraw(s, actor, application_id))


@router.post("/applications/{application_id}/attachments", response_model=w.Attachment, status_code=201)
def add_attachment(db: DB, actor: Actor, settings: Config, application_id: PathId, file: UploadFile) -> w.Attachment:
    """multipart/form-data with one ``file``; type- and size-limited, stored under a generated name."""
    data = file.file.read(applications.MAX_ATTACHMENT_BYTES + 1)
    with db.write() as s:
        row = applications.add_attachment(s, actor, application_id, home=settings.home,
                                          filename=file.filename or "attachment",
                                          content_type=file.content_type or "", data=data)
        return w.Attachment.model_validate(row)


@router.get("/applications/{application_id}/attachments", response_model=list[w.Attachment])
def list_attachments(db: DB, actor: Actor, application_id: PathId) -> list[w.Attachment]:
    with db.read() as s:
        return [w.Attachment.model_validate(r) for r in applications.list_attachments(s, actor, application_id)]


@router.get("/applications/{application_id}/attachments/{attachment_id}", response_class=Response)
def download_attachment(db: DB, actor: Actor, settings: Config, application_id: PathId,
                        attachment_id: PathId) -> Response:
    with db.read() as s:
        row, data = applications.read_attachment(s, actor, application_id, attachment_id, settings.home)
    return Response(data, media_type=row.content_type,
                    headers={"Content-Disposition": f'attachment; filename="attachment-{row.id}"'})


@router.post("/applications/{application_id}/reviewers", response_model=w.Assignment, status_code=201)
def assign_reviewer(db: DB, actor: Actor, application_id: PathId, body: w.ReviewerAssign) -> w.Assignment:
    with db.write() as s:
        return w.Assignment.model_validate(reviews.assign(s, actor, application_id, username=body.username))


@router.get("/applications/{application_id}/reviews", response_model=list[w.Review])
def application_reviews(db: DB, actor: Actor, application_id: PathId) -> list[w.Review]:
    """What the caller may see of the reviews: see ``services.reviews`` for the blinding rules."""
    with db.read() as s:
        return [w.Review.model_validate(r) for r in reviews.reviews_of(s, actor, application_id)]


@router.post("/applications/{application_id}/decision", response_model=w.Application)
def decide(db: DB, actor: Actor, application_id: PathId, body: w.DecisionIn) -> w.Application:
    with db.write() as s:
        return _app(reviews.decide(s, actor, application_id, decision=body.decision, reason=body.reason,
                                   awarded_su=body.awarded_su, awarded_storage_gib=body.awarded_storage_gib))


# -- reviews (the reviewer's side) ------------------------------------------------------------------------

@router.get("/reviews", response_model=list[w.Assignment])
def my_reviews(db: DB, actor: Actor) -> list[w.Assignment]:
    with db.read() as s:
        return [w.Assignment.model_validate(r) for r in reviews.my_reviews(s, actor)]


@router.post("/reviews/{review_id}/scores", response_model=w.Assignment)
def submit_scores(db: DB, actor: Actor, review_id: PathId, body: w.Scores) -> w.Assignment:
    with db.write() as s:
        return w.Assignment.model_validate(reviews.submit_scores(s, actor, review_id, scores=body.scores,
                                                                 comment=body.comment))


@router.post("/reviews/{review_id}/conflict", response_model=w.Assignment)
def declare_conflict(db: DB, actor: Actor, review_id: PathId, body: w.ConflictDeclare) -> w.Assignment:
    with db.write() as s:
        return w.Assignment.model_validate(reviews.declare_conflict(s, actor, review_id, reason=body.reason))


# -- agreements --------------------------------------------------------------------------------------------

@router.get("/agreements", response_model=Page[w.Agreement])
def list_agreements(db: DB, actor: Actor, call_id: IdQ = None, limit: Limit = 50,
                    cursor: Cursor = None) -> Page[w.Agreement]:
    with db.read() as s:
        pg = agreements.list_agreements(s, actor, after=decode_cursor(cursor), limit=limit, call_id=call_id)
        return Page(items=[_agreement(g) for g in pg.items], next_cursor=encode_cursor(pg.next_after))


@router.get("/agreements/{agreement_id}", response_model=w.Agreement)
def get_agreement(db: DB, actor: Actor, agreement_id: PathId) -> w.Agreement:
    with db.read() as s:
        return _agreement(agreements.get(s, actor, agreement_id))


@router.post("/agreements/{agreement_id}/accept", response_model=w.Agreement)
def accept_agreement(db: DB, actor: Actor, config: Config, agreement_id: PathId) -> w.Agreement:
    """The organization accepts the terms; the project's allocation (with the awarded storage) is created in the
    same transaction, and a workspace quota it raises is applied to the file system at once."""
    from aicc.services import workspaces

    with db.write() as s:
        g = agreements.accept(s, actor, agreement_id)
        out = _agreement(g)
        quota = workspaces.quota_of(s, config, g.project_id)
    workspaces.apply_limit(config, g.project_id, quota)
    return out


@router.post("/agreements/{agreement_id}/decline", response_model=w.Agreement)
def decline_agreement(db: DB, actor: Actor, agreement_id: PathId) -> w.Agreement:
    with db.write() as s:
        return _agreement(agreements.decline(s, actor, agreement_id))


@router.get("/agreements/{agreement_id}/amendments", response_model=list[w.Amendment])
def list_amendments(db: DB, actor: Actor, agreement_id: PathId) -> list[w.Amendment]:
    with db.read() as s:
        return [w.Amendment.model_validate(m) for m in agreements.amendments(s, actor, agreement_id)]


@router.post("/agreements/{agreement_id}/amendments", response_model=w.Amendment, status_code=201)
def amend(db: DB, actor: Actor, config: Config, agreement_id: PathId, body: w.AmendmentIn) -> w.Amendment:
    """A storage reduction below what the workspace holds is refused (409) unless ``force_below_use``; a changed
    quota is applied to the file system once the amendment committed."""
    from aicc.services import workspaces

    actor.require_center_admin()  # before anything is looked up, as the service itself does
    with db.write() as s:
        project_id = agreements.get(s, actor, agreement_id).project_id
        before = workspaces.quota_of(s, config, project_id)
        row: AmendmentRow = agreements.amend(s, actor, agreement_id, kind=body.kind, delta_su=body.delta_su,
                                             ends_at=body.ends_at, reason=body.reason,
                                             delta_storage_gib=body.delta_storage_gib)
        out = w.Amendment.model_validate(row)
        quota = workspaces.quota_changing(s, config, actor, project_id, before, force=body.force_below_use)
    if quota != before:
        workspaces.apply_limit(config, project_id, quota)
    return out


@router.post("/agreements/{agreement_id}/outcomes", response_model=w.Outcome, status_code=201)
def report_outcome(db: DB, actor: Actor, agreement_id: PathId, body: w.OutcomeIn) -> w.Outcome:
    with db.write() as s:
        return w.Outcome.model_validate(agreements.report_outcome(s, actor, agreement_id, **body.model_dump()))


# -- utilization and reclaim -------------------------------------------------------------------------------

@router.post("/programs/utilization-checks", response_model=list[w.UtilizationResult])
def check_utilization(db: DB, actor: Actor, body: w.UtilizationCheckIn) -> list[w.UtilizationResult]:
    """Run the (monthly) check now: warnings, and reclaim proposals after the grace period."""
    with db.write() as s:
        return [w.UtilizationResult(agreement_id=c.agreement_id, status=c.status, planned_su=c.utilization.planned_su,
                                    used_su=c.utilization.used_su, ratio=c.utilization.ratio,
                                    unused_su=c.utilization.unused_su, shortfall_su=c.utilization.shortfall_su,
                                    reclaim_id=c.reclaim_id)
                for c in agreements.check_utilization(s, actor, force=body.force)]


@router.get("/reclaims", response_model=list[w.Reclaim])
def list_reclaims(db: DB, actor: Actor, state: rules.ReclaimState | None = None) -> list[w.Reclaim]:
    with db.read() as s:
        return [w.Reclaim.model_validate(r) for r in agreements.list_reclaims(s, actor, state=state)]


@router.post("/reclaims/{reclaim_id}/approve", response_model=w.Reclaim)
def approve_reclaim(db: DB, actor: Actor, reclaim_id: PathId, body: w.ReclaimApprove) -> w.Reclaim:
    with db.write() as s:
        r: ReclaimRow = agreements.approve_reclaim(s, actor, reclaim_id, amount_su=body.amount_su)
        return w.Reclaim.model_validate(r)


@router.post("/reclaims/{reclaim_id}/reject", response_model=w.Reclaim)
def reject_reclaim(db: DB, actor: Actor, reclaim_id: PathId) -> w.Reclaim:
    with db.write() as s:
        return w.Reclaim.model_validate(agreements.reject_reclaim(s, actor, reclaim_id))


# -- reports --------------------------------------------------------------------------------------------------

@router.get("/programs/{program_id}/report", response_model=w.Report)
def report(db: DB, actor: Actor, program_id: PathId, call_id: IdQ = None) -> w.Report:
    with db.read() as s:
        return w.Report.model_validate(program_reports.as_json(program_reports.build(s, actor, program_id,
                                                                                     call_id=call_id)))


@router.get("/programs/{program_id}/report.csv", response_class=Response,
            responses={200: {"content": {"text/csv": {}}}})
def report_csv(db: DB, actor: Actor, program_id: PathId, call_id: IdQ = None,
               section: Annotated[str, Query(pattern="^[a-z_]{1,40}$")] = "settlement") -> Response:
    if section not in program_reports.SECTIONS:
        raise InvalidInput(f"section is one of {', '.join(program_reports.SECTIONS)}")
    with db.read() as s:
        built = program_reports.build(s, actor, program_id, call_id=call_id)
    return Response(program_reports.to_csv(built.sections[section]), media_type="text/csv")


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get("/programs/{program_id}/report.xlsx", response_class=Response, responses={200: {"content": {XLSX: {}}}})
def report_xlsx(db: DB, actor: Actor, program_id: PathId, call_id: IdQ = None) -> Response:
    with db.read() as s:
        built = program_reports.build(s, actor, program_id, call_id=call_id)
    return Response(program_reports.to_xlsx(built), media_type=XLSX,
                    headers={"Content-Disposition": f'attachment; filename="{built.program}-report.xlsx"'})
