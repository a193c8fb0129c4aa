-- login_check: may a password be verified now? Reserves one attempt on every counter given
-- (the account's or its trusted device's, and the IP's) when none is locked or at its
-- budget, all or nothing, so that parallel attempts cannot outrun the lock: failures in the
-- window plus attempts in flight never exceed a counter's `max`. A reservation is settled by
-- the attempt's failure or success report (login_failure / login_success / login_release)
-- or lapses `hold` after the newest one. Guard::Logins::check calls this only after plain
-- reads of the same fields allowed the attempt (its judge() is this verdict, read-only).
-- KEYS[i]  a counter: <prefix>la:{T}:<user hash> | <prefix>ld:{T}:<device hash> | <prefix>lp:<ip hash>
-- ARGV[1]  now (ms), or '' for Redis's clock  ARGV[2] window (ms)  ARGV[3] hold (ms)
-- ARGV[3+i] max failures of KEYS[i]
-- Returns  {1 reserved | 0 refused, now (ms), then for each counter: 1 when it refuses,
--          locked until (ms, 0), busy until (ms, 0)}
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local window, hold = tonumber(ARGV[2]), tonumber(ARGV[3])
local out, inflight, allowed = {1, now}, {}, true
for i, key in ipairs(KEYS) do
  local s = redis.call('HMGET', key, 'c', 'ws', 'lu', 'p', 'pe')
  local c, ws, lu = tonumber(s[1] or '0'), tonumber(s[2] or '0'), tonumber(s[3] or '0')
  local p, pe = tonumber(s[4] or '0'), tonumber(s[5] or '0')
  if ws + window <= now then c = 0 end
  if pe <= now then p = 0 end
  inflight[i] = p
  if lu > now then
    allowed = false
    out[#out + 1], out[#out + 2], out[#out + 3] = 1, lu, 0
  elseif c + p >= tonumber(ARGV[3 + i]) then
    allowed = false
    out[#out + 1], out[#out + 2], out[#out + 3] = 1, 0, pe
  else
    out[#out + 1], out[#out + 2], out[#out + 3] = 0, 0, 0
  end
end
if not allowed then
  out[1] = 0
  return out
end
local until_ = string.format('%d', now + hold)
for i, key in ipairs(KEYS) do
  redis.call('HSET', key, 'p', inflight[i] + 1, 'pe', until_)
  if redis.call('PTTL', key) < hold then redis.call('PEXPIRE', key, hold) end
end
return out
