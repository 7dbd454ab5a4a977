import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { RunEnqueuer } from '../engine/alert-intake.js';
import { RetryableError } from '../domain/errors.js';

export const QUEUE_NAME = 'jobs';

export interface RunJobData {
  runId: string;
}

/** Retry policy for retryable failures (409, 429, 5xx, timeouts): exponential from 2 s. */
export const JOB_ATTEMPTS = 5;
export const JOB_BACKOFF_MS = 2000;

/** The backoff type of run jobs: `runBackoff`, which the worker registers (run-worker.ts). */
export const RUN_BACKOFF = 'run-backoff';

/**
 * Delay before retry `attemptsMade` of a run: exponential from JOB_BACKOFF_MS (2 s, 4 s, 8 s, …),
 * and never sooner than the API server asked (`Retry-After` on a 429 or 503, kept on the error).
 */
export function runBackoff(attemptsMade: number, _type?: string, err?: Error): number {
  const exponential = JOB_BACKOFF_MS * 2 ** Math.max(0, attemptsMade - 1);
  const asked = (err as { retryAfterMs?: unknown } | undefined)?.retryAfterMs;
  return typeof asked === 'number' && asked > exponential ? asked : exponential;
}

/**
 * The producer side. The job id is the run id, so re-adding a run (an Alertmanager retry after a
 * 503) is a no-op in BullMQ. `enqueue` fails fast when Redis is unreachable: the connection has
 * no offline queue, and a deadline guards against a half-open socket.
 */
export class RunQueue implements RunEnqueuer {
  readonly queue: Queue<RunJobData>;
  constructor(
    connection: Redis,
    prefix: string,
    private readonly deadlineMs = 1500,
  ) {
    this.queue = new Queue<RunJobData>(QUEUE_NAME, { connection, prefix });
    this.queue.on('error', () => undefined);
  }

  async enqueue(runs: { runId: string; playbook: string }[]): Promise<void> {
    const add = this.queue.addBulk(
      runs.map((r) => ({
        name: r.playbook,
        data: { runId: r.runId },
        opts: {
          jobId: r.runId,
          attempts: JOB_ATTEMPTS,
          backoff: { type: RUN_BACKOFF, delay: JOB_BACKOFF_MS },
          removeOnComplete: { age: 86_400, count: 10_000 },
          removeOnFail: { age: 7 * 86_400 },
        },
      })),
    );
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new RetryableError('enqueue timed out: Redis unavailable')), this.deadlineMs);
    });
    try {
      await Promise.race([add, deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Cluster-wide job counts for `remediator_queue_jobs`. */
  async counts(): Promise<Record<'waiting' | 'active' | 'delayed' | 'failed', number>> {
    const c = await this.queue.getJobCounts('waiting', 'active', 'delayed', 'failed');
    return { waiting: c.waiting ?? 0, active: c.active ?? 0, delayed: c.delayed ?? 0, failed: c.failed ?? 0 };
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}
