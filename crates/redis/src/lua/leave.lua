-- This worker leaves: what it holds goes back, its marks (ARGV[4]) and why its run ended
-- (ARGV[5]) are kept, with its calls to the server (ARGV[6]). The crawl is over when nothing is queued and nothing leased.
-- Returns what is left queued and what is left over a budget.
local now = now_ms()
redis.call('HSET', P .. 'worker:' .. W, 'marks', ARGV[4], 'ended', ARGV[5], 'round_trips', ARGV[6])
let_go(W, now, 'left')
local stuck = number(STATS, 'stuck')
local queued = number(STATS, 'queued') - stuck
local max_pages = meta_limit('max_pages')
if max_pages ~= nil and number(STATS, 'taken') >= max_pages then
  stuck = stuck + queued
  queued = 0
end
if queued == 0 and number(STATS, 'leased') == 0 then
  redis.call('HSET', META, 'ended', 'completed', 'ended_ms', now)
end
return {queued, stuck}
