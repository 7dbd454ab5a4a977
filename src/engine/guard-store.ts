import type { Redis } from 'ioredis';
import type { RedisKeys } from './redis-keys.js';
import { declaredKeysScript } from '../redis/declared-keys-lua.js';

/**
 * Claims the node budget atomically. Counts every unschedulable node (whoever cordoned it) plus
 * the nodes we claimed and are about to cordon. A claim for a node that is still schedulable
 * after `staleMs` is dropped: its cordon failed or a human uncordoned it.
 * KEYS[1] claims hash (node -> claimedAt ms). ARGV: node, max, nowMs, staleMs, unschedulable...
 */
const NODE_BUDGET_SCRIPT = declaredKeysScript(`
local node = ARGV[1]
local max = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local stale = tonumber(ARGV[4])
local counted = {}
local n = 0
for i = 5, #ARGV do
  if not counted[ARGV[i]] then counted[ARGV[i]] = true; n = n + 1 end
end
local claims = call('HGETALL', KEYS[1])
for i = 1, #claims, 2 do
  local name = claims[i]
  local at = tonumber(claims[i + 1])
  if not counted[name] then
    if now - at > stale then
      call('HDEL', KEYS[1], name)
    else
      counted[name] = true; n = n + 1
    end
  end
end
if counted[node] then
  call('HSET', KEYS[1], node, now)
  return {1, n}
end
if n + 1 > max then return {0, n} end
call('HSET', KEYS[1], node, now)
return {1, n + 1}
`);

const RELEASE_LOCK_SCRIPT = declaredKeysScript(`
if call('GET', KEYS[1]) == ARGV[1] then return call('DEL', KEYS[1]) end
return 0
`);

const RENEW_LOCK_SCRIPT = declaredKeysScript(`
if call('GET', KEYS[1]) == ARGV[1] then return call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`);

/**
 * A run blocked in the worker gives its episode back, so a later notification is evaluated again
 * (README "How an alert becomes an action"), and marks the block so it is counted and audited once per episode and guard.
 * KEYS: episode key, the episode's block hash. ARGV: runId, ttl seconds, guard. Returns 1 the first time.
 */
const RELEASE_EPISODE_SCRIPT = declaredKeysScript(`
if call('GET', KEYS[1]) == ARGV[1] then call('DEL', KEYS[1]) end
if call('HSETNX', KEYS[2], ARGV[3], ARGV[1]) == 1 then
  call('EXPIRE', KEYS[2], ARGV[2])
  return 1
end
return 0
`);

/**
 * Cluster-wide concurrency (`guards.maxConcurrentRuns`). A slot is a run id with its last
 * heartbeat; slots of runs that stopped beating (a killed worker) are freed after `staleMs`.
 * KEYS[1] slots zset. ARGV: runId, max, nowMs, staleMs. Returns {1, n} claimed or {0, n} full.
 */
const CLAIM_SLOT_SCRIPT = declaredKeysScript(`
call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[3]) - tonumber(ARGV[4]))
if call('ZSCORE', KEYS[1], ARGV[1]) then
  call('ZADD', KEYS[1], ARGV[3], ARGV[1])
  return {1, call('ZCARD', KEYS[1])}
end
local n = call('ZCARD', KEYS[1])
if n >= tonumber(ARGV[2]) then return {0, n} end
call('ZADD', KEYS[1], ARGV[3], ARGV[1])
return {1, n + 1}
`);

type GuardRedis = Redis & {
  remediatorClaimSlot(key: string, runId: string, max: string, nowMs: string, staleMs: string): Promise<[number, number]>;
  remediatorReleaseEpisode(episodeKey: string, blockKey: string, runId: string, ttl: string, guard: string): Promise<number>;
  remediatorNodeBudget(key: string, ...args: string[]): Promise<[number, number]>;
  remediatorReleaseLock(key: string, token: string): Promise<number>;
  remediatorRenewLock(key: string, token: string, ttl: string): Promise<number>;
};

/** The Redis side of the guards the worker re-checks: pause, resolution, cooldown, locks, node budget. */
export class GuardStore {
  private readonly redis: GuardRedis;
  constructor(
    redis: Redis,
    private readonly keys: RedisKeys,
  ) {
    redis.defineCommand('remediatorNodeBudget', { numberOfKeys: 1, lua: NODE_BUDGET_SCRIPT });
    redis.defineCommand('remediatorReleaseLock', { numberOfKeys: 1, lua: RELEASE_LOCK_SCRIPT });
    redis.defineCommand('remediatorRenewLock', { numberOfKeys: 1, lua: RENEW_LOCK_SCRIPT });
    redis.defineCommand('remediatorClaimSlot', { numberOfKeys: 1, lua: CLAIM_SLOT_SCRIPT });
    redis.defineCommand('remediatorReleaseEpisode', { numberOfKeys: 2, lua: RELEASE_EPISODE_SCRIPT });
    this.redis = redis as GuardRedis;
  }

