"""latchkey: a client for the latchkey session, token and login-protection server.

    from latchkey import Latchkey
    lk = Latchkey("http://127.0.0.1:8080", api_key)
    s = lk.create_session("alice", data={"role": "admin"})
    lk.validate_session(s.token)            # Session, or None when not live

Framework helpers: latchkey.fastapi (dependencies) and latchkey.flask (decorators).
Every failure raises a latchkey.errors type; when latchkey cannot answer, Unavailable: a
session or token is never taken as valid without latchkey's (or the JWKS's) word.
"""

__version__ = "0.1.0"

from .client import Latchkey  # noqa: E402
from .cookies import clear_session_cookie, session_cookie, token_from_cookie_header  # noqa: E402
from .errors import (BadRequest, Conflict, Forbidden, InvalidCredentials, InvalidGrant,  # noqa: E402
                     InvalidSession, InvalidToken, LatchkeyError, NotFound, OAuthError, PayloadTooLarge,
                     RateLimited, Unauthorized, Unavailable)
from .types import (Authorization, Claims, Lockout, LoginFailure, RateLimitResult, Session,  # noqa: E402
                    SessionInfo, TokenPair)

__all__ = ["Latchkey", "session_cookie", "clear_session_cookie", "token_from_cookie_header",
           "LatchkeyError", "BadRequest", "Unauthorized", "InvalidSession", "InvalidToken", "InvalidGrant",
           "InvalidCredentials", "Forbidden", "NotFound", "Conflict", "PayloadTooLarge", "RateLimited",
           "Unavailable", "OAuthError", "Session", "SessionInfo", "TokenPair", "Claims", "RateLimitResult",
           "LoginFailure", "Lockout", "Authorization", "__version__"]
