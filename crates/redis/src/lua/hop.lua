-- Claims a redirect target (ARGV[4] bucket, ARGV[5] value) for a page this worker holds.
local hop = ARGV[4] .. ':' .. ARGV[5]
if redis.call('SADD', P .. 's:' .. ARGV[4], ARGV[5]) == 1 then
  stat('seen', 1)
  redis.call('SADD', P .. 'whops:' .. W, hop)
  return 1
end
-- A call repeated after a lost reply: the claim was this worker's.
return redis.call('SISMEMBER', P .. 'whops:' .. W, hop)
