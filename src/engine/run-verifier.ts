import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Run, RunVerification } from '../domain/run.js';
import type { Metrics } from '../observability/metrics.js';
import { describeSamples, type PromQuerier } from '../clients/prometheus-client.js';
import type { AlertmanagerApi } from '../clients/alertmanager-client.js';
import type { RedisKeys } from './redis-keys.js';
import type { RunStore } from './run-store.js';
import type { RunEscalator } from './run-escalator.js';

/** Puts the next check of a run's verification on the queue (a delayed job: no worker sleeps). */
export interface VerifyScheduler {
  schedule(runId: string, check: number, delayMs: number): Promise<void>;
}

export interface RunVerifierDeps {
  redis: Redis;
  keys: RedisKeys;
  runs: RunStore;
  prometheus?: PromQuerier;
  alertmanager?: AlertmanagerApi;
  scheduler: VerifyScheduler;
  metrics: Metrics;
  logger: Logger;
  /** Escalates a verification that ended not resolved (or notifies one that could not decide). */
  escalator?: Pick<RunEscalator, 'afterVerification'>;
  /** The run's page (`ui.externalUrl` + `/ui/#/runs/ID`), for the silence's comment. */
  runLink: (runId: string) => string;
  now?: () => number;
}

type Probe = { state: 'resolved' | 'firing'; detail: string } | { state: 'error'; detail: string };

/**
 * README "Closing the loop" verify: after a run succeeded, is the problem gone? Checks run as delayed jobs every
 * `verify.interval` until `verify.within` has passed since the run ended: with a query, until it
 * returns nothing; without one, until Alertmanager no longer lists the alert as firing. A resolved
 * notification for the episode also counts. The last check decides at the deadline: still firing
 * → `not_resolved`; Prometheus or Alertmanager not answering → `error`. An optional silence covers
 * the alert meanwhile and is expired as soon as the verification ends, either way.
 */
export class RunVerifier {
  private readonly now: () => number;

  constructor(private readonly deps: RunVerifierDeps) {
    this.now = deps.now ?? Date.now;
  }

  /**
   * What the executor writes on a run that succeeded, in the same write as its status: the
   * pending verification (the run then joins the verifying set). Undefined when none applies.
   */
  pendingFor(run: Run): RunVerification | undefined {
    const verify = run.trigger.ruleConfig?.verify;
    if (!verify || run.dryRun) return undefined;
    const now = this.now();
    const deadline = new Date(now + verify.withinMs).toISOString();
    const how = verify.query ? 'the query returns nothing' : 'Alertmanager no longer lists the alert as firing';
    return {
      result: 'pending',
      detail: `checking every ${Math.round(verify.intervalMs / 1000)}s until ${how} (deadline ${deadline})`,
      at: new Date(now).toISOString(),
      deadline,
      ...(verify.query ? { query: verify.query } : {}),
      checks: 0,
    };
  }

  /** Right after the run ended: the silence, if asked for, the audit entry, and the first check. */
  async begin(run: Run): Promise<void> {
    const verification = run.verification;
    const verify = run.trigger.ruleConfig?.verify;
    if (!verification || verification.result !== 'pending' || !verify) return;
    const notes: string[] = [];
    if (verify.silence) {
      const labels = run.trigger.alert?.labels;
      try {
        if (!this.deps.alertmanager) throw new Error('no alertmanager is configured on this worker');
        if (!labels || Object.keys(labels).length === 0) throw new Error('the run has no alert labels to match');
        verification.silenceId = await this.deps.alertmanager.createSilence({
          labels,
          startsAt: new Date(this.now()),
          endsAt: new Date(verification.deadline),
          createdBy: 'remediator',
          comment: `Remediator is verifying run ${run.id} (${run.playbook} on ${run.target}): ${this.deps.runLink(run.id)}`,
        });
      } catch (err) {
        // Not being silenced pages people, it does not make the fix less verifiable: carry on.
        notes.push(`no silence: ${(err as Error).message}`);
        this.deps.logger.warn({ runId: run.id, err: (err as Error).message }, 'could not silence the alert while verifying');
      }
    }
    const detail = [verification.detail, ...notes].join('; ');
    await this.save(run, { result: 'scheduled', detail });
    await this.deps.scheduler.schedule(run.id, 1, Math.min(verify.intervalMs, Math.max(0, Date.parse(verification.deadline) - this.now())));
  }

