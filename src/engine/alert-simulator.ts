import type { Redis } from 'ioredis';
import type { Alert } from '../domain/alert.js';
import type { GuardName } from '../domain/errors.js';
import { formatMatcher, matchesLabel, type Matcher } from '../alertmanager/matcher.js';
import type { IntakeNotification } from './alert-intake.js';
import type { EngineGuards, EngineRule } from './engine-rule.js';
import type { AnyPlaybook } from './playbook.js';
import type { RedisKeys } from './redis-keys.js';
import { planAlertRun } from './alert-run-plan.js';
import { namespaceBlock } from './namespace-guard.js';

/** A rule as the simulator needs it: matchers to explain, the rest as the intake sees it. */
export interface SimulatedRule extends EngineRule {
  matchers: readonly Matcher[];
  continue: boolean;
}

export type SimulatedVerdict = 'pass' | 'block' | 'checked at execution';

export interface SimulatedGuard {
  guard: GuardName | 'episode' | 'resolved';
  verdict: SimulatedVerdict;
  detail?: string;
}

/** One rule's outcome for one alert, as the intake would decide it now. */
export interface SimulatedOutcome {
  rule: string;
  decision: 'enqueued' | 'awaiting_approval' | 'duplicate' | 'invalid_params' | 'blocked' | 'ignored_resolved';
  playbook?: string;
  params?: Record<string, unknown>;
  target?: string;
  dryRun?: boolean;
  approval?: 'none' | 'required';
  precheck?: string;
  verifyQuery?: string;
  guard?: GuardName;
  reason?: string;
  runId?: string;
  guards: SimulatedGuard[];
}

export interface SimulatedAlert {
  fingerprint: string;
  alertname: string;
  status: 'firing' | 'resolved' | 'invalid';
  /** The first outcome's decision, or unmatched / invalid_params. */
  decision: SimulatedOutcome['decision'] | 'unmatched';
  rule: string | null;
  reason?: string;
  /** Every rule tried, in order: matched, or the first matcher that failed and why. */
  rules: { rule: string; matched: boolean; failed?: string }[];
  /** One per matching rule (a rule with `continue: true` lets later ones decide too). */
  outcomes: SimulatedOutcome[];
}

export interface AlertSimulatorDeps {
  redis: Redis;
  keys: RedisKeys;
  rules: readonly SimulatedRule[];
  playbooks: ReadonlyMap<string, AnyPlaybook>;
  guards: Pick<EngineGuards, 'namespaces'>;
  episodeKey: (rule: string, fingerprint: string, startsAt: string) => string;
  globalDryRun: boolean;
  now?: () => number;
}

const AT_EXECUTION: readonly GuardName[] = ['opt_out', 'target_locked', 'max_concurrent'];

/**
 * "What would happen if Alertmanager sent this now?" The intake's decision for every alert,
 * from the same rules, params and targets, and every guard the intake checks, read from Redis
 * without writing anything: no run, no episode, no audit entry, no metric. Guards that need the
 * cluster (opt-out, the node budget, the last-action annotation) or a worker (the target lock,
 * the concurrency budget) are reported as checked at execution: the api role keeps no
 * Kubernetes access.
 */
export class AlertSimulator {
  private readonly now: () => number;
  constructor(private readonly deps: AlertSimulatorDeps) {
    this.now = deps.now ?? Date.now;
  }

  async simulate(notification: IntakeNotification): Promise<{ received: number; decisions: SimulatedAlert[] }> {
    const decisions: SimulatedAlert[] = [];
    for (const parsed of notification.alerts) {
      if (!parsed.ok) {
        decisions.push({ fingerprint: parsed.fingerprint ?? '', alertname: '', status: 'invalid', decision: 'invalid_params', rule: null, reason: parsed.message, rules: [], outcomes: [] });
        continue;
      }
      decisions.push(await this.simulateAlert(parsed.alert));
    }
    return { received: notification.alerts.length, decisions };
  }

  private async simulateAlert(alert: Alert): Promise<SimulatedAlert> {
    const trace: SimulatedAlert['rules'] = [];
    const matched: SimulatedRule[] = [];
    for (const rule of this.deps.rules) {
      const failing = rule.matchers.find((m) => !matchesLabel(m, alert.labels));
      if (failing) {
        const value = alert.labels[failing.name];
        trace.push({ rule: rule.name, matched: false, failed: `${formatMatcher(failing)}: the alert has ${value === undefined ? `no ${failing.name} label` : `${failing.name}=${JSON.stringify(value)}`}` });
        continue;
      }
      trace.push({ rule: rule.name, matched: true });
      matched.push(rule);
      if (!rule.continue) break;
    }
    const base = { fingerprint: alert.fingerprint, alertname: alert.labels.alertname ?? '', status: alert.status, rules: trace };
    if (matched.length === 0) return { ...base, decision: 'unmatched', rule: null, reason: 'no rule matches', outcomes: [] };
    const outcomes: SimulatedOutcome[] = [];
    for (const rule of matched) outcomes.push(await this.outcome(alert, rule));
    const first = outcomes[0]!;
    return { ...base, decision: first.decision, rule: first.rule, ...(first.reason ? { reason: first.reason } : {}), outcomes };
  }

