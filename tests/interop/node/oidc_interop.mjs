// An independent, strict OpenID Connect / DPoP client (npm oauth4webapi, unmodified) drives
// latchkey over HTTPS: discovery, the code flow with PKCE and nonce and its ID token checks
// (processAuthorizationCodeResponse, then the signature through the JWKS), userinfo, refresh,
// and DPoP-bound token requests, refreshes and resource calls, with server nonces when the
// server demands them. latchkey's admin API plays the backend that logged the user in.
//
//   node oidc_interop.mjs <issuer https URL> <admin key> <out file>
// Needs NODE_EXTRA_CA_CERTS naming the CA of latchkey's certificate. Writes the ID tokens it
// saw to <out file> (one per line: "<client_id> <nonce or -> <access_token> <id_token>") and
// the JWKS of jwks_uri to <out file>.jwks, for PyJWT to check; prints "ok" and exits 0, or names the first failure and exits 1.
import * as oauth from 'oauth4webapi'
import { writeFileSync } from 'node:fs'

const [issuerUrl, adminKey, outFile] = process.argv.slice(2)
let step = 'start'
process.on('uncaughtException', (e) => {
  console.error(`FAIL at ${step}: ${e.message} ${e.error ?? ''} ${e.error_description ?? ''} ${JSON.stringify(e.cause ?? {})}`)
  process.exit(1)
})
const issuer = new URL(issuerUrl)
const redirectUri = 'https://shop.example/cb'
const seen = []

function fail(msg) {
  console.error('FAIL: ' + msg)
  process.exit(1)
}
function expect(cond, msg) {
  if (!cond) fail(msg)
}
async function expectThrows(what, fn, codeOrClass) {
  try {
    await fn()
  } catch (e) {
    if (codeOrClass && typeof codeOrClass === 'string' && e.code !== codeOrClass && e.error !== codeOrClass)
      fail(`${what}: threw ${e.code || e.error || e.name} (${e.message}), expected ${codeOrClass}`)
    return e
  }
  fail(`${what}: did not throw`)
}

// The backend's side: the admin API.
async function admin(method, path, body) {
  const r = await fetch(new URL(path, issuer), {
    method,
    headers: { authorization: 'Bearer ' + adminKey, 'content-type': 'application/json' },
    body: body ? JSON.stringify(body) : undefined,
  })
  const text = await r.text()
  return { status: r.status, json: text ? JSON.parse(text) : null }
}
async function register(extra) {
  const r = await admin('POST', '/v1/oauth/clients', {
    client_name: 'oauth4webapi',
    redirect_uris: [redirectUri],
    grant_types: ['authorization_code', 'refresh_token'],
    scope: 'openid profile email offline',
    ...extra,
  })
  expect(r.status === 201, 'register: ' + JSON.stringify(r.json))
  return r.json
}
// The user logged in at the backend, which hands latchkey the authorization request.
async function authorize(client, { nonce, state, challenge, authTime, maxAge, scope = 'openid profile email' }) {
  const body = {
    client_id: client.client_id,
    redirect_uri: redirectUri,
    response_type: 'code',
    scope,
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    user_id: 'alice',
    auth_time: authTime ?? Math.floor(Date.now() / 1000) - 5,
    acr: 'urn:example:pwd',
    amr: ['pwd'],
    claims: { name: 'Alice', email: 'alice@example.com', email_verified: true },
  }
  if (nonce) body.nonce = nonce
  if (maxAge !== undefined) body.max_age = maxAge
  return admin('POST', '/v1/oauth/authorizations', body)
}

const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oidc' }))
expect(as.userinfo_endpoint === issuerUrl.replace(/\/$/, '') + '/oauth2/userinfo', 'discovery: userinfo_endpoint')
expect(as.id_token_signing_alg_values_supported?.length > 0, 'discovery: id_token_signing_alg_values_supported')
expect(as.dpop_signing_alg_values_supported?.includes('ES256'), 'discovery: dpop_signing_alg_values_supported')

