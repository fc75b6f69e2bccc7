"""Security headers on every response: a CSP without inline script, no framing, no sniffing, and
over HTTPS (or when FORMWORK_SECURE_COOKIES says so) HSTS and the Secure flag on our cookies.

Scripts come only from /static; styles may be inline because FullCalendar and htmx inject them.
"""
from __future__ import annotations

from flask import Flask, Response, current_app, request
from flask.sessions import SecureCookieSessionInterface

from engine.config import cookies_must_be_secure

CSP = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))
# A year, the value browsers' preload lists expect; subdomains are left out because other
# services of the same company may still be served over plain HTTP.
HSTS = "max-age=31536000"


def cookies_secure() -> bool:
    """Whether this request's cookies get the Secure flag and its response HSTS."""
    return cookies_must_be_secure(current_app.config["SECURE_COOKIES"], current_app.config["BASE_URL"],
                                  request.is_secure)


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session whose Secure flag follows `cookies_secure` per request."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return cookies_secure()


def add_security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if cookies_secure():
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    return response


def init_app(app: Flask) -> None:
    app.session_interface = SessionInterface()
    app.after_request(add_security_headers)
