-- Removes one job from a queue's processing list, by id, so any process can ack.
-- KEYS[1]  the processing list
-- ARGV[1]  the job id
-- A job is a JSON object with an `id` field; an item that is not (pushed by
-- another producer) is acked by its raw text, which `pop` hands out as its id.
-- Reads the list in chunks from the head, where `pop` puts the jobs it takes:
-- a recent job is found without copying a long list of forgotten ones.
-- Returns 1 when a job was removed, 0 when none matched.
local CHUNK = 100
local start = 0
while true do
  local items = redis.call('LRANGE', KEYS[1], start, start + CHUNK - 1)
  for _, item in ipairs(items) do
    local ok, job = pcall(cjson.decode, item)
    local id = ok and type(job) == 'table' and job.id or item
    if id == ARGV[1] then
      return redis.call('LREM', KEYS[1], 1, item)
    end
  end
  if #items < CHUNK then
    return 0
  end
  start = start + CHUNK
end
