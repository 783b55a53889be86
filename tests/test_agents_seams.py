"""The agents' seams: the protocols, loop, run directory and job model import no LLM SDK,
and an LLM provider is one registry entry the Coder and Judge use unchanged."""

from __future__ import annotations

import subprocess
import sys

import pytest

from agents.config import AgentConfig, LLMSettings
from agents.factory import make_agents
from agents.providers import chat
from agents.providers.chat import ChatReply, UnknownProvider, make_client
from agents.usage import BudgetTracker, Usage
from tests.conftest import ROOT


class EchoClient:
    """A provider that answers every chat with the same fenced candidate."""

    def __init__(self, settings: LLMSettings, api_key: str | None, tracker: BudgetTracker):
        self.settings, self.tracker = settings, tracker

    def chat(self, messages, *, response_format=None) -> ChatReply:
        usage = Usage(calls=1, prompt_tokens=10, completion_tokens=5)
        self.tracker.add(usage)
        text = "```python\nclass ModelNew:\n    pass\n```"
        return ChatReply(text=text, usage=usage, duration_s=0.0, model=self.settings.model)


def test_the_agent_stack_imports_without_the_openai_sdk():
    code = (
        "import sys; sys.modules['openai'] = None\n"  # any `import openai` now fails
        "import agents.protocols, agents.loop, agents.rundir, agents.factory, agents.providers.chat\n"
        "import worker.fleet.jobs, worker.cli.run_cmd, worker.cli.jobs_cmd\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr


def test_the_cli_registers_every_command_without_heavy_imports():
    """`kwright --help` imports every command module: they must leave the LLM SDK, torch,
    numpy and jinja2 (the leaderboard's) to the commands themselves."""
    code = (
        "import sys\n"
        "from worker.cli import run\n"
        "code = run(['--help'])\n"
        "heavy = [m for m in ('openai', 'torch', 'numpy', 'jinja2') if m in sys.modules]\n"
        "sys.stderr.write(f'{code} {heavy}')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert "leaderboard" in proc.stdout and "--version" in proc.stdout  # the full help
    assert proc.stderr == "0 []"


def test_a_registered_provider_serves_the_llm_agents(monkeypatch):
    monkeypatch.setitem(chat.PROVIDERS, "echo", f"{__name__}:EchoClient")
    config = AgentConfig(agent="llm", llm=LLMSettings(provider="echo", model="m"))
    tracker = BudgetTracker(config.budget)
    coder, judge = make_agents(config, tracker, api_key=None)
    assert isinstance(coder.client, EchoClient) and judge.client is coder.client  # type: ignore[attr-defined]
    reply = coder.client.chat([{"role": "user", "content": "hi"}])  # type: ignore[attr-defined]
    assert "ModelNew" in reply.text and tracker.spent.total_tokens == 15


def test_an_unknown_provider_is_named():
    with pytest.raises(UnknownProvider, match="unknown LLM provider 'nope' \\(known: openai"):
        make_client(LLMSettings(provider="nope"), None, BudgetTracker(AgentConfig().budget))
