-- ratelimit_fixed_window: a counter per window; the window starts with its first admitted
-- request. The expiry is set in this script, so a counter can never live without one.
-- KEYS[1]  <prefix>rl:f:<sha256(key)>
-- ARGV[1]  limit  ARGV[2] window (ms)  ARGV[3] cost
-- Returns  {allowed 0|1, remaining, reset_after (ms), retry_after (ms)}
local limit, window, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local ttl = redis.call('PTTL', KEYS[1])
local used = 0
if ttl > 0 then used = tonumber(redis.call('GET', KEYS[1]) or '0') else ttl = window end
if used + cost > limit then
  return {0, limit - used, ttl, ttl}
end
if used == 0 then
  redis.call('SET', KEYS[1], cost, 'PX', window)
else
  redis.call('INCRBY', KEYS[1], cost)
end
return {1, limit - used - cost, ttl, 0}
