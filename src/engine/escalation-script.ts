import { declaredKeysScript } from '../redis/declared-keys-lua.js';

/**
 * Records one escalation atomically (README "Closing the loop"): at most once per escalated run; holds the
 * target for the rule (guard `escalated`) when asked; creates the follow-up run (its record,
 * indexes and audit entries) and links it from the escalated run; appends the escalation entry.
 * KEYS: every key it touches, built by RunEscalator.escalationKeys. ARGV: tag, nowMs, JSON payload.
 * Returns 'OK', or 'DONE' when the run had escalated already.
 */
export const ESCALATION_SCRIPT = declaredKeysScript(`
local tag = ARGV[1]
local nowMs = tonumber(ARGV[2])
local c = cjson.decode(ARGV[3])
local audit = tag .. ':audit'
if not call('SET', tag .. ':escalated:' .. c.originId, '1', 'NX', 'EX', c.runTtl) then return 'DONE' end
if c.hold then call('SET', tag .. ':held:' .. c.rule .. ':' .. c.target, c.originId) end
call('DEL', tag .. ':repeats:' .. c.rule .. ':' .. c.target)
if c.followUp then
  local f = c.followUp
  local key = tag .. ':run:' .. f.runId
  call('HSET', key, 'doc', f.doc, 'status', f.status)
  call('EXPIRE', key, c.runTtl)
  call('ZADD', tag .. ':runs', nowMs, f.runId)
  call('ZADD', tag .. ':live', nowMs, f.runId)
  if f.status == 'awaiting_approval' then call('ZADD', tag .. ':awaiting', nowMs, f.runId) end
  call('XADD', audit, '*', 'e', f.created)
  call('HSET', tag .. ':run:' .. c.originId, 'doc', c.originDoc)
end
call('XADD', audit, '*', 'e', c.entry)
return 'OK'
`);
