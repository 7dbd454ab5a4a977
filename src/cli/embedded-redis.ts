import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import { PermanentError } from '../domain/errors.js';

export interface EmbeddedRedis {
  url: string;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** `remediator demo` runs its own throw-away `redis-server` so it needs nothing but the binary. */
export async function startEmbeddedRedis(deadlineMs = 10_000): Promise<EmbeddedRedis> {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const spawned = new Promise<void>((resolve, reject) => {
    child.once('error', (err) => reject(new PermanentError(`cannot start redis-server (${err.message}); install it (Debian: apt-get install redis-server) or set REDIS_URL`)));
    child.once('spawn', () => resolve());
  });
  await spawned;
  const url = `redis://127.0.0.1:${port}`;
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  // Refused connections while redis-server starts are expected: the loop below retries them.
  probe.on('error', () => undefined);
  const start = Date.now();
  for (;;) {
    try {
      await probe.connect();
      await probe.ping();
      break;
    } catch {
      probe.disconnect();
      if (Date.now() - start > deadlineMs) {
        child.kill('SIGKILL');
        throw new PermanentError(`redis-server did not answer on port ${port} within ${deadlineMs} ms`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  probe.disconnect();
  return {
    url,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
