"""A replay corpus of model replies, as reasoning models, chat models and local servers
(vLLM, Ollama, llama.cpp) send them, each served by a real HTTP server on loopback and
read by the real `openai` client, with its asserted outcome: which candidate the Coder
takes, or why there is none. Then the Judge's replies the same way, and the failure
policy by role (issue 27)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import pytest

from agents.config import AgentConfig, Budget, LLMSettings
from agents.errors import AgentError, AgentErrorKind
from agents.llm.coder import LLMCoder
from agents.llm.extract import SEPARATE_BLOCKS_HELP, extract_candidate
from agents.llm.judge import LLMJudge
from agents.prompts import coder_messages, is_no_advice
from agents.protocols import AttemptView, CoderContext, JudgeContext
from agents.providers.openai_client import LLMClient
from agents.usage import BudgetTracker
from kernelbench.harness.static.check import check_candidate
from kernelbench.problems.registry import resolve_problem, solution_path
from kernelbench.protocol.result import EvalResult, Status
from tests.fake_openai import FakeOpenAI, Scripted

RELU = resolve_problem("level1/2_ReLU")
GOOD = solution_path(RELU).read_text()
GOOD_CUDA = (solution_path(RELU).parent / "2_ReLU_cuda.py").read_text()
TORCH_RELU = (
    "import torch\nimport torch.nn as nn\n\n\nclass ModelNew(nn.Module):\n"
    "    def forward(self, x):\n        return torch.relu(x)\n"
)
DRAFT = GOOD.replace("BLOCK = 1024", "BLOCK = 256")
CUDA_KERNEL = GOOD_CUDA.split('CUDA_SRC = r"""', 1)[1].split('"""', 1)[0].strip() + "\n"
WRAPPER = """import torch
from torch import nn
from torch.utils.cpp_extension import load

