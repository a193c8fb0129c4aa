-- ratelimit_gcra: the generic cell rate algorithm (a token bucket kept as one timestamp).
-- Units are admitted at `limit` per `window`, with up to `burst` at once. The stored value
-- is the theoretical arrival time (TAT, microseconds on Redis's clock); its expiry (set here)
-- is when the bucket is full again.
-- KEYS[1]  <prefix>rl:g:<sha256(key)>
-- ARGV[1]  limit  ARGV[2] window (ms)  ARGV[3] cost (<= burst)  ARGV[4] burst
-- Returns  {allowed 0|1, remaining, reset_after (ms), retry_after (ms)}
local limit, window, cost, burst = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = window * 1000 / limit          -- microseconds per unit
local tolerance = interval * burst
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local new_tat = tat + interval * cost
local allow_at = new_tat - tolerance
if now < allow_at then
  local remaining = math.floor((tolerance - (tat - now)) / interval)
  if remaining < 0 then remaining = 0 end
  return {0, remaining, math.ceil((tat - now) / 1000), math.ceil((allow_at - now) / 1000)}
end
local ttl = math.ceil((new_tat - now) / 1000)
redis.call('SET', KEYS[1], string.format('%d', math.ceil(new_tat)), 'PX', ttl)
return {1, math.floor((now - allow_at) / interval), ttl, 0}
