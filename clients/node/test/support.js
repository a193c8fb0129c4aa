// A real latchkey and Redis for the tests: tests/clients/run.sh passes LATCHKEY_URL (Prism in
// front of latchkey), LATCHKEY_DIRECT_URL, LATCHKEY_ADMIN_KEY, LATCHKEY_ISSUER; stacks of a
// test's own (to stop Redis) are started from LATCHKEY_BIN (default build/latchkey).
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, openSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { randomBytes } from "node:crypto";
import { Latchkey } from "../src/index.js";

const root = resolve(import.meta.dirname, "../../..");
export const bin = process.env.LATCHKEY_BIN ?? join(root, "build/latchkey");

export function freePort() {
  return new Promise((ok) => { const s = createServer().listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => ok(p)); }); });
}
async function waitHttp(url) {
  for (let i = 0; i < 300; i++) {
    try { if ((await fetch(url)).ok) return; } catch {}
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${url} did not come up`);
}

export async function startStack() {
  const dir = mkdtempSync(join(tmpdir(), "latchkey-node-"));
  const redisPort = await freePort();
  const redis = spawn("redis-server", ["--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
  execFileSync(bin, ["keys", "init", "--dir", join(dir, "secrets")], { stdio: "ignore" });
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const adminKey = "node-client-admin-key-" + randomBytes(16).toString("hex");
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("LATCHKEY_")));
  Object.assign(env, { LATCHKEY_LISTEN: `127.0.0.1:${port}`, LATCHKEY_REDIS_URL: `redis://127.0.0.1:${redisPort}/0`,
    LATCHKEY_SECRETS_DIR: join(dir, "secrets"), LATCHKEY_ADMIN_API_KEYS: adminKey, LATCHKEY_THREADS: "1", LATCHKEY_TOKEN_ISSUER: url });
  const server = spawn(bin, ["serve"], { env, stdio: ["ignore", "ignore", openSync(join(dir, "latchkey.err"), "w")] });
  await waitHttp(url + "/readyz");
  const stopRedis = () => new Promise((ok) => { redis.once("exit", ok); redis.kill("SIGKILL"); });
  const close = async () => { for (const p of [server, redis]) if (p.exitCode === null && p.signalCode === null) { p.kill("SIGKILL"); await new Promise((ok) => p.once("exit", ok)); } rmSync(dir, { recursive: true, force: true }); };
  return { url, adminKey, dir, server, stopRedis, close, client: (o = {}) => new Latchkey({ baseUrl: url, apiKey: adminKey, issuer: url, ...o }) };
}

let shared;
/** The suite's latchkey: { lk, direct } (direct: no validating proxy, for malformed requests). */
export async function suite() {
  if (process.env.LATCHKEY_URL) {
    const o = { apiKey: process.env.LATCHKEY_ADMIN_KEY, issuer: process.env.LATCHKEY_ISSUER ?? process.env.LATCHKEY_URL };
    return { lk: new Latchkey({ baseUrl: process.env.LATCHKEY_URL, ...o }),
             direct: new Latchkey({ baseUrl: process.env.LATCHKEY_DIRECT_URL ?? process.env.LATCHKEY_URL, ...o }), close: async () => {} };
  }
  shared ??= await startStack();
  return { lk: shared.client(), direct: shared.client(), close: shared.close };
}
export const newUser = () => "user-" + randomBytes(6).toString("hex");
