/**
 * PlaybookContext for unit tests: records events, stamps, budget claims and releases, and action
 * errors; its
 * clock only moves when the playbook sleeps, and `sleep` returns at once, so a 600 s drain
 * timeout runs in microseconds and tests can assert exactly how much time a playbook waited.
 * `cluster` is handed through unwrapped, so tests see the dryRun flag the playbook itself passes.
 */
import { pino } from 'pino';
import { GuardBlockedError } from '../../src/domain/errors.js';
import type { ActionName, PlaybookContext } from '../../src/engine/playbook.js';
import type { ClusterClient, ObjectRef } from '../../src/kube/cluster-client.js';
import type { RunStep } from '../../src/domain/run.js';

export const FAKE_EPOCH = Date.parse('2026-11-28T10:00:00Z');

export class FakeClock {
  private time: number;
  readonly sleeps: number[] = [];

  constructor(start = FAKE_EPOCH) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  advance(ms: number): void {
    this.time += ms;
  }

  /** Milliseconds the clock moved since `start`. */
  elapsedSince(start = FAKE_EPOCH): number {
    return this.time - start;
  }
}

export interface FakeContextOptions {
  cluster: ClusterClient;
  dryRun?: boolean;
  clock?: FakeClock;
  /** Nodes the run may cordon (`guards.maxUnschedulableNodes` minus nodes already unschedulable). */
  nodeBudget?: number;
  previousSteps?: RunStep[];
  runId?: string;
  /** The run's resolved target (default `node/test`). */
  target?: string;
  /** A runaway poll loop fails the test instead of hanging it. */
  maxSleeps?: number;
  /** `guards.optOutLabel` (default `remediator.dev/disabled`). */
  optOutLabel?: string;
  /** Who asked for the run (default: rule `test-rule`). */
  requestedBy?: { rule?: string; operator?: string };
}

export interface RecordedContextEvent {
  ref: ObjectRef;
  reason: string;
  message: string;
  type: 'Normal' | 'Warning';
}

export interface FakePlaybookContext extends PlaybookContext {
  readonly clock: FakeClock;
  readonly abort: AbortController;
  readonly events: RecordedContextEvent[];
  readonly stamps: { ref: ObjectRef; reason: string }[];
  readonly budgetClaims: string[];
  /** Nodes whose claim the playbook gave back (recorded also when dry, like the engine's no-op). */
  readonly budgetReleases: string[];
  readonly actionErrors: ActionName[];
  /** Health verdicts the playbook reported, in order. */
  readonly health: { result: 'healthy' | 'unhealthy'; detail: string }[];
}

export function createFakeContext(options: FakeContextOptions): FakePlaybookContext {
  const clock = options.clock ?? new FakeClock();
  const abort = new AbortController();
  const maxSleeps = options.maxSleeps ?? 10_000;
  let budget = options.nodeBudget ?? Infinity;
  const claimed = new Set<string>();
  const events: RecordedContextEvent[] = [];
  const stamps: { ref: ObjectRef; reason: string }[] = [];
  const budgetClaims: string[] = [];
  const budgetReleases: string[] = [];
  const actionErrors: ActionName[] = [];
  const health: { result: 'healthy' | 'unhealthy'; detail: string }[] = [];

  return {
    runId: options.runId ?? 'run-test-1',
    target: options.target ?? 'node/test',
    dryRun: options.dryRun ?? false,
    log: pino({ level: 'silent' }),
    cluster: options.cluster,
    signal: abort.signal,
    previousSteps: options.previousSteps ?? [],
    optOutLabel: options.optOutLabel ?? 'remediator.dev/disabled',
    requestedBy: options.requestedBy ?? { rule: 'test-rule' },
    clock,
    abort,
    events,
    stamps,
    budgetClaims,
    budgetReleases,
    actionErrors,
    health,
    now: () => clock.now(),
    async sleep(ms) {
      abort.signal.throwIfAborted();
      if (clock.sleeps.length >= maxSleeps) throw new Error(`fake clock: more than ${maxSleeps} sleeps; is a poll loop stuck?`);
      clock.sleeps.push(ms);
      clock.advance(ms);
    },
    async claimNodeBudget(node) {
      budgetClaims.push(node);
      if (claimed.has(node)) return;
      if (budget <= 0) throw new GuardBlockedError('node_budget', `no node budget left to cordon ${node}`);
      budget -= 1;
      claimed.add(node);
    },
    async releaseNodeBudget(node) {
      budgetReleases.push(node);
      if (options.dryRun || !claimed.delete(node)) return;
      budget += 1;
    },
    async event(ref, reason, message, type = 'Normal') {
      events.push({ ref, reason, message, type });
    },
    async stampLastAction(ref, reason) {
      stamps.push({ ref, reason });
    },
    lastActionAnnotation(reason, marks) {
      return { 'remediator.dev/last-action': JSON.stringify({ playbook: 'test', runId: options.runId ?? 'run-test-1', reason, ...marks }) };
    },
    countActionError(action) {
      actionErrors.push(action);
    },
    async reportHealth(result, detail) {
      health.push({ result, detail });
    },
  };
}
