-- POST {"token": ...} (POST /v1/sessions/validate, POST /v1/tokens/verify), cycling through
-- the tokens of a file (one per line), so the run touches many keys rather than one hot key.
-- With `form` after the file: a form body token=... (POST /oauth2/introspect).
--   wrk ... -s bench/load/post-token.lua -H "Authorization: Bearer KEY" URL -- TOKENS_FILE
--   wrk ... -s bench/load/post-token.lua -H "Authorization: Basic ..." URL -- TOKENS_FILE form
package.path = (os.getenv("PEERS_WRK") or "../shared/peers/wrk") .. "/?.lua;" .. package.path
require "common"

local tokens = {}
local i = 0
local form = false

function init(args)
  for line in io.lines(args[1]) do tokens[#tokens + 1] = line end
  if #tokens == 0 then
    io.stderr:write("post-token.lua: no tokens in " .. tostring(args[1]) .. "\n")
    os.exit(2)
  end
  i = math.random(#tokens)
  form = args[2] == "form"
  wrk.method = "POST"
  wrk.headers["Content-Type"] = form and "application/x-www-form-urlencoded" or "application/json"
end

function request()
  i = i % #tokens + 1
  if form then return wrk.format(nil, nil, nil, "token=" .. tokens[i]) end
  return wrk.format(nil, nil, nil, '{"token":"' .. tokens[i] .. '"}')
end
