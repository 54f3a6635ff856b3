-- Creates the crawl (ARGV[5]: its settings, then field and value pairs), unless it exists.
-- Returns whether it was created here, the settings it holds, its layout version, the
-- lease its workers use unless given their own, and its partitions.
local created = redis.call('HSETNX', META, 'spec', ARGV[5]) == 1
if created then
  for i = 6, #ARGV, 2 do redis.call('HSET', META, ARGV[i], ARGV[i + 1]) end
end
return {created and 1 or 0, redis.call('HGET', META, 'spec'),
  tonumber(redis.call('HGET', META, 'version') or '0'),
  tonumber(redis.call('HGET', META, 'lease_ms') or '0'),
  tonumber(redis.call('HGET', META, 'partitions') or '1')}
