-- POST /v1/ratelimit/check with a rotating key (like a limiter keyed by client address), for
-- a named policy: each request takes the next of KEYS identifiers (default 1000).
--   wrk ... -s bench/load/ratelimit-check.lua -H "Authorization: Bearer KEY" URL -- POLICY [KEYS]
package.path = (os.getenv("PEERS_WRK") or "../shared/peers/wrk") .. "/?.lua;" .. package.path
require "common"

local policy, nkeys, i = "api", 1000, 0

function init(args)
  policy = args[1] or policy
  nkeys = tonumber(args[2]) or nkeys
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  i = i + 1
  return wrk.format(nil, nil, nil, string.format('{"policy":"%s","key":"ip:10.0.0.%d"}', policy, i % nkeys))
end
