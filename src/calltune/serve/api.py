"""The HTTP side of `calltune serve`: a FastAPI app over an `Engine`. It never touches tensors.

    POST /v1/chat/completions   OpenAI chat completions with tools (streaming: server-sent events)
    GET  /v1/models             the one model served (and GET /v1/models/ID)
    GET  /health                status and counters (requests, batch, drafts, prefix-cache savings)

A request is read with a size limit (413), decoded (400), checked (`schema.parse_request`: 400),
its model matched (404), rendered and given its grammar (`Engine.prepare`: 400), then queued
(`Engine.submit`: 503 when the queue is full). A non-streaming request waits for its answer
(504 past the server's request timeout); a client that disconnects cancels its request, which
frees its batch slot. Streaming sends `chat.completion.chunk` events: the role, content and
tool-call deltas (`stream.AnswerStream`), a last chunk with `finish_reason`, the usage chunk if
`stream_options.include_usage`, then `data: [DONE]`. Every error, ours or a bug's, is OpenAI's
`{"error": {"message", "type", "param", "code"}}`; no traceback reaches a client. With an API
key, /v1 routes need `Authorization: Bearer KEY` (401).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import secrets
import time

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from calltune.serve import schema
from calltune.serve.config import ServeConfig
from calltune.serve.engine import Engine, Failed, Finished, Progress, QueueFull, RequestProblem
from calltune.serve.schema import ApiError
from calltune.serve.stream import AnswerStream, answer_message

log = logging.getLogger("calltune.serve")
FAILURES = {"timeout": (504, "timeout_error", "request_timeout"), "shutdown": (503, "server_error", "shutdown"),
            "internal": (500, "server_error", "internal_error"), "cancelled": (499, "server_error", "cancelled")}
DISCONNECT_POLL_S = 0.5


def error_response(err: ApiError) -> JSONResponse:
    headers = {"Retry-After": "1"} if err.status == 503 else None
    return JSONResponse(err.body(), status_code=err.status, headers=headers)


def failure_error(event: Failed) -> ApiError:
    status, kind, code = FAILURES[event.kind]
    return ApiError(status, event.message, None, code, kind)


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 past `limit` bytes (by Content-Length, or while reading)."""
    too_big = ApiError(413, f"the request body is larger than this server's limit of {limit} bytes", None,
                       "request_too_large")
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise too_big
    body = bytearray()
    async for piece in request.stream():
        body += piece
        if len(body) > limit:
            raise too_big
    return bytes(body)


