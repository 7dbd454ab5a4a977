import { PAUSE_GUARD_LUA } from './pause-guard-lua.js';

/** At most this many inbox records, and none older than a week (first seen). */
export const INBOX_MAX = 10_000;
export const INBOX_MAX_AGE_MS = 7 * 24 * 3600 * 1000;

/**
 * The inbox part of the intake script (uses tag, nowMs, nowIso, out, inbox, audit, WEEK).
 * An item: the episode and the alert's fields, and either its decision or `cand`, the candidate
 * whose result decides it.
 */
const INBOX_LUA = `
local known = {}
local added = false
local index = tag .. ':inbox'
for j, it in ipairs(inbox) do
  local key = index .. ':' .. it.episode
  local d = {decision = it.decision, reason = it.reason}
  if it.cand then
    local r = out[it.cand]
    d = {decision = r.decision, runId = r.runId, guard = r.guard, reason = r.detail}
  end
  if redis.call('EXISTS', key) == 1 then
    known[#known + 1] = j
    if d.decision ~= 'duplicate' then
      redis.call('HSET', key, 'status', it.status, 'decision', d.decision)
      if d.runId then redis.call('HSET', key, 'runId', d.runId) end
      if d.guard then redis.call('HSET', key, 'guard', d.guard) end
      if d.reason then redis.call('HSET', key, 'reason', d.reason) end
    end
  else
    added = true
    redis.call('HSET', key, 'fingerprint', it.fingerprint, 'alertname', it.alertname, 'labels', it.labels,
      'annotations', it.annotations, 'generatorURL', it.generatorURL, 'status', it.status, 'startsAt', it.startsAt,
      'firstSeenAt', nowIso, 'lastSeenAt', nowIso, 'seen', 1, 'rule', it.rule, 'decision', d.decision)
    if d.runId then redis.call('HSET', key, 'runId', d.runId) end
    if d.guard then redis.call('HSET', key, 'guard', d.guard) end
    if d.reason then redis.call('HSET', key, 'reason', d.reason) end
    redis.call('EXPIRE', key, WEEK)
    redis.call('ZADD', index, nowMs, it.episode)
    if d.decision == 'unmatched' or d.decision == 'invalid_params' then
      local e = {type = 'alert_decision', at = nowIso, actor = 'alertmanager', fingerprint = it.fingerprint,
        alertname = it.alertname, rule = it.rule, decision = d.decision, reason = d.reason, episode = it.episode}
      redis.call('XADD', audit, '*', 'e', cjson.encode(e))
    end
  end
end
if added then
  redis.call('ZREMRANGEBYSCORE', index, '-inf', nowMs - ${INBOX_MAX_AGE_MS})
  local n = redis.call('ZCARD', index)
  if n > ${INBOX_MAX} then
    local old = redis.call('ZRANGE', index, 0, n - ${INBOX_MAX} - 1)
    for s = 1, #old, 1000 do
      local batch = {}
      for t = s, math.min(s + 999, #old) do batch[#batch + 1] = index .. ':' .. old[t] end
      redis.call('DEL', unpack(batch))
    end
    redis.call('ZREMRANGEBYRANK', index, 0, n - ${INBOX_MAX} - 1)
  end
end
`;

/** The batched duplicate counter: ARGV tag, then (episode, count, lastSeenAt) triples; a record gone stays gone. */
export const INBOX_SEEN_SCRIPT = `
local tag = ARGV[1]
for i = 2, #ARGV, 3 do
  local key = tag .. ':inbox:' .. ARGV[i]
  if redis.call('EXISTS', key) == 1 then
    redis.call('HINCRBY', key, 'seen', tonumber(ARGV[i + 1]))
    local last = redis.call('HGET', key, 'lastSeenAt')
    if not last or last < ARGV[i + 2] then redis.call('HSET', key, 'lastSeenAt', ARGV[i + 2]) end
  end
end
return 0
`;

/**
 * One Redis round trip per notification: for every (alert, rule) candidate it decides
 * duplicate / blocked / enqueued / cancelled atomically and writes the run records, episode keys
 * and audit entries together, so a decision is durable before the webhook answers 200.
 * It also writes the alert inbox (one record per episode seen, docs/http-api.md `GET /api/v1/alerts`):
 * new episodes get a record (and, for `unmatched` / `invalid_params`, an `alert_decision` audit
 * entry); records already there are left to the caller's batched `seen` counter.
 * ARGV: tag, nowMs, nowIso, candidates JSON, inbox JSON, then each candidate's run record and audit entry.
 * Returns `{r = results in candidate order, k = 1-based inbox items whose record existed}`.
 */
export const INTAKE_SCRIPT = `${PAUSE_GUARD_LUA}
local tag = ARGV[1]
local nowMs = tonumber(ARGV[2])
local nowIso = ARGV[3]
local cands = cjson.decode(ARGV[4])
local inbox = cjson.decode(ARGV[5])
-- Candidate i's run record is ARGV[4 + 2i], its run_created audit entry ARGV[5 + 2i].
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
          redis.call('HSET', runKey, 'doc', ARGV[4 + 2 * i], 'status', 'blocked', 'reason', 'blocked by guard ' .. guard .. ': ' .. detail,
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
        redis.call('HSET', runKey, 'doc', ARGV[4 + 2 * i], 'status', c.initialStatus)
        redis.call('EXPIRE', runKey, c.runTtl)
        redis.call('ZADD', tag .. ':runs', nowMs, c.runId)
        redis.call('ZADD', tag .. ':live', nowMs, c.runId)
        if c.initialStatus == 'awaiting_approval' then redis.call('ZADD', tag .. ':awaiting', nowMs, c.runId) end
        redis.call('XADD', audit, '*', 'e', ARGV[5 + 2 * i])
        r.runId = c.runId
        if c.initialStatus == 'awaiting_approval' then r.decision = 'awaiting_approval' else r.decision = 'enqueued'; r.requeue = 1 end
      end
    end
  end
  out[i] = r
end
${INBOX_LUA}
return cjson.encode({r = out, k = known})
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
