"""The HTTP side of ``sweepml serve``: a Starlette application around a loaded model.

Starlette, not FastAPI: the endpoints take bodies in MLflow's formats, which a schema library
would only re-parse, and the smaller stack answers a one-row request faster (``README.md``,
"Serving"). Each request is answered with JSON; an error is ``{"error_code", "message"}`` with
the status of its cause, and no exception, however odd the request, reaches the client as a
traceback or ends the worker. One log line per request: method, path, status, rows, ms.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sweepml import __version__
from sweepml.serve.batching import Batcher
from sweepml.serve.errors import ERROR_CODES, RequestError
from sweepml.serve.protocol import Invocation
from sweepml.serve.service import Service, load_service
from sweepml.serve.settings import ServeSettings, settings_from_environment

__all__ = ["ServeSettings", "app_from_environment", "build_app"]

logger = logging.getLogger("sweepml.serve")

INLINE_PARSE_BYTES = 64 * 1024  # bodies up to this size are parsed on the event loop


def build_app(service: Service, settings: ServeSettings) -> ASGIApp:
    """The application serving ``service`` (its model already loaded) under ``settings``."""
    batcher = Batcher(service, settings.max_batch_rows, settings.threads)

    async def invocations(request: Request) -> Response:
        return await _guarded(request, predict(request))

    async def predict(request: Request) -> Response:
        body = await _body(request, settings.max_body_bytes)
        content_type = request.headers.get("content-type")
        query = dict(request.query_params)

        def parsed() -> Invocation:
            invocation = service.parse(body, content_type, query)
            request.state.rows = rows = len(invocation.rows)
            if rows > settings.max_rows:
                raise RequestError(
                    413,
                    f"the request has {rows} rows; this server takes at most "
                    f"{settings.max_rows} per request (--max-rows).",
                )
            service.check(invocation)
            return invocation

        try:
            async with asyncio.timeout(settings.timeout):
                # a small body parses faster than a thread starts; a large one would block others
                small = len(body) <= INLINE_PARSE_BYTES
                invocation = parsed() if small else await run_in_threadpool(parsed)
                return _json(await batcher.predict(invocation))
        except TimeoutError as exc:
            raise RequestError(
                504, f"the prediction took longer than {settings.timeout:g} s (--timeout)."
            ) from exc

    async def ping(request: Request) -> Response:
        return _json({"status": "ok"})

    async def version(request: Request) -> Response:
        return _json({"sweepml": __version__})

    async def metadata(request: Request) -> Response:
        return await _guarded(request, run_in_threadpool(lambda: _json(service.metadata())))

    routes = [
        Route("/invocations", invocations, methods=["POST"]),
        Route("/ping", ping, methods=["GET"]),
        Route("/health", ping, methods=["GET"]),
        Route("/version", version, methods=["GET"]),
        Route("/metadata", metadata, methods=["GET"]),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={HTTPException: _http_error},
    )
    return RequestLog(app)


def app_from_environment() -> ASGIApp:
    """The application of one worker under ``--workers N``: the settings come from the
    environment, and the model is loaded here, before the worker answers."""
    settings = settings_from_environment()
    return build_app(load_service(settings.model, compiled=settings.compiled), settings)


async def _body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it passes ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(int(declared), limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(size, limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(size: int, limit: int) -> RequestError:
    return RequestError(
        413,
        f"the body has {'more than ' if size > limit else ''}{size / 1024 / 1024:.1f} MB; this "
        f"server takes at most {limit / 1024 / 1024:g} MB (--max-body-mb).",
    )


def _json(content: Any, status: int = 200) -> Response:
    return JSONResponse(content, status_code=status)


async def _guarded(request: Request, answer: Awaitable[Response]) -> Response:
    """``answer``, or the JSON error of what went wrong: a ``RequestError``'s status, else 500
    with the exception's type and message (logged; never a traceback to the client)."""
    try:
        return await answer
    except RequestError as exc:
        return _json(exc.body(), exc.status)
    except Exception as exc:  # noqa: BLE001 - the worker answers and goes on
        logger.error("%s %s failed: %s: %s", request.method, request.url.path,
                     type(exc).__name__, exc)  # fmt: skip
        message = f"the model failed on this request: {type(exc).__name__}: {exc}"
        return _json({"error_code": ERROR_CODES[500], "message": message}, 500)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = ERROR_CODES.get(exc.status_code, "BAD_REQUEST")
    messages = {
        404: f"no endpoint {request.url.path!r}; the endpoints are /invocations (POST), /ping, "
        f"/health, /version and /metadata (GET).",
        405: f"{request.method} is not allowed on {request.url.path}.",
    }
    message = messages.get(exc.status_code, str(exc.detail))
    return _json({"error_code": code, "message": message}, exc.status_code)


class RequestLog:
    """ASGI middleware: one line per request (method, path, status, rows, milliseconds)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            rows = scope.get("state", {}).get("rows", "-")
            logger.info(
                "%s %s %d rows=%s %.1f ms",
                scope["method"], scope["path"], status, rows, (time.perf_counter() - start) * 1e3,
            )  # fmt: skip
