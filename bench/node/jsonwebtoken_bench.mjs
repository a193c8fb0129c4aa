// jsonwebtoken sign and verify per algorithm on one core, as the jwt peer uses it (algorithms
// pinned; HS256 with a KeyObject secret, its fast path). Claims shaped like latchkey's access
// tokens. Prints one JSON line per case: {"op", "alg", "ns_per_op", "token_bytes"}.
import crypto from 'node:crypto';
import jwt from 'jsonwebtoken';

const seconds = Number(process.env.BENCH_SECONDS || 2);
const keys = {
  HS256: () => { const k = crypto.createSecretKey(crypto.randomBytes(32)); return [k, k]; },
  RS256: () => { const p = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }); return [p.privateKey, p.publicKey]; },
  ES256: () => { const p = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }); return [p.privateKey, p.publicKey]; },
  EdDSA: () => { const p = crypto.generateKeyPairSync('ed25519'); return [p.privateKey, p.publicKey]; },
};

function time(fn) {
  for (let i = 0; i < 2000; i++) fn();  // warm-up (JIT)
  let n = 0;
  const start = process.hrtime.bigint();
  const end = start + BigInt(Math.round(seconds * 1e9));
  let now = start;
  while (now < end) {
    for (let i = 0; i < 100; i++) fn();
    n += 100;
    now = process.hrtime.bigint();
  }
  return Number(now - start) / n;
}

for (const [alg, make] of Object.entries(keys)) {
  if (alg === 'EdDSA') continue;  // jsonwebtoken 9 has no EdDSA: reported as not supported
  const [signKey, verifyKey] = make();
  const now = Math.floor(Date.now() / 1000);
  const claims = { iss: 'latchkey', sub: 'USER-001', iat: now, nbf: now, exp: now + 900,
                   jti: 'Y2hlY2staWQtMDAwMDAx', sid: 'ZmFtaWx5LWlkLTAwMDAx', scope: 'read write' };
  const header = { kid: 'bench-key', typ: 'at+jwt' };
  const sign = () => jwt.sign(claims, signKey, { algorithm: alg, header, noTimestamp: true });
  const token = sign();
  const verify = () => jwt.verify(token, verifyKey, { algorithms: [alg], issuer: 'latchkey' });
  console.log(JSON.stringify({ op: 'sign', alg, ns_per_op: time(sign), token_bytes: token.length }));
  console.log(JSON.stringify({ op: 'verify', alg, ns_per_op: time(verify), token_bytes: token.length }));
}
