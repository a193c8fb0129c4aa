// latchkey against jose (an independent JOSE implementation, npm).
//   node jose_interop.mjs verify <jwks-url> <issuer> <token>...   verify through latchkey's JWKS
//   node jose_interop.mjs verify-hs <issuer> <secret-b64url> <token>...
//   node jose_interop.mjs sign <alg> <kid> <key-file> <issuer> <sub>
//        key-file: PKCS#8 PEM, or for HS256 the secret as base64url; prints one token
// Prints "ok <n>" after verifying n tokens; exits non-zero on the first failure.
import { readFileSync } from 'node:fs';
import { SignJWT, createRemoteJWKSet, importPKCS8, jwtVerify, base64url } from 'jose';

const [cmd, ...args] = process.argv.slice(2);
const options = (issuer) => ({ issuer, typ: 'at+jwt', algorithms: ['EdDSA', 'ES256', 'RS256', 'HS256'] });

async function verifyAll(key, issuer, tokens) {
  for (const token of tokens) {
    const { payload, protectedHeader } = await jwtVerify(token, key, options(issuer));
    if (!payload.sub || !payload.jti || !protectedHeader.kid) throw new Error('missing sub, jti or kid');
  }
  console.log(`ok ${tokens.length}`);
}

if (cmd === 'verify') {
  const [url, issuer, ...tokens] = args;
  await verifyAll(createRemoteJWKSet(new URL(url)), issuer, tokens);
} else if (cmd === 'verify-hs') {
  const [issuer, secret, ...tokens] = args;
  await verifyAll(base64url.decode(secret), issuer, tokens);
} else if (cmd === 'sign') {
  const [alg, kid, file, issuer, sub] = args;
  const text = readFileSync(file, 'utf8').trim();
  const key = alg === 'HS256' ? base64url.decode(text) : await importPKCS8(text, alg);
  const token = await new SignJWT({ via: 'jose' })
    .setProtectedHeader({ alg, kid, typ: 'at+jwt' })
    .setIssuer(issuer).setSubject(sub).setIssuedAt().setNotBefore('0s').setExpirationTime('5m')
    .setJti(`jose-${Date.now()}`)
    .sign(key);
  console.log(token);
} else {
  console.error('usage: jose_interop.mjs verify|verify-hs|sign ...');
  process.exit(2);
}
