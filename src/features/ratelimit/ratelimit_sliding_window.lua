-- Sliding-window rate limit, the two-counter approximation: the current
-- window's count plus the previous window's, weighted by how much of it the
-- sliding window still overlaps (assuming its requests were evenly spread).
-- In integers: used = prev * (window - elapsed) + count * window (request-ms),
-- admitted while used + cost * window <= limit * window.
-- Bounds: an aligned window never admits more than `limit`; any span of
-- d <= window ms admits at most limit * (1 + d / window), so fewer than
-- 2 * limit in any window-long span (a fixed window lets 2 * limit through in
-- an instant around a boundary). Time from the server clock (TIME).
-- Integer twin in Rust: src/ratelimit/sliding_window.rs.
-- KEYS[1]  <prefix>ratelimit:{<name>:<id>}, a hash { start = current window
--          start (ms), count = its count, prev = the previous window's count }.
--          The hash tag {<name>:<id>} puts every key of one id in one Cluster slot.
-- ARGV[1]  limit        ARGV[2]  window (ms)     ARGV[3]  burst (unused)
-- ARGV[4]  cost         ARGV[5]  '1': peek (report, consume nothing)
-- Returns  { allowed 0|1, remaining, resetMs, retryAfterMs }. Only an admitted
-- consume writes; the key then lives until the end of the next window (its
-- resetMs), after which its absence means the same as its content.
local limit, window, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[4])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local elapsed = now % window
local start = now - elapsed
local left = window - elapsed
local s = redis.call('HMGET', KEYS[1], 'start', 'count', 'prev')
local saved = tonumber(s[1])
local count, prev = 0, 0
if saved == start then
  count, prev = tonumber(s[2]) or 0, tonumber(s[3]) or 0
elseif saved == start - window then
  prev = tonumber(s[2]) or 0
end
local capacity = limit * window
local allowed = prev * left + (count + cost) * window <= capacity
if allowed and ARGV[5] ~= '1' then
  if saved == start then
    -- Same window: its TTL (the end of the next window) stands.
    count = redis.call('HINCRBY', KEYS[1], 'count', cost)
  else
    count = count + cost
    redis.call('HSET', KEYS[1], 'start', start, 'count', count, 'prev', prev)
    redis.call('PEXPIREAT', KEYS[1], start + 2 * window)
  end
end
local reset, retry = 0, 0
if count > 0 then reset = left + window elseif prev > 0 then reset = left end
if not allowed then
  local spare = limit - (count + cost)
  if spare >= 0 then
    -- In this window, once prev * (left - x) <= spare * window.
    retry = left - math.min(math.floor(spare * window / math.max(prev, 1)), left)
  else
    -- In the next, once count * (window - e) <= (limit - cost) * window.
    local fits = math.floor(math.max(limit - cost, 0) * window / math.max(count, 1))
    retry = left + window - math.min(fits, window)
  end
end
local remaining = math.floor(math.max(capacity - prev * left - count * window, 0) / window)
return { allowed and 1 or 0, remaining, reset, retry }
