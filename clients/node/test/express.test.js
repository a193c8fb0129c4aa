// The Express middleware in a real app over real HTTP, against a real latchkey.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import express from "express";
import { Latchkey } from "../src/index.js";
import { requireSession, requireToken, rateLimit, errorHandler } from "../src/express.js";
import { suite, newUser, freePort } from "./support.js";

const { lk, close } = await suite();

function appFor(client) {
  const app = express();
  app.get("/me", requireSession(client), (req, res) => res.json({ user: req.latchkey.session.user_id }));
  app.get("/maybe", requireSession(client, { optional: true }), (req, res) => res.json({ user: req.latchkey.session?.user_id ?? null }));
  app.post("/change", requireSession(client), (req, res) => res.json({ ok: true }));
  app.get("/api/orders", requireToken(client, { scopes: ["orders:read"] }), (req, res) => res.json({ sub: req.latchkey.claims.sub }));
  app.get("/limited", rateLimit(client, () => "k-" + process.pid + "-" + app.locals.tag, { limit: 2, windowSec: 60 }), (req, res) => res.json({ ok: true }));
  app.use(errorHandler());
  app.locals.tag = newUser();
  return new Promise((ok) => { const s = app.listen(0, "127.0.0.1", () => ok(s)); });
}
const srv = await appFor(lk);
const base = `http://127.0.0.1:${srv.address().port}`;
after(async () => { srv.close(); await close(); });

test("requireSession reads the cookie; refuses without one and cross-origin writes", async () => {
  const user = newUser();
  const s = await lk.sessions.create({ userId: user });
  const cookie = { cookie: `__Host-session=${s.token}` };
  assert.deepEqual(await (await fetch(base + "/me", { headers: cookie })).json(), { user });
  assert.deepEqual(await (await fetch(base + "/maybe")).json(), { user: null });
  for (const h of [{}, { cookie: "__Host-session=" + "A".repeat(47) }, { cookie: "__Host-session=junk" }]) {
    const r = await fetch(base + "/me", { headers: h });
    assert.equal(r.status, 401); assert.equal((await r.json()).error, "invalid_session");
  }
  assert.equal((await fetch(base + "/change", { method: "POST", headers: { ...cookie, origin: base } })).status, 200);
  const evil = await fetch(base + "/change", { method: "POST", headers: { ...cookie, origin: "https://evil.example" } });
  assert.equal(evil.status, 403); assert.equal((await evil.json()).error, "cross_origin_request");
});

test("requireToken: Bearer access tokens, scopes, RFC 6750 answers", async () => {
  const user = newUser();
  const good = (await lk.tokens.issue({ userId: user, scope: "orders:read" })).access_token;
  const narrow = (await lk.tokens.issue({ userId: user, scope: "profile" })).access_token;
  assert.deepEqual(await (await fetch(base + "/api/orders", { headers: { authorization: `Bearer ${good}` } })).json(), { sub: user });
  const r403 = await fetch(base + "/api/orders", { headers: { authorization: `Bearer ${narrow}` } });
  assert.equal(r403.status, 403); assert.equal(r403.headers.get("www-authenticate"), 'Bearer error="insufficient_scope"');
  const r401 = await fetch(base + "/api/orders", { headers: { authorization: `Bearer ${good.slice(0, -3)}AAA` } });
  assert.equal(r401.status, 401); assert.equal(r401.headers.get("www-authenticate"), 'Bearer error="invalid_token"');
  assert.equal((await fetch(base + "/api/orders")).status, 401);
});

test("rateLimit admits the limit, then 429 with Retry-After", async () => {
  const statuses = [];
  let last;
  for (let i = 0; i < 3; i++) { last = await fetch(base + "/limited"); statuses.push(last.status); }
  assert.deepEqual(statuses, [200, 200, 429]);
  assert.ok(Number(last.headers.get("retry-after")) >= 1);
});

test("latchkey unreachable: 503 with Retry-After, never a session", async () => {
  const gone = await appFor(new Latchkey({ baseUrl: `http://127.0.0.1:${await freePort()}`, apiKey: "k", timeoutMs: 500 }));
  try {
    const url = `http://127.0.0.1:${gone.address().port}`;
    for (const path of ["/me", "/maybe", "/limited"]) {
      const r = await fetch(url + path, { headers: { cookie: "__Host-session=" + "A".repeat(47) } });
      assert.equal(r.status, 503, path); assert.equal(r.headers.get("retry-after"), "1");
    }
  } finally { gone.close(); }
});
