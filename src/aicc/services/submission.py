"""The fast submission path: checks from a short-lived cache, writes grouped into shared transactions.

Users loop over ``aicc submit`` like over ``sbatch``, and pipelines submit
thousands of jobs at once. Two costs dominate a naive path: reading the same
reference data (inventory, projects, allocations) for every job, and one commit
per job on a database with a single writer. So: reference data is cached for
``TTL`` seconds (an allocation granted a moment ago may take that long to count),
and one writer thread drains the queue, writing every waiting submission in one
transaction (group commit). A submission that fails inside a batch is retried
alone, so one bad job never fails its neighbours; each job still gets its own
audit event.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from concurrent.futures import Future

from aicc.config import Settings
from aicc.services import generation, jobs
from aicc.services.principal import Principal
from aicc.store.db import Database

log = logging.getLogger("aicc.submission")
TTL = 2.0
MAX_BATCH = 256


class Submitter:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self._ref: jobs.Reference | None = None
        self._ref_at = 0.0
        self._ref_gen = -1
        self._ref_lock = threading.Lock()
        self._queue: queue.SimpleQueue[tuple[Principal, jobs.Prepared, Future[jobs.Submitted]] | None] = \
            queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._thread_lock = threading.Lock()

    def invalidate(self) -> None:
        """Drop the cached reference data (after an inventory load or an allocation change here)."""
        with self._ref_lock:
            self._ref = None

    def _stale(self) -> bool:
        return self._ref is None or self._ref_gen != generation.current() or time.monotonic() - self._ref_at > TTL

    def fresh(self) -> jobs.Reference | None:
        """The cached reference data when still fresh (no database, no thread hop), else None."""
        ref = self._ref
        return None if ref is None or self._stale() else ref

    def reference(self) -> jobs.Reference:
        with self._ref_lock:
            if self._ref is None or self._stale():
                gen = generation.current()
                with self.db.read() as s:
                    self._ref = jobs.load_reference(s)
                self._ref_at, self._ref_gen = time.monotonic(), gen
            return self._ref

    def _ensure_writer(self) -> None:
        with self._thread_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._write_loop, name="aicc-submit", daemon=True)
                self._thread.start()

    def submit_sync(self, actor: Principal, spec: jobs.JobSpec) -> Future[jobs.Submitted]:
        """Check now (raises on bad input), queue the write; the future resolves when it committed."""
        prepared = jobs.check(actor, self.settings, spec, self.reference())
        fut: Future[jobs.Submitted] = Future()
        self._ensure_writer()
        self._queue.put((actor, prepared, fut))
        return fut

    async def submit(self, actor: Principal, spec: jobs.JobSpec) -> jobs.Submitted:
        if self._stale():
            await asyncio.to_thread(self.reference)
        return await asyncio.wrap_future(self.submit_sync(actor, spec))

    def close(self) -> None:
        self._queue.put(None)

    def _write_loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            batch = [item]
            while len(batch) < MAX_BATCH:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._queue.put(None)
                    break
                batch.append(nxt)
            self._write(batch)

    def _write(self, batch: list[tuple[Principal, jobs.Prepared, Future[jobs.Submitted]]]) -> None:
        try:
            with self.db.write() as s:
                plain = [i for i, (_, p, _) in enumerate(batch) if not p.spec.array and not p.spec.depends_on]
                results: list[jobs.Submitted | None] = [None] * len(batch)
                for i, done in zip(plain, jobs.write_many(s, [(batch[i][0], batch[i][1]) for i in plain]),
                                   strict=True):
                    results[i] = done
                for i, (actor, prepared, _) in enumerate(batch):
                    if results[i] is None:
                        results[i] = jobs.write(s, actor, prepared)
        except Exception:  # retried one by one below, each failing on its own
            if len(batch) == 1:
                actor, prepared, fut = batch[0]
                try:
                    with self.db.write() as s:
                        fut.set_result(jobs.write(s, actor, prepared))
                except Exception as exc:  # handed to the waiting request
                    fut.set_exception(exc)
                return
            for one in batch:
                self._write([one])
            return
        for (_, _, fut), result in zip(batch, results, strict=True):
            assert result is not None
            fut.set_result(result)
