-- Records "every token of this user issued up to now is revoked", with now
-- taken from the Redis server clock in milliseconds.
-- KEYS[1]  the user's revoked-before key
-- ARGV[1]  how long to keep it, in ms (the longest lifetime of a token)
-- Returns the timestamp written (ms since the epoch).
local t = redis.call('TIME')
local now = t[1] .. string.format('%03d', math.floor(tonumber(t[2]) / 1000))
redis.call('SET', KEYS[1], now, 'PX', ARGV[1])
return tonumber(now)
