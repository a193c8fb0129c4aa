-- ratelimit_sliding_window: an exact sliding log. Each admitted call is one member of a sorted
-- set, scored by its time (Redis's clock, microseconds) and carrying its cost; calls older
-- than the window leave it. So no window-long interval ever holds more than `limit` admitted
-- units, and memory and script time per call do not depend on `cost`.
-- KEYS[1]  <prefix>rl:s:{<id>}     the log: members "<time>:<seq>:<cost>"
-- KEYS[2]  <prefix>rl:s:{<id>}:n   hash: n = units in the log, q = sequence (same slot)
-- ARGV[1]  limit  ARGV[2] window (ms)  ARGV[3] cost (<= limit)
-- Returns  {allowed 0|1, remaining, reset_after (ms), retry_after (ms)}
local limit, window, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local span = window * 1000
local function cost_of(member) return tonumber(string.match(member, ':(%d+)$')) end
local used = 0
if redis.call('EXISTS', KEYS[1]) == 1 then
  used = tonumber(redis.call('HGET', KEYS[2], 'n') or '0')
  -- Each call leaves once: amortized, one member per admitted call.
  local old = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - span)
  if #old > 0 then
    for _, m in ipairs(old) do used = used - cost_of(m) end
    redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - span)
    if used < 0 then used = 0 end
    redis.call('HSET', KEYS[2], 'n', used)
  end
end
-- Milliseconds until the member scored `score` leaves the window.
local function leaves(score) return math.ceil((tonumber(score) + span - now) / 1000) end
if used + cost > limit then
  local newest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
  local reset = newest[2] and leaves(newest[2]) or 0
  -- The oldest calls leave first: walk them until enough units would be free.
  local need, freed, retry, i = used + cost - limit, 0, reset, 0
  while freed < need do
    local chunk = redis.call('ZRANGE', KEYS[1], i, i + 63, 'WITHSCORES')
    if #chunk == 0 then break end
    for j = 1, #chunk, 2 do
      freed = freed + cost_of(chunk[j])
      if freed >= need then
        retry = leaves(chunk[j + 1])
        break
      end
    end
    i = i + 64
  end
  return {0, limit - used, reset, retry}
end
local seq = redis.call('HINCRBY', KEYS[2], 'q', 1)
redis.call('ZADD', KEYS[1], now, string.format('%d:%d:%d', now, seq, cost))
redis.call('HSET', KEYS[2], 'n', used + cost)
redis.call('PEXPIRE', KEYS[1], window)
redis.call('PEXPIRE', KEYS[2], window)
return {1, limit - used - cost, window, 0}
