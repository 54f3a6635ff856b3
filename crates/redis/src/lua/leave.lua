-- This worker leaves: what it holds goes back, its marks (ARGV[5]) and why its run ended
-- (ARGV[6]) are kept, with its calls to the server (ARGV[7]). When ARGV[8] is '1' (the
-- crawl has one partition), the crawl is over when nothing is queued and nothing leased.
-- Returns what is left queued, what is left over a host's budget, and 1 when the crawl's
-- page budget is spent (0 otherwise).
local now = now_ms()
local info = P .. 'worker:' .. W
if alive() then
  redis.call('HSET', info, 'marks', ARGV[5], 'ended', ARGV[6], 'round_trips', ARGV[7])
  let_go(W, now, 'left')
elseif redis.call('HGET', info, 'state') ~= 'left' or not own_run() then
  -- Not a call repeated after a lost reply (this run left already): taken for dead.
  return redis.error_reply(LOST)
end
local stuck = number(STATS, 'stuck')
local queued = takeable()
local spent = pages_spent()
-- Over when nothing is queued (or the page budget is spent) or leased and no other worker
-- runs (one may still be reading a sitemap, whose URLs are not queued yet).
if ARGV[8] == '1' and (queued == 0 or spent) and number(STATS, 'leased') == 0
  and redis.call('ZCARD', P .. 'workers') == 0 then
  redis.call('HSET', META, 'ended', 'completed', 'ended_ms', now)
end
return {queued, stuck, spent and 1 or 0}
