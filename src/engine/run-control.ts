import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Run, RunStatus } from '../domain/run.js';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError, type GuardName } from '../domain/errors.js';
import type { Metrics } from '../observability/metrics.js';
import type { AnyPlaybook } from './playbook.js';
import type { EngineGuards } from './engine-rule.js';
import type { RedisKeys } from './redis-keys.js';
import type { RunStore } from './run-store.js';
import type { RunEnqueuer } from './alert-intake.js';
import { CLAIM_TTL_MS } from './claim-timing.js';
import { namespaceBlock } from './namespace-guard.js';
import { MANUAL_RUN_SCRIPT } from './manual-run-script.js';

export interface Operator {
  name: string;
  role: 'alertmanager' | 'viewer' | 'operator' | 'admin';
}

export interface ManualRunRequest {
  playbook: string;
  params: Record<string, unknown>;
  reason: string;
  dryRun?: boolean;
  bypassGuards?: boolean;
}

export interface RunControlDeps {
  redis: Redis;
  keys: RedisKeys;
  runs: RunStore;
  playbooks: ReadonlyMap<string, AnyPlaybook>;
  guards: EngineGuards & { manualApproval: 'none' | 'destructive' | 'all' };
  globalDryRun: boolean;
  enqueuer: RunEnqueuer;
  metrics: Metrics;
  audit: { append(entries: object[]): Promise<unknown>; logWritten(entries: object[]): void };
  logger: Logger;
  now?: () => number;
  /** A slot whose run has not sent a heartbeat for this long is free again. */
  slotStaleMs?: number;
}

/**
 * What on-call engineers do by hand: start a run, approve or reject one, cancel one, pause and
 * resume automation. Every action is audited with the operator's name and reason.
 */
export class RunControl {
  private readonly now: () => number;
  constructor(private readonly deps: RunControlDeps) {
    this.now = deps.now ?? Date.now;
    deps.redis.defineCommand('remediatorManualRun', { numberOfKeys: 0, lua: MANUAL_RUN_SCRIPT });
  }

