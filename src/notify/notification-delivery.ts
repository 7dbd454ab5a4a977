import type { Logger } from 'pino';
import { RemediatorError, PermanentError, RetryableError } from '../domain/errors.js';
import type { Run } from '../domain/run.js';
import type { NotificationConfig } from '../config/loaded-config.js';
import type { NotificationDeadLetterEntry } from '../audit/audit-entry.js';
import { NOTIFICATION_EVENTS, type NotificationEvent } from '../engine/notification-sink.js';
import type { Metrics } from '../observability/metrics.js';
import { ChannelSender, type SendOptions } from './channel-sender.js';

/** One notification of one run to one channel: what a queue job carries. */
export interface NotificationJobData {
  event: NotificationEvent;
  runId: string;
  channel: string;
  detail?: string;
}

export interface AttemptContext extends SendOptions {
  /** 1-based number of this attempt. */
  attempt: number;
  maxAttempts: number;
}

/** `retry`: the attempt failed and another will follow; `dead_letter`: delivery gave up. */
export type AttemptOutcome = { result: 'ok' } | { result: 'retry' | 'dead_letter'; error: string };

export interface NotificationDeliveryDeps {
  channels: readonly NotificationConfig[];
  runs: { get(id: string): Promise<Run | undefined> };
  /** The audit log (RedisAuditLog, or the engine's `{ append(entries: object[]) }` port). */
  audit: { append(entries: NotificationDeadLetterEntry[]): Promise<unknown> };
  metrics: Pick<Metrics, 'notifications'>;
  logger: Logger;
  /** The run's page: `${ui.externalUrl}/ui/#/runs/${id}`. */
  runLink: (runId: string) => string;
  /** Where urlEnv and secretEnv are looked up (default process.env). */
  env?: NodeJS.ProcessEnv;
}

/**
 * One attempt at one notification, with its bookkeeping (README "Closing the loop"; docs/metrics.md): loads the run, sends
 * the channel's message, counts `ok`, `error` (another attempt follows) or `dead_letter` (gave up:
 * a permanent failure, or the last attempt), and on giving up appends a
 * `notification_dead_letter` audit entry and logs a warning. Never throws: the caller maps the
 * outcome onto its queue.
 */
export class NotificationDelivery {
  private readonly channels: Map<string, NotificationConfig>;
  private readonly sender: ChannelSender;

  constructor(private readonly deps: NotificationDeliveryDeps) {
    this.channels = new Map(deps.channels.map((c) => [c.name, c]));
    this.sender = new ChannelSender(deps.env ?? process.env);
  }

  async attempt(job: NotificationJobData, ctx: AttemptContext): Promise<AttemptOutcome> {
    const log = this.deps.logger.child({ runId: job.runId, channel: job.channel, event: job.event, attempt: ctx.attempt });
    let run: Run | undefined;
    try {
      const channel = this.channels.get(job.channel);
      if (!channel) throw new PermanentError(`channel ${job.channel} is not configured in this process`);
      if (!NOTIFICATION_EVENTS.includes(job.event)) throw new PermanentError(`unknown notification event ${String(job.event)}`);
      run = await this.loadRun(job.runId);
      const input = { event: job.event, run, link: this.deps.runLink(run.id), ...(job.detail ? { detail: job.detail } : {}) };
      await this.sender.send(channel, input, ctx);
    } catch (err) {
      const { message, retryable } = describe(err);
      if (retryable && ctx.attempt < ctx.maxAttempts) {
        this.deps.metrics.notifications.inc({ channel: job.channel, result: 'error' });
        log.warn({ error: message }, `notification attempt ${ctx.attempt} of ${ctx.maxAttempts} failed; it will be retried`);
        return { result: 'retry', error: message };
      }
      await this.deadLetter(job, ctx.attempt, message, run, log);
      return { result: 'dead_letter', error: message };
    }
    this.deps.metrics.notifications.inc({ channel: job.channel, result: 'ok' });
    log.info('notification sent');
    return { result: 'ok' };
  }

  private async loadRun(id: string): Promise<Run> {
    let run: Run | undefined;
    try {
      run = await this.deps.runs.get(id);
    } catch (err) {
      throw new RetryableError(`cannot read run ${id}: ${(err as Error).message}`);
    }
    // Retryable: a notification may overtake the write that makes its run readable.
    if (!run) throw new RetryableError(`run ${id} not found`);
    return run;
  }

  private async deadLetter(job: NotificationJobData, attempts: number, error: string, run: Run | undefined, log: Logger): Promise<void> {
    this.deps.metrics.notifications.inc({ channel: job.channel, result: 'dead_letter' });
    const entry: NotificationDeadLetterEntry = {
      type: 'notification_dead_letter',
      at: new Date().toISOString(),
      actor: 'system',
      runId: job.runId,
      ...(run ? { target: run.target, playbook: run.playbook } : {}),
      ...(run?.trigger.rule ? { rule: run.trigger.rule } : {}),
      channel: job.channel,
      event: job.event,
      attempts,
      error,
    };
    log.warn({ error, attempts }, 'notification dead-lettered: delivery gave up');
    try {
      await this.deps.audit.append([entry]);
    } catch (err) {
      log.error({ error: (err as Error).message }, 'could not append the notification_dead_letter audit entry');
    }
  }
}

/** The failure as a message fit for logs and the audit log, and whether another attempt can help. */
function describe(err: unknown): { message: string; retryable: boolean } {
  if (err instanceof RemediatorError) return { message: err.message, retryable: err.retryable };
  // Not expected (the sender wraps everything it calls); still no stack or nested object leaves.
  return { message: `unexpected error: ${String((err as Error)?.message ?? err).slice(0, 300)}`, retryable: true };
}
