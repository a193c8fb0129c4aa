-- login_check: may a password be verified now? Reserves one attempt on the counter (an
-- account, a trusted device or an IP) when it is neither locked nor at its budget, so that
-- parallel attempts cannot outrun the lock: failures in the window plus attempts in flight
-- never exceed `max`. A reservation is settled by the attempt's failure or success report
-- (login_failure / login_success / login_release) or lapses `hold` after the newest one.
-- KEYS[1]  <prefix>la:{T}:<user hash> | <prefix>lp:<ip hash>
-- KEYS[2]  optional: <prefix>ld:{T}:<device hash>, used instead of KEYS[1] when it belongs to ARGV[5]
-- ARGV[1]  now (ms), or '' for Redis's clock  ARGV[2] window (ms)  ARGV[3] max failures
-- ARGV[4]  hold (ms)  ARGV[5] user hash (with KEYS[2])
-- Returns  {1 allowed | 0 refused, locked until (ms, 0), busy until (ms, 0), now (ms),
--          1 when judged on the device}
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local window, max, hold = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local key, device = KEYS[1], 0
if KEYS[2] and redis.call('HGET', KEYS[2], 'uh') == ARGV[5] then key, device = KEYS[2], 1 end
local s = redis.call('HMGET', key, 'c', 'ws', 'lu', 'p', 'pe')
local c, ws, lu = tonumber(s[1] or '0'), tonumber(s[2] or '0'), tonumber(s[3] or '0')
local p, pe = tonumber(s[4] or '0'), tonumber(s[5] or '0')
if lu > now then return {0, lu, 0, now, device} end
if ws + window <= now then c = 0 end
if pe <= now then p = 0 end
if c + p >= max then return {0, 0, pe, now, device} end
redis.call('HSET', key, 'p', p + 1, 'pe', string.format('%d', now + hold))
if redis.call('PTTL', key) < hold then redis.call('PEXPIRE', key, hold) end
return {1, 0, 0, now, device}
