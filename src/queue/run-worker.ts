import { DelayedError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { RunExecutor } from '../engine/run-executor.js';
import { QUEUE_NAME, JOB_ATTEMPTS, type RunJobData } from './run-queue.js';

/**
 * BullMQ worker wrapper. On shutdown it stops fetching, lets running steps finish within the
 * grace period, then aborts them (the playbook sees a retryable error; the job is retried by
 * another worker and resumes idempotently).
 */
export class RunWorker {
  readonly worker: Worker<RunJobData>;
  private readonly abort = new AbortController();

  constructor(opts: { connection: Redis; prefix: string; executor: RunExecutor; concurrency: number; logger: Logger }) {
    this.worker = new Worker<RunJobData>(
      QUEUE_NAME,
      async (job: Job<RunJobData>, token?: string) => {
        const result = await opts.executor.execute(job.data.runId, {
          attemptsMade: job.attemptsMade,
          maxAttempts: job.opts.attempts ?? JOB_ATTEMPTS,
          signal: this.abort.signal,
        });
        if (result && typeof result === 'object') {
          // The target is busy: park the job without using up an attempt.
          await job.moveToDelayed(Date.now() + result.retryAfterMs, token);
          throw new DelayedError();
        }
      },
      { connection: opts.connection, prefix: opts.prefix, concurrency: opts.concurrency, autorun: false },
    );
    this.worker.on('error', (err) => opts.logger.warn({ err }, 'worker connection error'));
    this.worker.on('failed', (job, err) => opts.logger.warn({ err, runId: job?.data.runId }, 'job attempt failed'));
  }

  start(): void {
    void this.worker.run().catch(() => undefined);
  }

  async waitUntilReady(): Promise<void> {
    await this.worker.waitUntilReady();
  }

  /**
   * Waits for running steps up to `graceMs`, then aborts them. BullMQ's close can hang while its
   * blocking connection reconnects (taskforcesh/bullmq#4656), so a second deadline forces it.
   */
  async close(graceMs: number): Promise<void> {
    const abortTimer = setTimeout(() => this.abort.abort(), graceMs);
    let forceTimer: NodeJS.Timeout | undefined;
    const forced = new Promise<'forced'>((resolve) => {
      forceTimer = setTimeout(() => resolve('forced'), graceMs + 2000);
    });
    try {
      const result = await Promise.race([this.worker.close().then(() => 'closed' as const), forced]);
      if (result === 'forced') await Promise.race([this.worker.close(true).catch(() => undefined), new Promise((r) => setTimeout(r, 1000))]);
    } finally {
      clearTimeout(abortTimer);
      clearTimeout(forceTimer);
    }
  }
}
