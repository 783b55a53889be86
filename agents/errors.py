"""The one error an agent (Coder or Judge) raises, with a typed kind.

Providers translate their SDK's exceptions into `AgentError`; the loop decides from
`kind.fatal` whether the job ends (the endpoint is unusable) or the failure is fed back
to the next round, without knowing any provider's vocabulary.
"""

from __future__ import annotations

from enum import StrEnum


class AgentErrorKind(StrEnum):
    TIMEOUT = "timeout"
    CONNECTION = "connection"
    RATE_LIMIT = "rate_limit"
    AUTH = "auth"
    SERVER = "server"
    BAD_REQUEST = "bad_request"
    BAD_REPLY = "bad_reply"  # the endpoint answered something unusable: fed back, not fatal
    ERROR = "error"

    @property
    def fatal(self) -> bool:
        """True where retrying next round cannot help: the job ends `failed`."""
        return self not in (AgentErrorKind.BAD_REPLY, AgentErrorKind.ERROR)


class AgentError(RuntimeError):
    """An agent call failed after its provider's retries; `kind` says how."""

    def __init__(self, kind: AgentErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
