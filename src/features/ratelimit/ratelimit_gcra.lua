-- GCRA rate limit (generic cell rate algorithm): one value per id, the
-- theoretical arrival time (TAT), when the limiter is full again. Each
-- admitted unit pushes it window / limit ms further; a request is admitted
-- while the TAT stays within burst * window / limit ms of now. Exact: the TAT
-- is kept as whole ms plus a fraction in 1/limit ms, so no rounding ever
-- accumulates. Admits exactly what the token bucket with the same parameters
-- admits. Time from the server clock (TIME).
-- Integer twin in Rust: src/ratelimit/gcra.rs.
-- KEYS[1]  <prefix>ratelimit:{<name>:<id>}, a hash { tat = TAT in whole ms
--          since the epoch, frac = its fraction in 1/limit ms }.
--          The hash tag {<name>:<id>} puts every key of one id in one Cluster slot.
-- ARGV[1]  limit        ARGV[2]  window (ms)     ARGV[3]  burst
-- ARGV[4]  cost         ARGV[5]  '1': peek (report, consume nothing)
-- Returns  { allowed 0|1, remaining, resetMs, retryAfterMs }. Only an admitted
-- consume writes; the key then lives resetMs (until the TAT), after which its
-- absence means the same as its content.
local limit, window, burst, cost =
  tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local tolerance = burst * window
local s = redis.call('HMGET', KEYS[1], 'tat', 'frac')
local tat = tonumber(s[1])
-- How far the TAT is ahead of now, in 1/limit ms (0 once it has passed).
local ahead = 0
if tat and tat >= now then ahead = (tat - now) * limit + (tonumber(s[2]) or 0) end
local nxt = ahead + cost * window
local allowed = nxt <= tolerance
if allowed and ARGV[5] ~= '1' then
  ahead = nxt
  redis.call('HSET', KEYS[1], 'tat', now + math.floor(ahead / limit), 'frac', ahead % limit)
  redis.call('PEXPIREAT', KEYS[1], now + math.ceil(ahead / limit))
end
return {
  allowed and 1 or 0,
  math.floor(math.max(tolerance - ahead, 0) / window),
  math.ceil(ahead / limit),
  math.ceil(math.max(nxt - tolerance, 0) / limit),
}
