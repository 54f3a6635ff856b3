-- Registers this worker (ARGV[5]: this process's nonce). A worker of the same name that is
-- still alive is refused ('WORKERBUSY'), unless it is this very process (a call repeated
-- after a lost reply), or ARGV[6] is 'own': the worker holds its name in the crawl's first
-- partition, so a registration of it here is one of its own earlier runs. One whose lease
-- ran out is let go first. Returns its output marks, its run (the fencing token of its
-- later calls) and the crawl's runs, this one included.
local now = now_ms()
reap(now)
local info = P .. 'worker:' .. W
local lease = redis.call('ZSCORE', P .. 'workers', W)
local alive_now = lease and tonumber(lease) >= now
local again = alive_now and redis.call('HGET', info, 'nonce') == ARGV[5]
if not again then
  if alive_now and ARGV[6] ~= 'own' then
    return redis.error_reply('WORKERBUSY a worker of this name is running')
  end
  if lease then
    let_go(W, now, 'lost')
    stat('reaped', 1)
  end
  redis.call('ZADD', P .. 'workers', now + LEASE, W)
  redis.call('HSET', info, 'state', 'running', 'joined_ms', now, 'seen_ms', now, 'nonce', ARGV[5])
  redis.call('HDEL', info, 'left_ms', 'ended', 'round_trips')
  redis.call('HINCRBY', info, 'runs', 1)
  redis.call('HINCRBY', META, 'joins', 1)
  redis.call('SADD', P .. 'workerset', W)
end
return {redis.call('HGET', info, 'marks') or '', tonumber(redis.call('HGET', info, 'runs')),
  tonumber(redis.call('HGET', META, 'joins'))}
