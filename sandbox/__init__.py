"""Where candidate code runs: sandbox backends and the evaluation that drives them."""

from sandbox.base import (
    CONTAINMENT,
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
    "CONTAINMENT",
    "Sandbox",
    "SandboxJob",
    "SandboxLimits",
    "SandboxOutcome",
    "SandboxUnavailable",
    "get_sandbox",
    "register_sandbox",
    "sandbox_names",
]
