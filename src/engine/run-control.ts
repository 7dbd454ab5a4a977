import type { Redis } from 'ioredis';
import type { Run, RunStatus } from '../domain/run.js';
import { ConflictError, ForbiddenError, NotFoundError } from '../domain/errors.js';
import type { Metrics } from '../observability/metrics.js';
import type { RedisKeys } from './redis-keys.js';
import type { RunStore } from './run-store.js';
import type { RunEnqueuer } from './alert-intake.js';
import { requireReason, type Operator } from './operator.js';
import { declaredKeysScript } from '../redis/declared-keys-lua.js';

export type { Operator } from './operator.js';

/** Releases a hold only if it is still the one read, and audits the ack in the same step. */
const ACK_SCRIPT = declaredKeysScript(`
if call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
call('DEL', KEYS[1])
call('XADD', KEYS[2], '*', 'e', ARGV[2])
return 1
`);

export interface RunControlDeps {
  redis: Redis;
  keys: RedisKeys;
  runs: RunStore;
  enqueuer: RunEnqueuer;
  metrics: Metrics;
  audit: { append(entries: object[]): Promise<unknown>; logWritten(entries: object[]): void };
  now?: () => number;
}

/**
 * An operator's decisions on an existing run: approve (never the requester), reject, cancel
 * (queued or waiting: at once; running: within a second, also while it waits). Every decision
 * is audited with the operator's name and reason.
 */
export class RunControl {
  private readonly now: () => number;
  constructor(private readonly deps: RunControlDeps) {
    this.now = deps.now ?? Date.now;
  }

  async approve(id: string, operator: Operator, reason: string): Promise<{ id: string; status: RunStatus }> {
    const run = await this.awaiting(id, operator, reason);
    if (run.trigger.source === 'manual' && run.trigger.operator === operator.name) {
      throw new ForbiddenError(`${operator.name} asked for this run and cannot also approve it; another operator must`);
    }
    const at = new Date(this.now()).toISOString();
    run.approval = { ...(run.approval ?? { requiredBy: 'rule' }), decision: 'approved', by: operator.name, reason, at };
    run.queuedAt = at;
    await this.move(run, 'queued', operator, 'approve', reason);
    await this.deps.redis.zrem(this.deps.keys.awaiting, id);
    await this.deps.enqueuer.enqueue([{ runId: id, playbook: run.playbook }]);
    return { id, status: 'queued' };
  }

  async reject(id: string, operator: Operator, reason: string): Promise<{ id: string; status: RunStatus }> {
    const run = await this.awaiting(id, operator, reason);
    const at = new Date(this.now()).toISOString();
    run.approval = { ...(run.approval ?? { requiredBy: 'rule' }), decision: 'rejected', by: operator.name, reason, at };
    run.reason = `rejected by ${operator.name}: ${reason}`;
    run.finishedAt = at;
    await this.move(run, 'rejected', operator, 'reject', reason);
    await this.deps.redis.zrem(this.deps.keys.awaiting, id);
    this.deps.metrics.runs.inc({ playbook: run.playbook, source: run.trigger.source, status: 'rejected' });
    return { id, status: 'rejected' };
  }

