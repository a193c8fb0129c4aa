// The Node client against a real latchkey and Redis: every capability, typed errors, fail closed.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { createServer } from "node:net";
import { Latchkey, BadRequest, Conflict, Forbidden, InvalidCredentials, InvalidGrant, InvalidToken, OAuthError,
  PayloadTooLarge, RateLimited, Unauthorized, Unavailable, sessionCookie, tokenFromCookieHeader } from "../src/index.js";
import { suite, newUser, startStack, freePort } from "./support.js";

const { lk, direct, close } = await suite();
after(close);

test("session lifecycle", async () => {
  const user = newUser();
  const s = await lk.sessions.create({ userId: user, data: { role: "admin" }, ip: "203.0.113.9" });
  assert.equal(s.user_id, user); assert.equal(s.version, 1); assert.equal(s.token.length, 52);
  assert.deepEqual((await lk.sessions.validate(s.token)).data, { role: "admin" });
  assert.equal((await lk.sessions.update(s.token, { role: "viewer" }, { version: 1 })).version, 2);
  await assert.rejects(lk.sessions.update(s.token, {}, { version: 1 }), (e) => e instanceof Conflict && e.error === "version_conflict");
  const r = await lk.sessions.rotate(s.token);
  assert.equal(await lk.sessions.validate(s.token), null);
  assert.deepEqual((await lk.sessions.validate(r.token)).data, { role: "viewer" });
  await lk.sessions.destroy(r.token);
  assert.equal(await lk.sessions.validate(r.token), null);
  for (const t of [undefined, "", "x", "A".repeat(47), 42]) assert.equal(await lk.sessions.validate(t), null);
});

test("list, revoke one, logout everywhere; user ids stay in their path segment", async () => {
  const user = "a/b?c#d %2F é" + newUser();
  const [a, b, c] = await Promise.all([0, 1, 2].map(() => lk.sessions.create({ userId: user })));
  assert.equal((await lk.sessions.listForUser(user)).length, 3);
  assert.equal(await lk.sessions.revoke(user, a.session_id), true);
  assert.equal(await lk.sessions.revoke(user, a.session_id), false);
  assert.equal(await lk.sessions.logoutEverywhere(user, { keep: c.session_id }), 1);
  assert.equal(await lk.sessions.validate(b.token), null);
  assert.notEqual(await lk.sessions.validate(c.token), null);
});

test("cookie mode and the cookie helpers", async () => {
  const s = await lk.sessions.create({ userId: newUser(), cookie: true, absoluteTtl: 600 });
  for (const a of [`__Host-session=${s.token}`, "Path=/", "HttpOnly", "Secure", "SameSite=Lax", "Max-Age=600"]) assert.ok(s.setCookie.includes(a), a);
  assert.equal(tokenFromCookieHeader(`x=1; __Host-session=${s.token}`), s.token);
  assert.equal(tokenFromCookieHeader("__Host-session=bad"), null);
  assert.equal(sessionCookie(s.token, { maxAge: 60 }), `__Host-session=${s.token}; Path=/; Max-Age=60; HttpOnly; Secure; SameSite=Lax`);
  assert.throws(() => sessionCookie(s.token, { maxAge: 60, secure: false }));
  assert.throws(() => sessionCookie("a;b=" + "x".repeat(40), { maxAge: 60, name: "sid", secure: false }));
});

test("malformed and oversize input is a clear error and changes nothing", async () => {
  const user = newUser();
  await assert.rejects(direct.sessions.create({ userId: "bad\u0001id" }), BadRequest);
  await assert.rejects(direct.sessions.create({ userId: user, ip: "nope" }), BadRequest);
  await assert.rejects(direct.sessions.create({ userId: user, data: { x: "y".repeat(20000) } }), PayloadTooLarge);
  await assert.rejects(direct.logins.check("alice", "999.1.1.1"), BadRequest);
  await assert.rejects(direct.rateLimit.hit("k", { limit: 0, windowSec: 60 }), BadRequest);
  assert.deepEqual(await lk.sessions.listForUser(user), []);
  await assert.rejects(new Latchkey({ baseUrl: lk.baseUrl, apiKey: "wrong", issuer: lk.issuer }).sessions.create({ userId: user }), Unauthorized);
  assert.throws(() => new Latchkey({ baseUrl: lk.baseUrl, apiKey: "k\r\nx: y" }));
  assert.throws(() => new Latchkey({ baseUrl: "ftp://x", apiKey: "k" }));
});

