"""The Lua scripts that read, trim and seal one bucket's audit chain (KEYS: stream, chain, seal; ``keys.audit_keys``).

Appending is CREATE's and TRANSITION's (``scripts.audit``). Trimming is here, out of the append: a trim removes the
oldest entries and records the last one removed as the chain's anchor in the same script, so the first entry kept
follows the anchor and a trim never looks like a deletion. A bucket that has a seal is trimmed only by SEAL, which
also writes the new seal, so the seal's anchor always is the chain's.
"""

from __future__ import annotations

from bot.approvals.scripts import _NOW

_CUT = """
local function hash_of(id)  -- the stored hash of entry id; '' for an unchained entry; false if there is none
  local found = redis.call('XRANGE', KEYS[1], id, id)
  if #found == 0 then return false end
  local fields = found[1][2]
  if fields[#fields - 1] == 'hash' then return fields[#fields] end
  return ''
end
local function cut(id, hash)  -- removes every entry up to and including id, which becomes the anchor
  redis.call('XTRIM', KEYS[1], 'MINID', id)
  redis.call('XDEL', KEYS[1], id)
  redis.call('HSET', KEYS[2], 'anchor_id', id, 'anchor_hash', hash)
end
"""

READ = """
-- ARGV: start (as XRANGE takes it: '-', an id, or '(' and an id to start after it), count
-- Returns {chain (HGETALL), seal (HGETALL), entries (XRANGE)}: one consistent view of the bucket.
return {redis.call('HGETALL', KEYS[2]), redis.call('HGETALL', KEYS[3]),
  redis.call('XRANGE', KEYS[1], ARGV[1], '+', 'COUNT', ARGV[2])}
"""

TRIM = (
    _NOW
    + _CUT
    + """
-- ARGV: retention_ms, most entries to remove
-- Removes entries older than retention_ms (the oldest, at most that many), anchoring the chain at the last one.
-- Returns how many it removed, or -1 for a sealed bucket, which only a replica holding the key trims (SEAL).
if redis.call('EXISTS', KEYS[3]) == 1 then return -1 end
local old = redis.call('XRANGE', KEYS[1], '-', int(now - tonumber(ARGV[1]) - 1), 'COUNT', ARGV[2])
if #old == 0 then return 0 end
local last = old[#old]
local fields = last[2]
local hash = ''
if fields[#fields - 1] == 'hash' then hash = fields[#fields] end
cut(last[1], hash)
return #old
"""
)

SEAL = (
    _CUT
    + """
-- ARGV: mac of the seal the caller checked ('' for none), cut (1: trim up to the anchor first; 0: no trim),
--       anchor_id, anchor_hash, head_id, head_hash, sealed_ms, since_ms, mac
-- Stores the new seal, after the trim if asked, only while everything is as the caller verified it: the seal is
-- still the one it checked (else another replica sealed meanwhile: 'raced'), and the entries it names still hold
-- those hashes ('changed'). Returns 'sealed', 'raced' or 'changed'.
if (redis.call('HGET', KEYS[3], 'mac') or '') ~= ARGV[1] then return 'raced' end
local anchor_id, anchor_hash, head_id, head_hash = ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local chain = redis.call('HMGET', KEYS[2], 'anchor_id', 'anchor_hash')
local head_is_anchor = head_id == (chain[1] or '') and head_hash == (chain[2] or '')
if head_id ~= '' and not head_is_anchor and hash_of(head_id) ~= head_hash then return 'changed' end
if ARGV[2] == '1' then
  if hash_of(anchor_id) ~= anchor_hash then return 'changed' end
  cut(anchor_id, anchor_hash)
elseif anchor_id ~= (chain[1] or '') or anchor_hash ~= (chain[2] or '') then
  return 'changed'
end
redis.call('HSET', KEYS[3], 'anchor_id', anchor_id, 'anchor_hash', anchor_hash, 'head_id', head_id,
  'head_hash', head_hash, 'sealed_ms', ARGV[7], 'since_ms', ARGV[8], 'mac', ARGV[9])
return 'sealed'
"""
)

HAS_SHA1HEX = "return redis.sha1hex and 1 or 0"
"""1 where this Redis's Lua can chain the audit (Redis has ``redis.sha1hex``; fakeredis does not)."""
