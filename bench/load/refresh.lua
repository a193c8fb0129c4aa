-- POST /v1/tokens/refresh with a pool of live refresh tokens (one per line of a file, each
-- from its own login): every request takes a token from the pool and its response puts the
-- successor back, so no token is ever presented twice (no grace-window retries, no reuse).
-- With `form` after the file: the OAuth refresh_token grant (POST /oauth2/token).
--   wrk -t1 ... -s bench/load/refresh.lua -H "Authorization: Bearer KEY" URL -- TOKENS_FILE
--   wrk -t1 ... -s bench/load/refresh.lua -H "Authorization: Basic ..." URL -- TOKENS_FILE form
package.path = (os.getenv("PEERS_WRK") or "../shared/peers/wrk") .. "/?.lua;" .. package.path
require "common"

local pool, head, tail = {}, 1, 0
local form = false
counted = true

function init(args)
  for line in io.lines(args[1]) do
    tail = tail + 1
    pool[tail] = line
  end
  form = args[2] == "form"
  wrk.method = "POST"
  wrk.headers["Content-Type"] = form and "application/x-www-form-urlencoded" or "application/json"
end

function request()
  if head > tail then
    io.stderr:write("refresh.lua: the pool ran dry (failed refreshes)\n")
    os.exit(3)
  end
  local token = pool[head]
  pool[head] = nil
  head = head + 1
  if form then return wrk.format(nil, nil, nil, "grant_type=refresh_token&refresh_token=" .. token) end
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