def create_app(engine: Engine, config: ServeConfig | None = None) -> FastAPI:
    """The app serving `engine` (started and stopped by the caller) under `config`'s limits."""
    config = config or ServeConfig()
    app = FastAPI(title="calltune serve", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.engine, app.state.config = engine, config
    model_id = config.served_model_name
    started = int(time.time())

    @app.exception_handler(ApiError)
    async def api_error(request: Request, err: ApiError):
        return error_response(err)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, err: HTTPException):
        code = {404: "not_found", 405: "method_not_allowed"}.get(err.status_code)
        return error_response(ApiError(err.status_code, f"{request.method} {request.url.path}: {err.detail}",
                                       None, code))

    @app.exception_handler(Exception)
    async def internal_error(request: Request, err: Exception):
        log.exception("internal error")
        return error_response(ApiError(500, f"internal error: {type(err).__name__}", None, "internal_error",
                                       "server_error"))

    def authorize(request: Request) -> None:
        if config.api_key is None:
            return
        given = request.headers.get("authorization", "")
        scheme, _, token = given.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), config.api_key.encode()):
            raise ApiError(401, "missing or wrong API key: send 'Authorization: Bearer KEY'", None,
                           "invalid_api_key")

    @app.get("/health")
    async def health():
        return {"status": "ok", "model": model_id, **engine.stats()}

    card = {"id": model_id, "object": "model", "created": started, "owned_by": "calltune"}

    @app.get("/v1/models")
    async def models(request: Request):
        authorize(request)
        return {"object": "list", "data": [card]}

    @app.get("/v1/models/{name:path}")
    async def model(name: str, request: Request):
        authorize(request)
        if name != model_id:
            raise ApiError(404, f"the model '{name}' does not exist: this server serves '{model_id}'", "model",
                           "model_not_found")
        return card

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request):
        authorize(request)
        raw = await read_body(request, config.max_body_bytes)
        try:
            body = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ApiError(400, f"the request body is not valid JSON: {err}", None, "invalid_json") from None
        req = schema.parse_request(body, config.max_tools, config.max_messages)
        if req.model != model_id:
            raise ApiError(404, f"the model '{req.model}' does not exist: this server serves '{model_id}'",
                           "model", "model_not_found")
        try:
            prepared = await run_in_threadpool(engine.prepare, req.messages, req.tools, req.tool_choice,
                                               req.parallel_tool_calls, req.max_tokens)
        except RequestProblem as err:
            raise ApiError(400, str(err), err.param, err.code) from None
        loop = asyncio.get_running_loop()
        events: asyncio.Queue = asyncio.Queue()

        def on_event(event):  # on the engine's thread
            loop.call_soon_threadsafe(events.put_nowait, event)

        try:
            job = engine.submit(prepared, on_event, req.stream, config.request_timeout)
        except QueueFull as err:
            raise ApiError(503, f"the server is busy: {err}", None, "queue_full", "server_error") from None
        cid, created = "chatcmpl-" + secrets.token_hex(12), int(time.time())
        if req.stream:
            return StreamingResponse(sse(job, events, req, cid, created, model_id), media_type="text/event-stream",
                                     headers={"Cache-Control": "no-cache"})
        try:
            event = await wait_answer(request, events)
        finally:
            job.cancel()  # a no-op once finished; frees the slot when the client went away
        if event is None:
            return error_response(failure_error(Failed("cancelled", "the client disconnected")))
        if isinstance(event, Failed):
            return error_response(failure_error(event))
        content, calls = answer_message(event.text)
        return schema.completion(cid, created, model_id, content, calls,
                                 schema.finish_reason(event.finish_reason, calls),
                                 schema.usage(event.prompt_tokens, event.completion_tokens, event.cached_tokens))

    return app


async def wait_answer(request: Request, events: asyncio.Queue):
    """The request's `Finished` or `Failed` event; None if the client disconnected first."""
    while True:
        try:
            event = await asyncio.wait_for(events.get(), DISCONNECT_POLL_S)
        except asyncio.TimeoutError:
            if await request.is_disconnected():
                return None
            continue
        if isinstance(event, (Finished, Failed)):
            return event


def _event(obj) -> str:
    return f"data: {json.dumps(obj, ensure_ascii=False)}\n\n"


def _delta(d) -> dict:
    if d.content is not None:
        return {"content": d.content}
    call = {"index": d.index, "function": {"arguments": d.arguments}}
    if d.id is not None:
        call = {"index": d.index, "id": d.id, "type": "function", "function": {"name": d.name, "arguments": ""}}
    return {"tool_calls": [call]}


async def sse(job, events: asyncio.Queue, req, cid: str, created: int, model_id: str):
    """The server-sent events of a streaming request; cancels the job if the client goes away."""
    tracker = AnswerStream()
    try:
        yield _event(schema.chunk(cid, created, model_id, {"role": "assistant", "content": ""}))
        while True:
            event = await events.get()
            if isinstance(event, Failed):
                yield _event(failure_error(event).body())
                yield "data: [DONE]\n\n"
                return
            for d in tracker.update(event.text, final=isinstance(event, Finished)):
                yield _event(schema.chunk(cid, created, model_id, _delta(d)))
            if isinstance(event, Progress):
                continue
            _, calls = answer_message(event.text)
            reason = schema.finish_reason(event.finish_reason, calls)
            yield _event(schema.chunk(cid, created, model_id, {}, reason))
            if req.include_usage:
                usage = schema.usage(event.prompt_tokens, event.completion_tokens, event.cached_tokens)
                yield _event(schema.chunk(cid, created, model_id, None, usage_=usage))
            yield "data: [DONE]\n\n"
            return
    finally:
        job.cancel()
