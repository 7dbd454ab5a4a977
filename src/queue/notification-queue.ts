import { createHash } from 'node:crypto';
import { Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { NotificationRequest, NotificationSink } from '../engine/notification-sink.js';
import { closeWorker } from './close-worker.js';
import { NotificationDelivery, type NotificationDeliveryDeps, type NotificationJobData } from '../notify/notification-delivery.js';

export type { NotificationJobData } from '../notify/notification-delivery.js';

export const NOTIFY_QUEUE_NAME = 'notify';

/** README "Closing the loop": 5 attempts, exponential backoff (2 s, 4 s, 8 s, 16 s between them). */
export const NOTIFY_ATTEMPTS = 5;
export const NOTIFY_BACKOFF_MS = 2000;

/**
 * The same notification (run, event, channel, detail) always gets the same id, so enqueuing it
 * twice (a retried run attempt) sends it once. Hashed: BullMQ refuses ids containing ':'.
 */
export function notificationJobId(data: NotificationJobData): string {
  const key = JSON.stringify([data.runId, data.event, data.channel, data.detail ?? null]);
  return `notify-${createHash('sha256').update(key).digest('hex').slice(0, 40)}`;
}

export interface NotificationQueueOptions {
  logger: Logger;
  /** Base delay of the exponential backoff between attempts (default 2 s). */
  backoffMs?: number;
  attempts?: number;
  /** How long one enqueue may take before it is given up (and logged). */
  deadlineMs?: number;
}

/**
 * The producer side of notifications. `notify` returns at once: it starts adding one job per
 * channel and never waits for Redis, let alone a channel. An add that fails or outlives its
 * deadline is logged and dropped: a notification never delays or fails a run. Give it a command
 * connection without an offline queue (it fails fast while Redis is down).
 */
export class NotificationQueue implements NotificationSink {
  readonly queue: Queue<NotificationJobData>;
  private readonly pending = new Set<Promise<void>>();
  private readonly logger: Logger;
  private readonly backoffMs: number;
  private readonly attempts: number;
  private readonly deadlineMs: number;

  constructor(connection: Redis, prefix: string, opts: NotificationQueueOptions) {
    this.logger = opts.logger;
    this.backoffMs = opts.backoffMs ?? NOTIFY_BACKOFF_MS;
    this.attempts = opts.attempts ?? NOTIFY_ATTEMPTS;
    this.deadlineMs = opts.deadlineMs ?? 1500;
    this.queue = new Queue<NotificationJobData>(NOTIFY_QUEUE_NAME, { connection, prefix });
    this.queue.on('error', () => undefined);
  }

  notify(request: NotificationRequest): void {
    try {
      const jobs = [...new Set(request.channels)].map((channel) => {
        const data: NotificationJobData = { event: request.event, runId: request.runId, channel, ...(request.detail ? { detail: request.detail } : {}) };
        return {
          name: request.event,
          data,
          opts: {
            jobId: notificationJobId(data),
            attempts: this.attempts,
            backoff: { type: 'exponential', delay: this.backoffMs },
            // Finished jobs keep their id a day: a duplicate within that time is not sent again.
            removeOnComplete: { age: 86_400, count: 10_000 },
            removeOnFail: { age: 7 * 86_400 },
          },
        };
      });
      if (jobs.length === 0) return;
      const added = this.add(jobs).catch((err: unknown) => {
        this.logger.warn(
          { runId: request.runId, event: request.event, channels: request.channels, error: (err as Error)?.message ?? String(err) },
          'notification not enqueued (dropped; the run goes on)',
        );
      });
      this.pending.add(added);
      void added.finally(() => this.pending.delete(added));
    } catch (err) {
      this.logger.warn({ runId: request.runId, event: request.event, error: (err as Error)?.message ?? String(err) }, 'notification not enqueued (dropped; the run goes on)');
    }
  }

  /** Resolves once every enqueue started so far has ended (added, failed or timed out). */
  async flush(): Promise<void> {
    await Promise.all([...this.pending]);
  }

  async close(): Promise<void> {
    await this.flush();
    await this.queue.close();
  }

  private async add(jobs: Parameters<Queue<NotificationJobData>['addBulk']>[0]): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`enqueue took longer than ${this.deadlineMs} ms (Redis unavailable?)`)), this.deadlineMs);
    });
    try {
      await Promise.race([this.queue.addBulk(jobs), deadline]);
    } finally {
      clearTimeout(timer);
    }
  }
}

export interface NotificationWorkerOptions extends NotificationDeliveryDeps {
  /** Needs `maxRetriesPerRequest: null` (BullMQ workers block on it). */
  connection: Redis;
  prefix: string;
  /** Jobs sent in parallel (default 50): a channel that hangs holds one slot per job, not the worker. */
  concurrency?: number;
}

/**
 * Sends notifications from the `notify` queue. A failed attempt is thrown back to BullMQ to be
 * retried with the job's backoff; a permanent failure or the last attempt is an
 * UnrecoverableError after the dead letter has been recorded (see NotificationDelivery).
 *
 * Every attempt ends within its channel's `timeoutSeconds` (a hard deadline), and the job lock
 * lasts at least 15 s longer than the slowest channel's timeout, so even a missed lock renewal
 * cannot let a second worker take over a slow attempt and send it twice.
 */
export class NotificationWorker {
  readonly worker: Worker<NotificationJobData>;
  private readonly abort = new AbortController();

  constructor(opts: NotificationWorkerOptions) {
    const delivery = new NotificationDelivery(opts);
    const slowestMs = Math.max(0, ...opts.channels.map((c) => c.timeoutSeconds * 1000));
    this.worker = new Worker<NotificationJobData>(
      NOTIFY_QUEUE_NAME,
      async (job: Job<NotificationJobData>, _token?: string, jobSignal?: AbortSignal) => {
        const outcome = await delivery.attempt(job.data, {
          attempt: job.attemptsMade + 1,
          maxAttempts: job.opts.attempts ?? 1,
          deliveryId: job.id ?? notificationJobId(job.data),
          signal: jobSignal ? AbortSignal.any([this.abort.signal, jobSignal]) : this.abort.signal,
        });
        if (outcome.result === 'retry') throw new Error(outcome.error);
        if (outcome.result === 'dead_letter') throw new UnrecoverableError(outcome.error);
      },
      {
        connection: opts.connection,
        prefix: opts.prefix,
        concurrency: opts.concurrency ?? 50,
        autorun: false,
        lockDuration: Math.max(30_000, slowestMs + 15_000),
        // A worker that dies mid-send: its job is sent again by another one (at least once).
        maxStalledCount: 2,
      },
    );
    this.worker.on('error', (err) => opts.logger.warn({ error: err.message }, 'notification worker connection error'));
  }

  start(): void {
    void this.worker.run().catch(() => undefined);
  }

  async waitUntilReady(): Promise<void> {
    await this.worker.waitUntilReady();
  }

  /** Lets running sends finish for `graceMs`, then aborts them (their jobs are retried later, by this or another process). */
  async close(graceMs = 3000, abortedMs?: number): Promise<void> {
    await closeWorker(this.worker, graceMs, () => this.abort.abort(), abortedMs);
  }

}
