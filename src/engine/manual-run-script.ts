import { declaredKeysScript } from '../redis/declared-keys-lua.js';
import { PAUSE_GUARD_LUA } from './pause-guard-lua.js';

/**
 * Creates a manual run atomically with its global-guard check: pause, a busy target, the
 * cluster-wide concurrency budget (and a namespace block decided in memory). Writes the run,
 * its audit entries and, when it must wait for a second operator, its approval index entry.
 * KEYS: every key it touches (ManualRuns.createManual). ARGV: tag, nowMs, nowIso, JSON payload. Returns JSON {ok} or {guard, detail}.
 */
export const MANUAL_RUN_SCRIPT = declaredKeysScript(`${PAUSE_GUARD_LUA}
local tag = ARGV[1]
local nowMs = tonumber(ARGV[2])
local nowIso = ARGV[3]
local c = cjson.decode(ARGV[4])
local audit = tag .. ':audit'
local runKey = tag .. ':run:' .. c.runId
local guard = c.blockedGuard
local detail = c.blockedDetail
if not guard then
  detail = pausedDetail(tag, c.playbook)
  if detail then guard = 'paused' end
end
if not guard then
  local holder = call('GET', tag .. ':lock:' .. c.target)
  if holder then guard = 'target_locked'; detail = c.target .. ' is locked by run ' .. holder end
end
if not guard and c.maxConcurrent then
  local slots = tag .. ':slots'
  call('ZREMRANGEBYSCORE', slots, '-inf', nowMs - c.slotStaleMs)
  local n = call('ZCARD', slots)
  if n >= c.maxConcurrent then guard = 'max_concurrent'; detail = n .. ' runs are running (guards.maxConcurrentRuns ' .. c.maxConcurrent .. ')' end
end
call('ZADD', tag .. ':runs', nowMs, c.runId)
call('XADD', audit, '*', 'e', c.auditTrigger)
if c.auditBypass then call('XADD', audit, '*', 'e', c.auditBypass) end
if guard then
  call('HSET', runKey, 'doc', c.doc, 'status', 'blocked', 'reason', 'blocked by guard ' .. guard .. ': ' .. detail,
    'finishedAt', nowIso, 'guard', cjson.encode({guard = guard, detail = detail}))
  call('EXPIRE', runKey, c.runTtl)
  call('XADD', audit, '*', 'e', cjson.encode({type = 'guard_blocked', at = nowIso, actor = c.operator,
    runId = c.runId, target = c.target, playbook = c.playbook, guard = guard, detail = detail}))
  return cjson.encode({guard = guard, detail = detail})
end
call('HSET', runKey, 'doc', c.doc, 'status', c.initialStatus)
call('EXPIRE', runKey, c.runTtl)
call('ZADD', tag .. ':live', nowMs, c.runId)
if c.initialStatus == 'awaiting_approval' then call('ZADD', tag .. ':awaiting', nowMs, c.runId) end
call('XADD', audit, '*', 'e', c.auditCreated)
return cjson.encode({ok = true})
`);