// Once more when the server asks for its DPoP nonce (RFC 9449 8; the DPoP handle cached it).
async function retrying(fn) {
  try {
    return await fn()
  } catch (e) {
    if (!oauth.isDPoPNonceError(e)) throw e
    return await fn()
  }
}

// One code flow; returns the token endpoint's processed result and the response.
async function codeFlow(client, clientAuth, { DPoP, expectedNonce, sendNonce, maxAge, scope } = {}) {
  const verifier = oauth.generateRandomCodeVerifier()
  const challenge = await oauth.calculatePKCECodeChallenge(verifier)
  const state = oauth.generateRandomState()
  const nonce = oauth.generateRandomNonce()
  const a = await authorize(client, { nonce: sendNonce ?? nonce, state, challenge, scope })
  expect(a.status === 201, 'authorize: ' + JSON.stringify(a.json))
  const params = oauth.validateAuthResponse(as, client, new URL(a.json.redirect_to), state)
  const { response, result } = await retrying(async () => {
    const res = await oauth.authorizationCodeGrantRequest(as, client, clientAuth, params, redirectUri, verifier, { DPoP })
    const processed = await oauth.processAuthorizationCodeResponse(as, client, res, {
      expectedNonce: expectedNonce ?? nonce,
      maxAge,
      requireIdToken: true,
    })
    return { response: res, result: processed }
  })
  // The ID token's signature, through the JWKS (jwks_uri).
  await oauth.validateApplicationLevelSignature(as, response)
  const claims = oauth.getValidatedIdTokenClaims(result)
  seen.push(`${client.client_id} ${nonce} ${result.access_token} ${result.id_token}`)
  return { result, claims, nonce }
}

// --- a confidential client, Bearer ------------------------------------------------------------
const shop = await register({})
const shopClient = { client_id: shop.client_id }
const shopAuth = oauth.ClientSecretBasic(shop.client_secret)
{
  const { result, claims, nonce } = await codeFlow(shopClient, shopAuth, { maxAge: 300 })
  expect(result.token_type === 'bearer', 'bearer token_type')
  expect(claims.sub === 'alice' && claims.aud === shop.client_id && claims.nonce === nonce, 'ID token claims')
  expect(claims.email === 'alice@example.com' && claims.name === 'Alice', 'released claims in the ID token')
  expect(typeof claims.auth_time === 'number' && claims.acr === 'urn:example:pwd', 'auth_time and acr')
  const ui = await oauth.processUserInfoResponse(
    as,
    shopClient,
    claims.sub,
    await oauth.userInfoRequest(as, shopClient, result.access_token),
  )
  expect(ui.email === 'alice@example.com' && ui.email_verified === true, 'userinfo: ' + JSON.stringify(ui))
  // Refresh: a new ID token (no nonce), same subject.
  const refreshed = await oauth.processRefreshTokenResponse(
    as,
    shopClient,
    await oauth.refreshTokenGrantRequest(as, shopClient, shopAuth, result.refresh_token),
  )
  const again = oauth.getValidatedIdTokenClaims(refreshed)
  expect(again && again.sub === 'alice' && again.nonce === undefined, 'refresh ID token')
  seen.push(`${shop.client_id} - ${refreshed.access_token} ${refreshed.id_token}`)

  // Negatives the client must catch: a wrong nonce; an ID token for another client.
  await expectThrows('wrong nonce', () => codeFlow(shopClient, shopAuth, { sendNonce: 'not-the-nonce' }))
  const other = await register({})
  const otherClient = { client_id: other.client_id }
  const verifier = oauth.generateRandomCodeVerifier()
  const state = oauth.generateRandomState()
  const a = await authorize(shopClient, {
    nonce: 'n-replay',
    state,
    challenge: await oauth.calculatePKCECodeChallenge(verifier),
  })
  const params = oauth.validateAuthResponse(as, shopClient, new URL(a.json.redirect_to), state)
  const response = await oauth.authorizationCodeGrantRequest(as, shopClient, shopAuth, params, redirectUri, verifier)
  // Shop's ID token, replayed to the other client, is refused by it (aud).
  await expectThrows('an ID token replayed to another client', () =>
    oauth.processAuthorizationCodeResponse(as, otherClient, response, { expectedNonce: 'n-replay' }),
  )
}
// max_age exceeded: latchkey refuses the authorization (login_required).
{
  const old = await authorize(shopClient, {
    state: 's',
    challenge: await oauth.calculatePKCECodeChallenge(oauth.generateRandomCodeVerifier()),
    authTime: Math.floor(Date.now() / 1000) - 3600,
    maxAge: 60,
  })
  expect(old.status === 400 && old.json.error === 'login_required', 'max_age: ' + JSON.stringify(old.json))
  const back = new URL(old.json.redirect_to)
  await expectThrows('the client sees login_required', () => oauth.validateAuthResponse(as, shopClient, back, 's'))
}

