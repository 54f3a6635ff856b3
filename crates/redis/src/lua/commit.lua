-- Records outcomes, keeps how far this worker's outputs are written (ARGV[6]), renews its
-- lease, and hands back the hosts it holds nothing of. ARGV[5] names the commit, so that
-- a commit repeated after a lost reply is applied once. ARGV[7]: 'away' when the worker
-- works in another partition (it keeps its lease here, its home, but takes no share of
-- its hosts), 'here' otherwise. ARGV[8]: how many outcomes, then for each: fingerprint,
-- host, what came of it, how many redirect targets, the targets.
local now = now_ms()
clock(now)
if not alive() then return redis.error_reply(LOST) end
local info = P .. 'worker:' .. W
if redis.call('HGET', info, 'commit') ~= ARGV[5] then
  local i = 9
  for _ = 1, tonumber(ARGV[8]) do
    local fp, host, what, hops = ARGV[i], ARGV[i + 1], ARGV[i + 2], tonumber(ARGV[i + 3])
    i = i + 4
    if redis.call('HDEL', P .. 'wurls:' .. W, fp) == 1 then
      redis.call('HINCRBY', P .. 'whosts:' .. W, host, -1)
      stat('leased', -1)
      stat('done', 1)
      stat(what, 1)
      redis.call('HINCRBY', info, 'pages', 1)
    else
      stat('duplicates', 1)
    end
    for _ = 1, hops do
      redis.call('SREM', P .. 'whops:' .. W, ARGV[i])
      i = i + 1
    end
  end
  redis.call('HSET', info, 'commit', ARGV[5], 'marks', ARGV[6])
end
redis.call('HSET', info, 'seen_ms', now)
if ARGV[7] == 'away' then
  redis.call('SADD', P .. 'away', W)
else
  redis.call('SREM', P .. 'away', W)
end
redis.call('ZADD', P .. 'workers', now + LEASE, W)
local held = redis.call('HGETALL', P .. 'whosts:' .. W)
for j = 1, #held, 2 do
  if tonumber(held[j + 1]) <= 0 then
    local host = held[j]
    redis.call('HDEL', P .. 'whosts:' .. W, host)
    redis.call('HDEL', P .. 'hlease', host)
    schedule(host, now + gap(host))
  end
end
return report()
