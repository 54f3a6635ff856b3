-- Takes up to ARGV[5] requests, up to ARGV[6] of one host, none of the hosts from ARGV[7]
-- on: first of the hosts this worker leases, then of ready hosts, which it leases.
-- Returns the requests, the state kept of each newly leased host, the report, and how many
-- seeds landed.
local now = now_ms()
reap(now)
if not alive() then return redis.error_reply(LOST) end
local max, per_host = tonumber(ARGV[5]), tonumber(ARGV[6])
local skip = {}
for i = 7, #ARGV do skip[ARGV[i]] = true end
local max_pages = meta_limit('max_pages')
if max_pages ~= nil then max = math.min(max, max_pages - number(STATS, 'taken')) end
local budget = meta_limit('host_budget')
local mine = P .. 'wurls:' .. W
local out, fresh = {}, {}

local function take_from(host)
  local n = math.min(per_host, max - #out)
  if budget ~= nil then n = math.min(n, budget - number(P .. 'hcount', host)) end
  if n <= 0 then return end
  local popped = redis.call('ZPOPMIN', P .. 'q:' .. host, n)
  local got = #popped / 2
  if got == 0 then return end
  for j = 1, #popped, 2 do
    local member, score = popped[j], popped[j + 1]
    redis.call('HSET', mine, string.sub(member, 17, 48), host .. '\n' .. score .. '\n' .. member)
    out[#out + 1] = member
  end
  redis.call('HINCRBY', P .. 'whosts:' .. W, host, got)
  stat('queued', -got)
  stat('leased', got)
  stat('taken', got)
  count_taken(host, got, now)
end

-- A worker holds at most its share of the hosts in play, so that every worker gets hosts
-- to work on (workers registered here but working in another partition take none): beyond it, it takes nothing more of the hosts it holds (they go back to the
-- schedule once nothing of them is left in its hands) and leases no new ones.
local workers = math.max(1, redis.call('ZCARD', P .. 'workers') - redis.call('SCARD', P .. 'away'))
local in_play = redis.call('HLEN', P .. 'hlease') + redis.call('ZCARD', P .. 'ready')
local share = math.max(1, math.ceil(in_play / workers))
local held = redis.call('HKEYS', P .. 'whosts:' .. W)
table.sort(held)
for i, host in ipairs(held) do
  if #out >= max or i > share then break end
  if not skip[host] then take_from(host) end
end
if #out < max and #held < share then
  for _, host in ipairs(redis.call('ZRANGEBYSCORE', P .. 'ready', '-inf', now, 'LIMIT', 0, 64)) do
    if #out >= max or #held >= share then break end
    if not skip[host] then
      redis.call('ZREM', P .. 'ready', host)
      if redis.call('ZCARD', P .. 'q:' .. host) > 0 and not over_budget(host)
        and redis.call('HSETNX', P .. 'hlease', host, W) == 1 then
        redis.call('HSET', P .. 'whosts:' .. W, host, 0)
        held[#held + 1] = host
        fresh[#fresh + 1] = host
        fresh[#fresh + 1] = redis.call('HGET', P .. 'hstate', host) or ''
        take_from(host)
      end
    end
  end
end
return {out, fresh, report(), redis.call('HLEN', P .. 'landings')}
