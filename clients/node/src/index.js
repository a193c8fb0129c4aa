// The latchkey client for Node >= 20: every capability of the HTTP API (docs/api.md), fetch
// with a timeout on every call, typed errors, local access-token verification with jose.
import { createRemoteJWKSet, jwtVerify, decodeProtectedHeader } from "jose";
import * as E from "./errors.js";

export * from "./errors.js";
export { sessionCookie, clearSessionCookie, tokenFromCookieHeader } from "./cookies.js";

const drop = (o) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== null));
const seg = encodeURIComponent;
const ALGS = ["EdDSA", "ES256", "RS256"];

export class Latchkey {
  /**
   * @param {object} o
   * @param {string} o.baseUrl the admin listener, e.g. "http://127.0.0.1:8080"
   * @param {string} o.apiKey an admin API key
   * @param {string} [o.publicUrl] the listener of /oauth2/* and /.well-known/* when it differs
   * @param {number} [o.timeoutMs=2000] per call; beyond it: Unavailable
   * @param {string} [o.issuer] latchkey's token_issuer, checked by local verification (default: read once from GET /v1/server)
   * @param {string} [o.cookieName="__Host-session"] the session cookie the middleware reads
   */
  constructor({ baseUrl, apiKey, publicUrl, timeoutMs = 2000, issuer, jwksTtlMs = 300_000,
                cookieName = "__Host-session" }) {
    const u = new URL(baseUrl);
    if (!["http:", "https:"].includes(u.protocol) || u.search || u.hash || u.username)
      throw new TypeError("baseUrl must be http(s)://host[:port][/prefix]");
    if (!apiKey || /[\r\n]/.test(apiKey)) throw new TypeError("apiKey must be a non-empty single line");
    this.baseUrl = baseUrl.replace(/\/+$/, "");
    this.publicUrl = (publicUrl ?? baseUrl).replace(/\/+$/, "");
    this.apiKey = apiKey;
    this.timeoutMs = timeoutMs;
    this.issuer = issuer;
    this.cookieName = cookieName;
    this.jwks = createRemoteJWKSet(new URL(this.publicUrl + "/.well-known/jwks.json"), {
      cacheMaxAge: jwksTtlMs, cooldownDuration: 10_000, timeoutDuration: timeoutMs,
    });
  }

