-- ratelimit_sliding_window: an exact sliding log. Each admitted unit is a member of a sorted
-- set scored by its time (Redis's clock, microseconds); units older than the window leave
-- it. So no window-long interval ever holds more than `limit` admitted units.
-- KEYS[1]  <prefix>rl:s:<sha256(key)>
-- ARGV[1]  limit  ARGV[2] window (ms)  ARGV[3] cost (<= limit)
-- Returns  {allowed 0|1, remaining, reset_after (ms), retry_after (ms)}
local limit, window, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local span = window * 1000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - span)
local used = redis.call('ZCARD', KEYS[1])
-- Microseconds until the entry at `index` (0 = oldest) leaves the window.
local function leaves(index)
  local e = redis.call('ZRANGE', KEYS[1], index, index, 'WITHSCORES')
  if not e[2] then return 0 end
  return math.ceil((tonumber(e[2]) + span - now) / 1000)
end
if used + cost > limit then
  return {0, limit - used, leaves(used - 1), leaves(used + cost - limit - 1)}
end
for i = 1, cost do
  -- Unique within the set: the same microsecond always comes with a larger count.
  redis.call('ZADD', KEYS[1], now, string.format('%d:%d', now, used + i))
end
redis.call('PEXPIRE', KEYS[1], window)
return {1, limit - used - cost, window, 0}