// --- a public client with DPoP (ES256), refresh and resource calls bound to the key -----------
for (const alg of ['ES256', 'EdDSA', 'RS256']) {
  const app = await register({ token_endpoint_auth_method: 'none', dpop_bound_access_tokens: true })
  const appClient = { client_id: app.client_id, token_endpoint_auth_method: 'none' }
  const keyPair = await oauth.generateKeyPair(alg, { extractable: false })
  const DPoP = oauth.DPoP(appClient, keyPair)
  const { result, claims } = await codeFlow(appClient, oauth.None(), { DPoP })
  expect(result.token_type === 'dpop', `${alg}: token_type DPoP`)
  const info = await retrying(async () =>
    oauth.processUserInfoResponse(as, appClient, claims.sub, await oauth.userInfoRequest(as, appClient, result.access_token, { DPoP })),
  )
  expect(info.sub === 'alice', `${alg}: DPoP userinfo`)
  // A generic resource call through the library's protectedResourceRequest, same proof rules.
  const r = await oauth.protectedResourceRequest(result.access_token, 'GET', new URL(as.userinfo_endpoint), new Headers(), null, { DPoP })
  await r.text()
  expect(r.status === 200, `${alg}: protectedResourceRequest ${r.status}`)
  // As Bearer (no DPoP): refused.
  await expectThrows(`${alg}: a bound token as Bearer`, async () => {
    const b = await oauth.userInfoRequest(as, appClient, result.access_token)
    await oauth.processUserInfoResponse(as, appClient, claims.sub, b)
  })
  // Refresh with the key: a new bound pair. With another key: invalid_grant.
  const refreshed = await retrying(async () =>
    oauth.processRefreshTokenResponse(
      as,
      appClient,
      await oauth.refreshTokenGrantRequest(as, appClient, oauth.None(), result.refresh_token, { DPoP }),
    ),
  )
  expect(refreshed.token_type === 'dpop' && refreshed.id_token, `${alg}: DPoP refresh`)
  const otherKey = oauth.DPoP(appClient, await oauth.generateKeyPair('ES256'))
  const e = await expectThrows(`${alg}: refresh with another key`, () =>
    retrying(async () =>
      oauth.processRefreshTokenResponse(
        as,
        appClient,
        await oauth.refreshTokenGrantRequest(as, appClient, oauth.None(), refreshed.refresh_token, { DPoP: otherKey }),
      ),
    ),
  )
  expect(e.error === 'invalid_grant' || e.cause?.error === 'invalid_grant', `${alg}: invalid_grant, got ${e.message}`)
  // Without any proof the client (dpop_bound_access_tokens) is refused.
  const n = await expectThrows(`${alg}: no proof`, async () => {
    await oauth.processRefreshTokenResponse(
      as,
      appClient,
      await oauth.refreshTokenGrantRequest(as, appClient, oauth.None(), refreshed.refresh_token),
    )
  })
  expect(n.error === 'invalid_dpop_proof' || n.cause?.error === 'invalid_dpop_proof', `${alg}: ${n.message}`)
}

writeFileSync(outFile, seen.join('\n') + '\n')
writeFileSync(outFile + '.jwks', await (await fetch(as.jwks_uri)).text())
console.log('ok')
