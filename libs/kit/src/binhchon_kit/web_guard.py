"""What every request and answer passes before the routes see it (issue 13, ADR 0027).

In: a body larger than ``max_body_bytes`` is answered 413 before anything parses it, whether its size is declared
(``Content-Length``) or not (chunked): it is counted as it arrives. A JSON body is parsed once here, strictly:
``NaN``, ``Infinity`` and numbers that overflow a double (``1e309``) or go beyond ±2^53 (RFC 7493, I-JSON), nesting
deeper than ``MAX_DEPTH`` and strings longer than ``MAX_STRING`` are a 422 in FastAPI's validation shape; every
string is normalised (NFC, zero-width and bidirectional controls removed) so that what the models validate,
compare and store is what a reader sees.

Uploads: a route named in ``uploads`` (a file upload: its own, larger limit) is not buffered here. A declared
``Content-Length`` beyond its limit is answered 413 at once; otherwise the body streams through to the route,
which counts it as it reads (a chunked body has no declared size) and stores it without holding it in memory.
A route pattern named in ``route_limits`` (``/ho-so/{dossier_id}/bo-sung``: each ``{…}`` one path segment) is
guarded as any other route, only with its own cap: for a route that parses its body itself (a form with files).

Out: HTML answers carry a Content-Security-Policy (with ``frame-ancestors``); every answer carries
``X-Content-Type-Options: nosniff`` and a ``Referrer-Policy``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from binhchon_kit.text import normalise_text

MAX_DEPTH = 32
MAX_STRING = 20_000  # a backstop: the models bound each field far lower (Text 500, LongText 5000)
MAX_SAFE_INTEGER = 2**53

HTML_POLICY = ("default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; "
               "base-uri 'none'; frame-ancestors 'none'")
# Swagger UI and ReDoc load their scripts from a CDN; they are off in production (ServiceSettings.deployment)
DOCS_PATHS = ("/docs", "/redoc")


class BadBody(ValueError):
    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


def _reject_constant(name: str) -> Any:
    raise BadBody(f"{name} is not a number JSON allows", "number_not_finite")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise BadBody(f"{text} overflows a number", "number_not_finite")
    return value


def _safe_int(text: str) -> int:
    if len(text.lstrip("-")) > 16 or abs(value := int(text)) > MAX_SAFE_INTEGER:
        raise BadBody("integers beyond ±2^53 are not accepted", "number_too_large")
    return value


def clean_json(body: bytes) -> tuple[Any, bool]:
    """The parsed body, and whether normalising changed any string. Raises BadBody."""
    try:
        document = json.loads(body, parse_constant=_reject_constant, parse_float=_finite_float, parse_int=_safe_int)
    except BadBody:
        raise
    except RecursionError:
        raise BadBody(f"nesting deeper than {MAX_DEPTH} levels", "too_deep") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadBody(f"not JSON: {exc}", "json_invalid") from None
    changed = False

    def walk(value: Any, depth: int) -> Any:
        nonlocal changed
        if depth > MAX_DEPTH:
            raise BadBody(f"nesting deeper than {MAX_DEPTH} levels", "too_deep")
        if isinstance(value, str):
            if len(value) > MAX_STRING:
                raise BadBody(f"a string longer than {MAX_STRING} characters", "string_too_long")
            clean = normalise_text(value)
            changed = changed or clean != value
            return clean
        if isinstance(value, list):
            return [walk(item, depth + 1) for item in value]
        if isinstance(value, dict):
            return {walk(k, depth + 1): walk(v, depth + 1) for k, v in value.items()}
        return value

    return walk(document, 0), changed


def _is_json(content_type: str | None) -> bool:
    if not content_type:
        return True  # FastAPI reads a body without a content type as JSON
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


class RequestGuard:
    """Pure ASGI (no BaseHTTPMiddleware): it must see the body's chunks as they arrive, before any parser."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, uploads: Mapping[str, int] | None = None,
                 route_limits: Mapping[str, int] | None = None) -> None:
        """``uploads``: the paths of upload routes (POST), each with its own body limit in bytes, streamed through.
        ``route_limits``: route patterns (POST) whose bodies are counted and buffered as any other, to their own
        cap in bytes instead of ``max_body_bytes``."""
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.uploads = dict(uploads or {})
        self.route_limits = [(_route_pattern(route), cap) for route, cap in (route_limits or {}).items()]

    def _limit(self, scope: Scope) -> int:
        if scope.get("method") == "POST":
            path = scope.get("path", "")
            for pattern, cap in self.route_limits:
                if pattern.fullmatch(path):
                    return cap
        return self.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        send = self._with_safety_headers(scope, send)
        headers = Headers(scope=scope)
        declared = headers.get("content-length")
        upload_limit = self.uploads.get(scope.get("path", "")) if scope.get("method") == "POST" else None
        if upload_limit is not None:
            if declared is not None and (not declared.isdigit() or int(declared) > upload_limit):
                await self._too_large(send, upload_limit)
                return
            await self.app(scope, receive, send)  # the route counts what it reads
            return
        limit = self._limit(scope)
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await self._too_large(send, limit)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await self._too_large(send, limit)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if body and _is_json(headers.get("content-type")):
            try:
                document, changed = clean_json(body)
            except BadBody as exc:
                await _answer(send, 422, {"detail": [{"type": exc.kind, "loc": ["body"], "msg": str(exc),
                                                      "input": None}]})
                return
            if changed:
                body = json.dumps(document, ensure_ascii=False).encode("utf-8")
                scope = dict(scope)
                mutable = MutableHeaders(scope=scope)
                mutable["content-length"] = str(len(body))
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, send: Send, limit: int | None = None) -> None:
        limit = self.max_body_bytes if limit is None else limit
        await _answer(send, 413, {"detail": f"the request body exceeds {limit} bytes", "max_body_bytes": limit})

    @staticmethod
    def _with_safety_headers(scope: Scope, send: Send) -> Send:
        docs = scope.get("path", "").startswith(DOCS_PATHS)

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("x-content-type-options", "nosniff")
                headers.setdefault("referrer-policy", "no-referrer")
                if headers.get("content-type", "").startswith("text/html") and not docs:
                    headers.setdefault("content-security-policy", HTML_POLICY)
            await send(message)

        return sending


def _route_pattern(route: str) -> re.Pattern[str]:
    """``/ho-so/{dossier_id}/bo-sung`` as a pattern of the whole path, each ``{…}`` one segment (no slash)."""
    return re.compile("".join("[^/]+" if part.startswith("{") else re.escape(part)
                              for part in re.split(r"(\{[^}/]*\})", route)))


async def _answer(send: Send, status: int, content: dict[str, Any]) -> None:
    body = json.dumps(content, ensure_ascii=False).encode("utf-8")
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer")]})
    await send({"type": "http.response.body", "body": body})
