import { PAUSE_GUARD_LUA } from './pause-guard-lua.js';

/**
 * One Redis round trip per notification: for every (alert, rule) candidate it decides
 * duplicate / blocked / enqueued / cancelled atomically and writes the run records, episode keys
 * and audit entries together, so a decision is durable before the webhook answers 200.
 * ARGV: tag, nowMs, nowIso, candidates JSON, then each candidate's run record and audit entry.
 * Returns a JSON array of results in candidate order.
 */
export const INTAKE_SCRIPT = `${PAUSE_GUARD_LUA}
local tag = ARGV[1]
local nowMs = tonumber(ARGV[2])
local nowIso = ARGV[3]
local cands = cjson.decode(ARGV[4])
-- Candidate i's run record is ARGV[3 + 2i], its run_created audit entry ARGV[4 + 2i].
local WEEK = 604800
local audit = tag .. ':audit'
local out = {}
for i, c in ipairs(cands) do
  local epKey = tag .. ':ep:' .. c.episode
  local resKey = tag .. ':epres:' .. c.episode
  local r = {}
  if c.status == 'resolved' then
    redis.call('SET', resKey, '1', 'EX', WEEK)
    r.decision = 'ignored_resolved'
    local runId = redis.call('GET', epKey)
    if runId then
      r.runId = runId
      local runKey = tag .. ':run:' .. runId
      local st = redis.call('HGET', runKey, 'status')
      if c.onResolved == 'cancel-pending' and (st == 'queued' or st == 'awaiting_approval') then
        redis.call('HSET', runKey, 'status', 'cancelled', 'reason', 'alert resolved before the run started', 'finishedAt', nowIso)
        redis.call('ZREM', tag .. ':awaiting', runId)
        redis.call('XADD', audit, '*', 'e', cjson.encode({type = 'run_status', at = nowIso, actor = 'alertmanager',
          runId = runId, target = c.target, playbook = c.playbook, rule = c.rule, from = st, to = 'cancelled',
          reason = 'alert resolved before the run started'}))
        r.decision = 'cancelled'
      end
    end
  else
    local runId = redis.call('GET', epKey)
    if runId then
      r.decision = 'duplicate'
      r.runId = runId
      local st = redis.call('HGET', tag .. ':run:' .. runId, 'status')
      if st == 'queued' and redis.call('EXISTS', tag .. ':jobs:' .. runId) == 0 then r.requeue = 1 end
    elseif redis.call('EXISTS', resKey) == 1 then
      r.decision = 'ignored_resolved'
    else
      local guard = nil
      local detail = nil
      if c.blockedGuard then guard = c.blockedGuard; detail = c.blockedDetail end
      if not guard then
        detail = pausedDetail(tag, c.playbook)
        if detail then guard = 'paused' end
      end
      if not guard then
        -- Held after an escalation (also under the workload a pod alert resolved to): until an operator acks.
        local targets = {c.target}
        local mapped = redis.call('GET', tag .. ':tgtmap:' .. c.target)
        if mapped then targets[2] = mapped end
        for _, t in ipairs(targets) do
          local held = redis.call('GET', tag .. ':held:' .. c.rule .. ':' .. t)
          if not guard and held then guard = 'escalated'; detail = t .. ' is held after the escalation of run ' .. held .. ' until an operator acknowledges it (remediator ack)' end
        end
      end
      if not guard and c.cooldownMs then
        -- A pod alert cools down with its workload, once a worker has resolved which one it is.
        local targets = {c.target}
        local mapped = redis.call('GET', tag .. ':tgtmap:' .. c.target)
        if mapped then targets[2] = mapped end
        for _, t in ipairs(targets) do
          local ttl = redis.call('PTTL', tag .. ':cooldown:' .. c.playbook .. ':' .. t)
          if not guard and ttl > 0 then guard = 'cooldown'; detail = t .. ' is in cooldown for another ' .. math.ceil(ttl / 1000) .. 's' end
        end
      end
      if not guard and c.maxRunsPerHour then
        local rk = tag .. ':rate:' .. c.rule
        redis.call('ZREMRANGEBYSCORE', rk, '-inf', nowMs - 3600000)
        local n = redis.call('ZCARD', rk)
        if n >= c.maxRunsPerHour then guard = 'rate_limit'; detail = 'rule ' .. c.rule .. ' already started ' .. n .. ' runs in the last hour (maxRunsPerHour ' .. c.maxRunsPerHour .. ')' end
      end
      if guard then
        r.decision = 'blocked'
        r.guard = guard
        r.detail = detail
        local bk = tag .. ':epblk:' .. c.episode .. ':' .. guard
        local prior = redis.call('GET', bk)
        if prior then
          r.runId = prior
        else
          redis.call('SET', bk, c.runId, 'EX', WEEK)
          local runKey = tag .. ':run:' .. c.runId
          redis.call('HSET', runKey, 'doc', ARGV[3 + 2 * i], 'status', 'blocked', 'reason', 'blocked by guard ' .. guard .. ': ' .. detail,
            'finishedAt', nowIso, 'guard', cjson.encode({guard = guard, detail = detail}))
          redis.call('EXPIRE', runKey, c.runTtl)
          redis.call('ZADD', tag .. ':runs', nowMs, c.runId)
          redis.call('XADD', audit, '*', 'e', cjson.encode({type = 'guard_blocked', at = nowIso, actor = 'alertmanager',
            runId = c.runId, target = c.target, playbook = c.playbook, rule = c.rule, guard = guard, detail = detail,
            episode = c.episode, fingerprint = c.fingerprint}))
          r.runId = c.runId
          r.first = 1
        end
      else
        redis.call('SET', epKey, c.runId, 'EX', WEEK)
        if c.maxRunsPerHour then
          local rk = tag .. ':rate:' .. c.rule
          redis.call('ZADD', rk, nowMs, c.runId)
          redis.call('PEXPIRE', rk, 3600000)
        end
        local runKey = tag .. ':run:' .. c.runId
        redis.call('HSET', runKey, 'doc', ARGV[3 + 2 * i], 'status', c.initialStatus)
        redis.call('EXPIRE', runKey, c.runTtl)
        redis.call('ZADD', tag .. ':runs', nowMs, c.runId)
        redis.call('ZADD', tag .. ':live', nowMs, c.runId)
        if c.initialStatus == 'awaiting_approval' then redis.call('ZADD', tag .. ':awaiting', nowMs, c.runId) end
        redis.call('XADD', audit, '*', 'e', ARGV[4 + 2 * i])
        r.runId = c.runId
        if c.initialStatus == 'awaiting_approval' then r.decision = 'awaiting_approval' else r.decision = 'enqueued'; r.requeue = 1 end
      end
    end
  end
  out[i] = r
end
return cjson.encode(out)
`;

/**
 * The lean first look: for each episode key (ARGV[2..]), the run it started ('' if none) and
 * whether that run is queued without a job (then the caller enqueues it again). Flat array.
 */
export const EPISODES_SCRIPT = `
local tag = ARGV[1]
local out = {}
for i = 2, #ARGV do
  local runId = redis.call('GET', tag .. ':ep:' .. ARGV[i])
  if runId then
    local requeue = 0
    if redis.call('HGET', tag .. ':run:' .. runId, 'status') == 'queued' and redis.call('EXISTS', tag .. ':jobs:' .. runId) == 0 then requeue = 1 end
    out[#out + 1] = runId
    out[#out + 1] = requeue
  else
    out[#out + 1] = ''
    out[#out + 1] = 0
  end
end
return out
`;
