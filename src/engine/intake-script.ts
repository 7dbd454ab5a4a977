import { declaredKeysScript, NEED_KEYS_PREFIX } from '../redis/declared-keys-lua.js';
import { PAUSE_GUARD_LUA } from './pause-guard-lua.js';

/** At most this many inbox records, and none older than a week (first seen); AlertInbox.trim enforces both. */
export const INBOX_MAX = 10_000;
export const INBOX_MAX_AGE_MS = 7 * 24 * 3600 * 1000;

/**
 * The inbox part of the intake script (uses tag, nowMs, nowIso, out, inbox, audit, WEEK).
 * An item: the episode and the alert's fields, and either its decision or `cand`, the candidate
 * whose result decides it.
 */
const INBOX_LUA = `
local known = {}
local index = tag .. ':inbox'
for j, it in ipairs(inbox) do
  local key = index .. ':' .. it.episode
  local d = {decision = it.decision, reason = it.reason}
  if it.cand then
    local r = out[it.cand]
    d = {decision = r.decision, runId = r.runId, guard = r.guard, reason = r.detail}
  end
  if call('EXISTS', key) == 1 then
    known[#known + 1] = j
    if d.decision ~= 'duplicate' then
      call('HSET', key, 'status', it.status, 'decision', d.decision)
      if d.runId then call('HSET', key, 'runId', d.runId) end
      if d.guard then call('HSET', key, 'guard', d.guard) end
      if d.reason then call('HSET', key, 'reason', d.reason) end
    end
  else
    call('HSET', key, 'fingerprint', it.fingerprint, 'alertname', it.alertname, 'labels', it.labels,
      'annotations', it.annotations, 'generatorURL', it.generatorURL, 'status', it.status, 'startsAt', it.startsAt,
      'firstSeenAt', nowIso, 'lastSeenAt', nowIso, 'seen', 1, 'rule', it.rule, 'decision', d.decision)
    if d.runId then call('HSET', key, 'runId', d.runId) end
    if d.guard then call('HSET', key, 'guard', d.guard) end
    if d.reason then call('HSET', key, 'reason', d.reason) end
    call('EXPIRE', key, WEEK)
    call('ZADD', index, nowMs, it.episode)
    if d.decision == 'unmatched' or d.decision == 'invalid_params' then
      local e = {type = 'alert_decision', at = nowIso, actor = 'alertmanager', fingerprint = it.fingerprint,
        alertname = it.alertname, rule = it.rule, decision = d.decision, reason = d.reason, episode = it.episode}
      call('XADD', audit, '*', 'e', cjson.encode(e))
    end
  end
end
`;

/** The batched duplicate counter: KEYS the records; ARGV tag, then (episode, count, lastSeenAt) triples; a record gone stays gone. */
export const INBOX_SEEN_SCRIPT = declaredKeysScript(`
local tag = ARGV[1]
for i = 2, #ARGV, 3 do
  local key = tag .. ':inbox:' .. ARGV[i]
  if call('EXISTS', key) == 1 then
    call('HINCRBY', key, 'seen', tonumber(ARGV[i + 1]))
    local last = call('HGET', key, 'lastSeenAt')
    if not last or last < ARGV[i + 2] then call('HSET', key, 'lastSeenAt', ARGV[i + 2]) end
  end
end
return 0
`);

/**
 * One Redis round trip per notification: for every (alert, rule) candidate it decides
 * duplicate / blocked / enqueued / cancelled atomically and writes the run records, episode keys
 * and audit entries together, so a decision is durable before the webhook answers 200.
 * It also writes the alert inbox (one record per episode seen, docs/http-api.md `GET /api/v1/alerts`):
 * new episodes get a record (and, for `unmatched` / `invalid_params`, an `alert_decision` audit
 * entry); records already there are left to the caller's batched `seen` counter.
 * KEYS: every key it touches (AlertIntake.scriptKeys). ARGV: tag, nowMs, nowIso, candidates JSON, inbox JSON,
 * then each candidate's run record and audit entry.
 * Returns `{r = results in candidate order, k = 1-based inbox items whose record existed}`, or
 * NEED_KEYS and the `{owner, key}` pairs it must also be given (then it wrote nothing).
 */