  /**
   * One check (the job for `check`). A repeated or late job for a check already made is ignored.
   * `final` (the sweeper, after the deadline) decides with whatever this check finds.
   */
  async check(runId: string, check: number): Promise<void> {
    const run = await this.deps.runs.get(runId);
    const verification = run?.verification;
    if (!run || !verification || verification.result !== 'pending') {
      await this.deps.redis.zrem(this.deps.keys.verifying, runId);
      return;
    }
    if (check <= verification.checks) return;
    const probe = await this.probe(run);
    verification.checks = check;
    const deadline = Date.parse(verification.deadline);
    const now = this.now();
    if (probe.state === 'resolved') return this.conclude(run, 'resolved', probe.detail);
    if (now >= deadline) return this.conclude(run, probe.state === 'firing' ? 'not_resolved' : 'error', `${probe.detail} at the deadline`);
    verification.detail = `check ${check}: ${probe.state === 'firing' ? 'still firing' : 'no answer'}: ${probe.detail}`;
    await this.deps.runs.saveDoc(run);
    const interval = run.trigger.ruleConfig?.verify?.intervalMs ?? 5000;
    await this.deps.scheduler.schedule(runId, check + 1, Math.min(interval, deadline - now));
  }

  /**
   * The sweeper's backstop: verifications whose deadline has passed (their next job was lost: the
   * process died between ending the run and scheduling it) get their last check now.
   */
  async finishOverdue(graceMs: number): Promise<number> {
    const overdue = await this.deps.redis.zrangebyscore(this.deps.keys.verifying, '-inf', this.now() - graceMs, 'LIMIT', 0, 100);
    for (const runId of overdue) {
      // One process makes the last check (every process sweeps); the claim lapses if it dies meanwhile.
      if ((await this.deps.redis.set(`${this.deps.keys.verifying}:claim:${runId}`, '1', 'PX', 60_000, 'NX')) !== 'OK') continue;
      const run = await this.deps.runs.get(runId);
      await this.check(runId, (run?.verification?.checks ?? 0) + 1);
    }
    return overdue.length;
  }

  private async probe(run: Run): Promise<Probe> {
    const episode = run.trigger.episode;
    if (episode && (await this.deps.redis.exists(this.deps.keys.episodeResolved(episode))) === 1) {
      return { state: 'resolved', detail: 'Alertmanager sent a resolved notification for the alert' };
    }
    const query = run.verification?.query;
    try {
      if (query) {
        if (!this.deps.prometheus) return { state: 'error', detail: 'no prometheus is configured on this worker' };
        const answer = await this.deps.prometheus.query(query);
        return answer.empty ? { state: 'resolved', detail: 'the query returns nothing' } : { state: 'firing', detail: `the query still returns ${describeSamples(answer)}` };
      }
      const alert = run.trigger.alert;
      if (!this.deps.alertmanager) return { state: 'error', detail: 'no alertmanager is configured on this worker' };
      if (!alert) return { state: 'error', detail: 'the run has no alert to ask Alertmanager about' };
      const firing = await this.deps.alertmanager.firingAlerts(alert.labels);
      const same = firing.filter((a) => a.fingerprint === alert.fingerprint || sameLabels(a.labels, alert.labels));
      return same.length === 0
        ? { state: 'resolved', detail: 'Alertmanager no longer lists the alert as firing' }
        : { state: 'firing', detail: `Alertmanager lists the alert as ${same[0]!.state}` };
    } catch (err) {
      return { state: 'error', detail: (err as Error).message };
    }
  }

  private async conclude(run: Run, result: 'resolved' | 'not_resolved' | 'error', detail: string): Promise<void> {
    const verification = run.verification!;
    const notes = [detail];
    if (verification.silenceId && this.deps.alertmanager) {
      try {
        await this.deps.alertmanager.expireSilence(verification.silenceId);
        notes.push(`silence ${verification.silenceId} expired`);
      } catch (err) {
        notes.push(`silence ${verification.silenceId} could not be expired (it ends by itself at ${verification.deadline}): ${(err as Error).message}`);
      }
    }
    verification.result = result;
    verification.detail = notes.join('; ');
    verification.at = new Date(this.now()).toISOString();
    // Escalate before recording the end: if this fails the job's retry checks again, and an
    // escalation happens at most once per run whatever repeats.
    if (result !== 'resolved') await this.deps.escalator?.afterVerification(run);
    await this.save(run, { result, detail: verification.detail });
    await this.deps.redis.zrem(this.deps.keys.verifying, run.id);
    this.deps.metrics.verifications.inc({ playbook: run.playbook, result });
    this.deps.logger.info({ runId: run.id, playbook: run.playbook, target: run.target, verification: result, detail: verification.detail }, 'verification ended');
  }

  private async save(run: Run, entry: { result: string; detail: string }): Promise<void> {
    const v = run.verification!;
    await this.deps.runs.saveDoc(run, [
      {
        type: 'verification',
        at: new Date(this.now()).toISOString(),
        actor: 'worker',
        runId: run.id,
        target: run.target,
        playbook: run.playbook,
        rule: run.trigger.rule,
        ...entry,
        ...(v.query ? { query: v.query } : {}),
        ...(v.silenceId ? { silenceId: v.silenceId } : {}),
      },
    ]);
  }
}

function sameLabels(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}
