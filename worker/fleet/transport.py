"""kombu's Redis transport, made to survive a malformed message in a queue.

kombu decodes the JSON envelope of each message it pops from a Redis list inside the
worker's event loop; a list item that is not JSON (anything pushed there by hand or by a
broken producer) raises out of the loop and stops the whole worker ("Unrecoverable
error"). This transport logs one line and drops such an item instead, so one bad message
cannot take a worker down. Messages that are valid envelopes with a bad body are already
rejected by Celery itself. The app selects it with `broker_transport`.
"""

from __future__ import annotations

import logging
from queue import Empty
from typing import Any

from kombu.transport import redis as kombu_redis

log = logging.getLogger(__name__)


class BrokerUnavailable(RuntimeError):
    """The broker refused or did not answer; the message names it (no password)."""


class Channel(kombu_redis.Channel):
    def _brpop_read(self, **options: Any) -> bool:
        try:
            return bool(super()._brpop_read(**options))
        except ValueError as exc:  # json.JSONDecodeError, UnicodeDecodeError
            log.error("dropped a malformed message (not a kombu message: %s)", exc)
            raise Empty() from exc


class Transport(kombu_redis.Transport):
    Channel = Channel