export const INTAKE_SCRIPT = declaredKeysScript(`${PAUSE_GUARD_LUA}
local tag = ARGV[1]
local nowMs = tonumber(ARGV[2])
local nowIso = ARGV[3]
local cands = cjson.decode(ARGV[4])
local inbox = cjson.decode(ARGV[5])
-- First, reading only: the keys that depend on what is stored (the run an episode started, the
-- workload a pod resolved to). Any not declared: say which, before writing anything.
local need = {}
local function want(owner, key) if not declared(key) then need[#need + 1] = {owner, key} end end
for _, c in ipairs(cands) do
  local runId = call('GET', tag .. ':ep:' .. c.episode)
  if runId then
    want('ep:' .. c.episode, tag .. ':run:' .. runId)
    want('ep:' .. c.episode, tag .. ':jobs:' .. runId)
  elseif c.status ~= 'resolved' then
    local mapped = call('GET', tag .. ':tgtmap:' .. c.target)
    if mapped then
      want('tgt:' .. c.target, tag .. ':held:' .. c.rule .. ':' .. mapped)
      if c.cooldownMs then want('tgt:' .. c.target, tag .. ':cooldown:' .. c.playbook .. ':' .. mapped) end
    end
  end
end
if #need > 0 then return '${NEED_KEYS_PREFIX}' .. cjson.encode(need) end
-- Candidate i's run record is ARGV[4 + 2i], its run_created audit entry ARGV[5 + 2i].
local WEEK = 604800
local audit = tag .. ':audit'
local out = {}
for i, c in ipairs(cands) do
  local epKey = tag .. ':ep:' .. c.episode
  local resKey = tag .. ':epres:' .. c.episode
  local r = {}
  if c.status == 'resolved' then
    call('SET', resKey, '1', 'EX', WEEK)
    r.decision = 'ignored_resolved'
    local runId = call('GET', epKey)
    if runId then
      r.runId = runId
      local runKey = tag .. ':run:' .. runId
      local st = call('HGET', runKey, 'status')
      if c.onResolved == 'cancel-pending' and (st == 'queued' or st == 'awaiting_approval') then
        call('HSET', runKey, 'status', 'cancelled', 'reason', 'alert resolved before the run started', 'finishedAt', nowIso)
        call('ZREM', tag .. ':awaiting', runId)
        call('XADD', audit, '*', 'e', cjson.encode({type = 'run_status', at = nowIso, actor = 'alertmanager',
          runId = runId, target = c.target, playbook = c.playbook, rule = c.rule, from = st, to = 'cancelled',
          reason = 'alert resolved before the run started'}))
        r.decision = 'cancelled'
      end
    end
  else
    local runId = call('GET', epKey)
    if runId then
      r.decision = 'duplicate'
      r.runId = runId
      local st = call('HGET', tag .. ':run:' .. runId, 'status')
      -- A run this very script created (the episode twice in one notification) has its job added
      -- by this request: its job key was never declared, and needs no look.
      local jobKey = tag .. ':jobs:' .. runId
      if st == 'queued' and declared(jobKey) and call('EXISTS', jobKey) == 0 then r.requeue = 1 end
    elseif call('EXISTS', resKey) == 1 then
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
        local mapped = call('GET', tag .. ':tgtmap:' .. c.target)
        if mapped then targets[2] = mapped end
        for _, t in ipairs(targets) do
          local held = call('GET', tag .. ':held:' .. c.rule .. ':' .. t)
          if not guard and held then guard = 'escalated'; detail = t .. ' is held after the escalation of run ' .. held .. ' until an operator acknowledges it (remediator ack)' end
        end
      end
      if not guard and c.cooldownMs then
        -- A pod alert cools down with its workload, once a worker has resolved which one it is.
        local targets = {c.target}
        local mapped = call('GET', tag .. ':tgtmap:' .. c.target)
        if mapped then targets[2] = mapped end
        for _, t in ipairs(targets) do
          local ttl = call('PTTL', tag .. ':cooldown:' .. c.playbook .. ':' .. t)
          if not guard and ttl > 0 then guard = 'cooldown'; detail = t .. ' is in cooldown for another ' .. math.ceil(ttl / 1000) .. 's' end
        end
      end
      if not guard and c.maxRunsPerHour then
        local rk = tag .. ':rate:' .. c.rule
        call('ZREMRANGEBYSCORE', rk, '-inf', nowMs - 3600000)
        local n = call('ZCARD', rk)
        if n >= c.maxRunsPerHour then guard = 'rate_limit'; detail = 'rule ' .. c.rule .. ' already started ' .. n .. ' runs in the last hour (maxRunsPerHour ' .. c.maxRunsPerHour .. ')' end
      end
      if guard then
        r.decision = 'blocked'
        r.guard = guard
        r.detail = detail
        local bk = tag .. ':epblk:' .. c.episode
        local prior = call('HGET', bk, guard)
        if prior then
          r.runId = prior
        else
          call('HSET', bk, guard, c.runId)
          call('EXPIRE', bk, WEEK)
          local runKey = tag .. ':run:' .. c.runId
          call('HSET', runKey, 'doc', ARGV[4 + 2 * i], 'status', 'blocked', 'reason', 'blocked by guard ' .. guard .. ': ' .. detail,
            'finishedAt', nowIso, 'guard', cjson.encode({guard = guard, detail = detail}))
          call('EXPIRE', runKey, c.runTtl)
          call('ZADD', tag .. ':runs', nowMs, c.runId)
          call('XADD', audit, '*', 'e', cjson.encode({type = 'guard_blocked', at = nowIso, actor = 'alertmanager',
            runId = c.runId, target = c.target, playbook = c.playbook, rule = c.rule, guard = guard, detail = detail,
            episode = c.episode, fingerprint = c.fingerprint}))
          r.runId = c.runId
          r.first = 1
        end
      else
        call('SET', epKey, c.runId, 'EX', WEEK)
        if c.maxRunsPerHour then
          local rk = tag .. ':rate:' .. c.rule
          call('ZADD', rk, nowMs, c.runId)
          call('PEXPIRE', rk, 3600000)
        end
        local runKey = tag .. ':run:' .. c.runId
        call('HSET', runKey, 'doc', ARGV[4 + 2 * i], 'status', c.initialStatus)
        call('EXPIRE', runKey, c.runTtl)
        call('ZADD', tag .. ':runs', nowMs, c.runId)
        call('ZADD', tag .. ':live', nowMs, c.runId)
        if c.initialStatus == 'awaiting_approval' then call('ZADD', tag .. ':awaiting', nowMs, c.runId) end
        call('XADD', audit, '*', 'e', ARGV[5 + 2 * i])
        r.runId = c.runId
        if c.initialStatus == 'awaiting_approval' then r.decision = 'awaiting_approval' else r.decision = 'enqueued'; r.requeue = 1 end
      end
    end
  end
  out[i] = r
end
${INBOX_LUA}
return cjson.encode({r = out, k = known})
`);

