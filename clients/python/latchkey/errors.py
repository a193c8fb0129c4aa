"""Errors raised by the latchkey client. Every failure is one of these; none is ever "valid".

LatchkeyError
  BadRequest (400)            the request was refused as malformed (a bug in the caller)
  Unauthorized (401)          the admin key, a session, a token or a grant was refused
    InvalidSession            a session token that is unknown, expired, destroyed or rotated
    InvalidToken              an access token that does not verify
    InvalidGrant              a refresh token that is unknown, expired, reused or revoked
    InvalidCredentials        login_flow: the password was wrong (the failure is recorded)
  Forbidden (403)
  NotFound (404)
  Conflict (409)              version_conflict, session_limit_reached
  PayloadTooLarge (413)
  RateLimited (429)           retry_after: seconds; account_locked or rate_limited
  Unavailable (503, or latchkey unreachable, timed out, or answering garbage): fail closed
  OAuthError                  an RFC 6749 error from POST /v1/oauth/authorizations (redirect_to)
"""

from __future__ import annotations

from typing import Any, Mapping, Optional


class LatchkeyError(Exception):
    """A refused or failed call. `status` is the HTTP status (0 when there was no answer),
    `error` the machine-readable code, `description` the server's text."""

    def __init__(self, status: int, error: str, description: str = "",
                 body: Optional[Mapping[str, Any]] = None) -> None:
        super().__init__(f"{status} {error}: {description}" if description else f"{status} {error}")
        self.status = status
        self.error = error
        self.description = description
        self.body: Mapping[str, Any] = body or {}


class BadRequest(LatchkeyError):
    pass


class Unauthorized(LatchkeyError):
    pass


class InvalidSession(Unauthorized):
    pass


class InvalidToken(Unauthorized):
    pass


class InvalidGrant(Unauthorized):
    pass


class InvalidCredentials(Unauthorized):
    """Raised by Latchkey.login_flow when the password check returned False. `failures`,
    `locked` and `retry_after` are latchkey's answer to the recorded failure."""

    def __init__(self, failures: int, locked: bool, retry_after: int) -> None:
        super().__init__(401, "invalid_credentials",
                         "wrong user name or password" + (" (now locked)" if locked else ""))
        self.failures = failures
        self.locked = locked
        self.retry_after = retry_after


class Forbidden(LatchkeyError):
    pass


class NotFound(LatchkeyError):
    pass


class Conflict(LatchkeyError):
    pass


class PayloadTooLarge(LatchkeyError):
    pass


class RateLimited(LatchkeyError):
    """429: `retry_after` is the number of seconds to wait (at least 1)."""

    def __init__(self, status: int, error: str, description: str = "",
                 body: Optional[Mapping[str, Any]] = None, retry_after: int = 1) -> None:
        super().__init__(status, error, description, body)
        self.retry_after = max(1, int(retry_after))


class Unavailable(LatchkeyError):
    """latchkey answered 503, or could not be reached or understood in time. Callers must
    treat the session or token in question as not valid (fail closed) and may retry after
    `retry_after` seconds."""

    def __init__(self, error: str = "unavailable", description: str = "",
                 body: Optional[Mapping[str, Any]] = None, retry_after: int = 1, status: int = 503) -> None:
        super().__init__(status, error, description, body)
        self.retry_after = max(1, int(retry_after))


class OAuthError(LatchkeyError):
    """An RFC 6749 4.1.2.1 error from the authorization endpoint. When `redirect_to` is set,
    send the user agent there (the client learns the error); otherwise show an error page."""

    def __init__(self, status: int, error: str, description: str = "",
                 body: Optional[Mapping[str, Any]] = None) -> None:
        super().__init__(status, error, description, body)
        self.redirect_to: Optional[str] = (body or {}).get("redirect_to")


_BY_STATUS = {400: BadRequest, 401: Unauthorized, 403: Forbidden, 404: NotFound,
              409: Conflict, 413: PayloadTooLarge}
_BY_CODE = {"invalid_session": InvalidSession, "invalid_token": InvalidToken,
            "invalid_grant": InvalidGrant}


def error_for(status: int, body: Mapping[str, Any], retry_after: Optional[str]) -> LatchkeyError:
    """The typed error for an answer that is not a success."""
    code = str(body.get("error", "")) or f"http_{status}"
    text = str(body.get("error_description", ""))
    after = _retry_after(retry_after, body)
    if status == 429:
        return RateLimited(status, code, text, body, after)
    if status == 503 or status >= 500:
        return Unavailable(code, text, body, after, status)
    cls = _BY_CODE.get(code) or _BY_STATUS.get(status) or LatchkeyError
    return cls(status, code, text, body)


def _retry_after(header: Optional[str], body: Mapping[str, Any]) -> int:
    for v in (header, body.get("retry_after")):
        try:
            if v is not None:
                return max(1, int(v))
        except (TypeError, ValueError):
            pass
    return 1