  /** The pause reason in force for this playbook, if any. */
  async pausedReason(playbook: string): Promise<string | undefined> {
    const [global, scoped] = await this.redis.hmget(this.keys.pause, 'global', `playbook:${playbook}`);
    const raw = global ?? scoped;
    if (!raw) return undefined;
    const scope = global ? 'globally' : `for playbook ${playbook}`;
    try {
      const parsed = JSON.parse(raw) as { reason?: string; by?: string };
      return `automation is paused ${scope}${parsed.by ? ` by ${parsed.by}` : ''}${parsed.reason ? `: ${parsed.reason}` : ''}`;
    } catch {
      return `automation is paused ${scope}`;
    }
  }

  async isEpisodeResolved(episode: string): Promise<boolean> {
    return (await this.redis.exists(this.keys.episodeResolved(episode))) === 1;
  }

  /** The run whose escalation holds this target for the rule, if any (guard `escalated`). */
  async heldBy(rule: string, target: string): Promise<string | undefined> {
    return (await this.redis.get(this.keys.held(rule, target))) ?? undefined;
  }

  /** Remaining cooldown in ms (0 when none). */
  async cooldownRemaining(playbook: string, target: string): Promise<number> {
    return Math.max(0, await this.redis.pttl(this.keys.cooldown(playbook, target)));
  }

  /** Starts the target's cooldown unless one is running; false when another run holds it. */
  async claimCooldown(playbook: string, target: string, ms: number, runId: string): Promise<boolean> {
    const key = this.keys.cooldown(playbook, target);
    const ok = await this.redis.set(key, runId, 'PX', ms, 'NX');
    if (ok === 'OK') return true;
    return (await this.redis.get(key)) === runId;
  }

  /** Gives back a cooldown this run claimed and never used (compare-and-delete, RELEASE_LOCK_SCRIPT). */
  async releaseCooldown(playbook: string, target: string, runId: string): Promise<void> {
    await this.redis.remediatorReleaseLock(this.keys.cooldown(playbook, target), runId);
  }

  async acquireLock(target: string, token: string, ttlMs: number): Promise<boolean> {
    const ok = await this.redis.set(this.keys.lock(target), token, 'PX', ttlMs, 'NX');
    if (ok === 'OK') return true;
    return (await this.redis.get(this.keys.lock(target))) === token;
  }

  async renewLock(target: string, token: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.remediatorRenewLock(this.keys.lock(target), token, String(ttlMs))) === 1;
  }

  async releaseLock(target: string, token: string): Promise<void> {
    await this.redis.remediatorReleaseLock(this.keys.lock(target), token);
  }

  async lockHolder(target: string): Promise<string | null> {
    return this.redis.get(this.keys.lock(target));
  }

  async claimNodeBudget(node: string, max: number, unschedulable: string[], nowMs: number, staleMs = 300_000): Promise<{ ok: boolean; used: number }> {
    const [ok, used] = await this.redis.remediatorNodeBudget(this.keys.nodeBudget, node, String(max), String(nowMs), String(staleMs), ...unschedulable);
    return { ok: ok === 1, used };
  }

  async rememberResolvedTarget(target: string, resolved: string): Promise<void> {
    await this.redis.set(this.keys.resolvedTarget(target), resolved, 'EX', 86_400);
  }

  async claimSlot(runId: string, max: number, nowMs: number, staleMs: number): Promise<boolean> {
    const [ok] = await this.redis.remediatorClaimSlot(this.keys.slots, runId, String(max), String(nowMs), String(staleMs));
    return ok === 1;
  }

  async heartbeatSlot(runId: string, nowMs: number): Promise<void> {
    await this.redis.zadd(this.keys.slots, 'XX', nowMs, runId);
  }

  async releaseSlot(runId: string): Promise<void> {
    await this.redis.zrem(this.keys.slots, runId);
  }

  /** An operator's request to stop a running run between steps, if any. */
  async cancelRequest(runId: string): Promise<{ by: string; reason: string; at?: string } | undefined> {
    const raw = await this.redis.get(this.keys.cancel(runId));
    return raw ? (JSON.parse(raw) as { by: string; reason: string; at?: string }) : undefined;
  }

  /** True the first time this episode is blocked by this guard. */
  async releaseEpisodeAfterBlock(episode: string, guard: string, runId: string): Promise<boolean> {
    const first = await this.redis.remediatorReleaseEpisode(this.keys.episode(episode), this.keys.episodeBlocked(episode), runId, String(7 * 86_400), guard);
    return first === 1;
  }

  async releaseNodeBudget(node: string): Promise<void> {
    await this.redis.hdel(this.keys.nodeBudget, node);
  }
}
