import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { startRedisServer, type RedisServerHandle } from '../helpers/redis-server.js';
import { spawnServe, waitWorkerReady, type WorkerProcess } from '../helpers/worker-processes.js';
import { ALERTMANAGER_TOKEN, OPERATOR_TOKEN, SCENARIOS, startScenarioSim, writeRigConfig, type RigConfig } from '../helpers/fault-rig.js';
import { metricValue } from '../helpers/metrics-text.js';
import { IMMEDIATE_PER_WINDOW, MAX_TRACKED_CLIENTS } from '../../src/http/auth-failure-log.js';
import { auditKeys } from '../../src/audit/audit-keys.js';
import type { SimCluster } from '../../src/sim/sim-cluster.js';

const FAILURES = 20_000;
const ADDRESSES = 5_000;
const CONCURRENCY = 48;
const HEAP_CAP_MB = 160;

/** One POST to the webhook from a chosen loopback source address. */
function post(port: number, localAddress: string, token: string): Promise<{ status: number; ms: number; retryAfter?: string }> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, localAddress, method: 'POST', path: '/api/v1/alerts', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, agent: false },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: Date.now() - started, ...(res.headers['retry-after'] ? { retryAfter: String(res.headers['retry-after']) } : {}) }));
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify({ version: '4', status: 'firing', receiver: 'remediator', alerts: [] }));
  });
}

/** The n-th address of the spray, all inside 127.0.0.0/8 and none of them 127.0.0.1. */
function address(n: number): string {
  return `127.1.${Math.floor(n / 250)}.${(n % 250) + 2}`;
}

/**
 * 20,000 failed authentications from 5,000 source addresses (docs/audit-log.md): the audit log gets a
 * bounded number of auth_failed entries, the process's memory stays bounded, the webhook keeps
 * answering a legitimate sender, and no configured secret ever reaches a log line.
 */
describe('a failed-authentication spray from many addresses', () => {
  let redis: RedisServerHandle;
  let sim: SimCluster;
  let config: RigConfig;
  let api: WorkerProcess;
  let prefix: string;

  beforeAll(async () => {
    redis = await startRedisServer();
    sim = await startScenarioSim(SCENARIOS['scale-replicas']!);
    prefix = `a${randomBytes(4).toString('hex')}`;
    config = writeRigConfig({ simUrl: sim.url, redisUrl: redis.url, prefix });
    // A capped heap: memory that grew with the number of addresses would end the process.
    api = await spawnServe(config.path, 'api', 'debug', [`--max-old-space-size=${HEAP_CAP_MB}`]);
    await waitWorkerReady(api);
  }, 60_000);

  afterAll(async () => {
    api?.child.kill('SIGKILL');
    await sim?.close();
    await redis?.stop();
  });

  it('bounded audit entries and memory, legitimate senders served, no secret in any log line', async () => {
    const metrics = async () => (await fetch(`http://127.0.0.1:${api.port}/metrics`)).text();
    // Warm up, then take the baseline.
    for (let i = 0; i < 200; i++) await post(api.port, '127.0.0.1', ALERTMANAGER_TOKEN);
    const heapBefore = metricValue(await metrics(), 'nodejs_heap_size_used_bytes')!;

    // One address that keeps failing is told to back off (429 with Retry-After) for the rest of its window.
    const hammer = [];
    for (let i = 0; i < 25; i++) hammer.push(await post(api.port, '127.9.9.9', 'wrong-token'));
    expect(hammer.slice(0, 20).every((h) => h.status === 401)).toBe(true);
    expect(hammer.at(-1)).toMatchObject({ status: 429, retryAfter: expect.stringMatching(/^\d+$/) });

    const legit: number[] = [];
    let next = 0;
    let spraying = true;
    const statuses = new Map<number, number>();
    // A legitimate Alertmanager keeps sending meanwhile (paced, not a synchronisation).
    const sender = (async () => {
      while (spraying) {
        const ok = await post(api.port, '127.0.0.1', ALERTMANAGER_TOKEN);
        expect(ok.status).toBe(200);
        legit.push(ok.ms);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        for (let i = next++; i < FAILURES; i = next++) {
          const res = await post(api.port, address(i % ADDRESSES), `wrong-token-${i}`);
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        }
      }),
    );
    spraying = false;
    await sender;
    expect(statuses.get(401)).toBe(FAILURES);
    expect(legit.length).toBeGreaterThan(10);
    expect(Math.max(...legit)).toBeLessThan(2000);
    // The process lived through it inside its capped heap, and still answers.
    const heapAfter = metricValue(await metrics(), 'nodejs_heap_size_used_bytes')!;
    expect(heapAfter).toBeLessThan(HEAP_CAP_MB * 1024 * 1024);
    expect(api.child.exitCode).toBeNull();

    // An orderly exit flushes what is pending; then count what reached the audit log.
    api.child.kill('SIGTERM');
    await api.exited;
    const direct = new Redis(redis.url);
    try {
      const rows = await direct.xrange(auditKeys(prefix).stream, '-', '+');
      const failed = rows.map(([, f]) => JSON.parse(f[1]!) as { type: string; count?: number }).filter((e) => e.type === 'auth_failed');
      // Per minute: the first IMMEDIATE_PER_WINDOW at once, one per tracked client, one for the rest.
      const bound = 2 * (IMMEDIATE_PER_WINDOW + MAX_TRACKED_CLIENTS + 1);
      expect(failed.length).toBeLessThanOrEqual(bound);
      console.info(`auth spray: ${FAILURES} failures from ${ADDRESSES} addresses → ${failed.length} auth_failed entries (bound ${bound}); heap used ${Math.round(heapBefore / 1024 / 1024)} → ${Math.round(heapAfter / 1024 / 1024)} MiB (cap ${HEAP_CAP_MB}); legitimate POSTs: ${legit.length}, slowest ${Math.max(...legit)} ms`);
      // Nothing is lost: the counts add up to every failure.
      expect(failed.reduce((sum, e) => sum + (e.count ?? 0), 0)).toBe(FAILURES + 25 - hammer.filter((h) => h.status === 429).length);
    } finally {
      direct.disconnect();
    }

    // Every line the process logged (debug level), searched for every configured secret.
    const log = api.output();
    expect(log.length).toBeGreaterThan(0);
    const secrets = [ALERTMANAGER_TOKEN, OPERATOR_TOKEN, readFileSync(join(config.dir, 'audit-key'), 'utf8').trim()];
    for (const secret of secrets) expect(log.includes(secret), 'a configured secret appears in the logs').toBe(false);
  }, 180_000);
});
