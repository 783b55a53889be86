"""A real HTTP server on loopback that speaks the OpenAI chat-completions API, with
scripted replies. The real `openai` client talks to it (nothing in the SDK is patched).

Requests are routed to a "coder" or a "judge" script: a request that carries
`response_format`, or whose system prompt says "You are the Judge", goes to the judge.
Each script entry is a `Scripted` reply: content, an HTTP error status, a delay, a raw
(malformed) body, or a finish reason. When a script runs out, its `default` answers.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Scripted:
    content: str | None = None
    status: int = 200
    delay_s: float = 0.0
    raw_body: str | None = None  # sent as-is (e.g. malformed JSON)
    finish_reason: str = "stop"
    prompt_tokens: int = 1000
    completion_tokens: int = 500
    reasoning_tokens: int = 0
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Recorded:
    route: str
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def system(self) -> str:
        return next((m["content"] for m in self.body["messages"] if m["role"] == "system"), "")

    @property
    def user(self) -> str:
        return "\n".join(m["content"] for m in self.body["messages"] if m["role"] == "user")


class FakeOpenAI:
    def __init__(self) -> None:
        self.scripts: dict[str, list[Scripted]] = {"coder": [], "judge": []}
        self.defaults: dict[str, Scripted] = {
            "coder": Scripted(
                status=500, raw_body='{"error": {"message": "coder script exhausted"}}'
            ),
            "judge": Scripted(
                status=500, raw_body='{"error": {"message": "judge script exhausted"}}'
            ),
        }
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def script(self, route: str, *replies: Scripted) -> None:
        with self._lock:
            self.scripts[route].extend(replies)

    def requests_for(self, route: str) -> list[Recorded]:
        return [r for r in self.requests if r.route == route]

    def _next(self, route: str) -> Scripted:
        with self._lock:
            queue = self.scripts[route]
            return queue.pop(0) if queue else self.defaults[route]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return None

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                system = next(
                    (
                        m.get("content", "")
                        for m in body.get("messages", [])
                        if m.get("role") == "system"
                    ),
                    "",
                )
                route = (
                    "judge"
                    if "response_format" in body or "You are the Judge" in system
                    else "coder"
                )
                with fake._lock:
                    fake.requests.append(
                        Recorded(route, body, {k.lower(): v for k, v in self.headers.items()})
                    )
                reply = fake._next(route)
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                if reply.raw_body is not None:
                    payload = reply.raw_body.encode()
                else:
                    payload = json.dumps(
                        {
                            "id": f"chatcmpl-{len(fake.requests)}",
                            "object": "chat.completion",
                            "created": int(time.time()),
                            "model": body.get("model", "fake"),
                            "choices": [
                                {
                                    "index": 0,
                                    "message": {"role": "assistant", "content": reply.content},
                                    "finish_reason": reply.finish_reason,
                                }
                            ],
                            "usage": {
                                "prompt_tokens": reply.prompt_tokens,
                                "completion_tokens": reply.completion_tokens,
                                "total_tokens": reply.prompt_tokens + reply.completion_tokens,
                                "completion_tokens_details": {
                                    "reasoning_tokens": reply.reasoning_tokens
                                },
                            },
                        }
                    ).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    for key, value in reply.headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    return  # the client gave up (timeout); nothing to answer

        return Handler
