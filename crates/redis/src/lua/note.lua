-- Keeps what a worker noted (a host's state, sitemaps read, seeds' landings), from ARGV[5]
-- in groups of four: a command (HSET, HDEL or SADD), a key's name in the partition, a
-- field (or member), a value.
for i = 5, #ARGV, 4 do
  local op, key, field, value = ARGV[i], P .. ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  if op == 'HSET' then
    redis.call('HSET', key, field, value)
  elseif op == 'HDEL' then
    redis.call('HDEL', key, field)
  elseif op == 'SADD' then
    redis.call('SADD', key, field)
  end
end
return 0
