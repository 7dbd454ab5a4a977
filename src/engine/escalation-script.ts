/**
 * Records one escalation atomically (README "Closing the loop"): at most once per escalated run; holds the
 * target for the rule (guard `escalated`) when asked; creates the follow-up run (its record,
 * indexes and audit entries) and links it from the escalated run; appends the escalation entry.
 * KEYS: none (all under ARGV[1], the hash tag). ARGV: tag, nowMs, JSON payload.
 * Returns 'OK', or 'DONE' when the run had escalated already.
 */
export const ESCALATION_SCRIPT = `
local tag = ARGV[1]
local nowMs = tonumber(ARGV[2])
local c = cjson.decode(ARGV[3])
local audit = tag .. ':audit'
if not redis.call('SET', tag .. ':escalated:' .. c.originId, '1', 'NX', 'EX', c.runTtl) then return 'DONE' end
if c.hold then redis.call('SET', tag .. ':held:' .. c.rule .. ':' .. c.target, c.originId) end
redis.call('DEL', tag .. ':repeats:' .. c.rule .. ':' .. c.target)
if c.followUp then
  local f = c.followUp
  local key = tag .. ':run:' .. f.runId
  redis.call('HSET', key, 'doc', f.doc, 'status', f.status)
  redis.call('EXPIRE', key, c.runTtl)
  redis.call('ZADD', tag .. ':runs', nowMs, f.runId)
  redis.call('ZADD', tag .. ':live', nowMs, f.runId)
  if f.status == 'awaiting_approval' then redis.call('ZADD', tag .. ':awaiting', nowMs, f.runId) end
  redis.call('XADD', audit, '*', 'e', f.created)
  redis.call('HSET', tag .. ':run:' .. c.originId, 'doc', c.originDoc)
end
redis.call('XADD', audit, '*', 'e', c.entry)
return 'OK'
`;