test("tokens verify locally and on the server; scopes, audience, revocation", async () => {
  const user = newUser();
  const p = await lk.tokens.issue({ userId: user, claims: { tenant: "acme" }, scope: "orders:read", audience: "api" });
  const c = await lk.tokens.verify(p.access_token, { audience: "api", scopes: ["orders:read"] });
  assert.equal(c.sub, user); assert.equal(c.tenant, "acme");
  await assert.rejects(lk.tokens.verify(p.access_token, { audience: "api", scopes: ["orders:write"] }), (e) => e instanceof Forbidden && e.error === "insufficient_scope");
  await assert.rejects(lk.tokens.verify(p.access_token), InvalidToken);
  await assert.rejects(lk.tokens.verify(p.access_token, { audience: "other" }), InvalidToken);
  for (const bad of [p.access_token.slice(0, -4) + "AAAA", "a.b.c", "", "x".repeat(20000)]) {
    await assert.rejects(lk.tokens.verify(bad, { audience: "api" }), InvalidToken);
    await assert.rejects(lk.tokens.verify(bad, { audience: "api", checkRevocation: true }), InvalidToken);
  }
  assert.equal(await lk.tokens.revoke(p.access_token), true);
  await lk.tokens.verify(p.access_token, { audience: "api" }); // locally valid until it expires
  await assert.rejects(lk.tokens.verify(p.access_token, { audience: "api", checkRevocation: true }), InvalidToken);
});

test("the issuer is learned from the server when not given; another issuer is refused", async () => {
  const user = newUser();
  const learn = new Latchkey({ baseUrl: lk.baseUrl, apiKey: lk.apiKey });
  assert.equal((await learn.tokens.verify((await learn.tokens.issue({ userId: user })).access_token)).iss, lk.issuer);
  const wrong = new Latchkey({ baseUrl: lk.baseUrl, apiKey: lk.apiKey, issuer: "https://someone-else.example" });
  await assert.rejects(wrong.tokens.verify((await wrong.tokens.issue({ userId: user })).access_token), InvalidToken);
});

test("refresh rotates; reuse revokes the family; revokeUser", async () => {
  const user = newUser();
  const first = await lk.tokens.issue({ userId: user });
  const second = await lk.tokens.refresh(first.refresh_token);
  const third = await lk.tokens.refresh(second.refresh_token);
  await assert.rejects(lk.tokens.refresh(first.refresh_token), InvalidGrant);
  await assert.rejects(lk.tokens.refresh(third.refresh_token), InvalidGrant);
  await lk.tokens.issue({ userId: user });
  assert.equal(await lk.tokens.revokeUser(user), 1);
});

test("token families are listed (never a token) and revoked one at a time", async () => {
  const user = newUser();
  const a = await lk.tokens.issue({ userId: user }), b = await lk.tokens.issue({ userId: user });
  const families = await lk.tokens.families(user);
  assert.equal(families.length, 2);
  assert.ok(!JSON.stringify(families).includes(a.refresh_token));
  assert.equal(await lk.tokens.revokeFamily(user, families[0].family_id), true);
  assert.equal(await lk.tokens.revokeFamily(user, families[0].family_id), false);
  assert.equal(await lk.tokens.revokeFamily(newUser(), families[1].family_id), false, "not that user's");
  assert.deepEqual((await lk.tokens.families(user)).map((f) => f.family_id), [families[1].family_id]);
  await assert.rejects(lk.tokens.refresh(a.refresh_token), InvalidGrant);
  assert.ok((await lk.tokens.refresh(b.refresh_token)).refresh_token);
});

test("OAuth clients are listed in pages without secrets; events and their summary", async () => {
  const made = [];
  for (let i = 0; i < 3; i++) made.push(await lk.oauth.createClient({ grantTypes: ["client_credentials"], scope: "read" }));
  const seen = [];
  let after, pages = 0;
  do {
    const page = await lk.oauth.listClients({ limit: 2, after });
    assert.ok(page.clients.length <= 2);
    assert.ok(page.clients.every((c) => !("client_secret" in c)));
    seen.push(...page.clients.map((c) => c.client_id));
    after = page.next ?? undefined;
    pages++;
  } while (after);
  assert.ok(pages >= 2 && made.every((m) => seen.includes(m.client_id)));
  await assert.rejects(direct.oauth.listClients({ limit: 0 }), BadRequest);  // beside Prism

  const user = newUser();
  for (let i = 0; i < 4; i++) await lk.logins.failure(user, "198.51.100.78");  // below the lock (5)
  const listed = (await lk.events.list({ type: "login_failure", userId: user })).events;
  assert.equal(listed.length, 4);
  const summary = await lk.events.summary();
  assert.equal(summary.failures_per_minute.length, 60);
  assert.ok(summary.top_accounts.some((t) => t.user_id === user && t.failures === 4));
  await assert.rejects(direct.events.list({ type: "no_such_type" }), BadRequest);
});

