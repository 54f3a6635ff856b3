-- Claims requests in the seen set and queues the new ones, six arguments each from
-- ARGV[6]: seen bucket, value, fingerprint, host, score, request. ARGV[5]: how many.
local now = now_ms()
local seq = number(STATS, 'seq')
local new = 0
local i = 6
for _ = 1, tonumber(ARGV[5]) do
  local bucket, value, fp, host, score, body =
    ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4], ARGV[i + 5]
  i = i + 6
  if redis.call('SADD', P .. 's:' .. bucket, value) == 1 then
    seq = seq + 1
    redis.call('ZADD', P .. 'q:' .. host, score, string.format('%016x', seq) .. fp .. body)
    new = new + 1
    stat('queued', 1)
    if over_budget(host) then stat('stuck', 1) else schedule(host, now) end
  end
end
if new > 0 then
  redis.call('HSET', STATS, 'seq', string.format('%d', seq))
  stat('seen', new)
end
return {new, report()}
