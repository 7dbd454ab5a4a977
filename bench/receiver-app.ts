/**
 * What the baseline receivers share, as a team would write it: Express 5 with `express.json()`,
 * a bearer-token check, the `alerts` array, and a server on 127.0.0.1. `handle` gets the alerts and
 * returns the 200 answer.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';

export interface WireAlert {
  status?: string;
  labels?: Record<string, string>;
  fingerprint?: string;
  startsAt?: string;
}

export async function listenWebhook(opts: { token: string; port?: number; host?: string }, handle: (alerts: WireAlert[]) => Promise<object>): Promise<{ url: string; close(): Promise<void> }> {
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
        res.status(400).json({ error: 'bad_request', message: 'no alerts array' });
        return;
      }
      res.status(200).json(await handle(alerts as WireAlert[]));
    } catch (err) {
      next(err);
    }
  });
  const server: Server = createServer(app);
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}
