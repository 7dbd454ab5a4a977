import { DelayedError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { RunExecutor } from '../engine/run-executor.js';
import { CLAIM_TTL_MS, STALL_CHECK_MS } from '../engine/claim-timing.js';
import { closeWorker } from './close-worker.js';
import { QUEUE_NAME, JOB_ATTEMPTS, runBackoff, type RunJobData } from './run-queue.js';

/**
 * BullMQ worker wrapper. On shutdown it stops fetching, lets running steps finish within the
 * grace period, then aborts them (the playbook sees a retryable error; the job is retried by
 * another worker and resumes idempotently).
 *
 * Recovery in seconds: the job lock lives CLAIM_TTL_MS and stalled jobs are looked for every
 * STALL_CHECK_MS, so a run whose worker died is resumed elsewhere within RECOVERY_BOUND_MS
 * (src/engine/claim-timing.ts). A job that stalls more than once (it keeps killing its worker)
 * fails; the sweeper then ends its run with that reason, as any run whose job fails outside the
 * executor.
 */
export class RunWorker {
  readonly worker: Worker<RunJobData>;
  private readonly abort = new AbortController();

  constructor(opts: { connection: Redis; prefix: string; executor: RunExecutor; concurrency: number; logger: Logger }) {
    this.worker = new Worker<RunJobData>(
      QUEUE_NAME,
      async (job: Job<RunJobData>, token?: string, jobSignal?: AbortSignal) => {
        const result = await opts.executor.execute(job.data.runId, {
          attemptsMade: job.attemptsMade,
          maxAttempts: job.opts.attempts ?? JOB_ATTEMPTS,
          signal: jobSignal ? AbortSignal.any([this.abort.signal, jobSignal]) : this.abort.signal,
          ...(token ? { token } : {}),
        });
        if (result && typeof result === 'object') {
          // The target is busy: park the job without using up an attempt.
          await job.moveToDelayed(Date.now() + result.retryAfterMs, token);
          throw new DelayedError();
        }
      },
      {
        connection: opts.connection,
        prefix: opts.prefix,
        concurrency: opts.concurrency,
        autorun: false,
        lockDuration: CLAIM_TTL_MS,
        stalledInterval: STALL_CHECK_MS,
        maxStalledCount: 1,
        settings: { backoffStrategy: runBackoff },
      },
    );
    this.worker.on('error', (err) => opts.logger.warn({ err }, 'worker connection error'));
    // Another worker may take the job over once its lock expires: stop before the next request.
    this.worker.on('lockRenewalFailed', (jobIds) => {
      for (const id of jobIds) {
        opts.logger.warn({ jobId: id }, 'lost the job lock; the attempt stops before its next request');
        this.worker.cancelJob(id, 'lost the job lock');
      }
    });
    this.worker.on('stalled', (jobId) => opts.logger.warn({ runId: jobId }, 'job stalled (its worker stopped renewing the lock); resuming it'));
    // A job that fails for good outside the executor leaves its run to the sweeper (run-sweeper.ts).
    this.worker.on('failed', (job, err) => opts.logger.warn({ err, runId: job?.data.runId }, 'job attempt failed'));
  }

  start(): void {
    void this.worker.run().catch(() => undefined);
  }

  async waitUntilReady(): Promise<void> {
    await this.worker.waitUntilReady();
  }

  /** Waits for running steps up to `graceMs`, then aborts them and waits `abortedMs` more (see closeWorker for the last resort). */
  async close(graceMs: number, abortedMs?: number): Promise<void> {
    await closeWorker(this.worker, graceMs, () => this.abort.abort(), abortedMs);
  }

}
