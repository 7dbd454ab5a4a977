import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Alert } from '../domain/alert.js';
import type { Run } from '../domain/run.js';
import type { GuardName } from '../domain/errors.js';
import type { Metrics, Decision } from '../observability/metrics.js';
import type { AnyPlaybook } from './playbook.js';
import type { EngineGuards, EngineRule } from './engine-rule.js';
import type { RedisKeys } from './redis-keys.js';
import { namespaceBlock } from './namespace-guard.js';
import { INTAKE_SCRIPT } from './intake-script.js';

/** A notification already decoded at the HTTP edge. */
export interface IntakeNotification {
  truncatedAlerts: number;
  alerts: ({ ok: true; alert: Alert } | { ok: false; index: number; fingerprint?: string; message: string })[];
}

export interface AlertDecision {
  fingerprint: string;
  status: 'firing' | 'resolved' | 'invalid';
  rule: string | null;
  decision: Decision;
  runId?: string;
  guard?: GuardName;
  reason?: string;
}

export interface IntakeResult {
  received: number;
  decisions: AlertDecision[];
}

export interface RunEnqueuer {
  enqueue(runs: { runId: string; playbook: string }[]): Promise<void>;
}

interface Candidate {
  index: number;
  fingerprint: string;
  status: 'firing' | 'resolved';
  rule: string;
  playbook: string;
  target: string;
  episode: string;
  runId: string;
  onResolved: EngineRule['onResolved'];
  cooldownMs?: number;
  maxRunsPerHour?: number;
  blockedGuard?: GuardName;
  blockedDetail?: string;
  initialStatus: 'queued' | 'awaiting_approval';
  doc: string;
  auditCreated: string;
}

interface ScriptResult {
  decision: Decision;
  runId?: string;
  guard?: GuardName;
  detail?: string;
  first?: number;
  requeue?: number;
}

export interface AlertIntakeDeps {
  redis: Redis;
  keys: RedisKeys;
  playbooks: ReadonlyMap<string, AnyPlaybook>;
  matchRules: (labels: Record<string, string>) => EngineRule[];
  episodeKey: (rule: string, fingerprint: string, startsAt: string) => string;
  guards: Pick<EngineGuards, 'namespaces'>;
  globalDryRun: boolean;
  enqueuer: RunEnqueuer;
  metrics: Metrics;
  audit: { logWritten(entries: object[]): void };
  now?: () => Date;
}

/**
 * Turns a notification into per-alert decisions: rules and params are resolved in memory, then
 * one Lua script decides and records everything atomically, then new runs are handed to the queue.
 */
export class AlertIntake {
  private readonly now: () => Date;
  constructor(private readonly deps: AlertIntakeDeps) {
    this.now = deps.now ?? (() => new Date());
    deps.redis.defineCommand('remediatorIntake', { numberOfKeys: 0, lua: INTAKE_SCRIPT });
  }

  async receive(notification: IntakeNotification): Promise<IntakeResult> {
    const { metrics } = this.deps;
    const now = this.now();
    const decisions: (AlertDecision | undefined)[] = [];
    const candidates: Candidate[] = [];
    const slots: number[][] = [];

    metrics.alertsTruncated.inc(notification.truncatedAlerts);
    notification.alerts.forEach((parsed, i) => {
      if (!parsed.ok) {
        decisions[i] = { fingerprint: parsed.fingerprint ?? '', status: 'invalid', rule: null, decision: 'invalid_params', reason: parsed.message };
        return;
      }
      const alert = parsed.alert;
      metrics.alertsReceived.inc({ status: alert.status });
      const rules = this.deps.matchRules(alert.labels);
      if (rules.length === 0) {
        decisions[i] = { fingerprint: alert.fingerprint, status: alert.status, rule: null, decision: 'unmatched' };
        return;
      }
      slots[i] = [];
      for (const rule of rules) {
        const planned = this.plan(alert, rule, now);
        if ('invalid' in planned) {
          // An alert matching several rules reports the first decision; the others are counted.
          decisions[i] ??= { fingerprint: alert.fingerprint, status: alert.status, rule: rule.name, decision: 'invalid_params', reason: planned.invalid };
          metrics.alertDecisions.inc({ rule: rule.name, decision: 'invalid_params' });
          continue;
        }
        planned.index = i;
        slots[i]!.push(candidates.length);
        candidates.push(planned);
      }
    });
    for (const d of decisions) {
      if (d && (d.decision === 'unmatched' || (d.decision === 'invalid_params' && d.status === 'invalid'))) {
        metrics.alertDecisions.inc({ rule: d.rule ?? 'none', decision: d.decision });
      }
    }

    const results = candidates.length > 0 ? await this.runScript(candidates, now) : [];
    const toEnqueue: { runId: string; playbook: string }[] = [];
    const written: object[] = [];
    results.forEach((r, k) => {
      const c = candidates[k]!;
      metrics.alertDecisions.inc({ rule: c.rule, decision: r.decision });
      if (r.requeue && r.runId) toEnqueue.push({ runId: r.runId, playbook: c.playbook });
      if (r.decision === 'enqueued' || r.decision === 'awaiting_approval') written.push(JSON.parse(c.auditCreated) as object);
      if (r.decision === 'blocked' && r.first && r.guard) {
        metrics.guardBlocks.inc({ guard: r.guard });
        metrics.runs.inc({ playbook: c.playbook, source: 'alert', status: 'blocked' });
        written.push({ type: 'guard_blocked', at: now.toISOString(), actor: 'alertmanager', runId: r.runId, target: c.target, playbook: c.playbook, rule: c.rule, guard: r.guard, detail: r.detail, episode: c.episode });
      }
      if (r.decision === 'cancelled') {
        metrics.runs.inc({ playbook: c.playbook, source: 'alert', status: 'cancelled' });
        written.push({ type: 'run_status', at: now.toISOString(), actor: 'alertmanager', runId: r.runId, target: c.target, to: 'cancelled', reason: 'alert resolved before the run started' });
      }
      const decision: AlertDecision = { fingerprint: c.fingerprint, status: c.status, rule: c.rule, decision: r.decision };
      if (r.runId) decision.runId = r.runId;
      if (r.guard) decision.guard = r.guard;
      if (r.detail) decision.reason = r.detail;
      // The first rule's decision is the alert's answer; `continue` rules are counted and recorded.
      decisions[c.index] ??= decision;
    });
    this.deps.audit.logWritten(written);
    if (toEnqueue.length > 0) await this.deps.enqueuer.enqueue(toEnqueue);

    return { received: notification.alerts.length, decisions: decisions.map((d) => d!) };
  }