test("OAuth: code flow with PKCE, introspection, revocation, errors with redirect_to", async () => {
  const user = newUser();
  const app = await lk.oauth.createClient({ redirectUris: ["https://app.example/cb"], grantTypes: ["authorization_code", "refresh_token"], scope: "read write" });
  const rs = await lk.oauth.createClient({ grantTypes: ["client_credentials"], scope: "introspect" });
  const verifier = randomBytes(32).toString("base64url");
  const challenge = createHash("sha256").update(verifier).digest("base64url");
  const a = await lk.oauth.authorize({ userId: user, clientId: app.client_id, redirectUri: "https://app.example/cb", scope: "read", state: "s1", codeChallenge: challenge, codeChallengeMethod: "S256" });
  assert.equal(new URL(a.redirect_to).searchParams.get("code"), a.code);
  const auth = { clientId: app.client_id, clientSecret: app.client_secret };
  const pair = await lk.oauth.token({ grant_type: "authorization_code", code: a.code, code_verifier: verifier, redirect_uri: "https://app.example/cb" }, auth);
  const rsAuth = { clientId: rs.client_id, clientSecret: rs.client_secret };
  assert.equal((await lk.oauth.introspect(pair.access_token, rsAuth)).sub, user);
  await lk.oauth.revoke(pair.refresh_token, auth);
  assert.deepEqual(await lk.oauth.introspect(pair.access_token, rsAuth), { active: false });
  await assert.rejects(lk.oauth.token({ grant_type: "client_credentials" }, { clientId: rs.client_id, clientSecret: "wrong" }), (e) => e instanceof Unauthorized && e.error === "invalid_client");
  await assert.rejects(lk.oauth.authorize({ userId: user, clientId: app.client_id, scope: "admin", state: "s", codeChallenge: "A".repeat(43), codeChallengeMethod: "S256" }),
    (e) => e instanceof OAuthError && e.error === "invalid_scope" && e.redirectTo.startsWith("https://app.example/cb?error="));
  assert.equal(await lk.oauth.deleteClient(app.client_id), true);
  assert.equal(await lk.oauth.getClient(app.client_id), null);
});

test("rate limit and the login flow: five wrong passwords lock, unlock clears", async () => {
  const key = "ip:" + randomBytes(4).toString("hex");
  const r = [];
  for (let i = 0; i < 4; i++) r.push(await lk.rateLimit.hit(key, { limit: 3, windowSec: 60 }));
  assert.deepEqual(r.map((x) => x.allowed), [true, true, true, false]);
  assert.ok(r[3].retry_after >= 1);
  const user = newUser();
  let checked = 0;
  let last;
  for (let i = 0; i < 5; i++) await assert.rejects(lk.logins.flow(user, "198.51.100.7", () => { checked++; return false; }), (e) => { last = e; return e instanceof InvalidCredentials; });
  assert.equal(last.locked, true);
  await assert.rejects(lk.logins.flow(user, "198.51.100.7", () => { checked++; return true; }), (e) => e instanceof RateLimited && e.error === "account_locked" && e.retryAfter >= 1);
  assert.equal(checked, 5);
  assert.equal((await lk.logins.lockout(user)).locked, true);
  await lk.logins.unlock(user);
  assert.equal((await lk.logins.flow(user, "198.51.100.7", async () => true)).length, 47);
});

test("unreachable or silent latchkey is Unavailable, never valid", async () => {
  const port = await freePort();
  const gone = new Latchkey({ baseUrl: `http://127.0.0.1:${port}`, apiKey: "k", timeoutMs: 500 });
  await assert.rejects(gone.sessions.validate("A".repeat(47)), (e) => e instanceof Unavailable && e.error === "unreachable");
  await assert.rejects(gone.tokens.verify("eyJhbGciOiJFZERTQSIsImtpZCI6ImsxIiwidHlwIjoiYXQrand0In0.eyJzdWIiOiJhIn0.c2ln"), Unavailable);
  assert.equal(await gone.ready(), false);
  const sockets = [];
  const silent = createServer((s) => sockets.push(s)).listen(0, "127.0.0.1");
  await new Promise((ok) => silent.once("listening", ok));
  const slow = new Latchkey({ baseUrl: `http://127.0.0.1:${silent.address().port}`, apiKey: "k", timeoutMs: 300 });
  await assert.rejects(slow.sessions.validate("A".repeat(47)), (e) => e instanceof Unavailable && e.error === "timeout");
  sockets.forEach((s) => s.destroy()); silent.close();
});

test("Redis down: every check is Unavailable (503), local verification still works", async () => {
  const st = await startStack();
  try {
    const c = st.client();
    const s = await c.sessions.create({ userId: "alice" });
    const p = await c.tokens.issue({ userId: "alice" });
    await st.stopRedis();
    await assert.rejects(c.sessions.validate(s.token), (e) => e instanceof Unavailable && e.status === 503);
    await assert.rejects(c.tokens.verify(p.access_token, { checkRevocation: true }), Unavailable);
    await assert.rejects(c.logins.flow("alice", "192.0.2.1", () => true), Unavailable);
    assert.equal((await c.tokens.verify(p.access_token)).sub, "alice");
  } finally { await st.close(); }
});
