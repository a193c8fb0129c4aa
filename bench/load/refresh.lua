-- POST /v1/tokens/refresh with a pool of live refresh tokens (one per line of a file, each
-- from its own login): every request takes a token from the pool and its response puts the
-- successor back, so no token is ever presented twice (no grace-window retries, no reuse).
--   wrk -t1 ... -s bench/load/refresh.lua -H "Authorization: Bearer KEY" URL -- TOKENS_FILE
package.path = (os.getenv("PEERS_WRK") or "../shared/peers/wrk") .. "/?.lua;" .. package.path
require "common"

local pool, head, tail = {}, 1, 0
counted = true

function init(args)
  for line in io.lines(args[1]) do
    tail = tail + 1
    pool[tail] = line
  end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  if head > tail then
    io.stderr:write("refresh.lua: the pool ran dry (failed refreshes)\n")
    os.exit(3)
  end
  local token = pool[head]
  pool[head] = nil
  head = head + 1
  return wrk.format(nil, nil, nil, '{"refresh_token":"' .. token .. '"}')
end

function response(status, headers, body)
  local next = body:match('"refresh_token":"([^"]+)"')
  if status == 200 and next then
    tail = tail + 1
    pool[tail] = next
  else
    bad = bad + 1
  end
end
