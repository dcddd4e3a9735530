-- Token-bucket rate limit: a bucket of `burst` tokens refilled continuously at
-- `limit` per window; a request takes `cost` tokens. Tokens are counted in
-- 1/window units (tokens * window ms), so the refill is `limit` units per ms
-- and every step is exact integer arithmetic. Time from the server clock (TIME).
-- Integer twin in Rust: src/ratelimit/token_bucket.rs.
-- KEYS[1]  <prefix>ratelimit:{<name>:<id>}, a hash { tokens = level in
--          tokens * window units, ts = when it was written (ms) }.
--          The hash tag {<name>:<id>} puts every key of one id in one Cluster slot.
-- ARGV[1]  limit        ARGV[2]  window (ms)     ARGV[3]  burst
-- ARGV[4]  cost         ARGV[5]  '1': peek (report, consume nothing)
-- Returns  { allowed 0|1, remaining, resetMs, retryAfterMs }. Only an admitted
-- consume writes; the key then lives resetMs (until the bucket is full again),
-- after which its absence means the same as its content.
local limit, window, burst, cost =
  tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local full = burst * window
local s = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = full
local ts = tonumber(s[2])
if ts then
  tokens = math.min(full, (tonumber(s[1]) or 0) + math.max(now - ts, 0) * limit)
end
local needed = cost * window
local allowed = tokens >= needed
local retry = math.ceil(math.max(needed - tokens, 0) / limit)
if allowed and ARGV[5] ~= '1' then
  tokens = tokens - needed
  redis.call('HSET', KEYS[1], 'tokens', tokens, 'ts', now)
  redis.call('PEXPIREAT', KEYS[1], now + math.ceil((full - tokens) / limit))
end
return {
  allowed and 1 or 0,
  math.floor(tokens / window),
  math.ceil((full - tokens) / limit),
  retry,
}
