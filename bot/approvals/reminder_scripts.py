"""The Lua scripts behind reminders and escalations (``reminders.py``).

KEYS for all of them (``keys.reminder_keys``): the card's first record, the bucket's reminders index, its audit
stream, its pending index (unused: it keeps the audit where ``scripts.audit`` wants it), its audit chain, then the
card's other records. A card's approvals belong to one run, so all of these share one Cluster slot. An index
member is ``<kind>:<id>[,<id>...]``: one reminder per card, however many approvals it shows.
"""

from __future__ import annotations

from bot.approvals.scripts import _AUDIT, _NOW

_RECORDS = """
local RECORDS = {KEYS[1]}
for i = 6, #KEYS do RECORDS[#RECORDS + 1] = KEYS[i] end
local function still_pending(record)  -- the record's fields if it is pending and before its deadline, else false
  local f = redis.call('HMGET', record, 'state', 'deadline_ms')
  if f[1] ~= 'pending' or tonumber(f[2]) <= now then return false end
  return tonumber(f[2])
end
local function note(record, event, detail)  -- one chained audit entry about the approval in record
  local f = redis.call('HMGET', record, 'id', 'workflow_id', 'step', 'workflow', 'kind', 'tool', 'rule',
    'created_ms')
  if not f[1] then return end
  audit({'event', event, 'id', f[1], 'workflow_id', f[2], 'step', f[3], 'workflow', f[4], 'user', '',
    'at_ms', int(now), 'feedback', detail, 'waited_ms', int(now - tonumber(f[8] or now)), 'kind', f[5],
    'tool', f[6], 'rule', f[7]})
end
"""

SCHEDULE = (
    _NOW
    + _AUDIT
    + _RECORDS
    + """
-- ARGV: the card's approval ids (comma-separated, as KEYS orders them), then pairs of kind and delay_ms.
-- Once per card, whatever posts it again (a restarted replica finding its card): each kind is due delay_ms from
-- now, if that is before the earliest deadline of the card's pending approvals. Returns how many it scheduled.
local ids = ARGV[1]
local earliest = nil
for _, record in ipairs(RECORDS) do
  if redis.call('HEXISTS', record, 'reminders') == 1 then return 0 end
  local deadline = still_pending(record)
  if deadline and (not earliest or deadline < earliest) then earliest = deadline end
end
if not earliest then return 0 end
for _, record in ipairs(RECORDS) do
  if redis.call('EXISTS', record) == 1 then redis.call('HSET', record, 'reminders', ids) end
end
local scheduled = 0
for i = 2, #ARGV, 2 do
  local due = now + tonumber(ARGV[i + 1])
  if due < earliest then
    scheduled = scheduled + redis.call('ZADD', KEYS[2], 'NX', int(due), ARGV[i] .. ':' .. ids)
  end
end
return scheduled
"""
)

CLAIM = (
    _NOW
    + _AUDIT
    + _RECORDS
    + """
-- ARGV: member, lease_ms, most attempts, the event to audit when they are used up.
-- Claims a due entry for this replica until the lease runs out (its score moves a lease ahead), so one replica
-- at a time sends it, and another sends it again if this one dies before ``DONE``. Returns {attempt, record
-- (HGETALL), ...} for the card's approvals still pending; false if the entry is not due (another replica holds
-- it), or is no longer needed (all decided or past their deadline; then it is dropped), or has used up its
-- attempts (dropped and audited).
local score = redis.call('ZSCORE', KEYS[2], ARGV[1])
if not score or tonumber(score) > now then return false end
local kind = string.match(ARGV[1], '^[^:]+')
local pending = {}
for _, record in ipairs(RECORDS) do
  if still_pending(record) then pending[#pending + 1] = record end
end
if #pending == 0 then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return false
end
local attempt = redis.call('HINCRBY', pending[1], 'reminder_attempts:' .. kind, 1)  -- a record, with its TTL
if attempt > tonumber(ARGV[3]) then
  redis.call('ZREM', KEYS[2], ARGV[1])
  for _, record in ipairs(pending) do note(record, ARGV[4], 'gave up after ' .. ARGV[3] .. ' attempts') end
  return false
end
redis.call('ZADD', KEYS[2], 'XX', int(now + tonumber(ARGV[2])), ARGV[1])
local answer = {attempt}
for _, record in ipairs(pending) do answer[#answer + 1] = redis.call('HGETALL', record) end
return answer
"""
)

DONE = (
    _NOW
    + _AUDIT
    + _RECORDS
    + """
-- ARGV: member, event, detail, the ids it was sent for (comma-separated).
-- Ends a claimed entry: removes it and audits ``event`` for each of those approvals, in one step. Returns 1, or 0
-- if the entry was gone already (another replica ended it after this one's lease ran out; it audited).
if redis.call('ZREM', KEYS[2], ARGV[1]) == 0 then return 0 end
local sent = {}
for id in string.gmatch(ARGV[4], '[^,]+') do sent[id] = true end
for _, record in ipairs(RECORDS) do
  if sent[redis.call('HGET', record, 'id') or ''] then note(record, ARGV[2], ARGV[3]) end
end
return 1
"""
)

CANCEL = (
    _NOW
    + _AUDIT
    + _RECORDS
    + """
-- ARGV: the card's approval ids (comma-separated), then its kinds.
-- Drops the card's entries once none of its approvals is pending. Returns how many it dropped.
for _, record in ipairs(RECORDS) do
  if still_pending(record) then return 0 end
end
local dropped = 0
for i = 2, #ARGV do dropped = dropped + redis.call('ZREM', KEYS[2], ARGV[i] .. ':' .. ARGV[1]) end
return dropped
"""
)
