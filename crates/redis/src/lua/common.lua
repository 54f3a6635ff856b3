-- Shared by every script of arachne's Redis store. ARGV[1] is the crawl's key prefix
-- (with its hash tag), ARGV[2] this worker's name, ARGV[3] the lease in milliseconds,
-- ARGV[4] the worker's run (its fencing token: a process that was replaced by another of
-- the same name can change nothing). Every key of a partition carries its hash tag, so a
-- script's keys are on one shard.
local P, W, LEASE, RUN = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local STATS, META = P .. 'stats', P .. 'meta'

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function stat(name, by)
  return redis.call('HINCRBY', STATS, name, by)
end

local function number(key, field)
  return tonumber(redis.call('HGET', key, field) or '0') or 0
end

-- A limit the crawl was created with (nil when it has none), read once per call: only
-- create.lua writes them, before anything reads them.
local limits = {}
local function meta_limit(field)
  local limit = limits[field]
  if limit == nil then
    local value = redis.call('HGET', META, field)
    limit = value and value ~= '' and tonumber(value) or false
    limits[field] = limit
  end
  return limit or nil
end

local function over_budget(host)
  local budget = meta_limit('host_budget')
  return budget ~= nil and number(P .. 'hcount', host) >= budget
end

-- The least time between two requests to a host: its robots.txt Crawl-delay, or the
-- crawl's delay. A host handed from one worker to another waits this long.
local function gap(host)
  local own = redis.call('HGET', P .. 'gap', host)
  if own then return tonumber(own) end
  return number(META, 'delay_ms')
end

-- A host with requests queued, under its budget and leased by nobody goes on the
-- schedule, ready at `at` (or when its pause ends); a host on it already keeps its time.
local function schedule(host, at)
  if redis.call('HEXISTS', P .. 'hlease', host) == 1 then return end
  if over_budget(host) then return end
  if redis.call('ZCARD', P .. 'q:' .. host) == 0 then return end
  local paused = number(P .. 'paused', host)
  if paused > at then at = paused end
  redis.call('ZADD', P .. 'ready', 'NX', at, host)
end

-- Counts requests of a host taken (or given back, when `by` is negative) against its
-- page budget; a host that reaches it leaves the schedule, and its queue stops counting
-- as queued, until it is under its budget again.
local function count_taken(host, by, now)
  local budget = meta_limit('host_budget')
  if budget == nil then return end
  local before = number(P .. 'hcount', host)
  local after = before + by
  redis.call('HSET', P .. 'hcount', host, after)
  local was, is = before >= budget, after >= budget
  if was ~= is then
    local queued = redis.call('ZCARD', P .. 'q:' .. host)
    if is then
      stat('stuck', queued)
      redis.call('ZREM', P .. 'ready', host)
    else
      stat('stuck', -queued)
      schedule(host, now)
    end
  end
end

-- Requests queued that may be taken: not those of hosts over their budget.
local function takeable()
  return number(STATS, 'queued') - number(STATS, 'stuck')
end

-- Whether the crawl's page budget is spent.
local function pages_spent()
  local max_pages = meta_limit('max_pages')
  return max_pages ~= nil and number(STATS, 'taken') >= max_pages
end

-- What a worker is told after a call: requests that may still come its way (queued and
-- takeable, or leased by other workers).
local function report()
  local queued = takeable()
  if pages_spent() then queued = 0 end
  local others = number(STATS, 'leased') - redis.call('HLEN', P .. 'wurls:' .. W)
  return queued + others
end

-- A leased request goes back to its host's queue.
local function requeue(entry, now)
  local host, score, member = string.match(entry, '^([^\n]*)\n([^\n]*)\n(.*)$')
  redis.call('ZADD', P .. 'q:' .. host, score, member)
  stat('queued', 1)
  stat('leased', -1)
  stat('taken', -1)
  if over_budget(host) then stat('stuck', 1) end
  count_taken(host, -1, now)
  return host
end

-- Everything a worker holds goes back: its requests to their queues, its hosts to the
-- schedule (after their gap), and the redirect targets it claimed for pages it did not
-- finish leave the seen set, so that whoever fetches those pages follows them again.
local function let_go(worker, now, state)
  local held = redis.call('HVALS', P .. 'wurls:' .. worker)
  local hosts = redis.call('HKEYS', P .. 'whosts:' .. worker)
  redis.call('DEL', P .. 'wurls:' .. worker)
  for _, entry in ipairs(held) do requeue(entry, now) end
  for _, host in ipairs(hosts) do redis.call('HDEL', P .. 'hlease', host) end
  redis.call('DEL', P .. 'whosts:' .. worker)
  for _, host in ipairs(hosts) do schedule(host, now + gap(host)) end
  for _, hop in ipairs(redis.call('SMEMBERS', P .. 'whops:' .. worker)) do
    local bucket, value = string.match(hop, '^(%d+):(.*)$')
    if redis.call('SREM', P .. 's:' .. bucket, value) == 1 then stat('seen', -1) end
  end
  redis.call('DEL', P .. 'whops:' .. worker)
  redis.call('ZREM', P .. 'workers', worker)
  redis.call('SREM', P .. 'away', worker)
  redis.call('HSET', P .. 'worker:' .. worker, 'state', state, 'left_ms', now)
  return #held
end

-- Whether what is registered under this worker's name is this run of it.
local function own_run()
  return redis.call('HGET', P .. 'worker:' .. W, 'runs') == RUN
end

-- Whether this process is the worker it says: registered, and of the current run.
local function alive()
  return redis.call('ZSCORE', P .. 'workers', W) and own_run()
end

-- Every worker calls at least every fifth of its lease. A longer silence means the server
-- was away (restarting, unreachable): the leases are renewed for everyone before anyone is
-- taken for dead, so that an outage does not cost the workers their work.
local function clock(now)
  local last = number(META, 'last_ms')
  if last > 0 and now - last > LEASE / 2 then
    local workers = redis.call('ZRANGE', P .. 'workers', 0, -1)
    for _, worker in ipairs(workers) do
      redis.call('ZADD', P .. 'workers', 'GT', now + LEASE, worker)
    end
  end
  redis.call('HSET', META, 'last_ms', now)
end

-- Workers whose lease ran out are taken for dead: what they held goes back. The calling
-- worker is not, unless what is registered under its name is another run of it (one
-- that died in a partition this worker is not working in now).
local function reap(now)
  clock(now)
  local dead = redis.call('ZRANGEBYSCORE', P .. 'workers', '-inf', '(' .. now, 'LIMIT', 0, 16)
  for _, worker in ipairs(dead) do
    if worker ~= W or not own_run() then
      local n = let_go(worker, now, 'lost')
      stat('reaped', 1)
      stat('requeued', n)
    end
  end
end

local LOST = 'LOST this worker was taken for dead (its lease ran out): its work went back to the queue'
