-- Gives up requests this worker holds (fingerprints from ARGV[6]): dropped when ARGV[5]
-- is 'drop' (they will never be fetched), queued again when it is 'requeue'.
local now = now_ms()
if not alive() then return redis.error_reply(LOST) end
local mine = P .. 'wurls:' .. W
local back = ARGV[5] == 'requeue'
for i = 6, #ARGV do
  local entry = redis.call('HGET', mine, ARGV[i])
  if entry then
    redis.call('HDEL', mine, ARGV[i])
    local host = string.match(entry, '^([^\n]*)\n')
    redis.call('HINCRBY', P .. 'whosts:' .. W, host, -1)
    if back then
      requeue(entry, now)
    else
      stat('leased', -1)
      stat('taken', -1)
      stat('dropped', 1)
      count_taken(host, -1, now)
    end
  end
end
return report()
