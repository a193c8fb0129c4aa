-- login_failure: counts a failed login on one counter (an account, a trusted device or an IP)
-- within a window; at `max` failures it locks for a time that doubles with each lockout of
-- this counter (base, 2 base, 4 base, ... capped), then counts afresh. Expiry set here.
-- KEYS[1]  <prefix>la:{T}:<user hash> | <prefix>ld:{T}:<sha256(device token)> | <prefix>lp:<sha256(ip)>
-- ARGV[1]  now (ms)  ARGV[2] window (ms)  ARGV[3] max failures  ARGV[4] base lock (ms)
-- ARGV[5]  longest lock (ms)  ARGV[6] how long the lockout count is remembered (ms)
-- Returns  {failures in the window, locked until (ms, 0 if not locked), lockouts}
local now, window, max = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local base, cap, memory = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local s = redis.call('HMGET', KEYS[1], 'c', 'ws', 'n', 'lu')
local c, ws, n, lu = tonumber(s[1] or '0'), tonumber(s[2] or '0'), tonumber(s[3] or '0'), tonumber(s[4] or '0')
if lu > now then return {c, lu, n} end  -- already locked: attempts while locked are refused, not counted
if ws + window <= now then c = 0; ws = now end
c = c + 1
local shown = c
if c >= max then
  n = n + 1
  lu = now + math.min(base * 2 ^ (n - 1), cap)
  c = 0
  ws = now
end
redis.call('HSET', KEYS[1], 'c', c, 'ws', ws, 'n', n, 'lu', string.format('%d', lu))
redis.call('PEXPIRE', KEYS[1], math.max(memory, window, lu - now))
if lu > now then return {shown, lu, n} end
return {shown, 0, n}
