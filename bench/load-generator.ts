/**
 * A small closed-loop HTTP load generator: `concurrency` keep-alive connections, each sending its
 * next request as soon as the previous answer is read, until a deadline or a request budget.
 * Runs in a worker thread (bench/loadgen-worker.ts) so it does not share the event loop of the
 * receivers under test. Traffic goes to 127.0.0.1 only.
 */
import { Agent, request } from 'node:http';
import { notificationBody } from './traffic.js';

/**
 * - `new`:  every request is a fresh notification (all its alerts are new episodes).
 * - `dup`:  every request replays a notification of the pool (already delivered once).
 * - `mix`:  every `mixNewEvery`-th request is fresh, the others replay the pool.
 * - `seed`: sends each pool notification exactly once (counted as fresh).
 */
export type LoadMode = 'new' | 'dup' | 'mix' | 'seed';

export interface LoadJob {
  url: string;
  token: string;
  concurrency: number;
  mode: LoadMode;
  /** Stop starting requests after this long (not used by `seed`). */
  durationMs: number;
  /** First seq used for fresh notifications; the next job continues at `freshStart + freshSent`. */
  freshStart: number;
  /** Pool of already-delivered notifications: seqs [start, start + size). */
  pool: { start: number; size: number };
  /** `mix`: one fresh request in this many (5 = 80 % duplicates). */
  mixNewEvery: number;
}

/** Like Alertmanager, a notification that is not answered 200 is sent again (after a short pause). */
export const MAX_ATTEMPTS = 10;
const RETRY_PAUSE_MS = 100;

export interface LoadResult {
  /** Notifications delivered (or given up on); retries are not counted here. */
  requests: number;
  /** Notifications answered 200 (possibly after retries). */
  ok: number;
  /** Non-200 answers and transport errors, by status ("ECONNRESET" etc.), each retried. */
  failures: Record<string, number>;
  /** Notifications never answered 200 within MAX_ATTEMPTS. */
  gaveUp: number;
  /** Fresh notifications sent / answered 200 (each carries ALERTS_PER_NOTIFICATION new episodes). */
  freshSent: number;
  freshOk: number;
  elapsedMs: number;
  /** Latency in ms of every notification answered 200, first attempt to 200 (retries included). */
  latencies: Float64Array;
}

export async function runLoad(job: LoadJob): Promise<LoadResult> {
  const target = new URL(job.url);
  if (target.hostname !== '127.0.0.1') throw new Error(`load generator only targets 127.0.0.1, got ${target.hostname}`);
  const agent = new Agent({ keepAlive: true, maxSockets: job.concurrency, maxFreeSockets: job.concurrency });
  const poolCache = new Map<number, Buffer>();
  const poolBody = (seq: number): Buffer => {
    let b = poolCache.get(seq);
    if (!b) poolCache.set(seq, (b = Buffer.from(notificationBody(seq))));
    return b;
  };

  let latencies = new Float64Array(1 << 16);
  let nLat = 0;
  const failures: Record<string, number> = {};
  let requests = 0;
  let ok = 0;
  let gaveUp = 0;
  let freshSent = 0;
  let freshOk = 0;
  let next = 0; // request index, shared by all connections
  const seedTotal = job.mode === 'seed' ? job.pool.size : Infinity;

  const pick = (k: number): { body: Buffer; fresh: boolean } => {
    switch (job.mode) {
      case 'seed':
        return { body: poolBody(job.pool.start + k), fresh: true };
      case 'new':
        return { body: Buffer.from(notificationBody(job.freshStart + freshSent++)), fresh: true };
      case 'dup':
        return { body: poolBody(job.pool.start + ((k * 7919) % job.pool.size)), fresh: false };
      case 'mix':
        if (k % job.mixNewEvery === 0) return { body: Buffer.from(notificationBody(job.freshStart + freshSent++)), fresh: true };
        return { body: poolBody(job.pool.start + ((k * 7919) % job.pool.size)), fresh: false };
    }
  };

  const send = (body: Buffer): Promise<number | string> =>
    new Promise((resolve) => {
      const req = request(
        {
          agent,
          host: '127.0.0.1',
          port: target.port,
          method: 'POST',
          path: '/api/v1/alerts',
          headers: { 'content-type': 'application/json', 'content-length': body.length, authorization: `Bearer ${job.token}` },
        },
        (res) => {
          res.on('data', () => undefined);
          res.on('end', () => resolve(res.statusCode ?? 0));
          res.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
        },
      );
      req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
      req.end(body);
    });

  const started = performance.now();
  const deadline = job.mode === 'seed' ? Infinity : started + job.durationMs;
  const loop = async (): Promise<void> => {
    while (performance.now() < deadline && next < seedTotal) {
      const k = next++;
      const { body, fresh } = pick(k);
      if (job.mode === 'seed') freshSent++;
      const t0 = performance.now();
      let status = await send(body);
      for (let attempt = 1; status !== 200 && attempt < MAX_ATTEMPTS; attempt++) {
        failures[String(status)] = (failures[String(status)] ?? 0) + 1;
        await new Promise((r) => setTimeout(r, RETRY_PAUSE_MS));
        status = await send(body);
      }
      const ms = performance.now() - t0;
      requests++;
      if (status === 200) {
        ok++;
        if (fresh) freshOk++;
        if (nLat === latencies.length) {
          const grown = new Float64Array(latencies.length * 2);
          grown.set(latencies);
          latencies = grown;
        }
        latencies[nLat++] = ms;
      } else {
        failures[String(status)] = (failures[String(status)] ?? 0) + 1;
        gaveUp++;
      }
    }
  };
  await Promise.all(Array.from({ length: job.concurrency }, loop));
  const elapsedMs = performance.now() - started;
  agent.destroy();
  return { requests, ok, failures, gaveUp, freshSent, freshOk, elapsedMs, latencies: latencies.slice(0, nLat) };
}
