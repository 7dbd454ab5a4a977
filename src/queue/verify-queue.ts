import { Queue, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { closeWorker } from './close-worker.js';
import type { VerifyScheduler } from '../engine/run-verifier.js';

export const VERIFY_QUEUE_NAME = 'verify';

export interface VerifyJobData {
  runId: string;
  check: number;
}

/**
 * Verification checks as delayed BullMQ jobs (README "Closing the loop": no worker sleeps through `within`).
 * The job id names the run and the check, so scheduling the same check twice adds one job.
 */
export class VerifyQueue implements VerifyScheduler {
  readonly queue: Queue<VerifyJobData>;

  constructor(connection: Redis, prefix: string) {
    this.queue = new Queue<VerifyJobData>(VERIFY_QUEUE_NAME, { connection, prefix });
    this.queue.on('error', () => undefined);
  }

  async schedule(runId: string, check: number, delayMs: number): Promise<void> {
    await this.queue.add(
      'check',
      { runId, check },
      {
        jobId: `${runId}-${check}`,
        delay: Math.max(0, Math.round(delayMs)),
        // A check that could not reach Redis is tried again; the verifier ignores a check already made.
        attempts: 3,
        backoff: { type: 'exponential', delay: 1000 },
        removeOnComplete: { age: 3600, count: 10_000 },
        removeOnFail: { age: 7 * 86_400 },
      },
    );
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}

/** Runs verification checks in a worker process. */
export class VerifyWorker {
  readonly worker: Worker<VerifyJobData>;

  constructor(opts: { connection: Redis; prefix: string; check: (runId: string, check: number) => Promise<void>; logger: Logger; concurrency?: number }) {
    this.worker = new Worker<VerifyJobData>(VERIFY_QUEUE_NAME, async (job: Job<VerifyJobData>) => opts.check(job.data.runId, job.data.check), {
      connection: opts.connection,
      prefix: opts.prefix,
      concurrency: opts.concurrency ?? 10,
      autorun: false,
    });
    this.worker.on('error', (err) => opts.logger.warn({ err }, 'verify worker connection error'));
    this.worker.on('failed', (job, err) => opts.logger.warn({ err, runId: job?.data.runId, check: job?.data.check }, 'verification check failed'));
  }

  start(): void {
    void this.worker.run().catch(() => undefined);
  }

  async waitUntilReady(): Promise<void> {
    await this.worker.waitUntilReady();
  }

  async close(graceMs = 3000, abortedMs?: number): Promise<void> {
    // A check is a query or two: no abort needed, only a bound.
    await closeWorker(this.worker, graceMs, undefined, abortedMs);
  }
}
