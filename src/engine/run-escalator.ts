import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Run, RunStatus } from '../domain/run.js';
import type { Metrics } from '../observability/metrics.js';
import type { EngineRule } from './engine-rule.js';
import type { AnyPlaybook } from './playbook.js';
import type { RedisKeys } from './redis-keys.js';
import type { RunEnqueuer } from './alert-intake.js';
import type { NotificationSink } from './notification-sink.js';
import { ESCALATION_SCRIPT } from './escalation-script.js';
import { followUpParams } from './follow-up-params.js';

export interface RunEscalatorDeps {
  redis: Redis;
  keys: RedisKeys;
  playbooks: ReadonlyMap<string, AnyPlaybook>;
  rules: ReadonlyMap<string, EngineRule>;
  enqueuer: RunEnqueuer;
  notifications: NotificationSink;
  metrics: Metrics;
  audit: { logWritten(entries: object[]): void };
  logger: Logger;
  /** This process's `dryRun`: a follow-up is dry when its origin was or this process is. */
  globalDryRun: boolean;
  runRetentionMs: number;
  now?: () => number;
}

type Reason = 'verify_failed' | 'verify_error' | 'repeats';

/**
 * README "Closing the loop" escalate: when a fix does not stick, people hear about it and the next step is
 * offered, not guessed.
 * - Verification `not_resolved`, or the rule's succeeded runs on one target reaching
 *   `afterRepeats`: notify `escalate.notify`, create the follow-up run (`escalate.playbook`,
 *   source `escalation`, approval required unless the rule says otherwise, dry when its origin
 *   was), link both ways, and hold the target for the rule (guard `escalated`) until an operator
 *   acknowledges it.
 * - Verification `error` (Prometheus or Alertmanager unreachable): notify only; nothing acts
 *   blind and nothing is held.
 * Each run escalates at most once; the escalation is one atomic Redis script.
 */
export class RunEscalator {
  private readonly now: () => number;
  constructor(private readonly deps: RunEscalatorDeps) {
    this.now = deps.now ?? Date.now;
    deps.redis.defineCommand('remediatorEscalate', { lua: ESCALATION_SCRIPT });
  }

  /** After a verification ended: escalate on `not_resolved` (and notify on `error`). */
  async afterVerification(run: Run): Promise<void> {
    const result = run.verification?.result;
    if (result === 'not_resolved') await this.escalate(run, 'verify_failed', `verification not resolved: ${run.verification!.detail}`);
    else if (result === 'error') await this.escalate(run, 'verify_error', `verification could not decide: ${run.verification!.detail}`);
  }

  /** After a real (not dry) alert run succeeded: count it toward its rule's `afterRepeats`. */
  async afterSucceeded(run: Run): Promise<void> {
    const rule = run.trigger.rule ? this.deps.rules.get(run.trigger.rule) : undefined;
    const repeats = rule?.escalate?.afterRepeats;
    if (!rule || !repeats || run.dryRun || run.trigger.source !== 'alert') return;
    const key = this.deps.keys.repeats(rule.name, run.target);
    const nowMs = this.now();
    const [, , [, count]] = ((await this.deps.redis
      .multi()
      .zadd(key, nowMs, run.id)
      .zremrangebyscore(key, '-inf', nowMs - repeats.withinMs)
      .zcard(key)
      .pexpire(key, repeats.withinMs)
      .exec()) ?? []) as [unknown, unknown, [unknown, number]];
    if (count >= repeats.count) {
      await this.escalate(run, 'repeats', `${count} succeeded runs of rule ${rule.name} on ${run.target} within ${Math.round(repeats.withinMs / 60_000)}m (afterRepeats ${repeats.count}): the fix does not stick`);
    }
  }