/**
 * The lean first look: for each episode key (ARGV[3..]), the run it started ('' if none) and,
 * where ARGV[2] has a '1' at the episode's position, whether that run is queued without a job
 * (then the caller enqueues it again). The caller skips that look for runs it enqueued itself.
 * Flat array; or, when a run to look at was not declared, NEED_KEYS and which.
 */
export const EPISODES_SCRIPT = declaredKeysScript(`
local tag = ARGV[1]
local check = ARGV[2]
local out = {}
local need = {}
for i = 3, #ARGV do
  local runId = call('GET', tag .. ':ep:' .. ARGV[i])
  if runId and string.sub(check, i - 2, i - 2) == '1' then
    for _, key in ipairs({tag .. ':run:' .. runId, tag .. ':jobs:' .. runId}) do
      if not declared(key) then need[#need + 1] = {'ep:' .. ARGV[i], key} end
    end
  end
end
if #need > 0 then return '${NEED_KEYS_PREFIX}' .. cjson.encode(need) end
for i = 3, #ARGV do
  local runId = call('GET', tag .. ':ep:' .. ARGV[i])
  if runId then
    local requeue = 0
    if string.sub(check, i - 2, i - 2) == '1' and call('HGET', tag .. ':run:' .. runId, 'status') == 'queued' and call('EXISTS', tag .. ':jobs:' .. runId) == 0 then requeue = 1 end
    out[#out + 1] = runId
    out[#out + 1] = requeue
  else
    out[#out + 1] = ''
    out[#out + 1] = 0
  end
end
return out
`);
