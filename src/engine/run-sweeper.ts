import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { isTerminal, type Run, type RunStatus } from '../domain/run.js';
import type { Metrics } from '../observability/metrics.js';
import type { EngineGuards } from './engine-rule.js';
import type { RedisKeys } from './redis-keys.js';
import type { RunStore } from './run-store.js';
import type { RunEnqueuer } from './alert-intake.js';
import type { ReplicaFence } from '../redis/replica-fence.js';
import type { AlertInbox } from './alert-inbox.js';

export interface RunSweeperDeps {
  redis: Redis;
  keys: RedisKeys;
  runs: RunStore;
  guards: Pick<EngineGuards, 'maxQueueAgeMs' | 'approvalTimeoutMs'>;
  /** `runs.retention`: run records expire this long after creation; the runs index follows. */
  runRetentionMs: number;
  enqueuer: RunEnqueuer;
  metrics: Metrics;
  logger: Logger;
  now?: () => number;
  /**
   * `redis.minReplicasAcked`: a queued run without a job is enqueued again only once replicas hold
   * it; the webhook answered 503 for it, and a failover could still lose its record.
   */
  replicas?: Pick<ReplicaFence, 'confirm' | 'min'>;
  /** The alert inbox, trimmed to its bounds by whichever process holds the sweep. */
  inbox?: Pick<AlertInbox, 'trim'>;
}

/** A queued run without a job is enqueued again after this (intake enqueues right after recording; re-adding a job id is a no-op). */
const ENQUEUE_GRACE_MS = 2000;
/** Live runs examined per sweep; the rest wait for the next one. */
const BATCH = 1000;

/**
 * No run is left behind (README "How an alert becomes an action"). One process at a time (elected by a Redis lock) walks the
 * runs that are not terminal yet and gives each a terminal status in bounded time, whatever
 * happened to its BullMQ job:
 * - awaiting approval past `guards.approvalTimeout` → `expired`;
 * - queued past `guards.maxQueueAge` since it was enqueued or approved (no worker took it) →
 *   `expired`; queued without a job (the process died between recording and enqueueing, or an
 *   approval's enqueue was lost) → enqueued again;
 * - queued or running whose job failed outside the executor (stalled past BullMQ's limit, failed
 *   while Redis errored), or running whose job was removed or completed → `failed`;
 * - running with no worker holding its job for longer than `guards.maxQueueAge` → `failed`.
 * So every run ends within max(approvalTimeout, maxQueueAge) plus one sweep interval of its last
 * progress. Each ending carries a reason, a `run_status` audit entry and the runs metric.
 */
export class RunSweeper {
  private readonly now: () => number;
  private readonly instance = randomUUID();
  private sweeping: Promise<void> | undefined;