ext = load(name="kw_relu_split", sources=["relu_kernel.cu"], verbose=False)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        return ext.relu(x.contiguous())
"""


def py(code: str, lang: str = "python") -> str:
    return f"```{lang}\n{code}```"


@dataclass
class Shape:
    """One reply: the message the server sends and what the Coder must make of it."""

    id: str
    message: dict[str, Any]
    expect: str | None  # the candidate the Coder must take; None: no candidate
    reason: str = ""  # no candidate: a piece of the failure; candidate: of the note
    kind: str = ""  # the reply kind where it is not the obvious one
    finish: str = "stop"
    usage: dict[str, Any] | None = field(
        default_factory=lambda: {"prompt_tokens": 900, "completion_tokens": 400}
    )
    backend: str = "triton"


def content(text: str | None, **extra: Any) -> dict[str, Any]:
    return {"role": "assistant", "content": text, **extra}


THINK_INLINE = (
    "<think>The user wants a Triton ReLU. The answer goes in a ```python block, so I "
    "should write ``` fences around the whole file. Let me plan: one pass.</think>\n\n"
    "Here is the kernel.\n\n" + py(GOOD) + "\n"
)
SHAPES = [
    Shape("chat-plain", content("Plan: one pass over memory.\n\n" + py(GOOD) + "\n"), GOOD),
    Shape("think-inline-fence-mention", content(THINK_INLINE), GOOD),  # why 1
    Shape(
        "think-unclosed-draft-inside",
        content("<think>draft:\n```python\nclass ModelNew:\n</think>\nFinal:\n" + py(GOOD)),
        GOOD,
    ),
    Shape(
        "closed-blocks-without-modelnew",  # why 1: not "never closed"
        content("Helper first:\n```python\nx = 1\n```\nThat is the ```python part.\n"),
        None,
        "no code block defines `class ModelNew`",
    ),
    Shape(  # why 2
        "complete-block-then-cut-prose",
        content(py(GOOD) + "\n\nThis kernel is memory-bound because each elem"),
        GOOD,
        finish="length",
    ),
    Shape(  # why 3
        "kernel-then-simpler-reference",
        content(
            py(GOOD)
            + "\n\nFor reference, a simpler equivalent in plain PyTorch:\n\n"
            + py(TORCH_RELU)
            + "\n"
        ),
        GOOD,
    ),
    Shape(
        "kernel-then-torch-block-unannounced",
        content(py(GOOD) + "\n\nAlso:\n\n" + py(TORCH_RELU)),
        GOOD,
        "first to pass the static check",
    ),
    Shape(
        "torch-draft-then-kernel-in-thinking-tag",
        content("<thinking>\n" + py(TORCH_RELU) + "\n</thinking>\n" + py(GOOD)),
        GOOD,
    ),
    Shape("draft-then-final", content("Draft:\n" + py(DRAFT) + "\nFinal:\n" + py(GOOD)), GOOD),
    Shape(
        "final-then-broken-retry",
        content(py(GOOD) + "\nOr, fused:\n" + py(GOOD.replace("):\n", ")\n", 1))),
        GOOD,
    ),
    Shape(  # why 5
        "empty-content-answer-in-reasoning-content",
        content("", reasoning_content="I will write it.\n" + py(GOOD)),
        GOOD,
    ),
    Shape(
        "null-content-answer-in-reasoning-ollama",
        content(None, reasoning="Thinking...\n" + py(GOOD)),
        GOOD,
    ),
    Shape(
        "reasoning-content-and-answer",
        content(py(GOOD), reasoning_content="a torch draft:\n" + py(TORCH_RELU)),
        GOOD,
    ),
    Shape(  # why 5
        "refusal-field",
        content(None, refusal="I can't help with writing that code."),
        None,
        "I can't help with writing that code.",
        kind="refusal",
    ),
    Shape(
        "refusal-in-content",
        content("I'm sorry, but I can't assist with that request."),
        None,
        "can't assist",
        kind="refusal",
    ),
    Shape(
        "deepseek-r1-missing-open-think",
        content("Okay, so I need a ReLU. ```python is the format.\n</think>\n\n" + py(GOOD)),
        GOOD,
    ),
    Shape(
        "reasoning-tag",
        content("<reasoning>use ``` fences</reasoning>\n" + py(GOOD)),
        GOOD,
    ),
    Shape(
        "think-never-closed-cut-off",
        content("<think>Let me think about the tiling. First ```python blocks..."),
        None,
        "while still reasoning",
        finish="length",
    ),
    Shape(
        "gpt-oss-harmony-leak",
        content(
            "<|channel|>analysis<|message|>We need ```python.<|end|><|start|>assistant"
            "<|channel|>final<|message|>" + py(GOOD)
        ),
        GOOD,
    ),
    Shape("llamacpp-no-usage", content(py(GOOD)), GOOD, usage=None),
    Shape(
        "vllm-usage-without-details",
        content(py(GOOD)),
        GOOD,
        usage={"prompt_tokens": 10, "completion_tokens": 20, "total_tokens": 30},
    ),
    Shape("crlf", content(("Plan.\n\n" + py(GOOD) + "\n").replace("\n", "\r\n")), GOOD),
    Shape(
        "trailing-whitespace",
        content("Plan.  \n\n```python   \n" + GOOD.replace("\n", "  \n") + "```   \n\n"),
        GOOD,
    ),
    Shape(
        "tool-call-code-argument",
        content(
            None,
            tool_calls=[
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "submit", "arguments": json.dumps({"code": GOOD})},
                }
            ],
        ),
        GOOD,
        finish="tool_calls",
    ),
    Shape(
        "tool-call-fenced-argument",
        content(
            "",
            tool_calls=[
                {
                    "id": "call_2",
                    "type": "function",
                    "function": {"name": "answer", "arguments": json.dumps({"text": py(GOOD)})},
                }
            ],
        ),
        GOOD,
        finish="tool_calls",
    ),
    Shape(
        "tool-call-arguments-as-object",
        content(
            None,
            tool_calls=[
                {
                    "id": "call_3",
                    "type": "function",
                    "function": {"name": "submit", "arguments": {"source": GOOD}},
                }
            ],
        ),
        GOOD,
        finish="tool_calls",
    ),
    Shape(
        "glued-fences",
        content("Here is the code:```python\n" + GOOD.rstrip("\n") + "```\nDone."),
        GOOD,
        "glued fences",
    ),
    Shape("json-mode-content", content(json.dumps({"code": GOOD})), GOOD),
    Shape("content-parts-list", content([{"type": "text", "text": "Here:\n" + py(GOOD)}]), GOOD),
    Shape("unfenced", content("Here is the file.\n\n" + GOOD), GOOD),
    Shape("tilde-fence", content("~~~python\n" + GOOD + "~~~\n"), GOOD),
    Shape(
        "indented-fence-in-list",
        content(
            "1. The code:\n\n   ```python\n"
            + "".join(f"   {ln}\n" if ln else "\n" for ln in GOOD.splitlines())
            + "   ```\n"
        ),
        GOOD,
    ),
    Shape("untagged-fence", content(py(GOOD, "")), GOOD),
    Shape("uppercase-tag", content(py(GOOD, "Python")), GOOD),
    Shape(
        "block-then-usage-example",
        content(py(GOOD) + "\nUsage:\n```python\nm = ModelNew()\n```\n"),
        GOOD,
    ),
    Shape(
        "cut-off-inside-block",
        content("```python\n" + GOOD[:200]),
        None,
        "inside the code block",
        finish="length",
    ),
    Shape("closing-fence-forgotten", content("Final answer:\n```python\n" + GOOD), GOOD),
    Shape(
        "opened-never-closed-partial",
        content("```python\n" + GOOD[: GOOD.index("class ModelNew")] + "class ModelNew("),
        None,
        "never closed",
    ),
    Shape("prose-only", content("I would tile the loads in shared memory."), None, "no code"),
    Shape("empty", content(""), None, "the reply was empty"),
    Shape("cuda-backend-single-file", content(py(GOOD_CUDA)), GOOD_CUDA, backend="cuda"),
    Shape(  # why 4
        "cuda-block-plus-file-wrapper",
        content(
            "**relu_kernel.cu**\n```cuda\n" + CUDA_KERNEL + "```\n\nThe wrapper:\n" + py(WRAPPER)
        ),
        "assembled",
        "assembled",
        backend="cuda",
    ),
    Shape(  # why 4: what cannot be assembled is named
        "cuda-block-only",
        content("```cuda\n" + CUDA_KERNEL + "```\n"),
        None,
        "put the CUDA source in a Python string",
        backend="cuda",
    ),
]


@pytest.fixture(scope="module")
def fake():
    with FakeOpenAI() as server:
        yield server


def body(shape: Shape) -> str:
    payload: dict[str, Any] = {
        "id": f"chatcmpl-{shape.id}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": "local-model",
        "choices": [{"index": 0, "message": shape.message, "finish_reason": shape.finish}],
    }
    if shape.usage is not None:
        payload["usage"] = shape.usage
    return json.dumps(payload)


def client(fake: FakeOpenAI, budget: Budget | None = None, **kw: Any) -> LLMClient:
    kw.setdefault("max_retries", 0)
    settings = LLMSettings(model="local-model", base_url=fake.base_url, **kw)
    return LLMClient(settings, "sk-test-not-a-real-key", BudgetTracker(budget or Budget()))


def context(backend: str = "triton") -> CoderContext:
    config = AgentConfig(agent="llm", backend=backend)  # type: ignore[arg-type]
    return CoderContext(problem=RELU, problem_source=RELU.source(), config=config, round=1)


def propose(fake: FakeOpenAI, shape: Shape):
    fake.script("coder", Scripted(raw_body=body(shape)))
    return LLMCoder(client(fake)).propose(context(shape.backend))


def test_the_corpus_is_large_and_distinct():
    assert len(SHAPES) >= 30
    assert len({s.id for s in SHAPES}) == len(SHAPES)


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: s.id)
def test_replay(fake, shape):
    proposal = propose(fake, shape)
    if shape.expect is None:
        assert proposal.source is None, proposal.notes
        assert shape.reason in (proposal.failure or "")
        assert proposal.notes["reply_kind"] == (shape.kind or "no_candidate")
    elif shape.expect == "assembled":
        assert proposal.source is not None, proposal.failure
        report = check_candidate(proposal.source, shape.backend)
        assert report.violations == [] and "load_inline(" in proposal.source
        assert "__global__ void relu_vec4_kernel" in proposal.source
        assert shape.reason in str(proposal.notes.get("extraction"))
    else:
        assert proposal.source == shape.expect, (proposal.failure, proposal.notes)
        assert proposal.notes["reply_kind"] == "candidate"
        assert shape.reason in str(proposal.notes.get("extraction", ""))
    if shape.usage is None:
        assert proposal.usage.calls == 1 and proposal.usage.cost_usd is None
    # reply.md keeps what came beside the content
    for key in ("refusal", "reasoning_content", "reasoning"):
        if shape.message.get(key):
            assert shape.message[key] in proposal.reply


def _texts(shape: Shape) -> str:
    message = shape.message
    parts = [json.dumps(message)]
    for value in message.values():
        if isinstance(value, str):
            parts.append(value.replace("\r\n", "\n"))
    return "\n".join(parts)


def test_no_clean_kernel_in_the_corpus_is_lost(fake):
    """Every reply that holds a static-check-clean ModelNew yields that candidate."""
    clean = {"triton": [GOOD], "cuda": [GOOD_CUDA]}
    for kernel in (GOOD, GOOD_CUDA):
        backend = "cuda" if kernel is GOOD_CUDA else "triton"
        assert check_candidate(kernel, backend).violations == []
    holding = 0
    for shape in SHAPES:
        text = _texts(shape)
        held = [
            k
            for k in clean[shape.backend]
            if k in text or json.dumps(k)[1:-1] in text or k.replace("\n", "  \n") in text
        ]
        if not held:
            continue
        holding += 1
        proposal = propose(fake, shape)
        assert proposal.source in held, (shape.id, proposal.failure, proposal.notes)
    assert holding >= 25


def test_the_coder_is_told_what_was_wrong_with_separate_blocks():
    got = extract_candidate("```cuda\n" + CUDA_KERNEL + "```\n", backend="cuda")
    assert got.source is None and got.failure is not None
    assert SEPARATE_BLOCKS_HELP in got.failure
    # the wrapper naming a file the reply does not hold
    wrapper = WRAPPER.replace("relu_kernel.cu", "other.cu")
    two = "```cuda\n" + CUDA_KERNEL + "```\n```cuda\n" + CUDA_KERNEL + "```\n" + py(wrapper)
    got = extract_candidate(two, backend="cuda")
    assert got.note is not None and "`other.cu`" in got.note


# ---------------------------------------------------------------------- the Judge
REPAIR = {
    "critical_issue": "the mask is missing",
    "why_it_matters": "out of bounds",
    "minimal_fix": "mask=offs < n",
}


def judge_context(correct: bool) -> JudgeContext:
    config = AgentConfig(agent="llm")
    status = Status.CORRECT if correct else Status.INCORRECT
    result = EvalResult(problem_id=RELU.id, status=status, correct=correct)
    attempt = AttemptView(attempt=1, round=1, source=GOOD, result=result)
    return JudgeContext(
        problem=RELU, problem_source=RELU.source(), config=config, round=1, attempt=attempt
    )


def review(fake: FakeOpenAI, reply: str, correct: bool = False):
    fake.script("judge", Scripted(content=reply))
    judge = LLMJudge(client(fake), structured=False)
    return judge.review(judge_context(correct)).feedback


@pytest.mark.parametrize(
    ("reply", "correct", "expect"),
    [
        pytest.param(  # why 6
            "The kernel uses `tl.arange(0, {BLOCK})` and {n} elements.\n" + json.dumps(REPAIR),
            False,
            {"critical_issue": "the mask is missing", "minimal_fix": "mask=offs < n"},
            id="prose-with-braces-before",
        ),
        pytest.param(
            "Look at {this}: ```json\n" + json.dumps(REPAIR) + "\n``` done {",
            False,
            {"critical_issue": "the mask is missing"},
            id="fenced-after-braces",
        ),
        pytest.param(  # why 6
            json.dumps(
                {
                    "Bottleneck": "memory-bound",
                    "optimisation method": "vectorize",
                    "modification plan": "1. use float4\n2. BLOCK=4096",
                }
            ),
            True,
            {"method": "vectorize", "plan": ["use float4", "BLOCK=4096"]},
            id="british-spelling-and-plan-string",
        ),
        pytest.param(  # why 6
            json.dumps(
                {
                    "bottleneck": "memory",
                    "method": "wider blocks",
                    "plan": [
                        {"step": 1, "description": "BLOCK=4096"},
                        {"step": 2, "action": "num_warps=8", "reason": "more loads in flight"},
                    ],
                }
            ),
            True,
            {"plan": ["BLOCK=4096", "num_warps=8 (reason: more loads in flight)"]},
            id="plan-as-list-of-objects",
        ),
        pytest.param(
            json.dumps({"advice": {"issue": "no mask", "fix": "add mask"}}),
            False,
            {"critical_issue": "no mask", "minimal_fix": "add mask"},
            id="nested-and-synonyms",
        ),
        pytest.param(
            '<think>maybe {"critical_issue": "draft"}</think>' + json.dumps(REPAIR),
            False,
            {"critical_issue": "the mask is missing"},
            id="reasoning-before-json",
        ),
        pytest.param(
            json.dumps(
                {
                    "bottlenecks": [
                        {"bottleneck": "uncoalesced loads", "method": "transpose", "plan": "a"},
                        {"bottleneck": "launch", "method": "fuse", "plan": "b"},
                    ]
                }
            ),
            True,
            {"bottleneck": "uncoalesced loads", "plan": ["a"]},
            id="ranked-bottlenecks",
        ),
        pytest.param(
            "Sure! {'critical_issue': 'no mask', 'minimal_fix': 'add mask',}",
            False,
            {"critical_issue": "no mask"},
            id="python-dict-literal",
        ),
        pytest.param(
            "```json\n" + json.dumps(REPAIR, indent=2).replace("\n", "\r\n") + "\n```",
            False,
            {"why_it_matters": "out of bounds"},
            id="crlf-fenced",
        ),
    ],
)
def test_the_judge_reads_replies_tolerantly(fake, reply, correct, expect):
    feedback = review(fake, reply, correct)
    assert feedback.source == "llm" and not is_no_advice(feedback)
    for key, value in expect.items():
        assert getattr(feedback, "why" if key == "why_it_matters" else key) == value


@pytest.mark.parametrize(
    "reply", ["not json at all", '{"verdict": "looks fine"}', ""], ids=["prose", "other", "empty"]
)
def test_no_usable_advice_is_said_so_to_the_coder(fake, reply):
    feedback = review(fake, reply)
    assert is_no_advice(feedback) and feedback.source == "fallback"
    ctx = context().model_copy(
        update={"round": 2, "previous": judge_context(False).attempt, "feedback": feedback}
    )
    user = coder_messages(ctx)[1]["content"]
    assert "No advice this round" in user
    assert "Fix the failure reported" not in user and "Critical issue:" not in user


# ---------------------------------------------------------------------- retries
def test_a_long_retry_after_is_capped(fake):
    fake.script(
        "coder",
        Scripted(status=429, raw_body='{"error": {}}', headers={"retry-after": "3600"}),
        Scripted(content=py(GOOD)),
    )
    started = time.monotonic()
    reply = client(fake, max_retries=1, max_retry_after_s=0.2).chat(
        [{"role": "user", "content": "x"}]
    )
    assert time.monotonic() - started < 10 and "ModelNew" in reply.text


def test_a_retry_after_past_the_wall_budget_is_not_waited(fake):
    fake.script(
        "coder", Scripted(status=503, raw_body='{"error": {}}', headers={"retry-after": "30"})
    )
    started = time.monotonic()
    with pytest.raises(AgentError) as err:
        client(fake, Budget(max_wall_s=5), max_retries=3).chat([{"role": "user", "content": "x"}])
    assert err.value.kind == AgentErrorKind.SERVER and time.monotonic() - started < 5


# ---------------------------------------------------------------------- the loop, by role
OPTIMIZE = json.dumps({"bottleneck": "memory", "method": "wider blocks", "plan": ["BLOCK=4096"]})


def run_loop(fake: FakeOpenAI, home, **kw: Any):
    from agents.job import run_job
    from sandbox.base import get_sandbox
    from sandbox.defaults import default_sandbox_name

    llm = LLMSettings(
        model="gpt-4o-mini",
        base_url=fake.base_url,
        max_retries=kw.pop("retries", 0),
        request_timeout_s=kw.pop("request_timeout", 30),
    )
    config = AgentConfig(agent="llm", llm=llm, **kw)
    with get_sandbox(default_sandbox_name()) as box:
        return run_job([RELU], config, home, box, api_key="sk-test-not-a-real-key")


def test_a_failing_judge_endpoint_gives_no_advice_and_the_loop_goes_on(tmp_path):
    """Why 5 and 7 through the loop: a refusal is recorded (record, reply.md, summary); the
    Judge answering 500 gives no advice, said so to the Coder, and the job ends `done`."""
    from worker.cli.run_summary import run_json, summary

    refusal = Shape("r", content(None, refusal="I can't help with that."), None)
    with FakeOpenAI() as server:  # the judge script is empty: every Judge call answers 500
        server.script(
            "coder",
            Scripted(raw_body=body(refusal)),
            Scripted(content=py(GOOD)),
            Scripted(content=py(GOOD)),
        )
        rundir, info = run_loop(server, tmp_path, rounds=3, patience=5)
        coder = server.requests_for("coder")
    result = info.results[RELU.id]
    assert info.status == "done" and result.status == "done"  # exit 0, not `failed`
    assert result.best is not None and result.best.correct and len(result.attempts) == 3
    first, second = result.attempts[:2]
    assert first.reply_kind == "refusal" and "I can't help with that." in (first.reason or "")
    reply_md = (rundir.problem(RELU.id).attempt_dir(1) / "reply.md").read_text()
    assert "I can't help with that." in reply_md
    assert second.judged and second.advice is not None and second.advice.startswith("no advice")
    assert "500" in second.advice
    assert "No advice this round" in coder[2].user and "Improve memory access" not in coder[2].user
    rounds = run_json(info, rundir, "test")["problems"][0]["rounds"]
    assert [r["reply"] for r in rounds] == ["refusal", "candidate", "candidate"]
    assert rounds[1]["judge"].startswith("no advice")
    text = " ".join(str(r) for r in summary(info, rundir, "test").renderables)
    assert "round 1: refusal" in text and "no advice" in text


def test_a_timed_out_coder_round_is_retried_once(tmp_path):
    with FakeOpenAI() as server:
        server.script("coder", Scripted(content=py(GOOD), delay_s=3), Scripted(content=py(GOOD)))
        server.script("judge", Scripted(content=OPTIMIZE))
        _, info = run_loop(server, tmp_path, rounds=1, request_timeout=1)
        assert len(server.requests_for("coder")) == 2
    result = info.results[RELU.id]
    assert result.status == "done" and result.best is not None and result.best.correct
    assert result.attempts[0].coder_retry is not None
    assert "timed out" in result.attempts[0].coder_retry


def test_a_coder_endpoint_that_keeps_failing_still_ends_the_job(tmp_path):
    with FakeOpenAI() as server:  # every Coder call answers 500
        _, info = run_loop(server, tmp_path, rounds=3)
        assert len(server.requests_for("coder")) == 2  # one try, one round-level retry
    result = info.results[RELU.id]
    assert result.status == "failed" and "500" in result.stop_reason


def test_a_judge_endpoint_without_structured_outputs_gets_json_in_text(fake):
    fake.script(
        "judge",
        Scripted(status=400, raw_body='{"error": {"message": "response_format not supported"}}'),
        Scripted(content="Here:\n" + json.dumps(REPAIR)),
    )
    judge = LLMJudge(client(fake), structured=True)
    feedback = judge.review(judge_context(False)).feedback
    assert feedback.critical_issue == "the mask is missing" and not judge.structured
    last = fake.requests_for("judge")[-1]
    assert "response_format" not in last.body and '"critical_issue"' in last.system
