-- Merges one step into a draft, bumps its version and refreshes its TTL, unless
-- the caller's expected version is stale (then nothing is written).
-- KEYS[1]  the draft hash
-- ARGV[1]  step name            ARGV[2]  step data (JSON)
-- ARGV[3]  TTL in ms            ARGV[4]  updatedAt (ISO 8601)
-- ARGV[5]  expected version, or '' for none (a missing draft is version 0)
-- Returns { TTL in seconds, HGETALL } after the write, or the current version
-- (an integer) on a conflict.
local version = tonumber(redis.call('HGET', KEYS[1], '_version')) or 0
if ARGV[5] ~= '' and tonumber(ARGV[5]) ~= version then
  return version
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2], '_version', version + 1, '_updatedAt', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return { redis.call('TTL', KEYS[1]), redis.call('HGETALL', KEYS[1]) }