  private async outcome(alert: Alert, rule: SimulatedRule): Promise<SimulatedOutcome> {
    const { redis, keys } = this.deps;
    const plan = planAlertRun(alert, rule, this.deps.playbooks);
    if (!plan.ok) return { rule: rule.name, decision: 'invalid_params', reason: plan.invalid, guards: [] };
    const episode = this.deps.episodeKey(rule.name, alert.fingerprint, alert.startsAt);
    const described: Omit<SimulatedOutcome, 'decision' | 'guards'> = {
      rule: rule.name,
      playbook: plan.playbook.name,
      params: plan.params,
      target: plan.target,
      dryRun: this.deps.globalDryRun || rule.dryRun,
      approval: rule.approval,
      ...(plan.precheck !== undefined ? { precheck: plan.precheck } : {}),
      ...(plan.verifyQuery !== undefined ? { verifyQuery: plan.verifyQuery } : {}),
    };
    const [runId, resolved, mapped] = await Promise.all([redis.get(keys.episode(episode)), redis.exists(keys.episodeResolved(episode)), redis.get(keys.resolvedTarget(plan.target))]);
    if (alert.status === 'resolved') {
      return { ...described, decision: 'ignored_resolved', reason: 'a resolved alert never starts a run', ...(runId ? { runId } : {}), guards: [] };
    }
    if (runId) return { ...described, decision: 'duplicate', runId, reason: `this episode already started run ${runId}`, guards: [{ guard: 'episode', verdict: 'block', detail: `run ${runId}` }] };
    if (resolved === 1) return { ...described, decision: 'ignored_resolved', reason: 'this episode was already resolved', guards: [{ guard: 'resolved', verdict: 'block' }] };

    const targets = mapped ? [plan.target, mapped] : [plan.target];
    const guards: SimulatedGuard[] = [];
    const namespace = namespaceBlock(plan.target, this.deps.guards);
    guards.push(namespace ? { guard: 'namespace', verdict: 'block', detail: namespace } : { guard: 'namespace', verdict: 'pass' });
    guards.push(await this.paused(plan.playbook.name));
    guards.push(await this.held(rule.name, targets));
    guards.push(await this.cooldown(rule, plan.playbook.name, targets));
    guards.push(await this.rate(rule));
    for (const guard of AT_EXECUTION) guards.push({ guard, verdict: 'checked at execution' });
    if (plan.playbook.name === 'drain-gpu-node') guards.push({ guard: 'node_budget', verdict: 'checked at execution' });
    if (rule.cooldownMs) guards.push({ guard: 'cooldown', verdict: 'checked at execution', detail: "the target's last-action annotation" });

    const block = guards.find((g) => g.verdict === 'block');
    if (block && block.guard !== 'episode' && block.guard !== 'resolved') {
      return { ...described, decision: 'blocked', guard: block.guard, reason: `blocked by guard ${block.guard}: ${block.detail ?? ''}`, guards };
    }
    return { ...described, decision: rule.approval === 'required' ? 'awaiting_approval' : 'enqueued', guards };
  }

  private async paused(playbook: string): Promise<SimulatedGuard> {
    const [global, scoped] = await this.deps.redis.hmget(this.deps.keys.pause, 'global', `playbook:${playbook}`);
    const raw = global ?? scoped;
    return raw ? { guard: 'paused', verdict: 'block', detail: `automation is paused ${global ? 'globally' : `for playbook ${playbook}`}` } : { guard: 'paused', verdict: 'pass' };
  }

  private async held(rule: string, targets: readonly string[]): Promise<SimulatedGuard> {
    for (const t of targets) {
      const holder = await this.deps.redis.get(this.deps.keys.held(rule, t));
      if (holder) return { guard: 'escalated', verdict: 'block', detail: `${t} is held after the escalation of run ${holder} until an operator acknowledges it` };
    }
    return { guard: 'escalated', verdict: 'pass' };
  }

  private async cooldown(rule: EngineRule, playbook: string, targets: readonly string[]): Promise<SimulatedGuard> {
    if (!rule.cooldownMs) return { guard: 'cooldown', verdict: 'pass', detail: 'the rule has no cooldown' };
    for (const t of targets) {
      const ttl = await this.deps.redis.pttl(this.deps.keys.cooldown(playbook, t));
      if (ttl > 0) return { guard: 'cooldown', verdict: 'block', detail: `${t} is in cooldown for another ${Math.ceil(ttl / 1000)}s` };
    }
    return { guard: 'cooldown', verdict: 'pass' };
  }

  private async rate(rule: EngineRule): Promise<SimulatedGuard> {
    if (rule.maxRunsPerHour === undefined) return { guard: 'rate_limit', verdict: 'pass', detail: 'the rule has no maxRunsPerHour' };
    const n = await this.deps.redis.zcount(`${this.deps.keys.tag}:rate:${rule.name}`, this.now() - 3_600_000, '+inf');
    return n >= rule.maxRunsPerHour
      ? { guard: 'rate_limit', verdict: 'block', detail: `rule ${rule.name} already started ${n} runs in the last hour (maxRunsPerHour ${rule.maxRunsPerHour})` }
      : { guard: 'rate_limit', verdict: 'pass', detail: `${n} of ${rule.maxRunsPerHour} this hour` };
  }
}
