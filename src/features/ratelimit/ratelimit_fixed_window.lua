-- Fixed-window rate limit: at most `limit` units per window; windows start at
-- multiples of the window on the server clock. The count is a plain integer
-- that expires at its window's end (PEXPIREAT, set from TIME when the window's
-- first request creates it), so the steady path is two commands.
-- Integer twin in Rust: src/ratelimit/fixed_window.rs (same results for the
-- same time; there the window's start stands for the key's expiry).
-- KEYS[1]  <prefix>ratelimit:{<name>:<id>}, the window's count.
--          The hash tag {<name>:<id>} puts every key of one id in one Cluster slot.
-- ARGV[1]  limit        ARGV[2]  window (ms)     ARGV[3]  burst (unused)
-- ARGV[4]  cost         ARGV[5]  '1': peek (report, consume nothing)
-- Returns  { allowed 0|1, remaining, resetMs, retryAfterMs }. A denial or a
-- peek leaves the count as it was.
local limit, cost = tonumber(ARGV[1]), tonumber(ARGV[4])
local peek = ARGV[5] == '1'
local count, left
if peek then
  count = tonumber(redis.call('GET', KEYS[1])) or 0
  left = redis.call('PTTL', KEYS[1])
else
  count = redis.call('INCRBY', KEYS[1], cost)
  if count == cost then left = -1 else left = redis.call('PTTL', KEYS[1]) end
end
-- PTTL says 0 in the window's last fraction of a ms: it is still 1 ms away.
if left == 0 then left = 1 end
if left < 0 then
  -- A new window (or a count without a TTL): it ends at the next multiple of
  -- the window on the server clock.
  local window = tonumber(ARGV[2])
  local time = redis.call('TIME')
  local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
  left = window - now % window
  if not peek then redis.call('PEXPIREAT', KEYS[1], now + left) end
end
local allowed
if peek then
  allowed = count + cost <= limit
else
  allowed = count <= limit
  if not allowed then count = redis.call('DECRBY', KEYS[1], cost) end
end
local reset, retry = 0, 0
if count > 0 then reset = left end
if not allowed then retry = left end
return { allowed and 1 or 0, math.max(0, limit - count), reset, retry }
