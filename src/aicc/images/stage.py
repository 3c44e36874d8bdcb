"""The controller's gate before starting admitted image jobs: record the digest, wait for the pull, or fail.

Called once per cycle with the admitted jobs about to start; never blocks (``ImageCache.request`` only reads
or starts background work). An image job stays ``admitted`` while its image is resolved and pulled, holding
its placement, with the progress as its reason; the controller is woken when the pull moves on. The digest a
reference resolved to is written on the job the first time it is known and never changed after, so a rerun
or a requeued attempt pulls the same bits even if the tag has moved.
"""

from __future__ import annotations

from sqlalchemy import select

from aicc.controller.lifecycle import requeue
from aicc.core.errors import InvalidInput
from aicc.core.images import RegistryPolicy, parse_image_ref
from aicc.core.jobs import JobState
from aicc.core.jobs.reasons import Reason, ReasonCode
from aicc.executors.base import ImageSpec
from aicc.images.cache import ImageCache, ImageStatus, Phase
from aicc.store.db import Database
from aicc.store.models import JobRow, utcnow

ENGINES_WITH_IMAGES = ("local", "slurm")  # Slurm: the controller's cache, on the node here (docs/images.md)


def stage(db: Database, cache: ImageCache, policy: RegistryPolicy, engine: str, job_ids: list[int]
          ) -> tuple[dict[int, ImageSpec], set[int]]:
    """(images ready, by job id; jobs that must not start this cycle) for the admitted ``job_ids``."""
    if not job_ids:
        return {}, set()
    with db.read() as s:
        rows = s.execute(select(JobRow.id, JobRow.image_ref, JobRow.image_digest,
                                JobRow.cancel_requested | JobRow.preempt_requested).where(
            JobRow.id.in_(job_ids), JobRow.image_ref.is_not(None))).all()
    ready: dict[int, ImageSpec] = {}
    hold: set[int] = set()
    news: dict[int, tuple[str | None, Reason | None, bool]] = {}  # job -> (digest, reason, failed)
    stop: set[int] = set()
    for job_id, ref_text, digest, stopping in rows:
        assert ref_text is not None  # selected for it
        if stopping:  # cancelled or preempted while its image was on its way: it never starts
            hold.add(job_id)
            stop.add(job_id)
            continue
        if engine not in ENGINES_WITH_IMAGES:
            hold.add(job_id)
            news[job_id] = (None, Reason(ReasonCode.IMAGE_ENGINE, {"engine": engine}), True)
            continue
        try:  # checked again: the center may have stopped allowing the registry since the submit
            ref = parse_image_ref(ref_text, policy)
        except InvalidInput as exc:
            hold.add(job_id)
            news[job_id] = (None, Reason(ReasonCode.IMAGE_FAILED, {"detail": exc.detail}), True)
            continue
        status = cache.request(ref.pinned(digest) if digest else ref)
        if status.phase is Phase.READY and status.rootfs is not None and status.digest is not None:
            ready[job_id] = ImageSpec(ref_text, status.digest, status.rootfs, cache.env(status.digest))
            if digest is None:
                news[job_id] = (status.digest, None, False)
            continue
        hold.add(job_id)
        news[job_id] = (status.digest if digest is None else None, _reason(ref_text, status),
                        status.phase is Phase.FAILED)
    if news or stop:
        with db.write() as s:
            for job_id in stop:
                job = s.get(JobRow, job_id)
                if job is None or job.state != JobState.ADMITTED.value or job.external_id:
                    continue
                if job.cancel_requested:
                    job.state, job.ended_at = JobState.CANCELLED.value, utcnow()
                else:
                    requeue(job, Reason(ReasonCode.IMAGE_PREEMPTED))
            for job_id, (new_digest, reason, failed) in news.items():
                job = s.get(JobRow, job_id)
                if job is None or job.state != JobState.ADMITTED.value or job.external_id:
                    continue
                if new_digest and job.image_digest is None:
                    job.image_digest = new_digest
                if failed and reason is not None:
                    job.state, job.ended_at = JobState.FAILED.value, utcnow()
                    job.set_reason(reason)
                elif reason is not None and job.reason != reason.text():
                    job.set_reason(reason)
    return ready, hold


def _reason(ref: str, status: ImageStatus) -> Reason:
    """The job's reason while its image is on its way, or why it never came."""
    if status.phase is Phase.FAILED:
        return Reason(ReasonCode.IMAGE_FAILED, {"detail": status.message})
    code = {Phase.PULLING: ReasonCode.IMAGE_PULLING, Phase.UNPACKING: ReasonCode.IMAGE_UNPACKING}.get(status.phase)
    if code is None:
        return Reason(ReasonCode.IMAGE_RESOLVING, {"image": ref})
    return Reason(code, {"image": ref, "percent": status.percent or 0})
