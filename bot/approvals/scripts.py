"""The Lua scripts that make every state change of an approval atomic.

All of them read the clock with ``TIME`` so every replica agrees on "now", and all of them take the same three
KEYS (record, pending index, audit stream; one hash slot, see ``keys.py``).
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
-- KEYS: record, pending, audit
-- ARGV: id, workflow_id, step, prompt, requester, workflow, timeout_ms, retention_ms, audit_retention_ms
if redis.call('EXISTS', KEYS[1]) == 1 then
  return {0, int(now), redis.call('HGETALL', KEYS[1])}
end
local deadline = now + tonumber(ARGV[7])
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'workflow_id', ARGV[2], 'step', ARGV[3], 'state', 'pending',
  'prompt', ARGV[4], 'requester', ARGV[5], 'workflow', ARGV[6],
  'created_ms', int(now), 'deadline_ms', int(deadline))
redis.call('PEXPIREAT', KEYS[1], int(deadline + tonumber(ARGV[8])))
redis.call('ZADD', KEYS[2], int(deadline), ARGV[1])
redis.call('XADD', KEYS[3], 'MINID', '~', int(now - tonumber(ARGV[9])), '*',
  'event', 'created', 'id', ARGV[1], 'workflow_id', ARGV[2], 'step', ARGV[3], 'workflow', ARGV[6],
  'user', ARGV[5], 'at_ms', int(now), 'feedback', '', 'waited_ms', '0')
return {1, int(now), redis.call('HGETALL', KEYS[1])}
"""
)

TRANSITION = (
    _NOW
    + """
-- KEYS: record, pending, audit
-- ARGV: id, outcome, user, feedback, mode, retention_ms, audit_retention_ms, channel
-- mode 'decide': a person's decision; past the deadline it becomes 'expired' instead.
-- mode 'expire': expire if the deadline has passed, else say how long is left.
-- mode 'force': expire now (the local waiter gave up early).
-- Returns {status, record...}: status is ok | expired | already | missing | not_yet (then ms left).
local state = redis.call('HGET', KEYS[1], 'state')
if not state then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return {'missing'}
end
if state ~= 'pending' then
  return {'already', redis.call('HGETALL', KEYS[1])}
end
local deadline = tonumber(redis.call('HGET', KEYS[1], 'deadline_ms'))
local mode = ARGV[5]
local outcome, user, feedback = ARGV[2], ARGV[3], ARGV[4]
if mode == 'expire' and now < deadline then
  return {'not_yet', int(deadline - now)}
end
if mode ~= 'decide' or now >= deadline then
  outcome, user, feedback = 'expired', '', ''
end
redis.call('HSET', KEYS[1], 'state', outcome, 'decider', user, 'decided_ms', int(now), 'feedback', feedback)
redis.call('PEXPIRE', KEYS[1], ARGV[6])
redis.call('ZREM', KEYS[2], ARGV[1])
local created = tonumber(redis.call('HGET', KEYS[1], 'created_ms'))
redis.call('XADD', KEYS[3], 'MINID', '~', int(now - tonumber(ARGV[7])), '*',
  'event', outcome, 'id', ARGV[1], 'workflow_id', redis.call('HGET', KEYS[1], 'workflow_id'),
  'step', redis.call('HGET', KEYS[1], 'step'), 'workflow', redis.call('HGET', KEYS[1], 'workflow'),
  'user', user, 'at_ms', int(now), 'feedback', feedback, 'waited_ms', int(now - created))
redis.call('PUBLISH', ARGV[8], cjson.encode({id = ARGV[1], state = outcome, decider = user,
  decided_ms = int(now), feedback = feedback}))
local status = 'ok'
if outcome == 'expired' then status = 'expired' end
return {status, redis.call('HGETALL', KEYS[1])}
"""
)

ATTACH = """
-- KEYS: record; ARGV: channel, ts. Returns the record's remaining TTL in ms, or -2 if it is gone.
if redis.call('EXISTS', KEYS[1]) == 0 then return -2 end
redis.call('HSET', KEYS[1], 'channel', ARGV[1], 'ts', ARGV[2])
return redis.call('PTTL', KEYS[1])
"""
