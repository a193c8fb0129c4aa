// Express middleware: requireSession(), requireToken(), rateLimit(keyFn, policy), errorHandler().
// Failures become answers (401, 403, 429 + Retry-After, 503 + Retry-After); latchkey
// unreachable is 503, never a session.
import * as E from "./errors.js";
import { tokenFromCookieHeader } from "./cookies.js";

function crossOrigin(req) {
  if (["GET", "HEAD", "OPTIONS"].includes(req.method)) return false;
  const src = req.get("origin") ?? req.get("referer");
  if (!src) return false;
  if (src === "null") return true;
  try { return new URL(src).host.toLowerCase() !== String(req.get("host") ?? "").toLowerCase(); } catch { return true; }
}

export function answer(e) {
  if (e instanceof E.RateLimited) return [429, { "retry-after": String(e.retryAfter) }, { error: e.error, error_description: e.description }];
  if (e instanceof E.Unavailable) return [503, { "retry-after": String(e.retryAfter) }, { error: "unavailable", error_description: "authentication is unavailable" }];
  if (e instanceof E.Forbidden) return [403, e.error === "insufficient_scope" ? { "www-authenticate": `Bearer error="insufficient_scope"` } : {}, { error: e.error }];
  if (e instanceof E.InvalidToken) return [401, { "www-authenticate": 'Bearer error="invalid_token"' }, { error: "invalid_token" }];
  if (e instanceof E.Unauthorized) return [401, {}, { error: e.error }];
  return [500, {}, { error: "internal" }];
}

export function requireSession(lk, { optional = false, touch = true, csrf = true } = {}) {
  return async (req, res, next) => {
    try {
      if (csrf && crossOrigin(req)) throw new E.Forbidden(403, "cross_origin_request");
      const session = await lk.sessions.validate(tokenFromCookieHeader(req.get("cookie"), lk.cookieName), { touch });
      if (!session && !optional) throw new E.InvalidSession(401, "invalid_session", "no live session");
      req.latchkey = { ...req.latchkey, session };
      next();
    } catch (e) { next(e); }
  };
}

export function requireToken(lk, { scopes = [], audience, checkRevocation = false, acceptOauth = false } = {}) {
  return async (req, res, next) => {
    try {
      const m = /^Bearer +(\S+)$/i.exec(req.get("authorization") ?? "");
      if (!m) { res.status(401).set("www-authenticate", 'Bearer realm="api"').json({ error: "invalid_request" }); return; }
      const claims = await lk.tokens.verify(m[1], { scopes, audience, checkRevocation, acceptOauth });
      req.latchkey = { ...req.latchkey, claims };
      next();
    } catch (e) { next(e); }
  };
}

/** Limits each request by keyFn(req) (an IP, an account) with a named policy or { limit, windowSec }. */
export function rateLimit(lk, keyFn, policy) {
  const opts = typeof policy === "string" ? { policy } : policy;
  return async (req, res, next) => {
    try {
      const r = await lk.rateLimit.hit(String(keyFn(req)), opts);
      res.set("ratelimit-remaining", String(r.remaining));
      if (!r.allowed) throw new E.RateLimited(429, "rate_limited", "too many requests", r, r.retry_after);
      next();
    } catch (e) { next(e); }
  };
}

/** Answers latchkey's errors; passes anything else on. */
export function errorHandler() {
  return (err, req, res, next) => {
    if (!(err instanceof E.LatchkeyError)) return next(err);
    const [status, headers, body] = answer(err);
    res.status(status).set(headers).json(body);
  };
}
