-- Fixed-window rate limit, companion of the plain-command path: a cost-1
-- consume counts with INCRBY + PTTL in the normal pipeline (no script: a
-- fraction of a script's cost on the server). The first count of a window has
-- no TTL yet; this gives it the end of its window on the server clock
-- (windows start at multiples of the window). Idempotent: whoever runs it
-- first sets the TTL, later callers read it.
-- Integer twin: src/backend/memory/scripts_ratelimit.rs (fixed_window_open).
-- KEYS[1]  <prefix>ratelimit:{<name>:<id>}, the window's count.
--          The hash tag {<name>:<id>} puts every key of one id in one Cluster slot.
-- ARGV[1]  window (ms)
-- Returns  ms left in the window; -2 when the count is gone (its window ended).
local left = redis.call('PTTL', KEYS[1])
if left == -1 then
  local window = tonumber(ARGV[1])
  local time = redis.call('TIME')
  local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
  left = window - now % window
  redis.call('PEXPIREAT', KEYS[1], now + left)
elseif left == 0 then
  -- PTTL says 0 in the window's last fraction of a ms: it is still 1 ms away.
  left = 1
end
return left
