import type { Logger } from 'pino';
import { RemediatorError, RetryableError, RunCancelledError } from '../domain/errors.js';
import type { Run } from '../domain/run.js';
import type { GuardStore } from './guard-store.js';
import { CLAIM_RENEW_MS } from './claim-timing.js';

export interface AttemptClaimsOptions {
  guards: Pick<GuardStore, 'acquireLock' | 'renewLock' | 'releaseLock' | 'lockHolder' | 'claimSlot' | 'heartbeatSlot' | 'releaseSlot' | 'cancelRequest'>;
  run: Run;
  /** Unique per attempt (BullMQ's job token): a stalled duplicate of the job cannot take the lock. */
  token: string;
  ttlMs: number;
  maxConcurrentRuns: number;
  /** Aborted on shutdown past the grace period, or when the queue lost the job lock. */
  signal: AbortSignal;
  log: Logger;
  now: () => number;
}

/**
 * What one attempt of a run holds while it acts: the target lock (one run per target), a
 * cluster-wide concurrency slot, and a watch that renews both and looks for an operator's
 * cancel. `signal` stops the attempt before its next request and wakes its waits when the lock
 * is lost, a cancel arrives, or the process shuts down.
 */
export class AttemptClaims {
  readonly signal: AbortSignal;
  private readonly stop = new AbortController();
  private readonly lockToken: string;
  private locked = false;
  private slot = false;
  private watch: NodeJS.Timeout | undefined;

  constructor(private readonly opts: AttemptClaimsOptions) {
    this.lockToken = `${opts.run.id}/${opts.token}`;
    this.signal = AbortSignal.any([opts.signal, this.stop.signal]);
  }

  /** 'busy': another run holds the target; 'full': `guards.maxConcurrentRuns` reached. Either way the run waits its turn. */
  async acquire(): Promise<'held' | 'busy' | 'full'> {
    const { guards, run, ttlMs, log } = this.opts;
    this.locked = await guards.acquireLock(run.target, this.lockToken, ttlMs);
    if (!this.locked) {
      log.info({ holder: await guards.lockHolder(run.target) }, 'target busy; run waits');
      return 'busy';
    }
    this.slot = await guards.claimSlot(run.id, this.opts.maxConcurrentRuns, this.opts.now(), ttlMs);
    if (!this.slot) {
      log.info('guards.maxConcurrentRuns reached; run waits');
      return 'full';
    }
    // A cancel wakes the attempt within one tick.
    this.watch = setInterval(() => this.tick(), Math.min(CLAIM_RENEW_MS, ttlMs / 3));
    return 'held';
  }

  /** Idempotent. Called before the terminal status is written: whoever sees the run finished may act on its target. */
  async release(): Promise<void> {
    const { guards, run } = this.opts;
    if (this.watch) clearInterval(this.watch);
    this.watch = undefined;
    if (this.locked) await guards.releaseLock(run.target, this.lockToken).catch(() => undefined);
    if (this.slot) await guards.releaseSlot(run.id).catch(() => undefined);
    this.locked = this.slot = false;
  }

  private tick(): void {
    const { guards, run, ttlMs, log, now } = this.opts;
    guards
      .renewLock(run.target, this.lockToken, ttlMs)
      .then((held) => {
        if (!held && !this.stop.signal.aborted) {
          log.warn('target lock lost; this attempt stops before its next request');
          this.stop.abort(new RetryableError(`lost the lock on ${run.target}`));
        }
      })
      .catch((err: unknown) => log.warn({ err }, 'lock renewal failed'));
    guards.heartbeatSlot(run.id, now()).catch(() => undefined);
    guards
      .cancelRequest(run.id)
      .then((cancel) => {
        if (!cancel || this.stop.signal.aborted) return;
        run.cancelRequested = { by: cancel.by, reason: cancel.reason, at: cancel.at ?? new Date(now()).toISOString() };
        this.stop.abort(new RunCancelledError(`cancelled by ${cancel.by}: ${cancel.reason}`));
      })
      .catch(() => undefined);
  }
}

/** Why the attempt was stopped: the claims or the queue name it (cancel, lost lock), else it is a shutdown. */
export function abortReason(signal: AbortSignal): RemediatorError {
  if (signal.reason instanceof RemediatorError) return signal.reason;
  return new RetryableError(typeof signal.reason === 'string' ? signal.reason : 'interrupted by shutdown');
}