  async #fetch(url, init) {
    let res;
    try {
      res = await fetch(url, { ...init, redirect: "manual", signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (e) {
      if (e?.name === "TimeoutError") throw new E.Unavailable("timeout", `latchkey did not answer within ${this.timeoutMs} ms`);
      throw new E.Unavailable("unreachable", `cannot reach latchkey: ${e?.cause?.code ?? e?.message ?? e}`);
    }
    let body = null;
    const text = await res.text().catch(() => {
      throw new E.Unavailable("unreachable", "latchkey closed the connection mid-answer");
    });
    if (text && (res.headers.get("content-type") ?? "").includes("json")) {
      try { body = JSON.parse(text); } catch { throw new E.Unavailable("bad_response", `latchkey answered ${res.status} with malformed JSON`); }
    }
    return { status: res.status, headers: res.headers, body };
  }

  async #call(method, path, body, { ok = [200], headers = {} } = {}) {
    const h = { authorization: `Bearer ${this.apiKey}`, accept: "application/json", ...headers };
    if (body !== undefined) h["content-type"] = "application/json";
    const r = await this.#fetch(this.baseUrl + path, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
    return check(r, ok);
  }

  async #form(path, form, { clientId, clientSecret }) {
    const fields = drop(form);
    const h = { "content-type": "application/x-www-form-urlencoded", accept: "application/json" };
    if (clientSecret == null) fields.client_id = clientId;
    else h.authorization = "Basic " + Buffer.from(`${formEncode(clientId)}:${formEncode(clientSecret)}`).toString("base64");
    return check(await this.#fetch(this.publicUrl + path, { method: "POST", headers: h, body: new URLSearchParams(fields).toString() }), [200]);
  }

  async ready() {
    try { return (await this.#fetch(this.baseUrl + "/readyz", {})).status === 200; } catch { return false; }
  }
  async server() { return (await this.#call("GET", "/v1/server")).body; }

  sessions = {
    create: async ({ userId, data, device, ip, idleTtl, absoluteTtl, cookie } = {}) => {
      const r = await this.#call("POST", "/v1/sessions",
        drop({ user_id: userId, data, device, ip, idle_ttl: idleTtl, absolute_ttl: absoluteTtl, cookie: cookie || undefined }), { ok: [201] });
      return { ...r.body, setCookie: r.headers.get("set-cookie") };
    },
    /** The session of token, or null when it is not live; Unavailable when latchkey cannot say. */
    validate: async (token, { touch = true } = {}) => {
      if (!token || typeof token !== "string") return null;
      try { return (await this.#call("POST", "/v1/sessions/validate", { token, touch })).body; } catch (e) {
        if (e instanceof E.InvalidSession || e instanceof E.BadRequest) return null;
        throw e;
      }
    },
    update: async (token, data, { version }) =>
      (await this.#call("PATCH", "/v1/sessions/current", { data, version }, { headers: { "x-session-token": token } })).body,
    rotate: async (token) => (await this.#call("POST", "/v1/sessions/current/rotate", undefined, { headers: { "x-session-token": token } })).body,
    destroy: async (token) => { await this.#call("DELETE", "/v1/sessions/current", undefined, { ok: [204], headers: { "x-session-token": token } }); },
    listForUser: async (userId) => (await this.#call("GET", `/v1/users/${seg(userId)}/sessions`)).body.sessions,
    logoutEverywhere: async (userId, { keep } = {}) =>
      (await this.#call("DELETE", `/v1/users/${seg(userId)}/sessions` + (keep ? `?except=${seg(keep)}` : ""))).body.revoked,
    revoke: async (userId, sessionId) =>
      (await this.#call("DELETE", `/v1/users/${seg(userId)}/sessions/${seg(sessionId)}`, undefined, { ok: [204, 404] })).status === 204,
  };

  tokens = {
    issue: async ({ userId, claims, scope, audience }) =>
      (await this.#call("POST", "/v1/tokens", drop({ user_id: userId, claims, scope, audience }))).body,
    refresh: async (refreshToken) => (await this.#call("POST", "/v1/tokens/refresh", { refresh_token: refreshToken })).body,
    /** Server-side verification with revocation; InvalidToken for anything that does not verify. */
    introspect: async (token, { audience, acceptOauth } = {}) =>
      (await this.#call("POST", "/v1/tokens/verify", drop({ token, audience, accept_oauth: acceptOauth || undefined }))).body.claims,
    /** Local verification from the JWKS (cached; refetched on an unknown kid), or on latchkey
     *  with checkRevocation (or an HS256 ring). InvalidToken, Forbidden (insufficient_scope), Unavailable. */
    verify: async (token, { audience, scopes = [], checkRevocation = false, acceptOauth = false } = {}) => {
      let header;
      try { header = decodeProtectedHeader(token); } catch { throw new E.InvalidToken(401, "invalid_token", "malformed token"); }
      let claims;
      if (checkRevocation || header.alg === "HS256") {
        claims = await this.tokens.introspect(token, { audience, acceptOauth });
      } else {
        claims = await this.#verifyLocally(token, header, audience, acceptOauth);
      }
      const have = String(claims.scope ?? "").split(" ");
      const missing = scopes.filter((s) => !have.includes(s));
      if (missing.length) throw new E.Forbidden(403, "insufficient_scope", "token lacks scope " + missing.join(" "));
      return claims;
    },
    revoke: async (token) => (await this.#call("POST", "/v1/tokens/revoke", { token })).body.revoked,
    revokeUser: async (userId) => (await this.#call("DELETE", `/v1/users/${seg(userId)}/tokens`)).body.refresh_families,
    // The user's live refresh families (one per login or OAuth grant); never a token.
    families: async (userId) => (await this.#call("GET", `/v1/users/${seg(userId)}/tokens`)).body.families,
    // Ends one family (its refresh and access tokens); false when the user has no such live family.
    revokeFamily: async (userId, familyId) =>
      (await this.#call("DELETE", `/v1/users/${seg(userId)}/tokens/${seg(familyId)}`, undefined, { ok: [204, 404] })).status === 204,
  };

  events = {
    // Newest first; with `after` (an event id), the events after it, oldest first, and `next`.
    list: async ({ after, type, userId, ip, limit } = {}) =>
      (await this.#call("GET", "/v1/events" + query({ after, type, user_id: userId, ip, limit }))).body,
    summary: async () => (await this.#call("GET", "/v1/events/summary")).body,
  };

  async #verifyLocally(token, header, audience, acceptOauth) {
    if (["jku", "jwk", "x5u", "x5c", "crit"].some((h) => h in header) || !ALGS.includes(header.alg) || typeof header.kid !== "string")
      throw new E.InvalidToken(401, "invalid_token", "refused header");
    this.issuer ??= (await this.server()).token_issuer;
    let payload;
    try {
      ({ payload } = await jwtVerify(token, this.jwks, {
        issuer: this.issuer, algorithms: ALGS, typ: "at+jwt", clockTolerance: 30,
        requiredClaims: ["sub", "jti", "exp", "iat"], ...(audience ? { audience } : {}),
      }));
    } catch (e) {
      if (e?.code === "ERR_JWKS_TIMEOUT" || (e instanceof TypeError) || e?.code === "ERR_JOSE_GENERIC" && /fetch/i.test(e.message))
        throw new E.Unavailable("unreachable", "the JWKS could not be fetched");
      if (e instanceof E.LatchkeyError) throw e;
      if (e?.cause && !e.code) throw new E.Unavailable("unreachable", "the JWKS could not be fetched");
      throw new E.InvalidToken(401, "invalid_token", e?.message ?? "does not verify");
    }
    if (payload.aud !== undefined && !audience) throw new E.InvalidToken(401, "invalid_token", "token has an audience");
    if (payload.client_id !== undefined && !acceptOauth) throw new E.InvalidToken(401, "invalid_token", "an OAuth access token");
    return payload;
  }

  oauth = {
    createClient: async ({ redirectUris, clientName, grantTypes, scope, tokenEndpointAuthMethod } = {}) =>
      (await this.#call("POST", "/v1/oauth/clients", drop({ redirect_uris: redirectUris?.length ? redirectUris : undefined,
        client_name: clientName, grant_types: grantTypes, scope, token_endpoint_auth_method: tokenEndpointAuthMethod }), { ok: [201] })).body,
    getClient: async (id) => { const r = await this.#call("GET", `/v1/oauth/clients/${seg(id)}`, undefined, { ok: [200, 404] }); return r.status === 200 ? r.body : null; },
    // One page of registered clients (no secrets), in client_id order: { clients, next }.
    listClients: async ({ limit, after } = {}) => (await this.#call("GET", "/v1/oauth/clients" + query({ limit, after }))).body,
    deleteClient: async (id) => (await this.#call("DELETE", `/v1/oauth/clients/${seg(id)}`, undefined, { ok: [204, 404] })).status === 204,
    authorize: async ({ userId, clientId, redirectUri, responseType = "code", scope, state, codeChallenge, codeChallengeMethod }) => {
      try {
        return (await this.#call("POST", "/v1/oauth/authorizations", drop({ user_id: userId, client_id: clientId, redirect_uri: redirectUri,
          response_type: responseType, scope, state, code_challenge: codeChallenge, code_challenge_method: codeChallengeMethod }), { ok: [201] })).body;
      } catch (e) {
        if (e instanceof E.LatchkeyError && e.status === 400) throw new E.OAuthError(400, e.error, e.description, e.body);
        throw e;
      }
    },
    token: async (form, auth) => (await this.#form("/oauth2/token", form, auth)).body,
    introspect: async (token, auth) => (await this.#form("/oauth2/introspect", { token }, auth)).body,
    revoke: async (token, auth) => { await this.#form("/oauth2/revoke", { token }, auth); },
  };

  rateLimit = {
    /** A denial is a result with allowed false, not an error; Redis down: Unavailable (unless fail_open). */
    hit: async (key, { policy, algorithm, limit, windowSec, burst, cost } = {}) => {
      if (!policy && !algorithm && limit !== undefined) algorithm = "fixed_window";
      const r = await this.#call("POST", "/v1/ratelimit/check", drop({ key, policy, algorithm, limit, window: windowSec, burst, cost }), { ok: [200, 429] });
      if (r.status === 429 && r.body?.error !== "rate_limited") check(r, [200]);
      return r.body;
    },
  };

  logins = {
    check: async (userId, ip, { deviceToken } = {}) => { await this.#call("POST", "/v1/logins/check", drop({ user_id: userId, ip, device_token: deviceToken })); },
    failure: async (userId, ip, { deviceToken } = {}) => (await this.#call("POST", "/v1/logins/failure", drop({ user_id: userId, ip, device_token: deviceToken }))).body,
    success: async (userId, ip, { deviceToken } = {}) => (await this.#call("POST", "/v1/logins/success", drop({ user_id: userId, ip, device_token: deviceToken }))).body.device_token,
    /** check -> verifyPassword() -> failure/success. Returns the device token; throws RateLimited
     *  (locked; verifyPassword not called), InvalidCredentials (recorded), Unavailable. */
    flow: async (userId, ip, verifyPassword, { deviceToken } = {}) => {
      await this.logins.check(userId, ip, { deviceToken });
      if (await verifyPassword()) return this.logins.success(userId, ip, { deviceToken });
      const f = await this.logins.failure(userId, ip, { deviceToken });
      throw new E.InvalidCredentials(f.failures, f.locked, f.retry_after);
    },
    lockout: async (userId) => (await this.#call("GET", `/v1/users/${seg(userId)}/lockout`)).body,
    unlock: async (userId) => { await this.#call("DELETE", `/v1/users/${seg(userId)}/lockout`, undefined, { ok: [204] }); },
  };
}

function check(r, ok) {
  if (ok.includes(r.status)) return r;
  throw E.errorFor(r.status, r.body && typeof r.body === "object" ? r.body : {}, r.headers.get("retry-after"));
}
function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null) q.set(k, String(v));
  const text = q.toString();
  return text ? "?" + text : "";
}
function formEncode(s) { return new URLSearchParams({ s }).toString().slice(2); }
