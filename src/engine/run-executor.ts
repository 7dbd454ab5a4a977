import { createHash, randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { ClusterClient, ObjectRef } from '../kube/cluster-client.js';
import type { Run, RunStatus, RunStep, PlaybookOutcome } from '../domain/run.js';
import { GuardBlockedError, KubeApiError, RemediatorError, RetryableError, RunCancelledError, RunRecordGoneError, RunSkippedError } from '../domain/errors.js';
import { describeSamples, type PromQuerier } from '../clients/prometheus-client.js';
import { parseTarget } from '../domain/target.js';
import type { Metrics } from '../observability/metrics.js';
import { ACTION_NAMES, type AnyPlaybook, type ActionName, type LastActionMarks, type PlaybookContext } from './playbook.js';
import type { EngineGuards, EngineRule } from './engine-rule.js';
import type { RunStore } from './run-store.js';
import type { GuardStore } from './guard-store.js';
import { eventNamespace, RecordingCluster, type MutationSink } from './recording-cluster.js';
import { CLAIM_TTL_MS } from './claim-timing.js';
import { namespaceBlock } from './namespace-guard.js';
import { abortReason, AttemptClaims } from './attempt-claims.js';
import type { RuleSnapshot } from '../domain/run.js';
import type { RunVerifier } from './run-verifier.js';
import type { RunEscalator } from './run-escalator.js';
import type { NotificationEvent, NotificationSink } from './notification-sink.js';
import type { ReplicaFence } from '../redis/replica-fence.js';

export const LAST_ACTION_ANNOTATION = 'remediator.dev/last-action';

export interface AuditWriter {
  append(entries: object[]): Promise<unknown>;
}

export interface RunExecutorDeps {
  runs: RunStore;
  guards: GuardStore;
  cluster: ClusterClient;
  playbooks: ReadonlyMap<string, AnyPlaybook>;
  rules: ReadonlyMap<string, EngineRule>;
  guardConfig: EngineGuards;
  /** This process's `dryRun`: when true, every run it executes is dry, whatever queued it. */
  globalDryRun?: boolean;
  /** For prechecks; without it a run that carries one is skipped (never act blind). */
  prometheus?: PromQuerier;
  /** Verification after a run succeeded (README "Closing the loop"), when its rule asks for one. */
  verifier?: Pick<RunVerifier, 'pendingFor' | 'begin'>;
  /** Counts succeeded runs toward their rule's `escalate.afterRepeats`. */
  escalator?: Pick<RunEscalator, 'afterSucceeded'>;
  /** The rule's `notify` channels hear when a run starts, succeeds, fails or is blocked. */
  notifications?: NotificationSink;
  audit: AuditWriter;
  metrics: Metrics;
  logger: Logger;
  now?: () => number;
  /**
   * `redis.minReplicasAcked`: each step's intent (and with it the cooldown claim and the running
   * status saved before it) is confirmed on the replicas before its request leaves.
   */
  replicas?: Pick<ReplicaFence, 'require'>;
  /** Lifetime of the target lock and the concurrency slot without renewal (default CLAIM_TTL_MS). */
  lockTtlMs?: number;
}

export interface AttemptInfo {
  attemptsMade: number;
  maxAttempts: number;
  /** Aborted on shutdown past the grace period, or when the queue lost this attempt's job lock. */
  signal: AbortSignal;
  /**
   * Identifies this attempt (BullMQ's job token). The target lock is held under it, so a stalled
   * duplicate of the same job cannot enter while this attempt is alive.
   */
  token?: string;
}

/** The steps counted in `remediator_actions_total` (events are marks, not actions). */
const ACTION_SET = new Set<string>(ACTION_NAMES);

/**
 * Runs one queued run: freshness, target lock, the pre-mutation guard re-check, the playbook,
 * and the terminal status with its audit entry and metrics. Throws only to ask the queue for a
 * retry (a retryable error with attempts left); every other ending is recorded here.
 */
export class RunExecutor {
  private readonly now: () => number;
  private readonly lockTtlMs: number;
  /** Actions a playbook reported as finally failed without a failed request (e.g. drain timeout). */
  private readonly extraErrors = new Map<string, Set<string>>();
  constructor(private readonly deps: RunExecutorDeps) {
    this.now = deps.now ?? Date.now;
    this.lockTtlMs = deps.lockTtlMs ?? CLAIM_TTL_MS;
  }

  /**
   * Returns the final status, or `{ retryAfterMs }` when the target is locked by another run: the
   * run stays queued and is tried again later (bounded by `guards.maxQueueAge`).
   */
  async execute(runId: string, attempt: AttemptInfo): Promise<RunStatus | { retryAfterMs: number } | undefined> {
    const { runs, logger } = this.deps;
    const run = await runs.get(runId);
    if (!run) {
      logger.warn({ runId }, 'job for an unknown run; dropped');
      return undefined;
    }
    const log = logger.child({ runId, playbook: run.playbook, target: run.target });
    if (run.status !== 'queued' && run.status !== 'running') return run.status;

    if (run.status === 'queued' && this.now() - Date.parse(run.queuedAt ?? run.createdAt) > this.deps.guardConfig.maxQueueAgeMs) {
      run.reason = `not started within guards.maxQueueAge (${Math.round(this.deps.guardConfig.maxQueueAgeMs / 1000)}s) of being ${run.queuedAt ? 'approved' : 'enqueued'}`;
      return this.finish(run, 'expired', ['queued']);
    }
    const playbook = this.deps.playbooks.get(run.playbook);
    const parsed = playbook?.paramsSchema.safeParse(run.params);
    if (!playbook || !parsed?.success) {
      run.reason = !playbook ? `unknown playbook ${run.playbook}` : `invalid params: ${parsed!.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`;
      return this.finish(run, 'failed', [run.status]);
    }

    const claims = new AttemptClaims({
      guards: this.deps.guards,
      run,
      token: attempt.token ?? randomUUID(),
      ttlMs: this.lockTtlMs,
      maxConcurrentRuns: this.deps.guardConfig.maxConcurrentRuns,
      signal: attempt.signal,
      log,
      now: this.now,
    });
    let outcome: PlaybookOutcome;
    try {
      // One action per target at a time: a run whose target is busy waits its turn in the queue.
      const resolved = playbook.resolveTarget ? await playbook.resolveTarget(this.deps.cluster, parsed.data) : undefined;
      if (resolved && resolved !== run.target) {
        await this.deps.guards.rememberResolvedTarget(run.target, resolved);
        run.target = resolved;
      }
      // A run whose target is cooling down ends here, without queueing for the target's lock.
      if (run.status === 'queued') await this.checkCooldown(run, false);
      // Busy target or cluster-wide concurrency reached: the run waits its turn in the queue.
      if ((await claims.acquire()) !== 'held') return { retryAfterMs: 1000 };

      if (run.status === 'queued') {
        run.startedAt = new Date(this.now()).toISOString();
        const moved = await runs.transition(run, ['queued'], 'running', this.statusEntry(run, 'queued', 'running'));
        if (moved !== 'OK') return moved === 'missing' ? undefined : moved;
        this.notify(run, 'started');
      }
      run.attempts += 1;
      const dryBecause = this.strictestDryRun(run);
      if (dryBecause) {
        // The stricter setting wins at every request: this attempt, and every later one, runs dry.
        run.dryRun = true;
        log.info({ why: dryBecause }, 'run executes dry');
      }
      await runs.saveDoc(run);
      // An opted-out target is never touched: refuse before the playbook reads anything more.
      await this.checkOptOut(run);

      const ctx = await this.context(run, claims.signal, log);
      outcome = await playbook.run(ctx, parsed.data);
    } catch (err) {
      await claims.release();
      return await this.failure(run, err, attempt, log);
    } finally {
      await claims.release();
    }
    run.changed = outcome.result === 'changed' && !run.dryRun;
    run.reason = run.dryRun && outcome.result !== 'skipped' ? `dry run: ${outcome.reason}` : outcome.reason;
    return await this.finish(run, outcome.result === 'skipped' ? 'skipped' : 'succeeded', ['running']);
  }

  private async failure(run: Run, err: unknown, attempt: AttemptInfo, log: Logger): Promise<RunStatus | undefined> {
    if (err instanceof RunRecordGoneError) {
      // Redis was wiped under this attempt. A cooldown it claimed in the new Redis was claimed after
      // the wipe, and the save that found the record gone came before any further request: give it
      // back, or the alert's next episode would be held for a cooldown with nothing done. The
      // record is gone, so there is nothing to end; the target's last-action annotation still holds
      // whatever an earlier request did.
      await this.deps.guards.releaseCooldown(run.playbook, run.target, run.id).catch(() => undefined);
      log.error({ err }, 'run record gone from Redis (wiped or restarted without persistence); attempt stopped');
      return undefined;
    }
    if (run.status === 'queued' && !(err instanceof GuardBlockedError)) {
      // Failed before it started (e.g. the target could not be resolved): record it as failed.
      // run.attempts counts attempts that got the run going, so the reason says how many were spent.
      const message = err instanceof Error ? err.message : String(err);
      const retryable = err instanceof RemediatorError && err.retryable;
      if (retryable && attempt.attemptsMade + 1 < attempt.maxAttempts) throw err;
      run.reason = retryable ? `gave up after ${attempt.attemptsMade + 1} attempts, before it started: ${message}` : message;
      return this.finish(run, 'failed', ['queued']);
    }
    if (err instanceof GuardBlockedError) {
      // A guard checked after the cooldown was claimed (the node budget) stopped a run that has
      // sent nothing: it gives the cooldown back, so its episode's next notification meets that
      // guard again, not a cooldown no action started (compare-and-delete: only its own claim).
      if (err.guard !== 'cooldown' && !run.steps.some((s) => ACTION_SET.has(s.action) && s.result !== 'dry_run')) {
        await this.deps.guards.releaseCooldown(run.playbook, run.target, run.id);
      }
      run.guard = { guard: err.guard, detail: err.detail };
      run.reason = err.message;
      const episode = run.trigger.episode;
      const first = episode ? await this.deps.guards.releaseEpisodeAfterBlock(episode, err.guard, run.id) : true;
      if (first) {
        this.deps.metrics.guardBlocks.inc({ guard: err.guard });
        await this.deps.audit.append([{ ...this.base(run), type: 'guard_blocked', guard: err.guard, detail: err.detail, episode }]);
      }
      const ended = await this.finish(run, 'blocked', [run.status]);
      // The first block of an episode is news; its repeats are not.
      if (ended === 'blocked' && first) this.notify(run, 'blocked', `guard ${err.guard}: ${err.detail}`);
      return ended;
    }
    if (err instanceof RunCancelledError) {
      run.reason = err.message;
      return this.finish(run, 'cancelled', ['running']);
    }
    if (err instanceof RunSkippedError) {
      run.reason = err.message;
      return this.finish(run, 'skipped', ['running']);
    }
    const retryable = err instanceof RemediatorError ? err.retryable : true;
    const message = err instanceof Error ? err.message : String(err);
    if (retryable && attempt.attemptsMade + 1 < attempt.maxAttempts) {
      log.warn({ err, attempt: attempt.attemptsMade + 1 }, 'run attempt failed; will retry');
      await this.deps.runs.saveDoc(run);
      throw err instanceof Error ? err : new RetryableError(message);
    }
    run.reason = retryable ? `gave up after ${attempt.attemptsMade + 1} attempts: ${message}` : message;
    log.error({ err }, 'run failed');
    return this.finish(run, 'failed', ['running']);
  }

  private async finish(run: Run, status: RunStatus, from: RunStatus[]): Promise<RunStatus | undefined> {
    const previous = run.status;
    run.finishedAt = new Date(this.now()).toISOString();
    const verifier = this.deps.verifier;
    // Dry runs stop after the precheck: no verification (pendingFor says none for them).
    const verification = status === 'succeeded' ? verifier?.pendingFor(run) : undefined;
    if (verification) run.verification = verification;
    const moved = await this.deps.runs.transition(run, from, status, this.statusEntry(run, previous, status));
    if (moved !== 'OK') return moved === 'missing' ? undefined : moved;
    if (verification && verifier) {
      // The run has ended; its verification is in the verifying set, so the sweeper finishes it if this fails.
      await verifier.begin(run).catch((err: unknown) => this.deps.logger.warn({ err, runId: run.id }, 'could not schedule the verification; the sweeper will make its last check at the deadline'));
    }
    if (status === 'succeeded' || status === 'failed') this.notify(run, status);
    if (status === 'succeeded' && !run.dryRun && this.deps.escalator) {
      await this.deps.escalator.afterSucceeded(run).catch((err: unknown) => this.deps.logger.error({ err, runId: run.id }, 'could not count the run toward its rule\'s afterRepeats'));
    }
    const { metrics } = this.deps;
    metrics.runs.inc({ playbook: run.playbook, source: run.trigger.source, status });
    if (run.startedAt) metrics.runDuration.observe({ playbook: run.playbook, status }, (Date.parse(run.finishedAt) - Date.parse(run.startedAt)) / 1000);
    const results = finalActionResults(run.steps);
    for (const [action, result] of results) metrics.actions.inc({ playbook: run.playbook, action, result });
    for (const action of this.extraErrors.get(run.id) ?? []) {
      if (!results.some(([a, r]) => a === action && r === 'error')) metrics.actions.inc({ playbook: run.playbook, action, result: 'error' });
    }
    this.extraErrors.delete(run.id);
    this.deps.logger.info({ runId: run.id, playbook: run.playbook, target: run.target, status, changed: run.changed, dryRun: run.dryRun, reason: run.reason }, 'run finished');
    return status;
  }

  /**
   * The playbook's view of the run. Steps an earlier attempt left open (answer lost, worker died)
   * are read back and settled first, so `previousSteps` says what really happened.
   */
  private async context(run: Run, signal: AbortSignal, log: Logger): Promise<PlaybookContext> {
    let gate: Promise<void> | undefined;
    const replicas = this.deps.replicas;
    const sink: MutationSink = {
      dryRun: run.dryRun,
      attempt: run.attempts,
      steps: run.steps,
      beforeMutation: async () => {
        if (signal.aborted) throw abortReason(signal);
        await (gate ??= this.recheckGuards(run).then(() => this.precheckThenClaimCooldown(run, signal)));
        // An operator may stop a running run between steps.
        const cancel = await this.deps.guards.cancelRequest(run.id);
        if (cancel) throw new RunCancelledError(`cancelled by ${cancel.by}: ${cancel.reason}`);
      },
      persist: async (audited: readonly RunStep[] = []) => {
        const entries = audited.map((step) => this.mutationEntry(run, step));
        await this.deps.runs.saveDoc(run, entries);
      },
      assertActive: () => {
        if (signal.aborted) throw abortReason(signal);
      },
      ...(replicas ? { durable: () => replicas.require('the intent of a step', '; its request was not sent') } : {}),
    };
    const cluster = new RecordingCluster(this.deps.cluster, sink);
    const settled = await cluster.settleOpenSteps();
    if (settled > 0) log.info({ settled }, 'steps of an earlier attempt were applied; their answers had been lost');
    const previousSteps = [...run.steps];
    const now = this.now;
    return {
      runId: run.id,
      target: run.target,
      dryRun: run.dryRun,
      log,
      cluster,
      signal,
      previousSteps,
      now,
      sleep: (ms: number) => abortableSleep(ms, signal),
      claimNodeBudget: async (node: string) => {
        await sink.beforeMutation();
        await this.claimNodeBudget(run, node);
      },
      releaseNodeBudget: async (node: string) => {
        if (!run.dryRun) await this.deps.guards.releaseNodeBudget(node);
      },
      optOutLabel: this.deps.guardConfig.optOutLabel,
      requestedBy: { ...(run.trigger.rule ? { rule: run.trigger.rule } : {}), ...(run.trigger.operator ? { operator: run.trigger.operator } : {}) },
      event: async (ref: ObjectRef, reason: string, message: string, type: 'Normal' | 'Warning' = 'Normal', key = '') => {
        try {
          await cluster.createEvent(ref, { reason, message, type, name: eventName(run.id, ref, reason, type, key) }, { dryRun: run.dryRun });
        } catch (err) {
          // Only the API server's refusal is tolerated; a guard, a cancel or Redis failing to record the step stop the attempt.
          if (!(err instanceof KubeApiError)) throw err;
          log.warn({ err, reason }, 'could not record a Kubernetes Event');
        }
      },
      lastActionAnnotation: (reason: string, marks?: LastActionMarks) => ({ [LAST_ACTION_ANNOTATION]: this.lastActionValue(run, reason, marks) }),
      stampLastAction: async (ref: ObjectRef, reason: string, marks?: LastActionMarks) => {
        try {
          await cluster.annotate(ref, LAST_ACTION_ANNOTATION, this.lastActionValue(run, reason, marks), { dryRun: run.dryRun });
        } catch (err) {
          if (!(err instanceof KubeApiError)) throw err;
          log.warn({ err }, 'could not set the last-action annotation');
        }
      },
      countActionError: (action: ActionName) => {
        const set = this.extraErrors.get(run.id) ?? new Set<string>();
        set.add(action);
        this.extraErrors.set(run.id, set);
      },
      reportHealth: async (result: 'healthy' | 'unhealthy', detail: string) => {
        run.health = { result, detail, at: new Date(this.now()).toISOString() };
        await this.deps.runs.saveDoc(run, [{ ...this.base(run), type: 'health_check', result, detail }]);
      },
    };
  }

  /** Hands the event to the run's rule's `notify` channels; never waits, never fails the run. */
  private notify(run: Run, event: NotificationEvent, detail?: string): void {
    const channels = run.trigger.rule ? this.deps.rules.get(run.trigger.rule)?.notify : undefined;
    if (!this.deps.notifications || !channels || channels.length === 0) return;
    this.deps.notifications.notify({ event, runId: run.id, channels, ...(detail ? { detail } : {}) });
  }

  /**
   * Why a run created real must execute dry: this process runs with `dryRun: true`, or its rule
   * was in shadow mode when the run was created.
   */
  private strictestDryRun(run: Run): string | undefined {
    if (run.dryRun) return undefined;
    if (this.deps.globalDryRun) return 'this worker runs with dryRun: true';
    if (this.ruleOf(run)?.dryRun) return `rule ${run.trigger.rule} is in shadow mode (dryRun: true)`;
    return undefined;
  }

  /** The run's rule as it was at intake; runs created before snapshots existed fall back to the config. */
  private ruleOf(run: Run): RuleSnapshot | undefined {
    if (run.trigger.ruleConfig) return run.trigger.ruleConfig;
    return run.trigger.rule ? this.deps.rules.get(run.trigger.rule) : undefined;
  }

  /**
   * README "How an alert becomes an action" freshness: right before the first mutation, every intake guard again (pause,
   * namespaces, resolution, cooldown from the run's own snapshot of its rule) and the opt-out.
   */
  private async recheckGuards(run: Run): Promise<void> {
    const { guards } = this.deps;
    const paused = await guards.pausedReason(run.playbook);
    if (paused) throw new GuardBlockedError('paused', paused);
    const namespace = namespaceBlock(run.target, this.deps.guardConfig);
    if (namespace) throw new GuardBlockedError('namespace', namespace);
    const rule = this.ruleOf(run);
    if (run.trigger.source === 'alert' && run.trigger.episode && rule?.onResolved !== 'ignore') {
      if (await guards.isEpisodeResolved(run.trigger.episode)) throw new RunCancelledError('the alert resolved before the first mutation');
    }
    if (run.trigger.source === 'alert' && run.trigger.rule) {
      const holder = await guards.heldBy(run.trigger.rule, run.target);
      if (holder) throw new GuardBlockedError('escalated', `${run.target} is held after the escalation of run ${holder} until an operator acknowledges it (remediator ack)`);
    }
    await this.checkOptOut(run);
    // With a precheck the cooldown is claimed only once it passed: a run that stands down has not acted.
    await this.checkCooldown(run, !run.dryRun && !run.precheck);
  }

  private async precheckThenClaimCooldown(run: Run, signal: AbortSignal): Promise<void> {
    if (!run.precheck) return;
    await this.precheck(run, signal);
    if (!run.dryRun) await this.checkCooldown(run, true);
  }

  /**
   * README "Closing the loop": right before the first mutation, after the guards. A non-empty result lets the
   * run act; empty, an error or no Prometheus at all ends it `skipped` (fail safe: never act
   * blind). Evaluated once: a later attempt of a run that passed does not ask again (its own
   * first mutation may already have changed the answer).
   */
  private async precheck(run: Run, signal: AbortSignal): Promise<void> {
    const precheck = run.precheck;
    if (!precheck || precheck.result === 'pass') return;
    const { prometheus, metrics } = this.deps;
    let result: 'pass' | 'fail' | 'error';
    let detail: string;
    if (!prometheus) {
      result = 'error';
      detail = 'no prometheus is configured on the worker that executes the run';
    } else {
      try {
        const answer = await prometheus.query(precheck.query, signal);
        result = answer.empty ? 'fail' : 'pass';
        detail = describeSamples(answer);
      } catch (err) {
        // Shutting down or cancelled is not an answer: the attempt stops and the run resumes elsewhere.
        if (signal.aborted) throw abortReason(signal);
        result = 'error';
        detail = err instanceof Error ? err.message : String(err);
      }
    }
    run.precheck = { query: precheck.query, result, detail, at: new Date(this.now()).toISOString() };
    metrics.prechecks.inc({ playbook: run.playbook, result });
    await this.deps.runs.saveDoc(run, [{ ...this.base(run), type: 'precheck', query: precheck.query, result, detail }]);
    if (result === 'fail') throw new RunSkippedError('precheck false: the condition no longer holds');
    if (result === 'error') throw new RunSkippedError(`precheck could not be evaluated, so nothing was done (never act blind): ${detail}`);
  }

  /** `guards.optOutLabel: "true"` on the target, or on its namespace, means never touched. */
  private async checkOptOut(run: Run): Promise<void> {
    const label = this.deps.guardConfig.optOutLabel;
    if ((await this.targetMeta(run.target))?.labels[label] === 'true') throw new GuardBlockedError('opt_out', `${run.target} carries ${label}="true"`);
    const namespace = parseTarget(run.target)?.namespace;
    if (namespace && (await this.deps.cluster.getNamespaceLabels(namespace))?.[label] === 'true') {
      throw new GuardBlockedError('opt_out', `namespace ${namespace} carries ${label}="true"`);
    }
  }

  /** The target's labels and annotations, whatever its kind; undefined when it is gone. */
  private async targetMeta(target: string): Promise<{ labels: Record<string, string>; annotations: Record<string, string> } | undefined> {
    const parsed = parseTarget(target);
    if (!parsed) return undefined;
    const { cluster } = this.deps;
    if (parsed.kind === 'node') return cluster.getNode(parsed.name);
    if (parsed.kind === 'pod') return cluster.getPod(parsed.namespace!, parsed.name);
    return cluster.getWorkload(parsed.kind === 'deployment' ? 'Deployment' : 'StatefulSet', parsed.namespace!, parsed.name);
  }

  /**
   * The rule's cooldown for this playbook and target, in Redis and in the target's last-action
   * annotation. With `claim`, atomically starts the cooldown for this run.
   */
  private async checkCooldown(run: Run, claim: boolean): Promise<void> {
    const rule = this.ruleOf(run);
    const cooldownMs = run.trigger.source === 'alert' && !run.bypassGuards ? rule?.cooldownMs : undefined;
    if (!cooldownMs) return;
    const { guards } = this.deps;
    const stamped = await this.lastActionTime(run.target);
    if (stamped && stamped.runId !== run.id && stamped.playbook === run.playbook && this.now() - stamped.time < cooldownMs) {
      throw new GuardBlockedError('cooldown', `${run.target} was acted on at ${new Date(stamped.time).toISOString()} (annotation ${LAST_ACTION_ANNOTATION}); cooldown ${Math.round(cooldownMs / 1000)}s`);
    }
    if (claim && (await guards.claimCooldown(run.playbook, run.target, cooldownMs, run.id))) return;
    const remaining = await guards.cooldownRemaining(run.playbook, run.target);
    if (remaining > 0 || claim) throw new GuardBlockedError('cooldown', `${run.target} is in cooldown for another ${Math.ceil(remaining / 1000)}s`);
  }

  /** The annotation survives a wiped Redis, so cooldowns do too. */
  private async lastActionTime(target: string): Promise<{ time: number; runId?: string; playbook?: string } | undefined> {
    const raw = (await this.targetMeta(target))?.annotations[LAST_ACTION_ANNOTATION];
    if (!raw) return undefined;
    try {
      const value = JSON.parse(raw) as { time?: string; runId?: string; playbook?: string };
      const time = value.time ? Date.parse(value.time) : NaN;
      return Number.isNaN(time) ? undefined : { time, runId: value.runId, playbook: value.playbook };
    } catch {
      return undefined;
    }
  }

  private async claimNodeBudget(run: Run, node: string): Promise<void> {
    if (run.bypassGuards) return;
    const nodes = await this.deps.cluster.listNodes();
    const limit = this.deps.guardConfig.maxUnschedulableNodes;
    const max = 'count' in limit ? limit.count : Math.ceil((limit.percent * nodes.length) / 100);
    const unschedulable = nodes.filter((n) => n.unschedulable).map((n) => n.name);
    if (run.dryRun) {
      if (!unschedulable.includes(node) && unschedulable.length + 1 > max) {
        throw new GuardBlockedError('node_budget', `${unschedulable.length} of at most ${max} nodes are already unschedulable`);
      }
      return;
    }
    const claim = await this.deps.guards.claimNodeBudget(node, max, unschedulable, this.now());
    if (!claim.ok) throw new GuardBlockedError('node_budget', `${claim.used} of at most ${max} nodes are already unschedulable or being cordoned`);
  }

  private lastActionValue(run: Run, reason: string, marks?: LastActionMarks): string {
    return JSON.stringify({ playbook: run.playbook, runId: run.id, rule: run.trigger.rule, operator: run.trigger.operator, reason, time: new Date(this.now()).toISOString(), ...marks });
  }

  private mutationEntry(run: Run, step: RunStep): object {
    return { ...this.base(run), type: 'kube_mutation', action: step.action, object: step.object, method: step.request.method, path: step.request.path, dryRun: step.request.dryRun, result: step.result, detail: step.detail, before: step.before, after: step.after };
  }

  private base(run: Run): Record<string, unknown> {
    return { at: new Date(this.now()).toISOString(), actor: run.trigger.operator ?? 'worker', runId: run.id, target: run.target, playbook: run.playbook, rule: run.trigger.rule };
  }

  private statusEntry(run: Run, from: RunStatus, to: RunStatus): object {
    return { ...this.base(run), type: 'run_status', from, to, reason: run.reason, changed: run.changed, dryRun: run.dryRun, guard: run.guard?.guard };
  }
}

/** One count per object acted on, with the result of its last attempt. */
export function finalActionResults(steps: readonly RunStep[]): [string, 'ok' | 'error' | 'dry_run'][] {
  const last = new Map<string, { action: string; result: 'ok' | 'error' | 'dry_run' }>();
  for (const step of steps) {
    if (!ACTION_SET.has(step.action)) continue;
    // A step still pending at the end never had its outcome confirmed: it counts as an error.
    const result = step.result === 'error' || step.result === 'pending' ? 'error' : step.result === 'dry_run' ? 'dry_run' : 'ok';
    last.set(`${step.action} ${step.object}`, { action: step.action, result });
  }
  return [...last.values()].map((v) => [v.action, v.result]);
}

/**
 * `<object>.<16 hex>` like client-go's names, but derived from the run and what the Event says,
 * so a resent create after a lost answer is a 409, never a second Event.
 */
function eventName(runId: string, ref: ObjectRef, reason: string, type: string, key: string): string {
  const hash = createHash('sha256').update([runId, eventNamespace(ref), ref.kind, ref.name, reason, type, key].join('\0')).digest('hex').slice(0, 16);
  return `${ref.name.slice(0, 253 - 17)}.${hash}`;
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(abortReason(signal));
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortReason(signal));
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
