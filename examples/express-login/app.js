// A small site on latchkey: a login form (passwords hashed here, with scrypt), latchkey
// sessions in cookie mode, lockout and a per-IP rate limit on the login, "log out everywhere",
// and an API route that accepts latchkey access tokens.
//   LATCHKEY_URL=http://127.0.0.1:8080 LATCHKEY_ADMIN_KEY_FILE=../../var/secrets/admin_api_key PORT=3000 npm start
import express from "express";
import { readFileSync } from "node:fs";
import { randomBytes, scryptSync, timingSafeEqual } from "node:crypto";
import { Latchkey, InvalidCredentials, RateLimited, clearSessionCookie, tokenFromCookieHeader } from "@latchkey/node";
import { requireSession, requireToken, rateLimit, errorHandler } from "@latchkey/node/express";

const lk = new Latchkey({ baseUrl: process.env.LATCHKEY_URL ?? "http://127.0.0.1:8080",
  apiKey: readFileSync(process.env.LATCHKEY_ADMIN_KEY_FILE ?? "../../var/secrets/admin_api_key", "utf8").trim() });

// The app's own user store (latchkey never sees passwords). One demo account.
const hash = (password, salt) => scryptSync(password, salt, 64, { N: 2 ** 14, r: 8, p: 1 });
const salt = randomBytes(16);
const users = new Map([["alice", hash(process.env.DEMO_PASSWORD ?? "correct horse", salt)]]);
const dummy = hash(randomBytes(8).toString("hex"), salt); // the same work for unknown names
const passwordOk = (user, password) => timingSafeEqual(hash(password, salt), users.get(user) ?? dummy) && users.has(user);

const esc = (s) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const FORM = '<form method="post" action="/login"><input name="username" autocomplete="username">' +
  '<input name="password" type="password" autocomplete="current-password"><button>Log in</button></form>';
const page = (res, status, body) => res.status(status).set({ "cache-control": "no-store", "content-security-policy": "default-src 'self'" })
  .type("html").send(`<!doctype html><title>latchkey demo</title>${body}`);

const app = express();
app.use(express.urlencoded({ extended: false, limit: "4kb", parameterLimit: 10 }));

app.get("/", requireSession(lk, { optional: true }), (req, res) => {
  const s = req.latchkey.session;
  if (!s) return page(res, 200, "<h1>Log in</h1>" + FORM);
  page(res, 200, `<h1>Hello, ${esc(s.user_id)}</h1><form method="post" action="/logout"><button>Log out</button></form>` +
    '<form method="post" action="/logout-everywhere"><button>Log out everywhere</button></form>');
});

app.post("/login", rateLimit(lk, (req) => "login-ip:" + req.ip, { limit: 30, windowSec: 60 }), async (req, res, next) => {
  const { username, password } = req.body ?? {};
  if (typeof username !== "string" || typeof password !== "string" || !username || username.length > 256 || password.length > 1024)
    return page(res, 400, "<p>Enter a user name and a password.</p>" + FORM);
  try {
    await lk.logins.flow(username, req.ip, () => passwordOk(username, password));
    const s = await lk.sessions.create({ userId: username, ip: req.ip, device: { ua: String(req.get("user-agent") ?? "").slice(0, 200) }, cookie: true });
    res.set("set-cookie", s.setCookie).redirect(303, "/");
  } catch (e) {
    if (e instanceof InvalidCredentials) return page(res, 401, `<p>${e.locked ? "Account locked for a while." : "Wrong user name or password."}</p>` + FORM);
    if (e instanceof RateLimited) return page(res, 429, `<p>Account locked. Try again in ${e.retryAfter} s.</p>`);
    next(e);
  }
});

app.post("/logout", requireSession(lk), async (req, res, next) => {
  try {
    await lk.sessions.destroy(tokenFromCookieHeader(req.get("cookie"), lk.cookieName));
    res.set("set-cookie", clearSessionCookie({ name: lk.cookieName })).redirect(303, "/");
  } catch (e) { next(e); }
});

app.post("/logout-everywhere", requireSession(lk), async (req, res, next) => {
  try {
    await lk.sessions.logoutEverywhere(req.latchkey.session.user_id);
    res.set("set-cookie", clearSessionCookie({ name: lk.cookieName })).redirect(303, "/");
  } catch (e) { next(e); }
});

app.get("/api/profile", requireToken(lk, { scopes: ["profile"] }), (req, res) =>
  res.json({ user: req.latchkey.claims.sub, scope: String(req.latchkey.claims.scope ?? "").split(" ") }));

app.use(errorHandler());
app.listen(Number(process.env.PORT ?? 3000), process.env.HOST ?? "127.0.0.1");
