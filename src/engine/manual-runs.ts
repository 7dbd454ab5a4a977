import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Run, RunStatus } from '../domain/run.js';
import { ConflictError, ForbiddenError, ValidationError, type GuardName } from '../domain/errors.js';
import type { Metrics } from '../observability/metrics.js';
import type { AnyPlaybook } from './playbook.js';
import type { EngineGuards } from './engine-rule.js';
import type { RedisKeys } from './redis-keys.js';
import type { RunEnqueuer } from './alert-intake.js';
import { CLAIM_TTL_MS } from './claim-timing.js';
import { namespaceBlock } from './namespace-guard.js';
import { MANUAL_RUN_SCRIPT } from './manual-run-script.js';
import type { Operator } from './operator.js';

export interface ManualRunRequest {
  playbook: string;
  params: Record<string, unknown>;
  reason: string;
  dryRun?: boolean;
  bypassGuards?: boolean;
  /** PromQL that must return a result right before the first mutation; no placeholders (no alert fills them). */
  precheck?: string;
}

export interface ManualRunsDeps {
  redis: Redis;
  keys: RedisKeys;
  playbooks: ReadonlyMap<string, AnyPlaybook>;
  guards: EngineGuards & { manualApproval: 'none' | 'destructive' | 'all' };
  /** Whether `prometheus` is configured: a precheck needs it. */
  prometheus: boolean;
  globalDryRun: boolean;
  /** `runs.retention`: how long run records live. */
  runRetentionMs: number;
  enqueuer: RunEnqueuer;
  metrics: Metrics;
  audit: { logWritten(entries: object[]): void };
  now?: () => number;
  /** A slot whose run has not sent a heartbeat for this long is free again. */
  slotStaleMs?: number;
}

/**
 * Runs an operator starts by hand: validated like config params, held to the global guards (one
 * Lua script decides and records, 409 when a guard blocks), approval when
 * `guards.manualApproval` asks for it. Audited with the operator's name and reason.
 */
export class ManualRuns {
  private readonly now: () => number;
  constructor(private readonly deps: ManualRunsDeps) {
    this.now = deps.now ?? Date.now;
    deps.redis.defineCommand('remediatorManualRun', { lua: MANUAL_RUN_SCRIPT });
  }

  async createManual(request: ManualRunRequest, operator: Operator): Promise<{ id: string; status: RunStatus }> {
    const { playbooks, guards } = this.deps;
    const problems: { path: string; message: string }[] = [];
    const playbook = playbooks.get(request.playbook);
    if (!playbook) problems.push({ path: 'playbook', message: `unknown playbook "${request.playbook}" (known: ${[...playbooks.keys()].join(', ')})` });
    if (typeof request.reason !== 'string' || request.reason.trim() === '') problems.push({ path: 'reason', message: 'a reason is required and audited' });
    if (request.bypassGuards && operator.role !== 'admin') throw new ForbiddenError('bypassGuards needs the admin role');
    if (request.precheck !== undefined) problems.push(...precheckProblems(request.precheck, this.deps.prometheus));
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
      ...(request.precheck !== undefined ? { precheck: { query: request.precheck } } : {}),
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
      runTtl: Math.ceil(this.deps.runRetentionMs / 1000),
      slotStaleMs: this.deps.slotStaleMs ?? CLAIM_TTL_MS,
    };
    const redis = this.deps.redis as Redis & { remediatorManualRun(...args: string[]): Promise<string> };
    const k = this.deps.keys;
    const scriptKeys = [k.pause, k.lock(target), k.slots, k.runs, k.audit, k.run(id), k.live, k.awaiting];
    const result = JSON.parse(await redis.remediatorManualRun(String(scriptKeys.length), ...scriptKeys, k.tag, String(nowMs), at, JSON.stringify(payload))) as { ok?: boolean; guard?: GuardName; detail?: string };
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

}

function precheckProblems(query: string, prometheus: boolean): { path: string; message: string }[] {
  const problems: { path: string; message: string }[] = [];
  if (query.trim() === '') problems.push({ path: 'precheck', message: 'must be a PromQL query (omit it for no precheck)' });
  if (!prometheus) problems.push({ path: 'precheck', message: 'this server has no prometheus configured to run it' });
  if (query.includes('{{')) problems.push({ path: 'precheck', message: 'a manual precheck takes no {{ labels.NAME }} placeholders (no alert fills them in): write the values' });
  return problems;
}
