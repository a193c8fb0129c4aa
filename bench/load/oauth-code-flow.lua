-- The authorization-code flow with PKCE against latchkey: POST /v1/oauth/authorizations (the
-- backend hands latchkey the authorization request of a logged-in user: 201 with a code),
-- then POST /oauth2/token (authorization_code + code_verifier, the client by HTTP Basic).
-- Each connection redeems a code whenever one is waiting, else asks for one, so half the
-- requests are each; flows_per_s counts completed token responses. Like the peer's
-- oauth2-code-flow.lua, with latchkey's authorization endpoint. MODE (default plain): openid
-- adds scope openid with a nonce, auth_time, amr and two claims (an ID token is signed per
-- flow); dpop sends one of the pre-made DPoP proofs of PROOFS_FILE with each token request of
-- the plain flow (bench/load/dpop-proofs.mjs; a bound access token per flow, no ID token).
--   wrk -t1 -c32 -d10s -s bench/load/oauth-code-flow.lua URL -- ADMIN_KEY CLIENT_ID BASIC_CREDENTIALS [MODE [PROOFS_FILE]]
package.path = (os.getenv("PEERS_WRK") or "../shared/peers/wrk") .. "/?.lua;" .. package.path
local common = require "common"

local redirect_uri = "http://127.0.0.1/cb"
local authorize_req, token_headers, token_prefix
local codes, head, tail = {}, 1, 0
local proofs, next_proof = nil, 1

function init(args)
  counted = true
  local admin, client_id, basic, mode = args[1], args[2], args[3], args[4] or "plain"
  local scope, login = "read write", ""
  if mode == "openid" then
    scope = "openid read write"
  end
  if mode == "openid" then
    login = ',"nonce":"wrk-nonce","auth_time":' .. (os.time() - 30) ..
      ',"amr":["pwd"],"claims":{"email":"user@example.com","email_verified":true}'
  end
  if mode == "dpop" then
    proofs = {}
    for line in io.lines(args[5]) do proofs[#proofs + 1] = line end
  end
  local body = '{"response_type":"code","client_id":"' .. client_id .. '","redirect_uri":"' .. redirect_uri ..
    '","scope":"' .. scope .. '","state":"wrk","code_challenge":"' .. common.pkce_challenge ..
    '","code_challenge_method":"S256","user_id":"USER-001"' .. login .. '}'
  authorize_req = wrk.format("POST", "/v1/oauth/authorizations",
    { ["Content-Type"] = "application/json", Authorization = "Bearer " .. admin }, body)
  token_headers = common.form_headers({ Authorization = basic })
  token_prefix = "grant_type=authorization_code&redirect_uri=" .. common.urlencode(redirect_uri) ..
    "&code_verifier=" .. common.pkce_verifier .. "&code="
end

function request()
  if tail >= head then
    local code = codes[head]
    codes[head] = nil
    head = head + 1
    if proofs then
      token_headers["DPoP"] = proofs[next_proof]  -- each proof once (a second use is a replay: bad)
      next_proof = next_proof + 1
    end
    return wrk.format("POST", "/oauth2/token", token_headers, token_prefix .. code)
  end
  return authorize_req
end

function response(status, headers, body)
  if status == 201 then
    local code = body:match('"code":"([^"]+)"')
    if code then
      tail = tail + 1
      codes[tail] = code
      return
    end
    bad = bad + 1
  elseif status == 200 then
    flows = flows + 1
  else
    bad = bad + 1
  end
end
