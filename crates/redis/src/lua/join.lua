-- Registers this worker. A worker of the same name that is still alive is refused
-- ('busy'); one whose lease ran out is let go first. Returns its output marks, its runs
-- and the crawl's (every worker's) runs, this one included.
local now = now_ms()
reap(now)
local lease = redis.call('ZSCORE', P .. 'workers', W)
if lease then
  if tonumber(lease) >= now then return redis.error_reply('BUSY') end
  let_go(W, now, 'lost')
  stat('reaped', 1)
end
redis.call('ZADD', P .. 'workers', now + LEASE, W)
local info = P .. 'worker:' .. W
redis.call('HSET', info, 'state', 'running', 'joined_ms', now, 'seen_ms', now)
redis.call('HDEL', info, 'left_ms', 'ended')
local runs = redis.call('HINCRBY', info, 'runs', 1)
local joins = redis.call('HINCRBY', META, 'joins', 1)
return {redis.call('HGET', info, 'marks') or '', runs, joins}
