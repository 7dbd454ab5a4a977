import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { Redis } from 'ioredis';
import { auditKeys } from '../../src/audit/audit-keys.js';
import { startRedisServer, type RedisServerHandle } from '../helpers/redis-server.js';
import { OPERATOR_TOKEN, SCENARIOS, startInProcess, startRun, startScenarioSim, waitTerminal, writeRigConfig } from '../helpers/fault-rig.js';
import { pollUntil } from '../helpers/sim-helpers.js';
import type { Remediator } from '../../src/composition-root.js';
import type { SimCluster } from '../../src/sim/sim-cluster.js';

/** What identifies an audit entry across the stream and the log. */
function identity(e: Record<string, unknown>): string {
  return JSON.stringify([e.type, e.at, e.runId ?? null, e.action ?? null, e.to ?? null, e.object ?? null, e.result ?? null]);
}

/** docs/audit-log.md: every audit entry is also a pino JSON line (`audit: true`), status transitions included. */
describe('every audit entry is also a log line', () => {
  let redis: RedisServerHandle;
  let sim: SimCluster;
  let main: Remediator;
  const lines: Record<string, unknown>[] = [];
  const prefix = `l${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    redis = await startRedisServer();
    sim = await startScenarioSim(SCENARIOS['drain-gpu-node']!);
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    const config = writeRigConfig({ simUrl: sim.url, redisUrl: redis.url, prefix });
    main = await startInProcess(config, 'all', pino({ level: 'info' }, sink));
  });

  afterAll(async () => {
    await main?.stop();
    await sim?.close();
    await redis?.stop();
  });

  it('the stream and the log hold the same entries after runs, a cancel and a pause', async () => {
    for (const name of ['drain-gpu-node', 'scale-replicas']) await waitTerminal(main, await startRun(main, SCENARIOS[name]!));
    const call = (path: string, body: object) =>
      fetch(`${main.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${OPERATOR_TOKEN}` }, body: JSON.stringify(body) });
    // A run cancelled while queued (the playbook is paused, so it stays queued).
    const paused = await fetch(`${main.url}/api/v1/pause`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${OPERATOR_TOKEN}` }, body: JSON.stringify({ reason: 'x' }) });
    expect(paused.status).toBe(403); // pause is admin-only; the operator's refusal is audited as a failed authorisation
    const id = await startRun(main, SCENARIOS['uncordon-node']!);
    const cancelled = await call(`/api/v1/runs/${id}/cancel`, { reason: 'not needed' });
    expect([200, 409]).toContain(cancelled.status);
    await waitTerminal(main, id);

    // An orderly exit: whatever is pending is written and logged.
    await main.stop();
    const direct = new Redis(redis.url);
    const stream = await direct.xrange(auditKeys(prefix).stream, '-', '+');
    direct.disconnect();
    const entries = stream.map(([, f]) => JSON.parse(f[1]!) as Record<string, unknown>);
    const logged = lines.filter((l) => l.audit === true);
    await pollUntil(() => (logged.length > 0 ? true : undefined), 'log lines', 1000);
    const fromStream = entries.map(identity).sort();
    const fromLog = logged.map(identity).sort();
    expect(fromStream.length).toBeGreaterThan(10);
    expect(fromLog).toEqual(fromStream);
  });
});