  constructor(private readonly deps: RunSweeperDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** One sweep at a time in this process: a slow one (a big inbox trim) must not overlap the next tick. */
  sweep(): Promise<void> {
    this.sweeping ??= this.sweepOnce().finally(() => {
      this.sweeping = undefined;
    });
    return this.sweeping;
  }

  private async sweepOnce(): Promise<void> {
    const { redis, keys } = this.deps;
    const lock = `${keys.tag}:sweeper`;
    if ((await redis.set(lock, this.instance, 'PX', 15_000, 'NX')) !== 'OK' && (await redis.get(lock)) !== this.instance) return;
    await redis.pexpire(lock, 15_000);
    const nowMs = this.now();
    // The runs index follows the run records' expiry, so queries never scan ids whose record is gone.
    await redis.zremrangebyscore(keys.runs, '-inf', nowMs - this.deps.runRetentionMs);
    // One process at a time: two trimming by rank at once would both drop "the oldest".
    await this.deps.inbox?.trim(nowMs);
    const live = await redis.zrange(keys.live, 0, BATCH - 1, 'WITHSCORES');
    if (live.length === 0) return;
    const ids = live.filter((_, i) => i % 2 === 0);
    // The score is when the run was recorded: a lower bound of when it was (re)queued.
    const recordedAt = live.filter((_, i) => i % 2 === 1).map(Number);
    const pipeline = redis.pipeline();
    for (const id of ids) {
      const job = keys.job(id);
      pipeline.hget(keys.run(id), 'status').exists(job).exists(`${job}:lock`).zscore(`${keys.bullPrefix}:jobs:failed`, id).zscore(`${keys.bullPrefix}:jobs:completed`, id).hget(keys.stranded, id);
    }
    const replies = ((await pipeline.exec()) ?? []).map(([, value]) => value);
    const orphans: { runId: string; playbook: string }[] = [];
    for (let i = 0; i < ids.length; i++) {
      const [status, hasJob, locked, failed, completed, strandedSince] = replies.slice(6 * i, 6 * i + 6) as [string | null, number, number, string | null, string | null, string | null];
      const id = ids[i]!;
      if (status === null || isTerminal(status as RunStatus)) {
        await redis.multi().zrem(keys.live, id).hdel(keys.stranded, id).exec();
        continue;
      }
      if (status === 'awaiting_approval') continue;
      if (failed !== null) {
        // Stalled past BullMQ's limit, or failed while Redis errored: the executor recorded no end.
        await this.endById(id, 'failed', `its queue job failed outside the playbook: ${(await redis.hget(keys.job(id), 'failedReason')) ?? 'unknown reason'}`, [status as RunStatus]);
        continue;
      }
      if (status === 'queued') {
        // Read the record only when it may be due: a queued run with its job, younger than
        // maxQueueAge, needs nothing (a backlog of thousands would otherwise be read every sweep).
        const age = nowMs - recordedAt[i]!;
        if (age <= this.deps.guards.maxQueueAgeMs && (hasJob || age <= ENQUEUE_GRACE_MS)) continue;
        const run = await this.deps.runs.get(id);
        if (!run) continue;
        const since = Date.parse(run.queuedAt ?? run.createdAt);
        if (nowMs - since > this.deps.guards.maxQueueAgeMs) {
          await this.end(run, 'expired', `no worker started it within guards.maxQueueAge (${seconds(this.deps.guards.maxQueueAgeMs)}) of being ${run.queuedAt ? 'approved' : 'enqueued'}`);
        } else if (!hasJob && nowMs - since > ENQUEUE_GRACE_MS) {
          orphans.push({ runId: id, playbook: run.playbook });
        }
        continue;
      }
      // Running: the run record is read only when it has to end.
      if (!hasJob) await this.endById(id, 'failed', 'its queue job was removed outside Remediator while it ran', ['running']);
      else if (completed !== null) await this.endById(id, 'failed', 'its queue job completed without the run recording an end', ['running']);
      else if (locked) {
        if (strandedSince !== null) await redis.hdel(keys.stranded, id);
      } else if (strandedSince === null) {
        await redis.hset(keys.stranded, id, String(nowMs));
      } else if (nowMs - Number(strandedSince) > this.deps.guards.maxQueueAgeMs) {
        await this.endById(id, 'failed', `no worker resumed it within guards.maxQueueAge (${seconds(this.deps.guards.maxQueueAgeMs)}) after its worker went away`, ['running']);
      }
    }
    if (orphans.length > 0 && this.deps.replicas) {
      const acked = await this.deps.replicas.confirm();
      if (acked < this.deps.replicas.min) {
        this.deps.logger.warn({ runs: orphans.map((o) => o.runId), acked, minReplicasAcked: this.deps.replicas.min }, 'queued runs without a job wait: the replicas have not confirmed them');
        return;
      }
    }
    if (orphans.length > 0) {
      this.deps.logger.warn({ runs: orphans.map((o) => o.runId) }, 're-enqueueing queued runs that had no job');
      await this.deps.enqueuer.enqueue(orphans);
    }
  }

  /** Approvals past `guards.approvalTimeout` expire. */
  async expireApprovals(): Promise<void> {
    const { redis, keys, guards } = this.deps;
    const nowMs = this.now();
    const stale = await redis.zrangebyscore(keys.awaiting, '-inf', nowMs - guards.approvalTimeoutMs);
    for (const id of stale) {
      const run = await this.deps.runs.get(id);
      await redis.zrem(keys.awaiting, id);
      if (!run || run.status !== 'awaiting_approval') continue;
      run.approval = { ...(run.approval ?? { requiredBy: 'rule' }), decision: 'expired', at: new Date(nowMs).toISOString() };
      await this.end(run, 'expired', `no approval within guards.approvalTimeout (${seconds(guards.approvalTimeoutMs)})`);
    }
  }

  /**
   * Ends the run only from a status the sweep saw it in: its pipeline is not atomic, so a run that
   * succeeded between the reads (status `running`, then its job completed) must stay succeeded.
   */
  private async endById(id: string, status: 'expired' | 'failed', reason: string, seenIn: readonly RunStatus[] = ['queued', 'running']): Promise<void> {
    const run = await this.deps.runs.get(id);
    if (run && seenIn.includes(run.status)) await this.end(run, status, reason);
  }

  private async end(run: Run, status: 'expired' | 'failed', reason: string): Promise<void> {
    const from = run.status;
    const at = new Date(this.now()).toISOString();
    run.reason = reason;
    run.finishedAt = at;
    const entry = { type: 'run_status', at, actor: 'system', runId: run.id, target: run.target, playbook: run.playbook, rule: run.trigger.rule, from, to: status, reason };
    const moved = await this.deps.runs.transition(run, [from], status, entry);
    if (moved !== 'OK') return;
    await this.deps.redis.multi().zrem(this.deps.keys.live, run.id).hdel(this.deps.keys.stranded, run.id).zrem(this.deps.keys.slots, run.id).exec();
    this.deps.metrics.runs.inc({ playbook: run.playbook, source: run.trigger.source, status });
    this.deps.logger.warn({ runId: run.id, playbook: run.playbook, target: run.target, from, status, reason }, 'run ended by the sweeper');
  }
}

function seconds(ms: number): string {
  return `${Math.round(ms / 1000)}s`;
}
