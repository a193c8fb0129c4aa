-- login_failure: counts a failed login on one counter (an account, a trusted device or an IP)
-- within a window and settles one attempt reserved by login_check; at `max` failures it locks
-- for a time that doubles with each lockout of this counter (base, 2 base, 4 base, ...
-- capped), then counts afresh. Expiry set here.
-- KEYS[1]  <prefix>la:{T}:<user hash> | <prefix>lp:<ip hash>
-- KEYS[2]  optional: <prefix>ld:{T}:<device hash>, used instead of KEYS[1] when it belongs to ARGV[7]
-- ARGV[1]  now (ms), or '' for Redis's clock  ARGV[2] window (ms)  ARGV[3] max failures
-- ARGV[4]  base lock (ms)  ARGV[5] longest lock (ms)  ARGV[6] how long the lockout count is
--          remembered (ms)  ARGV[7] user hash (with KEYS[2])
-- Returns  {failures in the window, locked until (ms, 0 if not locked), lockouts, now (ms),
--          1 when counted on the device}
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local window, max = tonumber(ARGV[2]), tonumber(ARGV[3])
local base, cap, memory = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local key, device = KEYS[1], 0
if KEYS[2] and redis.call('HGET', KEYS[2], 'uh') == ARGV[7] then key, device = KEYS[2], 1 end
local s = redis.call('HMGET', key, 'c', 'ws', 'n', 'lu', 'p', 'pe')
local c, ws, n, lu = tonumber(s[1] or '0'), tonumber(s[2] or '0'), tonumber(s[3] or '0'), tonumber(s[4] or '0')
local p, pe = tonumber(s[5] or '0'), tonumber(s[6] or '0')
if p > 0 and pe > now then p = p - 1 else p = 0 end
if lu > now then
  -- Locked: not counted (login_check refused every attempt that could arrive here); the
  -- attempt's reservation is settled.
  if s[5] then redis.call('HSET', key, 'p', p) end
  return {c, lu, n, now, device}
end
if ws + window <= now then c = 0; ws = now end
c = c + 1
local shown = c
if c >= max then
  n = n + 1
  lu = now + math.min(base * 2 ^ (n - 1), cap)
  c = 0
  ws = now
end
redis.call('HSET', key, 'c', c, 'ws', string.format('%d', ws), 'n', n, 'lu', string.format('%d', lu), 'p', p)
redis.call('PEXPIRE', key, math.max(memory, window, lu - now, pe - now))
if lu > now then return {shown, lu, n, now, device} end
return {shown, 0, n, now, device}
