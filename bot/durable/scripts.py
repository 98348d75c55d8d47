"""The Lua scripts of a run's life. Each checks the caller's fencing token where it records anything, so a
worker that lost its lease (paused, partitioned) can change nothing of the run any more.

KEYS[1] is always the run's record ``appr:{bNN}:run:<workflow_id>``; KEYS[2], where used, a list the run records
into: its model answers ``...:model`` or one tool call's events ``...:tool:<call id>`` (one slot: the bucket is
the run's).
"""

from __future__ import annotations

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function int(x) return string.format('%d', x) end
"""

CREATE = (
    _NOW
    + """
-- ARGV: retention_ms, then field, value pairs. Returns 1 if created, 0 if the run exists already.
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
for i = 2, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('HSET', KEYS[1], 'status', 'queued', 'created_ms', int(now), 'fence', '0', 'owner', '',
  'lease_until_ms', '0')
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
"""
)

ACQUIRE = (
    _NOW
    + """
-- ARGV: worker, lease_ms. Returns {'ok', fence, record...} | {'done'} | {'missing'} | {'held', owner}.
local f = redis.call('HMGET', KEYS[1], 'status', 'owner', 'lease_until_ms')
if not f[1] then return {'missing'} end
if f[1] == 'done' then return {'done'} end
if f[2] ~= '' and f[2] ~= ARGV[1] and tonumber(f[3]) > now then return {'held', f[2]} end
local fence = redis.call('HINCRBY', KEYS[1], 'fence', 1)
redis.call('HSET', KEYS[1], 'status', 'running', 'owner', ARGV[1], 'lease_until_ms', int(now + tonumber(ARGV[2])))
return {'ok', fence, redis.call('HGETALL', KEYS[1])}
"""
)

RENEW = (
    _NOW
    + """
-- ARGV: worker, fence, lease_ms. Returns 1 while the caller holds the lease, else 0 (it must stop at once).
local f = redis.call('HMGET', KEYS[1], 'status', 'owner', 'fence')
if f[1] ~= 'running' or f[2] ~= ARGV[1] or f[3] ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'lease_until_ms', int(now + tonumber(ARGV[3])))
return 1
"""
)

RECORD = """
-- KEYS: record, a list of the run's (model answers, a tool call's events). ARGV: fence, index, value.
-- Returns {'ok'} | {'fenced'} | {'known', value}: a value recorded at that index already wins.
if redis.call('HGET', KEYS[1], 'fence') ~= ARGV[1] then return {'fenced'} end
local n = redis.call('LLEN', KEYS[2])
local index = tonumber(ARGV[2])
if index < n then return {'known', redis.call('LINDEX', KEYS[2], index)} end
if index > n then return redis.error_reply('value ' .. index .. ' recorded before value ' .. n) end
redis.call('RPUSH', KEYS[2], ARGV[3])
redis.call('PEXPIRE', KEYS[2], redis.call('PTTL', KEYS[1]))
return {'ok'}
"""

STEP = """
-- ARGV: fence, step, state. Records the human step the run is about to ask (before its card is posted) and the
-- workflow's state checkpointed there. 1, or 0 if fenced.
if redis.call('HGET', KEYS[1], 'fence') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'step', ARGV[2], 'state', ARGV[3])
return 1
"""

FINISH = (
    _NOW
    + """
-- ARGV: fence, retention_ms, outcome json, outcome status. 1, or 0 if fenced (then the caller must report nothing).
if redis.call('HGET', KEYS[1], 'fence') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'status', 'done', 'owner', '', 'lease_until_ms', '0', 'outcome', ARGV[3],
  'ended', ARGV[4], 'ended_ms', int(now))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""
)

REOPEN = (
    _NOW
    + """
-- ARGV: step, window_ms, retention_ms. Queues an expired run again to ask its step once more ("Ask again"):
-- only a run that ended expired, at that step, within the window. Returns 'ok' | 'missing' | 'not_expired' |
-- 'other_step' | 'too_late' | 'running' (someone asked again already) | 'finishing' (the run has not ended yet:
-- its card shows the expiry a moment before the run records its end).
local f = redis.call('HMGET', KEYS[1], 'status', 'ended', 'step', 'ended_ms', 'ask_again')
if not f[1] then return 'missing' end
if f[1] ~= 'done' then return f[5] == ARGV[1] and 'running' or 'finishing' end
if f[2] ~= 'expired' then return 'not_expired' end
if f[3] ~= ARGV[1] then return 'other_step' end
if now - tonumber(f[4] or '0') > tonumber(ARGV[2]) then return 'too_late' end
redis.call('HSET', KEYS[1], 'status', 'queued', 'owner', '', 'lease_until_ms', '0', 'ask_again', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 'ok'
"""
)

RELEASE = """
-- ARGV: worker, fence. Gives the run up (a shutdown) so another worker may take it at once. 1, or 0.
local f = redis.call('HMGET', KEYS[1], 'status', 'owner', 'fence')
if f[1] ~= 'running' or f[2] ~= ARGV[1] or f[3] ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'status', 'queued', 'owner', '', 'lease_until_ms', '0')
return 1
"""
