"""Security of the web face: response headers, the optional bearer token, the upload size limit.

All three are plain ASGI middleware (no request body is buffered by them).
"""

from __future__ import annotations

import hashlib
import hmac
from http.cookies import SimpleCookie
from typing import Optional

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: No inline script or style anywhere: everything the page needs is served by the app.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)

SECURITY_HEADERS = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
)

SESSION_COOKIE = "radassist_session"

#: Paths open without the token: the health check, the login form and the page's own CSS/JS.
OPEN_PATHS = ("/healthz", "/login", "/static/")


class SecurityHeaders:
    """Adds the Content-Security-Policy and friends to every response."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in SECURITY_HEADERS if k not in names]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def session_value(token: str) -> str:
    """The cookie a browser keeps after logging in: a MAC of the token, not the token itself."""
    return hmac.new(token.encode(), b"radassist-session-v1", hashlib.sha256).hexdigest()


def is_authorised(token: Optional[str], authorization: Optional[str], cookie_header: Optional[str]) -> bool:
    """True when no token is configured, or the request carries it (bearer header or session cookie)."""
    if not token:
        return True
    if authorization:
        scheme, _, given = authorization.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode()):
            return True
    if cookie_header:
        cookie = SimpleCookie()
        try:
            cookie.load(cookie_header)
        except Exception:  # noqa: BLE001 - a malformed cookie is simply not a session
            return False
        morsel = cookie.get(SESSION_COOKIE)
        if morsel and hmac.compare_digest(morsel.value.encode(), session_value(token).encode()):
            return True
    return False


class UploadTooLarge(HTTPException):
    def __init__(self, limit_bytes: int):
        super().__init__(413, f"the upload is larger than the limit of {limit_bytes / 1e6:g} MB")


class BodySizeLimit:
    """Refuses request bodies larger than ``limit_bytes`` (413) while they stream in.

    A declared Content-Length over the limit is refused before any byte is
    read; otherwise the bytes are counted as the form parser reads them, and
    reading stops as soon as the limit is passed.
    """

    def __init__(self, app: ASGIApp, limit_bytes: int):
        self.app = app
        self.limit_bytes = limit_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit_bytes:
            scope.setdefault("state", {})["body_too_large"] = True
        received = 0
        limit = self.limit_bytes

        async def counted_receive() -> Message:
            nonlocal received
            if scope.get("state", {}).get("body_too_large"):
                raise UploadTooLarge(limit)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise UploadTooLarge(limit)
            return message

        await self.app(scope, counted_receive, send)
