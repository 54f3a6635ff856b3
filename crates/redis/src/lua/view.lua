-- What a worker looking for work sees of a partition (after taking dead workers' work
-- back): requests queued that may be taken, those over a budget, those leased, hosts due
-- now, workers, and requests claimed so far (a claim is the only way into a quiet
-- partition).
local now = now_ms()
reap(now)
return {takeable(), number(STATS, 'stuck'), number(STATS, 'leased'),
  redis.call('ZCOUNT', P .. 'ready', '-inf', now), redis.call('ZCARD', P .. 'workers'),
  number(STATS, 'seq')}
