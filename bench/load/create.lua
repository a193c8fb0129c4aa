-- POST /v1/sessions for user ids PREFIX-1, PREFIX-2, ... (each request a new user, so the
-- per-user limit never evicts), with a data object of about 200 bytes, like the peer's
-- /login body.
--   wrk ... -s bench/load/create.lua -H "Authorization: Bearer KEY" URL -- PREFIX
package.path = (os.getenv("PEERS_WRK") or "../shared/peers/wrk") .. "/?.lua;" .. package.path
require "common"

local prefix = "bench"
local n = 0
local data = '{"role":"member","name":"Benchmark User","email":"bench.user@example.com",' ..
             '"locale":"en-GB","plan":"team","features":["a","b","c"],"org":"org-000042",' ..
             '"theme":"dark","flags":{"beta":true,"mfa":false}}'

function init(args)
  -- A fresh prefix per run and thread (wrk does not seed Lua's generator).
  math.randomseed(os.time() + math.floor(os.clock() * 1000000) + (id or 0) * 7919)
  prefix = (args[1] or "bench") .. "-" .. tostring(math.random(1000000000))
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  n = n + 1
  return wrk.format(nil, nil, nil, '{"user_id":"' .. prefix .. "-" .. n .. '","data":' .. data .. '}')
end