  private plan(alert: Alert, rule: EngineRule, now: Date): Candidate | { invalid: string } {
    const playbook = this.deps.playbooks.get(rule.playbook);
    if (!playbook) return { invalid: `unknown playbook ${rule.playbook}` };
    const parsed = playbook.paramsSchema.safeParse({ ...playbook.paramsFromLabels(alert.labels), ...rule.params });
    if (!parsed.success) {
      return { invalid: parsed.error.issues.map((i) => `${i.path.join('.') || '(params)'}: ${i.message}`).join('; ') };
    }
    let target: string;
    try {
      target = playbook.target(parsed.data);
    } catch (err) {
      return { invalid: (err as Error).message };
    }
    const episode = this.deps.episodeKey(rule.name, alert.fingerprint, alert.startsAt);
    const runId = randomUUID();
    const dryRun = this.deps.globalDryRun || rule.dryRun;
    const initialStatus = rule.approval === 'required' ? 'awaiting_approval' : 'queued';
    const alertRef = { fingerprint: alert.fingerprint, alertname: alert.labels.alertname ?? '', startsAt: alert.startsAt, labels: alert.labels };
    const run: Omit<Run, 'status'> = {
      id: runId,
      changed: false,
      dryRun,
      playbook: playbook.name,
      params: parsed.data,
      target,
      trigger: { source: 'alert', rule: rule.name, alert: alertRef, episode },
      steps: [],
      attempts: 0,
      createdAt: now.toISOString(),
    };
    const block = namespaceBlock(target, this.deps.guards);
    const candidate: Candidate = {
      index: -1,
      fingerprint: alert.fingerprint,
      status: alert.status,
      rule: rule.name,
      playbook: playbook.name,
      target,
      episode,
      runId,
      onResolved: rule.onResolved,
      initialStatus,
      doc: JSON.stringify(run),
      auditCreated: JSON.stringify({
        type: 'run_created', at: now.toISOString(), actor: 'alertmanager', runId, target, playbook: playbook.name, rule: rule.name,
        source: 'alert', fingerprint: alert.fingerprint, alertname: alertRef.alertname, episode, params: parsed.data, dryRun, status: initialStatus,
      }),
    };
    if (rule.cooldownMs) candidate.cooldownMs = rule.cooldownMs;
    if (rule.maxRunsPerHour !== undefined) candidate.maxRunsPerHour = rule.maxRunsPerHour;
    if (block) {
      candidate.blockedGuard = 'namespace';
      candidate.blockedDetail = block;
    }
    return candidate;
  }

  private async runScript(candidates: Candidate[], now: Date): Promise<ScriptResult[]> {
    const redis = this.deps.redis as Redis & { remediatorIntake(...args: string[]): Promise<string> };
    const payload = candidates.map(({ index: _index, fingerprint, ...rest }) => ({ ...rest, fingerprint }));
    const raw = await redis.remediatorIntake(this.deps.keys.tag, String(now.getTime()), now.toISOString(), JSON.stringify(payload));
    const parsed = JSON.parse(raw) as ScriptResult[] | Record<string, ScriptResult>;
    return Array.isArray(parsed) ? parsed : Object.values(parsed);
  }
}
