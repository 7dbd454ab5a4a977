import { afterEach, describe, expect, it } from 'vitest';
import { createServer, request, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HttpDrain } from '../../../src/http/http-drain.js';
import { MIN_SHUTDOWN_MS, shutdownPlan } from '../../../src/engine/shutdown-plan.js';

interface Answer {
  status: number;
  connection: string | undefined;
  body: string;
}

function get(port: number, agent: false | undefined = false): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('HttpDrain', () => {
  let server: Server | undefined;
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r) ?? r(undefined));
    server = undefined;
  });

  /** A server whose requests wait until released; counts what it was asked. */
  async function start(): Promise<{ drain: HttpDrain; port: number; held: ServerResponse[]; release(): void }> {
    const held: ServerResponse[] = [];
    server = createServer((_req, res) => {
      held.push(res);
    });
    const drain = new HttpDrain(server);
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as AddressInfo).port;
    return {
      drain,
      port,
      held,
      release: () => {
        for (const res of held.splice(0)) res.end('done');
      },
    };
  }

  it('lets a request in flight finish, with Connection: close, and settles once it has', async () => {
    const { drain, port, held, release } = await start();
    const answer = get(port, undefined);
    await expect.poll(() => held.length).toBe(1);
    expect(drain.active).toBe(1);
    drain.begin();
    expect(drain.shuttingDown()).toBe(true);
    const settled = drain.settle(Date.now() + 10_000);
    release();
    expect(await settled).toBe('settled');
    expect(await answer).toEqual({ status: 200, connection: 'close', body: 'done' });
    expect(drain.active).toBe(0);
  });

  it('stops waiting at the deadline when a request does not finish, and close() drops it', async () => {
    const { drain, port, held } = await start();
    const answer = get(port).catch((err: NodeJS.ErrnoException) => err.code);
    await expect.poll(() => held.length).toBe(1);
    drain.begin();
    const t0 = Date.now();
    expect(await drain.settle(t0 + 200)).toBe('deadline');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(190);
    await drain.close();
    expect(await answer).toBe('ECONNRESET');
  });

  it('settles at once with nothing in flight', async () => {
    const { drain } = await start();
    drain.begin();
    expect(await drain.settle(Date.now() + 10_000)).toBe('settled');
  });
});

describe('shutdownPlan', () => {
  it('orders the phases and ends within the grace period, leaving a margin to exit', () => {
    for (const grace of [0, 500, 1000, 6000, 30_000, 930_000]) {
      const p = shutdownPlan(grace, 1_000_000);
      const budget = Math.max(grace, MIN_SHUTDOWN_MS);
      expect(p.startedAt).toBe(1_000_000);
      expect(p.startedAt).toBeLessThan(p.abortAt);
      expect(p.abortAt).toBeLessThan(p.closedBy);
      expect(p.closedBy).toBeLessThan(p.quitBy);
      expect(p.quitBy).toBeLessThan(p.deadline);
      expect(p.deadline).toBeLessThan(p.startedAt + budget);
    }
  });

  it('gives running steps all but the last three seconds of a long grace period', () => {
    const p = shutdownPlan(30_000, 0);
    expect(p.abortAt).toBe(30_000 - 100 - 3000);
  });
});
