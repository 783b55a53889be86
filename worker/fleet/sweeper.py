"""The sweeper: every live worker takes back the jobs of workers that were lost.

A worker that dies whole (SIGKILL, a machine gone, a spot instance taken back) leaves its
job `running` with a lease nobody renews, and its unacknowledged message comes back only
after the Redis visibility timeout (hours: it must exceed the longest job). Each worker
therefore runs one sweeper thread: once a running job's lease has lapsed by the grace
period (one more lease), the sweeper puts it back to `queued` in one store transaction
(of several sweepers exactly one wins) and publishes a fresh message for it, ahead of the
jobs that have not started yet (it was started first; see worker.fleet.submit). A late
duplicate of the old message is harmless: the job is finished or held by then.

The sweeper wakes every `KWRIGHT_SWEEP_INTERVAL_S`, and sooner when it knows a running
job falls due earlier, so a lost job is usually back on its queue right at lease + grace.
If publishing fails (the broker is down), the job is queued without a message; the
sweeper publishes it again on its next rounds. Every `KWRIGHT_ORPHAN_AFTER_S / 2` it also
looks for queued jobs whose message was lost without any lease lapsing (worker/fleet/orphans.py)
and publishes those again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from worker.config import Settings
from worker.fleet.jobs import Job, MalformedJob, now
from worker.fleet.store import JobStore, StoreUnavailable
from worker.fleet.transport import BrokerUnavailable

log = logging.getLogger(__name__)

MIN_WAIT_S = 0.2
Publish = Callable[[list[Job]], None]
Finder = Callable[[], list[Job]]  # queued jobs whose message was lost (worker/fleet/orphans.py)


class Sweeper:
    """A daemon thread recovering lost workers' jobs from `store` for worker `name`."""

    def __init__(
        self,
        settings: Settings,
        store: JobStore,
        name: str,
        publish: Publish | None,
        orphans: Finder | None = None,
    ) -> None:
        self.settings, self.store, self.name, self.publish = settings, store, name, publish
        self.orphans = orphans
        self._orphans_checked = time.monotonic()  # the first check after one interval
        self._unpublished: dict[str, Job] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kwright-sweeper", daemon=True)

    def start(self) -> Sweeper:
        log.info(
            "sweeper of %s: lost workers' jobs go back to their queue %.0f s after their "
            "lease lapses (checked every %.0f s)",
            self.name,
            self.settings.recovery_grace_s,
            self.settings.sweep_interval_s,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        wait = 0.0
        while not self._stop.wait(wait):
            wait = self.sweep_once()

    def sweep_once(self) -> float:
        """One sweep; returns how long to wait before the next."""
        s = self.settings
        try:
            recovered, next_due = self.store.recover_lapsed(
                s.recovery_grace_s, s.max_deliveries, self.name
            )
        except (StoreUnavailable, MalformedJob) as exc:
            log.warning("sweeper: %s; trying again in %.0f s", exc, s.sweep_interval_s)
            return s.sweep_interval_s
        for r in recovered:
            if r.job.status == "queued":
                log.info(
                    "job %s: recovered from lost worker %s after %.1f s without a heartbeat; "
                    "back on queue %s (delivery %d of at most %d so far)",
                    r.job.id,
                    r.worker,
                    r.silent_s,
                    r.job.spec.queue,
                    r.job.state.deliveries,
                    s.max_deliveries,
                )
                self._unpublished[r.job.id] = r.job
            else:
                log.error("job %s: %s", r.job.id, r.job.state.error)
        self._find_orphans()
        self._publish()
        wait = s.sweep_interval_s
        if next_due is not None:
            wait = min(wait, max(MIN_WAIT_S, next_due - now() + 0.05))
        return wait

    def _find_orphans(self) -> None:
        if self.orphans is None:
            return
        if time.monotonic() - self._orphans_checked < self.settings.orphan_after_s / 2:
            return
        self._orphans_checked = time.monotonic()
        try:
            found = self.orphans()
        except (StoreUnavailable, MalformedJob) as exc:
            log.warning("sweeper: looking for lost messages: %s", exc)
            return
        for job in found:
            self._unpublished[job.id] = job

    def _publish(self) -> None:
        if self.publish is None:  # the embedded worker pulls queued jobs from the store
            self._unpublished.clear()
            return
        if not self._unpublished:
            return
        jobs = list(self._unpublished.values())
        try:
            self.publish(jobs)
        except BrokerUnavailable as exc:
            log.warning(
                "sweeper: could not publish %d recovered job(s) (%s); retrying", len(jobs), exc
            )
            return
        self._unpublished.clear()
