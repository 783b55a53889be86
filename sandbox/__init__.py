"""Where candidate code runs: sandbox backends and the evaluation that drives them."""

from sandbox.base import (
    Sandbox,
    SandboxJob,
    SandboxLimits,
    SandboxOutcome,
    SandboxUnavailable,
    get_sandbox,
    register_sandbox,
    sandbox_names,
)

__all__ = [
    "Sandbox",
    "SandboxJob",
    "SandboxLimits",
    "SandboxOutcome",
    "SandboxUnavailable",
    "get_sandbox",
    "register_sandbox",
    "sandbox_names",
]
