-- POST /v1/sessions (or /v1/tokens) for user ids PREFIX-1, PREFIX-2, ... (each request a new
-- user, so no per-user limit evicts), with a data object of about 200 bytes, like the peer's
-- /login body; with "user-only" as second argument, the body is just {"user_id"} (tokens).
--   wrk ... -s bench/load/create.lua -H "Authorization: Bearer KEY" URL -- PREFIX [user-only]
package.path = (os.getenv("PEERS_WRK") or "../shared/peers/wrk") .. "/?.lua;" .. package.path
require "common"

local prefix = "bench"
local n = 0
local user_only = false
local data = '{"role":"member","name":"Benchmark User","email":"bench.user@example.com",' ..
             '"locale":"en-GB","plan":"team","features":["a","b","c"],"org":"org-000042",' ..
             '"theme":"dark","flags":{"beta":true,"mfa":false}}'

function init(args)
  -- A fresh prefix per run and thread (wrk does not seed Lua's generator).
  math.randomseed(os.time() + math.floor(os.clock() * 1000000) + (id or 0) * 7919)
  prefix = (args[1] or "bench") .. "-" .. tostring(math.random(1000000000))
  user_only = args[2] == "user-only"
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  n = n + 1
  if user_only then return wrk.format(nil, nil, nil, '{"user_id":"' .. prefix .. "-" .. n .. '"}') end
  return wrk.format(nil, nil, nil, '{"user_id":"' .. prefix .. "-" .. n .. '","data":' .. data .. '}')
end
