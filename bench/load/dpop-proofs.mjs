// DPoP proofs (RFC 9449) for the code-flow benchmark, made ahead of the run (wrk's Lua cannot
// sign ES256): one P-256 key, COUNT proofs for POST HTU, each with its own jti and the iat of
// now (latchkey runs with oauth_dpop_proof_max_age long enough for the run). Node's WebCrypto
// only; no npm packages.
//   node bench/load/dpop-proofs.mjs COUNT HTU OUT_FILE
import { writeFileSync } from 'node:fs'
import { webcrypto as crypto } from 'node:crypto'

const [count, htu, out] = [Number(process.argv[2]), process.argv[3], process.argv[4]]
const b64 = (buf) => Buffer.from(buf).toString('base64url')
const { privateKey, publicKey } = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify'])
const { kty, crv, x, y } = await crypto.subtle.exportKey('jwk', publicKey)
const header = b64(JSON.stringify({ typ: 'dpop+jwt', alg: 'ES256', jwk: { kty, crv, x, y } }))
const iat = Math.floor(Date.now() / 1000)
const lines = []
for (let i = 0; i < count; i++) {
  const claims = b64(JSON.stringify({ jti: b64(crypto.getRandomValues(new Uint8Array(12))), htm: 'POST', htu, iat }))
  const input = `${header}.${claims}`
  const sig = await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, privateKey, Buffer.from(input))
  lines.push(`${input}.${b64(sig)}`)
}
writeFileSync(out, lines.join('\n') + '\n')
