-- POST /v1/logins/check, in one of two shapes:
--   locked: one account and address (lock it first: the refusal every parallel guess meets)
--   fresh:  a new account from a new address on each request (every check allowed, so each
--           takes its reservations: the path of a legitimate login)
--   wrk ... -s bench/load/logins-check.lua -H "Authorization: Bearer KEY" URL -- locked|fresh
package.path = (os.getenv("PEERS_WRK") or "../shared/peers/wrk") .. "/?.lua;" .. package.path
require "common"

local mode, run, i = "locked", "", 0

function init(args)
  mode = args[1] or mode
  if mode ~= "locked" and mode ~= "fresh" then
    io.stderr:write("logins-check.lua: give locked or fresh after --\n")
    os.exit(2)
  end
  math.randomseed(os.time() + math.floor(os.clock() * 1e6))
  run = string.format("%08x", math.random(0, 0x7fffffff))  -- each wrk run its own accounts
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  if mode == "locked" then wrk.body = '{"user_id":"alice","ip":"203.0.113.9"}' end
end

function request()
  if mode == "locked" then return wrk.format() end
  i = i + 1
  return wrk.format(nil, nil, nil, string.format('{"user_id":"u-%s-%d","ip":"10.%d.%d.%d"}', run, i,
    math.floor(i / 65536) % 256, math.floor(i / 256) % 256, i % 256))
end