  private async escalate(run: Run, reason: Reason, detail: string): Promise<void> {
    const rule = run.trigger.rule ? this.deps.rules.get(run.trigger.rule) : undefined;
    const escalate = rule?.escalate;
    if (!rule || !escalate) return;
    const { keys, logger } = this.deps;
    const nowMs = this.now();
    const at = new Date(nowMs).toISOString();
    const acts = reason !== 'verify_error';
    let followUp: { runId: string; status: RunStatus; doc: string; created: string } | undefined;
    let followUpRun: Run | undefined;
    let problem: string | undefined;
    if (acts && escalate.playbook) {
      const built = this.buildFollowUp(run, rule, escalate.playbook, at);
      if ('problem' in built) problem = built.problem;
      else {
        followUpRun = built.run;
        run.escalations = [...(run.escalations ?? []), built.run.id];
        followUp = {
          runId: built.run.id,
          status: built.run.status,
          doc: JSON.stringify(built.run),
          created: JSON.stringify({ type: 'run_created', at, actor: 'worker', runId: built.run.id, target: built.run.target, playbook: built.run.playbook, rule: rule.name, source: 'escalation', params: built.run.params, dryRun: built.run.dryRun, status: built.run.status }),
        };
      }
    }
    const fullDetail = problem ? `${detail}; no follow-up run: ${problem}` : detail;
    const entry = {
      type: 'escalation',
      at,
      actor: 'worker',
      runId: run.id,
      target: run.target,
      playbook: run.playbook,
      rule: rule.name,
      reason,
      detail: fullDetail,
      ...(escalate.notify.length > 0 ? { notify: escalate.notify } : {}),
      ...(followUpRun ? { followUpRunId: followUpRun.id } : {}),
      held: acts,
    };
    const payload = {
      originId: run.id,
      rule: rule.name,
      target: run.target,
      hold: acts,
      runTtl: Math.ceil(this.deps.runRetentionMs / 1000),
      entry: JSON.stringify(entry),
      ...(followUp ? { followUp, originDoc: JSON.stringify(run) } : {}),
    };
    const redis = this.deps.redis as Redis & { remediatorEscalate(...args: string[]): Promise<string> };
    const scriptKeys = [keys.escalatedRun(run.id), keys.held(rule.name, run.target), keys.repeats(rule.name, run.target), keys.audit];
    if (followUp) scriptKeys.push(keys.run(followUp.runId), keys.runs, keys.live, keys.awaiting, keys.run(run.id));
    const outcome = await redis.remediatorEscalate(String(scriptKeys.length), ...scriptKeys, keys.tag, String(nowMs), JSON.stringify(payload));
    if (outcome !== 'OK') return;
    const written: object[] = [entry];
    if (followUp) written.unshift(JSON.parse(followUp.created) as object);
    this.deps.audit.logWritten(written);
    if (reason !== 'verify_error') this.deps.metrics.escalations.inc({ rule: rule.name, reason });
    logger.warn({ runId: run.id, rule: rule.name, target: run.target, reason, followUp: followUpRun?.id, held: acts }, `escalation: ${fullDetail}`);
    if (escalate.notify.length > 0) this.deps.notifications.notify({ event: 'escalation', runId: run.id, channels: escalate.notify, detail: fullDetail });
    if (followUpRun?.status === 'queued') await this.deps.enqueuer.enqueue([{ runId: followUpRun.id, playbook: followUpRun.playbook }]);
    if (followUpRun?.status === 'awaiting_approval' && rule.notify && rule.notify.length > 0) {
      this.deps.notifications.notify({ event: 'awaiting_approval', runId: followUpRun.id, channels: rule.notify });
    }
  }

  private buildFollowUp(origin: Run, rule: EngineRule, spec: NonNullable<NonNullable<EngineRule['escalate']>['playbook']>, at: string): { run: Run } | { problem: string } {
    const playbook = this.deps.playbooks.get(spec.name);
    if (!playbook) return { problem: `unknown playbook ${spec.name}` };
    const params = followUpParams(playbook, origin.trigger.alert?.labels ?? {}, origin.target, spec.params);
    if (!params.ok) return { problem: `params: ${params.problems.join('; ')}` };
    let target: string;
    try {
      target = playbook.target(params.params);
    } catch (err) {
      return { problem: (err as Error).message };
    }
    const needsApproval = spec.approval === 'required';
    const run: Run = {
      id: randomUUID(),
      status: needsApproval ? 'awaiting_approval' : 'queued',
      changed: false,
      dryRun: origin.dryRun || this.deps.globalDryRun,
      playbook: playbook.name,
      params: params.params,
      target,
      trigger: {
        source: 'escalation',
        rule: rule.name,
        ...(origin.trigger.alert ? { alert: origin.trigger.alert } : {}),
        reason: `escalation of run ${origin.id}`,
      },
      escalatedFrom: origin.id,
      ...(needsApproval ? { approval: { requiredBy: 'escalation' as const } } : {}),
      steps: [],
      attempts: 0,
      createdAt: at,
    };
    return { run };
  }
}
