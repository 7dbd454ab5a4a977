/**
 * The baseline a user would write instead of Remediator (issue 18): Express 5 + `express.json()`
 * and **one** BullMQ `addBulk` per notification, of its firing alerts that match a rule (by
 * alertname, as bench/rules.ts), each with a job id hashed from rule + fingerprint + startsAt, so
 * BullMQ's job-id dedup makes a replayed episode a no-op. One round trip per notification; no run
 * records, audit, inbox, guards or params validation. Runs in its own process
 * (bench/receiver-process.ts).
 */
import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { Queue } from 'bullmq';
import type { NaiveRule } from './rules.js';
import { listenWebhook } from './receiver-app.js';

export interface AddBulkReceiverOptions {
  redisUrl: string;
  /** BullMQ keys become `{prefix}:jobs:…`. */
  prefix: string;
  rules: readonly NaiveRule[];
  token: string;
  port?: number;
}

export async function startAddBulkReceiver(opts: AddBulkReceiverOptions): Promise<{ url: string; close(): Promise<void> }> {
  const connection = new Redis(opts.redisUrl, { connectionName: 'addbulk', maxRetriesPerRequest: null });
  const queue = new Queue('jobs', { connection, prefix: `{${opts.prefix}}` });
  queue.on('error', () => undefined);
  const byAlertname = new Map(opts.rules.map((r) => [r.alertname, r]));
  const jobOpts = { attempts: 5, backoff: { type: 'exponential', delay: 2000 }, removeOnComplete: { age: 86_400, count: 10_000 }, removeOnFail: { age: 7 * 86_400 } };

  const server = await listenWebhook({ token: opts.token, ...(opts.port !== undefined ? { port: opts.port } : {}) }, async (alerts) => {
    const jobs = [];
    for (const alert of alerts) {
      const rule = byAlertname.get(alert.labels?.alertname ?? '');
      if (!rule || alert.status !== 'firing') continue;
      const fingerprint = String(alert.fingerprint ?? '');
      const jobId = createHash('sha256').update(`${rule.name}\x00${fingerprint}\x00${alert.startsAt}`).digest('hex').slice(0, 32);
      jobs.push({ name: rule.playbook, data: { rule: rule.name, params: rule.params, alert: { fingerprint, startsAt: alert.startsAt, labels: alert.labels } }, opts: { ...jobOpts, jobId } });
    }
    if (jobs.length > 0) await queue.addBulk(jobs);
    return { received: alerts.length, enqueued: jobs.length };
  });
  return {
    url: server.url,
    async close() {
      await server.close();
      await queue.close();
      await connection.quit().catch(() => undefined);
    },
  };
}
