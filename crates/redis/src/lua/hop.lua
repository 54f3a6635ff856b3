-- Claims a redirect target (ARGV[5] bucket, ARGV[6] value) for a page this worker holds:
-- 1 when it was claimed now, 2 when this worker claimed it already (a call repeated after
-- a lost reply, or another of its pages that redirects there), 0 otherwise.
if not alive() then return redis.error_reply(LOST) end
local hop = ARGV[5] .. ':' .. ARGV[6]
if redis.call('SADD', P .. 's:' .. ARGV[5], ARGV[6]) == 1 then
  stat('seen', 1)
  redis.call('SADD', P .. 'whops:' .. W, hop)
  return 1
end
if redis.call('SISMEMBER', P .. 'whops:' .. W, hop) == 1 then return 2 end
return 0
