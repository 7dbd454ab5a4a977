/**
 * The baseline: the Alertmanager receiver a typical team writes first. Express 5 + express.json;
 * for each alert of the notification, in series: match a rule by alertname, GET the dedup key,
 * SET it, build the job and `queue.add` it (BullMQ over ioredis), then answer 200.
 *
 * Same Redis, same rules, same correctness goal as Remediator's webhook (one job per episode =
 * rule + fingerprint + startsAt; a replay is a duplicate). It follows the Alertmanager notes (B4)
 * where a careful team would: the job id is a hash of the episode (BullMQ rejects `:`), so even
 * the GET/SET race between two concurrent deliveries cannot double a job. It does NOT record run
 * documents or audit entries, apply guards, validate params or log: it does strictly less work
 * per alert than Remediator, in more Redis round trips.
 */
import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { Queue } from 'bullmq';
import type { NaiveRule } from './rules.js';
import { listenWebhook } from './receiver-app.js';

export interface NaiveReceiverOptions {
  redisUrl: string;
  /** Key prefix; BullMQ keys become `{prefix}:jobs:…`, dedup keys `{prefix}:dedup:…`. */
  prefix: string;
  rules: readonly NaiveRule[];
  token: string;
  port?: number;
  host?: string;
}

export interface NaiveReceiver {
  readonly url: string;
  readonly queue: Queue;
  close(): Promise<void>;
}

const WEEK_SECONDS = 7 * 86_400;

export async function startNaiveReceiver(opts: NaiveReceiverOptions): Promise<NaiveReceiver> {
  const tag = `{${opts.prefix}}`;
  const redis = new Redis(opts.redisUrl, { connectionName: 'naive' });
  const queueConnection = new Redis(opts.redisUrl, { connectionName: 'naive-queue', maxRetriesPerRequest: null });
  const queue = new Queue('jobs', { connection: queueConnection, prefix: tag });
  queue.on('error', () => undefined);

  const server = await listenWebhook({ token: opts.token, ...(opts.port !== undefined ? { port: opts.port } : {}), ...(opts.host !== undefined ? { host: opts.host } : {}) }, async (alerts) => {
    const decisions: { fingerprint: string; decision: string; jobId?: string }[] = [];
    for (const alert of alerts) {
      const fingerprint = String(alert.fingerprint ?? '');
      const rule = opts.rules.find((r) => r.alertname === alert.labels?.alertname);
      if (!rule) {
        decisions.push({ fingerprint, decision: 'unmatched' });
        continue;
      }
      if (alert.status !== 'firing') {
        decisions.push({ fingerprint, decision: 'ignored_resolved' });
        continue;
      }
      const dedupKey = `${tag}:dedup:${rule.name}:${fingerprint}:${alert.startsAt}`;
      if (await redis.get(dedupKey)) {
        decisions.push({ fingerprint, decision: 'duplicate' });
        continue;
      }
      await redis.set(dedupKey, '1', 'EX', WEEK_SECONDS);
      const jobId = `ep-${createHash('sha256').update(`${rule.name}\x00${fingerprint}\x00${alert.startsAt}`).digest('hex').slice(0, 32)}`;
      await queue.add(
        rule.playbook,
        { rule: rule.name, params: rule.params, alert: { fingerprint, startsAt: alert.startsAt, labels: alert.labels } },
        {
          jobId,
          attempts: 5,
          backoff: { type: 'exponential', delay: 2000 },
          removeOnComplete: { age: 86_400, count: 10_000 },
          removeOnFail: { age: 7 * 86_400 },
        },
      );
      decisions.push({ fingerprint, decision: 'enqueued', jobId });
    }
    return { received: alerts.length, decisions };
  });
  return {
    url: server.url,
    queue,
    async close() {
      await server.close();
      await queue.close();
      await Promise.allSettled([redis.quit(), queueConnection.quit()]);
    },
  };
}
