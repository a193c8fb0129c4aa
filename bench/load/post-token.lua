-- POST {"token": ...} (POST /v1/sessions/validate, POST /v1/tokens/verify), cycling through
-- the tokens of a file (one per line), so the run touches many keys rather than one hot key.
--   wrk ... -s bench/load/post-token.lua -H "Authorization: Bearer KEY" URL -- TOKENS_FILE
package.path = (os.getenv("PEERS_WRK") or "../shared/peers/wrk") .. "/?.lua;" .. package.path
require "common"

local tokens = {}
local i = 0

function init(args)
  for line in io.lines(args[1]) do tokens[#tokens + 1] = line end
  if #tokens == 0 then
    io.stderr:write("post-token.lua: no tokens in " .. tostring(args[1]) .. "\n")
    os.exit(2)
  end
  i = math.random(#tokens)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  i = i % #tokens + 1
  return wrk.format(nil, nil, nil, '{"token":"' .. tokens[i] .. '"}')
end