  /** Queued or waiting: cancelled now. Running: stops within a second, also while it waits (pods gone, a Ready replacement). */
  async cancel(id: string, operator: Operator, reason: string): Promise<{ id: string; status: RunStatus }> {
    requireReason(reason);
    const run = await this.deps.runs.get(id);
    if (!run) throw new NotFoundError(`run ${id} not found`);
    const at = new Date(this.now()).toISOString();
    if (run.status === 'queued' || run.status === 'awaiting_approval') {
      run.reason = `cancelled by ${operator.name}: ${reason}`;
      run.finishedAt = at;
      await this.move(run, 'cancelled', operator, 'cancel', reason);
      await this.deps.redis.zrem(this.deps.keys.awaiting, id);
      this.deps.metrics.runs.inc({ playbook: run.playbook, source: run.trigger.source, status: 'cancelled' });
      return { id, status: 'cancelled' };
    }
    if (run.status === 'running') {
      const entry = { type: 'operator_action', at, actor: operator.name, runId: id, target: run.target, playbook: run.playbook, action: 'cancel', reason };
      const request = JSON.stringify({ by: operator.name, reason, at });
      await this.deps.redis
        .multi()
        .set(this.deps.keys.cancel(id), request, 'EX', 86_400)
        .hset(this.deps.keys.run(id), 'cancelRequested', request)
        .xadd(this.deps.keys.audit, '*', 'e', JSON.stringify(entry))
        .exec();
      this.deps.audit.logWritten([entry]);
      return { id, status: 'running' };
    }
    throw new ConflictError(`run ${id} is already ${run.status}`, 'conflict', { status: run.status });
  }

  /**
   * Releases the target an escalation of this run (or of the run this follow-up came from) holds
   * for its rule (guard `escalated`): the rule may act on it again. 409 when nothing is held.
   */
  async ack(id: string, operator: Operator, reason: string): Promise<{ id: string; target: string; rule: string; released: true }> {
    requireReason(reason);
    const run = await this.deps.runs.get(id);
    if (!run) throw new NotFoundError(`run ${id} not found`);
    const origin = run.escalatedFrom ? ((await this.deps.runs.get(run.escalatedFrom)) ?? run) : run;
    const rule = origin.trigger.rule;
    const key = rule ? this.deps.keys.held(rule, origin.target) : undefined;
    const holder = key ? await this.deps.redis.get(key) : null;
    if (!rule || !key || holder === null) {
      throw new ConflictError(`${origin.target} is not held by an escalation${rule ? ` of rule ${rule}` : ''}`, 'not_held', { target: origin.target });
    }
    const at = new Date(this.now()).toISOString();
    const entry = { type: 'operator_action', at, actor: operator.name, runId: origin.id, target: origin.target, playbook: origin.playbook, rule, action: 'ack', reason };
    // Only the hold this escalation set: a newer one (after another escalation) needs its own ack.
    const released = (await this.deps.redis.eval(ACK_SCRIPT, 2, key, this.deps.keys.audit, holder, JSON.stringify(entry))) as number;
    if (released !== 1) throw new ConflictError(`${origin.target} is not held by an escalation of rule ${rule}`, 'not_held', { target: origin.target });
    this.deps.audit.logWritten([entry]);
    return { id: origin.id, target: origin.target, rule, released: true };
  }

  async awaitingCount(): Promise<number> {
    return this.deps.redis.zcard(this.deps.keys.awaiting);
  }

  private async awaiting(id: string, _operator: Operator, reason: string): Promise<Run> {
    requireReason(reason);
    const run = await this.deps.runs.get(id);
    if (!run) throw new NotFoundError(`run ${id} not found`);
    if (run.status !== 'awaiting_approval') throw new ConflictError(`run ${id} is ${run.status}, not awaiting approval`, 'conflict', { status: run.status });
    return run;
  }

  private async move(run: Run, to: RunStatus, operator: Operator, action: 'approve' | 'reject' | 'cancel', reason: string): Promise<void> {
    const from = run.status;
    const at = new Date(this.now()).toISOString();
    const entry = { type: 'operator_action', at, actor: operator.name, runId: run.id, target: run.target, playbook: run.playbook, rule: run.trigger.rule, action, reason };
    const moved = await this.deps.runs.transition(run, [from], to, entry);
    if (moved !== 'OK') throw new ConflictError(`run ${run.id} is ${moved}, not ${from}`, 'conflict', { status: moved });
    // The store logs the operator_action it wrote with the transition; append logs its own entries.
    await this.deps.audit.append([{ type: 'run_status', at, actor: operator.name, runId: run.id, target: run.target, playbook: run.playbook, rule: run.trigger.rule, from, to, reason: run.reason }]);
  }

}

