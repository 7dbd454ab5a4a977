/**
 * The baseline a user would write instead of Remediator (issue 18): Express 5 + `express.json()`
 * and **one** BullMQ `addBulk` per notification, of its firing alerts that match a rule (by
 * alertname, as bench/rules.ts), each with a job id hashed from rule + fingerprint + startsAt, so
 * BullMQ's job-id dedup makes a replayed episode a no-op. One round trip per notification; no run
 * records, audit, inbox, guards or params validation. Runs in its own process
 * (bench/receiver-process.ts).
 */
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { Redis } from 'ioredis';
import { Queue } from 'bullmq';
import type { NaiveRule } from './rules.js';

export interface AddBulkReceiverOptions {
  redisUrl: string;
  /** BullMQ keys become `{prefix}:jobs:…`. */
  prefix: string;
  rules: readonly NaiveRule[];
  token: string;
  port?: number;
}

interface WireAlert {
  status?: string;
  labels?: Record<string, string>;
  fingerprint?: string;
  startsAt?: string;
}

export async function startAddBulkReceiver(opts: AddBulkReceiverOptions): Promise<{ url: string; close(): Promise<void> }> {
  const connection = new Redis(opts.redisUrl, { connectionName: 'addbulk', maxRetriesPerRequest: null });
  const queue = new Queue('jobs', { connection, prefix: `{${opts.prefix}}` });
  queue.on('error', () => undefined);
  const byAlertname = new Map(opts.rules.map((r) => [r.alertname, r]));
  const jobOpts = { attempts: 5, backoff: { type: 'exponential', delay: 2000 }, removeOnComplete: { age: 86_400, count: 10_000 }, removeOnFail: { age: 7 * 86_400 } };

  const app = express();
  app.disable('x-powered-by');
  app.use(express.json({ limit: '5mb' }));
  app.post('/api/v1/alerts', async (req, res, next) => {
    try {
      if (req.headers.authorization !== `Bearer ${opts.token}`) {
        res.status(401).json({ error: 'unauthorized' });
        return;
      }
      const alerts = (req.body as { alerts?: unknown } | undefined)?.alerts;
      if (!Array.isArray(alerts)) {
        res.status(400).json({ error: 'no alerts array' });
        return;
      }
      const jobs = [];
      for (const alert of alerts as WireAlert[]) {
        const rule = byAlertname.get(alert.labels?.alertname ?? '');
        if (!rule || alert.status !== 'firing') continue;
        const fingerprint = String(alert.fingerprint ?? '');
        const jobId = createHash('sha256').update(`${rule.name}\x00${fingerprint}\x00${alert.startsAt}`).digest('hex').slice(0, 32);
        jobs.push({ name: rule.playbook, data: { rule: rule.name, params: rule.params, alert: { fingerprint, startsAt: alert.startsAt, labels: alert.labels } }, opts: { ...jobOpts, jobId } });
      }
      if (jobs.length > 0) await queue.addBulk(jobs);
      res.status(200).json({ received: alerts.length, enqueued: jobs.length });
    } catch (err) {
      next(err);
    }
  });

  const server: Server = createServer(app);
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      await queue.close();
      await connection.quit().catch(() => undefined);
    },
  };
}