  async createManual(request: ManualRunRequest, operator: Operator): Promise<{ id: string; status: RunStatus }> {
    const { playbooks, guards } = this.deps;
    const problems: { path: string; message: string }[] = [];
    const playbook = playbooks.get(request.playbook);
    if (!playbook) problems.push({ path: 'playbook', message: `unknown playbook "${request.playbook}" (known: ${[...playbooks.keys()].join(', ')})` });
    if (typeof request.reason !== 'string' || request.reason.trim() === '') problems.push({ path: 'reason', message: 'a reason is required and audited' });
    if (request.bypassGuards && operator.role !== 'admin') throw new ForbiddenError('bypassGuards needs the admin role');
    let params: Record<string, unknown> = {};
    if (playbook) {
      const parsed = playbook.paramsSchema.safeParse(request.params ?? {});
      if (parsed.success) params = parsed.data;
      else for (const issue of parsed.error.issues) problems.push({ path: ['params', ...issue.path].join('.'), message: issue.message });
    }
    if (problems.length > 0 || !playbook) throw new ValidationError('invalid run request', problems);
    let target: string;
    try {
      target = playbook.target(params);
    } catch (err) {
      throw new ValidationError('invalid run request', [{ path: 'params', message: (err as Error).message }]);
    }

    const nowMs = this.now();
    const at = new Date(nowMs).toISOString();
    const id = randomUUID();
    const dryRun = this.deps.globalDryRun || request.dryRun === true;
    const needsApproval = guards.manualApproval === 'all' || (guards.manualApproval === 'destructive' && playbook.destructive);
    const initialStatus: RunStatus = needsApproval ? 'awaiting_approval' : 'queued';
    const run: Run = {
      id,
      status: initialStatus,
      changed: false,
      dryRun,
      playbook: playbook.name,
      params,
      target,
      trigger: { source: 'manual', operator: operator.name, reason: request.reason },
      steps: [],
      attempts: 0,
      createdAt: at,
      ...(needsApproval ? { approval: { requiredBy: 'manualApproval' as const } } : {}),
      ...(request.bypassGuards ? { bypassGuards: true } : {}),
    };
    const base = { at, actor: operator.name, runId: id, target, playbook: playbook.name };
    const created = { ...base, type: 'run_created', source: 'manual', params, dryRun, status: initialStatus };
    const trigger = { ...base, type: 'operator_action', action: 'trigger', reason: request.reason };
    const bypass = request.bypassGuards ? { ...base, type: 'operator_action', action: 'bypass', reason: request.reason } : undefined;
    const block = namespaceBlock(target, guards);
    const payload = {
      runId: id,
      playbook: playbook.name,
      target,
      operator: operator.name,
      initialStatus,
      doc: JSON.stringify(run),
      auditCreated: JSON.stringify(created),
      auditTrigger: JSON.stringify(trigger),
      ...(bypass ? { auditBypass: JSON.stringify(bypass) } : {}),
      ...(block ? { blockedGuard: 'namespace', blockedDetail: block } : {}),
      maxConcurrent: guards.maxConcurrentRuns,
      slotStaleMs: this.deps.slotStaleMs ?? CLAIM_TTL_MS,
    };
    const redis = this.deps.redis as Redis & { remediatorManualRun(...args: string[]): Promise<string> };
    const result = JSON.parse(await redis.remediatorManualRun(this.deps.keys.tag, String(nowMs), at, JSON.stringify(payload))) as { ok?: boolean; guard?: GuardName; detail?: string };
    const written: object[] = [trigger, ...(bypass ? [bypass] : [])];
    if (result.guard) {
      this.deps.metrics.guardBlocks.inc({ guard: result.guard });
      this.deps.metrics.runs.inc({ playbook: playbook.name, source: 'manual', status: 'blocked' });
      this.deps.audit.logWritten([...written, { ...base, type: 'guard_blocked', guard: result.guard, detail: result.detail }]);
      throw new ConflictError(`blocked by guard ${result.guard}: ${result.detail}`, 'blocked', { guard: result.guard, runId: id });
    }
    this.deps.audit.logWritten([...written, created]);
    if (initialStatus === 'queued') await this.deps.enqueuer.enqueue([{ runId: id, playbook: playbook.name }]);
    return { id, status: initialStatus };
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

  async pause(operator: Operator, reason: string, playbook?: string): Promise<{ paused: string[] }> {
    requireReason(reason);
    const scope = this.scope(playbook);
    const at = new Date(this.now()).toISOString();
    const entry = { type: 'operator_action', at, actor: operator.name, action: 'pause', reason, scope: playbook ?? 'global', ...(playbook ? { playbook } : {}) };
    await this.deps.redis.multi().hset(this.deps.keys.pause, scope, JSON.stringify({ reason, by: operator.name, at })).xadd(this.deps.keys.audit, '*', 'e', JSON.stringify(entry)).exec();
    this.deps.audit.logWritten([entry]);
    this.deps.metrics.paused.set({ scope: playbook ?? 'global' }, 1);
    return { paused: await this.pausedScopes() };
  }

  async resume(operator: Operator, reason: string, playbook?: string): Promise<{ paused: string[] }> {
    requireReason(reason);
    const scope = this.scope(playbook);
    const at = new Date(this.now()).toISOString();
    const entry = { type: 'operator_action', at, actor: operator.name, action: 'resume', reason, scope: playbook ?? 'global', ...(playbook ? { playbook } : {}) };
    await this.deps.redis.multi().hdel(this.deps.keys.pause, scope).xadd(this.deps.keys.audit, '*', 'e', JSON.stringify(entry)).exec();
    this.deps.audit.logWritten([entry]);
    this.deps.metrics.paused.set({ scope: playbook ?? 'global' }, 0);
    return { paused: await this.pausedScopes() };
  }

  /** `global` and/or playbook names, with who paused and why. */
  async pauseState(): Promise<Record<string, { reason: string; by: string; at: string }>> {
    const raw = await this.deps.redis.hgetall(this.deps.keys.pause);
    return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k.replace(/^playbook:/, ''), JSON.parse(v) as { reason: string; by: string; at: string }]));
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
    await this.deps.audit.append([{ type: 'run_status', at, actor: operator.name, runId: run.id, target: run.target, playbook: run.playbook, rule: run.trigger.rule, from, to, reason: run.reason }]);
    this.deps.audit.logWritten([entry]);
  }

  private scope(playbook: string | undefined): string {
    if (playbook === undefined) return 'global';
    if (!this.deps.playbooks.has(playbook)) throw new ValidationError('invalid pause request', [{ path: 'playbook', message: `unknown playbook "${playbook}"` }]);
    return `playbook:${playbook}`;
  }

  private async pausedScopes(): Promise<string[]> {
    return (await this.deps.redis.hkeys(this.deps.keys.pause)).map((k) => k.replace(/^playbook:/, ''));
  }
}

function requireReason(reason: unknown): asserts reason is string {
  if (typeof reason !== 'string' || reason.trim() === '') throw new ValidationError('a reason is required', [{ path: 'reason', message: 'a reason is required and audited' }]);
}
