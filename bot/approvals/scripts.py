"""The Lua scripts that make every state change of an approval atomic.

All of them read the clock with ``TIME`` so every replica agrees on "now". CREATE and TRANSITION take the same five
KEYS (record, pending index, audit stream, unshown index, audit chain), ATTACH, MARK_SHOWN and CLAIM_UNSHOWN the
record and the unshown index: one approval's keys share a hash slot (see ``keys.py``).

Every audit entry is appended by ``audit()`` below, chained to the bucket's head (``chain.py`` says how the hash is
made; ``audit_scripts.py`` trims and seals). Where Lua has no ``redis.sha1hex`` (fakeredis, the demo's embedded
Redis) entries are appended unchained.

Every call carries a nonce unique to the caller's call (``uuid4``). redis-py re-sends a script after a lost reply or
a socket timeout; the re-run finds its own nonce on the record and answers what the first run answered, so the
caller who won is never told it lost. An approval counted towards a quorum keeps its nonce per person
(``count_nonce:<user>``), so its re-send answers ``counted`` again rather than "this person approved already"; a
refusal keeps its own (``refused_nonce``), so a re-sent refusal is audited once.
"""

from __future__ import annotations

from bot.approvals.models import RECORD_FIELDS

_RECORD = "local RECORD = {" + ", ".join(f"'{name}'" for name in RECORD_FIELDS) + "}\n"
"""TRANSITION answers with these fields' values (``HMGET``), in ``models.RECORD_FIELDS`` order."""

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function int(x) return string.format('%d', x) end
local function blank(x) return (not x) or x == '' end
"""

_AUDIT = """
-- Appends one audit entry ({name, value, ...}) to KEYS[3], chained to the head kept in KEYS[5] (chain.py).
local function audit(fields)
  for i = 1, #fields do
    local value = fields[i]
    if not value then fields[i] = '' elseif type(value) ~= 'string' then fields[i] = tostring(value) end
  end
  if not redis.sha1hex then
    redis.call('XADD', KEYS[3], '*', unpack(fields))
    return
  end
  fields[#fields + 1] = 'prev'
  fields[#fields + 1] = redis.call('HGET', KEYS[5], 'head_hash') or ''
  local hash = redis.sha1hex(cmsgpack.pack(fields))
  fields[#fields + 1] = 'hash'
  fields[#fields + 1] = hash
  local id = redis.call('XADD', KEYS[3], '*', unpack(fields))
  redis.call('HSET', KEYS[5], 'head_id', id, 'head_hash', hash)
end
"""

CREATE = (
    _NOW
    + _AUDIT
    + """
-- KEYS: record, pending, audit, unshown, audit chain
-- ARGV: id, workflow_id, step, prompt, requester, workflow, timeout_ms, retention_ms,
--       prompt_sha256, nonce, digest (of what is asked: models.ask_digest),
--       and the terms (models.Terms): quorum, self_approval (allow | deny), kind, tool, args, rule, risk, shadow
-- Optional, for an asker outside the bots (requests.py): KEYS[6] the bucket's published policy (keys.policy_key),
--   ARGV[20] the revision of it the terms were worked out under ('' checks nothing; 'none': none was published),
--   ARGV[21] an outcome the policy decided at once ('' none; approved | cancelled), ARGV[22] its decider
--   (policy:<rule>), ARGV[23] its feedback. Decided at once, the record has no card to show it on (shown = state).
-- Returns {created (1 | 0), now_ms, record...}; a re-run of the creating call answers 1 again. An existing record
-- is returned as it is, terms and all. {-1, now_ms} when the published policy is not ARGV[20] (nothing written).
if redis.call('EXISTS', KEYS[1]) == 1 then
  local mine = redis.call('HGET', KEYS[1], 'create_nonce') == ARGV[10]
  return {mine and 1 or 0, int(now), redis.call('HGETALL', KEYS[1])}
end
local expected = ARGV[20] or ''
if expected ~= '' and (redis.call('HGET', KEYS[6], 'rev') or 'none') ~= expected then
  return {-1, int(now)}
end
local deadline = now + tonumber(ARGV[7])
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'workflow_id', ARGV[2], 'step', ARGV[3], 'state', 'pending',
  'prompt', ARGV[4], 'requester', ARGV[5], 'workflow', ARGV[6],
  'created_ms', int(now), 'deadline_ms', int(deadline), 'create_nonce', ARGV[10], 'digest', ARGV[11],
  'quorum', ARGV[12], 'self_approval', ARGV[13], 'kind', ARGV[14], 'tool', ARGV[15], 'args', ARGV[16],
  'rule', ARGV[17], 'risk', ARGV[18], 'shadow', ARGV[19], 'approved_by', '')
redis.call('PEXPIREAT', KEYS[1], int(deadline + tonumber(ARGV[8])))
redis.call('ZADD', KEYS[2], int(deadline), ARGV[1])
audit({'event', 'created', 'id', ARGV[1], 'workflow_id', ARGV[2], 'step', ARGV[3], 'workflow', ARGV[6],
  'user', ARGV[5], 'at_ms', int(now), 'feedback', '', 'waited_ms', '0',
  'prompt', ARGV[4], 'prompt_sha256', ARGV[9], 'digest', ARGV[11],
  'kind', ARGV[14], 'tool', ARGV[15], 'args', ARGV[16], 'rule', ARGV[17], 'risk', ARGV[18], 'quorum', ARGV[12],
  'self_approval', ARGV[13], 'shadow', ARGV[19]})
local outcome = ARGV[21] or ''
if outcome ~= '' then
  local approved_by = ''
  if outcome == 'approved' then approved_by = ARGV[22] end
  redis.call('HSET', KEYS[1], 'state', outcome, 'decider', ARGV[22], 'decided_ms', int(now), 'feedback', ARGV[23],
    'nonce', ARGV[10], 'approved_by', approved_by, 'shown', outcome)
  redis.call('PEXPIRE', KEYS[1], ARGV[8])
  redis.call('ZREM', KEYS[2], ARGV[1])
  audit({'event', outcome, 'id', ARGV[1], 'workflow_id', ARGV[2], 'step', ARGV[3], 'workflow', ARGV[6],
    'user', ARGV[22], 'at_ms', int(now), 'feedback', ARGV[23], 'waited_ms', '0', 'late_click_by', '',
    'kind', ARGV[14], 'tool', ARGV[15], 'rule', ARGV[17], 'deciders', ARGV[22], 'shadow', ARGV[19]})
end
return {1, int(now), redis.call('HGETALL', KEYS[1])}
"""
)

TRANSITION = (
    _NOW
    + _RECORD
    + _AUDIT
    + """
-- KEYS: record, pending, audit, unshown, audit chain
-- ARGV: id, outcome, user, feedback, mode, retention_ms, channel, nonce, grace_ms, publish
--       (publish 'sharded': SPUBLISH on the bucket's shard channel, on Redis Cluster; else PUBLISH)
-- mode 'decide': a person's decision; past the deadline it becomes 'expired' instead (audited with the clicker).
--   An approval is refused if the terms forbid self-approval and the user is the requester ('refused'); with a
--   quorum above 1 it is counted ('counted', still pending) until that many different people approved, and a
--   second one by the same person is refused ('duplicate'). Revise and cancel end it at once, quorum or not.
-- mode 'expire': expire if the deadline has passed, else say how long is left.
-- mode 'force': expire now (the local waiter gave up early).
-- ARGV[11]: the start of the digest the decider saw ('' for any): another digest answers 'stale', changing nothing.
-- Returns {status, values of RECORD}: status is ok | expired | already | counted | refused | duplicate | stale |
-- missing | not_yet (then ms left). Refusals are audited and change nothing else.
local outcome, user, feedback, nonce = ARGV[2], ARGV[3], ARGV[4], ARGV[8]
local f = redis.call('HMGET', KEYS[1], 'state', 'deadline_ms', 'created_ms', 'workflow_id', 'step', 'workflow',
  'channel', 'ts', 'shown', 'nonce', 'late_nonce', 'requester', 'quorum', 'self_approval', 'approved_by', 'kind',
  'tool', 'rule', 'refused_nonce', 'count_nonce:' .. user, 'shadow', 'digest')
local state = f[1]
if not state then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return {'missing'}
end
local seen = ARGV[11] or ''
if seen ~= '' and string.sub(f[22] or '', 1, #seen) ~= seen then
  return {'stale', redis.call('HMGET', KEYS[1], unpack(RECORD))}
end
local mode = ARGV[5]
local approving = mode == 'decide' and outcome == 'approved'
if approving and f[20] == nonce then
  -- our own counted approval, re-sent by the client after a lost reply: answer as the first run did
  return {'counted', redis.call('HMGET', KEYS[1], unpack(RECORD))}
end
local kind, tool, rule = f[16] or '', f[17] or '', f[18] or ''
if state ~= 'pending' then
  if f[10] == nonce then
    -- our own transition, re-sent by the client after a lost reply: answer as the first run did
    return {state == 'expired' and 'expired' or 'ok', redis.call('HMGET', KEYS[1], unpack(RECORD))}
  end
  if mode == 'decide' and state == 'expired' and f[11] ~= nonce then
    redis.call('HSET', KEYS[1], 'late_nonce', nonce)
    audit({'event', 'late_click', 'id', ARGV[1], 'workflow_id', f[4], 'step', f[5], 'workflow', f[6],
      'user', user, 'at_ms', int(now), 'feedback', feedback, 'waited_ms', '0', 'late_click_by', user})
  end
  return {'already', redis.call('HMGET', KEYS[1], unpack(RECORD))}
end
local deadline = tonumber(f[2])
if mode == 'expire' and now < deadline then
  return {'not_yet', int(deadline - now)}
end
local approved_by = f[15] or ''
local late_click_by = ''
if mode ~= 'decide' or now >= deadline then
  if mode == 'decide' then late_click_by = user end
  outcome, user, feedback = 'expired', '', ''
elseif approving then
  if user == '' or string.find(user, ',', 1, true) then
    return redis.error_reply('ERR an approver must be named, without commas (approved_by is a list)')
  end
  local refusal = nil
  if f[14] == 'deny' and user == f[12] then
    refusal = 'self_approval_refused'
  elseif string.find(',' .. approved_by .. ',', ',' .. user .. ',', 1, true) then
    refusal = 'duplicate_approval'
  end
  if refusal then
    if f[19] ~= nonce then  -- a re-sent refusal is audited once
      redis.call('HSET', KEYS[1], 'refused_nonce', nonce)
      audit({'event', refusal, 'id', ARGV[1], 'workflow_id', f[4], 'step', f[5], 'workflow', f[6],
        'user', user, 'at_ms', int(now), 'feedback', '', 'waited_ms', '0', 'kind', kind, 'tool', tool,
        'rule', rule, 'deciders', approved_by})
    end
    return {refusal == 'duplicate_approval' and 'duplicate' or 'refused',
      redis.call('HMGET', KEYS[1], unpack(RECORD))}
  end
  if approved_by == '' then approved_by = user else approved_by = approved_by .. ',' .. user end
  local count = select(2, string.gsub(approved_by, ',', ',')) + 1
  local quorum = tonumber(f[13]) or 1
  if count < quorum then
    redis.call('HSET', KEYS[1], 'approved_by', approved_by, 'count_nonce:' .. user, nonce)
    audit({'event', 'approval_counted', 'id', ARGV[1], 'workflow_id', f[4], 'step', f[5], 'workflow', f[6],
      'user', user, 'at_ms', int(now), 'feedback', feedback, 'waited_ms', int(now - tonumber(f[3])),
      'kind', kind, 'tool', tool, 'rule', rule, 'deciders', approved_by, 'count', int(count),
      'quorum', int(quorum)})
    return {'counted', redis.call('HMGET', KEYS[1], unpack(RECORD))}
  end
end
redis.call('HSET', KEYS[1], 'state', outcome, 'decider', user, 'decided_ms', int(now), 'feedback', feedback,
  'nonce', nonce, 'approved_by', approved_by)
redis.call('PEXPIRE', KEYS[1], ARGV[6])
redis.call('ZREM', KEYS[2], ARGV[1])
if not blank(f[7]) and not blank(f[8]) and f[9] ~= outcome then
  redis.call('ZADD', KEYS[4], int(now + tonumber(ARGV[9])), ARGV[1])
end
local deciders = user
if outcome == 'approved' then deciders = approved_by end
audit({'event', outcome, 'id', ARGV[1], 'workflow_id', f[4], 'step', f[5], 'workflow', f[6],
  'user', user, 'at_ms', int(now), 'feedback', feedback, 'waited_ms', int(now - tonumber(f[3])),
  'late_click_by', late_click_by, 'kind', kind, 'tool', tool, 'rule', rule, 'deciders', deciders,
  'shadow', f[21] or ''})
local decided = cjson.encode({id = ARGV[1], state = outcome, decider = user, decided_ms = int(now),
  feedback = feedback, approved_by = approved_by})
if ARGV[10] == 'sharded' then
  redis.call('SPUBLISH', ARGV[7], decided)  -- a shard channel of this bucket's slot (keys.decided_channel)
else
  redis.call('PUBLISH', ARGV[7], decided)
end
local status = 'ok'
if outcome == 'expired' then status = 'expired' end
return {status, redis.call('HMGET', KEYS[1], unpack(RECORD))}
"""
)

NOTE = (
    _NOW
    + _AUDIT
    + """
-- KEYS: record, pending, audit, unshown, audit chain (as TRANSITION's); ARGV: id, event, user, detail
-- Appends an audit entry about an approval that changes nothing of it (someone asked an expired step again).
-- Returns 1, or 0 if the record is gone.
local f = redis.call('HMGET', KEYS[1], 'workflow_id', 'step', 'workflow', 'kind', 'tool', 'rule')
if not f[1] then return 0 end
audit({'event', ARGV[2], 'id', ARGV[1], 'workflow_id', f[1], 'step', f[2], 'workflow', f[3],
  'user', ARGV[3], 'at_ms', int(now), 'feedback', ARGV[4], 'waited_ms', '0', 'kind', f[4], 'tool', f[5],
  'rule', f[6]})
return 1
"""
)

ATTACH = (
    _NOW
    + """
-- KEYS: record, unshown; ARGV: id, channel, ts, grace_ms.
-- Records where the card is (the same call twice changes nothing). A card attached to an approval decided
-- already shows buttons, so it goes to the unshown index. Returns the record's remaining TTL in ms, or -2.
if redis.call('EXISTS', KEYS[1]) == 0 then return -2 end
redis.call('HSET', KEYS[1], 'channel', ARGV[2], 'ts', ARGV[3])
local shown = redis.call('HGET', KEYS[1], 'shown')
if not shown then
  shown = 'pending'
  redis.call('HSET', KEYS[1], 'shown', shown)
end
local state = redis.call('HGET', KEYS[1], 'state')
if state ~= 'pending' and state ~= shown then
  redis.call('ZADD', KEYS[2], 'NX', int(now + tonumber(ARGV[4])), ARGV[1])
end
return redis.call('PTTL', KEYS[1])
"""
)

MARK_SHOWN = """
-- KEYS: record, unshown; ARGV: id, state the card now shows. Returns 1, or 0 if the record is gone.
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 0
end
redis.call('HSET', KEYS[1], 'shown', ARGV[2])
if redis.call('HGET', KEYS[1], 'state') == ARGV[2] then
  redis.call('ZREM', KEYS[2], ARGV[1])
end
return 1
"""

CLAIM_UNSHOWN = (
    _NOW
    + """
-- KEYS: record, unshown; ARGV: id, lease_ms, max_lease_ms.
-- Claims a due entry of the unshown index for one replica: pushes its score a lease forward (doubling with
-- each attempt, up to max_lease_ms) and returns the record; false if it is not due (another replica holds
-- it) or no longer needs reporting (then the entry is dropped).
local score = redis.call('ZSCORE', KEYS[2], ARGV[1])
if not score or tonumber(score) > now then return false end
local state = redis.call('HGET', KEYS[1], 'state')
local channel, ts = redis.call('HGET', KEYS[1], 'channel'), redis.call('HGET', KEYS[1], 'ts')
if not state or state == 'pending' or state == redis.call('HGET', KEYS[1], 'shown') or blank(channel)
    or blank(ts) then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return false
end
local attempts = redis.call('HINCRBY', KEYS[1], 'report_attempts', 1)
local lease = math.min(tonumber(ARGV[2]) * math.pow(2, math.min(attempts - 1, 20)), tonumber(ARGV[3]))
redis.call('ZADD', KEYS[2], int(now + lease), ARGV[1])
return redis.call('HGETALL', KEYS[1])
"""
)
