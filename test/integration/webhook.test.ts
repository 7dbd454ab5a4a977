import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, fixture, poll, TOKENS, type Harness } from '../helpers/harness.js';
import { notification } from '../helpers/alerts.js';
import { testRedisMode } from '../helpers/test-redis.js';
import { metricValue } from '../helpers/metrics-text.js';

const FIRING = ['firing-kube-pod-oom-killed', 'firing-gpu-node-overheating', 'firing-llm-high-latency-p95', 'firing-max-alerts-2-truncated', 'firing-two-alerts-one-group', 'firing-group-with-one-resolved-alert', 'repeat-after-repeat-interval'];
const RESOLVED = ['resolved-kube-pod-oom-killed', 'resolved-gpu-node-overheating', 'resolved-llm-high-latency-p95', 'resolved-max-alerts-2-truncated', 'resolved-group-all-alerts'];

function mutations(h: Harness) {
  return h.sim.requests.filter((r) => r.method !== 'GET');
}

async function runCount(h: Harness): Promise<number> {
  return h.main.redis.zcard(h.main.keys.runs);
}

async function quiet(h: Harness): Promise<void> {
  // Every run reached a terminal status: nothing is left to act.
  await poll(
    async () => {
      const runs = await h.main.runs.list({ limit: 1000 });
      return runs.every((r) => !['queued', 'running'].includes(r.status)) ? true : undefined;
    },
    60_000,
    'all runs finished',
  );
}

describe('webhook: captured fixtures', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('decides each captured notification as expected and acts once per episode', async () => {
    const oom = await h.post(fixture('firing-kube-pod-oom-killed').body);
    expect(oom.status).toBe(200);
    expect(oom.body).toMatchObject({ received: 1, decisions: [{ fingerprint: 'd84406566bc1e748', status: 'firing', rule: 'restart-oom-killed-pods', decision: 'enqueued' }] });
    const oomRun = await h.waitRun(oom.body.decisions[0].runId);
    expect(oomRun).toMatchObject({ status: 'succeeded', changed: true, playbook: 'restart-oom-pod', target: 'deployment/ml-serving/llm-api' });

    const gpu = await h.post(fixture('firing-gpu-node-overheating').body);
    expect(gpu.body.decisions).toMatchObject([{ fingerprint: '1c9732799c8cbdc0', rule: 'drain-overheated-gpu-nodes', decision: 'enqueued' }]);
    const latency = await h.post(fixture('firing-llm-high-latency-p95').body);
    expect(latency.body.decisions).toMatchObject([{ fingerprint: '00bf06a2e4a81b74', rule: 'scale-slow-llm', decision: 'enqueued' }]);
    const gpuRun = await h.waitRun(gpu.body.decisions[0].runId, undefined, 60_000);
    expect(gpuRun).toMatchObject({ status: 'succeeded', changed: true, target: 'node/gpu-node-3' });
    const latencyRun = await h.waitRun(latency.body.decisions[0].runId);
    expect(latencyRun).toMatchObject({ status: 'succeeded', changed: true, target: 'deployment/ml-serving/llm-api' });

    const truncated = await h.post(fixture('firing-max-alerts-2-truncated').body);
    expect(truncated.body.received).toBe(2);
    expect(truncated.body.decisions.map((d: { decision: string }) => d.decision)).toEqual(['enqueued', 'enqueued']);

    const two = await h.post(fixture('firing-two-alerts-one-group').body);
    expect(two.body.decisions.map((d: { decision: string }) => d.decision)).toEqual(['enqueued', 'enqueued']);
    const [first, second] = two.body.decisions as { runId: string }[];

    const mixed = await h.post(fixture('firing-group-with-one-resolved-alert').body);
    expect(mixed.body.decisions[0]).toMatchObject({ fingerprint: 'ff30f263e7f3be8d', status: 'firing', decision: 'duplicate', runId: first!.runId });
    expect(mixed.body.decisions[1]).toMatchObject({ fingerprint: 'fc4f9b66e2284878', status: 'resolved' });
    expect(['cancelled', 'ignored_resolved']).toContain(mixed.body.decisions[1].decision);

    const repeat = await h.post(fixture('repeat-after-repeat-interval').body);
    expect(repeat.body.decisions).toMatchObject([{ decision: 'duplicate', runId: first!.runId }]);

    await quiet(h);
    // Both trainer pods belong to one StatefulSet: one restart, the other run is stopped by a guard
    // (the workload lock or its cooldown) or by its alert resolving; never two restarts.
    const trainerRuns = await Promise.all([h.main.runs.get(first!.runId), h.main.runs.get(second!.runId)]);
    const restarted = trainerRuns.filter((r) => r?.status === 'succeeded' && r.changed);
    expect(restarted).toHaveLength(1);

    for (const name of RESOLVED) {
      const res = await h.post(fixture(name).body);
      expect(res.status).toBe(200);
      for (const d of res.body.decisions) expect(['ignored_resolved', 'cancelled']).toContain(d.decision);
    }

    // Re-posting everything, as Alertmanager does on retries and repeats, starts nothing new.
    const before = await runCount(h);
    const mutationsBefore = mutations(h).length;
    for (const name of [...FIRING, ...RESOLVED]) {
      const res = await h.post(fixture(name).body);
      expect(res.status).toBe(200);
      for (const d of res.body.decisions) expect(['duplicate', 'ignored_resolved', 'blocked']).toContain(d.decision);
    }
    await quiet(h);
    expect(await runCount(h)).toBe(before);
    expect(mutations(h).length).toBe(mutationsBefore);

    const metrics = await h.get('/metrics');
    // firing and resolved truncated notifications, each posted twice, dropped 2 alerts each.
    expect(metricValue(metrics.text, 'remediator_alerts_truncated_total')).toBe(8);
  });
});

describe('webhook: resolved alerts, bad alerts, bad envelopes', () => {
  let h: Harness;
  beforeAll(async () => {
    // An api process alone: runs stay queued until a worker starts.
    h = await startHarness({ roles: ['api'] });
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('a resolved alert cancels its pending run, which never acts', async () => {
    const firing = await h.post(fixture('firing-llm-high-latency-p95').body);
    const runId = firing.body.decisions[0].runId as string;
    expect((await h.main.runs.get(runId))?.status).toBe('queued');
    const resolved = await h.post(fixture('resolved-llm-high-latency-p95').body);
    expect(resolved.body.decisions).toMatchObject([{ decision: 'cancelled', runId }]);
    // A late retry of the firing notification must not revive the episode.
    const retry = await h.post(fixture('firing-llm-high-latency-p95').body);
    expect(retry.body.decisions[0].decision).toBe('duplicate');

    const worker = await h.startProcess('worker');
    const scaleBefore = h.sim.requests.filter((r) => r.path.endsWith('/scale') && r.method !== 'GET').length;
    // The cancelled job is consumed by the worker without acting.
    await poll(async () => ((await worker.redis.llen(`{${h.config.redis.prefix}}:jobs:wait`)) === 0 ? true : undefined), 10_000, 'queue drained');
    const run = await h.waitRun(runId);
    expect(run.status).toBe('cancelled');
    expect(h.sim.requests.filter((r) => r.path.endsWith('/scale') && r.method !== 'GET').length).toBe(scaleBefore);
  });

  it('one malformed alert is invalid_params while its neighbours proceed', async () => {
    const body = notification([
      { labels: { alertname: 'LLMHighLatencyP95', namespace: 'ml-serving', deployment: 'embedding-service', severity: 'warning' } },
      { labels: { alertname: 'LLMHighLatencyP95', namespace: 'ml-serving', deployment: 'x', severity: 'warning' } },
      { labels: { alertname: 'KubePodOOMKilled', namespace: 'ml-serving', pod: 'Not_A_Valid_Name', container: 'c' } },
    ]);
    (body.alerts as Record<string, unknown>[])[1]!.labels = 'not-an-object';
    const res = await h.post(body);
    expect(res.status).toBe(200);
    expect(res.body.decisions.map((d: { decision: string }) => d.decision)).toEqual(['enqueued', 'invalid_params', 'invalid_params']);
    expect(res.body.decisions[1].reason).toMatch(/labels/);
    expect(res.body.decisions[2].reason).toMatch(/pod/);
  });

  it('invalid_params says in words which rule needed which label and what the alert had', async () => {
    const res = await h.post(
      notification([
        { labels: { alertname: 'LLMHighLatencyP95', namespace: 'ml-serving', pod: 'llm-api-0', severity: 'warning' } },
        { labels: { alertname: 'LLMHighLatencyP95', namespace: 'ml-serving', deployment: 'Bad_Name', severity: 'warning' } },
      ]),
    );
    expect(res.status).toBe(200);
    expect(res.body.decisions.map((d: { reason?: string }) => d.reason)).toEqual([
      'rule scale-slow-llm needs label deployment (or statefulset); the alert has alertname, namespace, pod, severity',
      expect.stringMatching(/^rule scale-slow-llm cannot use label deployment="Bad_Name" as name: .*; the alert has alertname, deployment, namespace, severity$/),
    ]);
  });

  it('unusable envelopes get 400 naming the problem', async () => {
    const cases: [string, RegExp][] = [
      ['not json', /JSON/],
      ['[]', /object/],
      ['{}', /alerts/],
      ['{"alerts": {}}', /alerts/],
      ['null', /object/],
    ];
    for (const [raw, message] of cases) {
      const res = await h.post(undefined, { raw });
      expect(res.status, raw).toBe(400);
      expect(res.body.error).toBe('bad_request');
      expect(res.body.message).toMatch(message);
    }
  });

  it('401 without or with a wrong token, 403 for a wrong role, 413 over the body limit; the process lives on', async () => {
    const body = fixture('firing-kube-pod-oom-killed').body;
    expect((await h.post(body, { token: null })).status).toBe(401);
    expect((await h.post(body, { token: 'wrong-token-0000000000' })).status).toBe(401);
    const forbidden = await h.post(body, { token: TOKENS.viewer });
    expect(forbidden.status).toBe(403);
    expect(forbidden.body).toMatchObject({ error: 'forbidden' });
    const huge = { ...body, padding: 'x'.repeat(300 * 1024) };
    const tooLarge = await h.post(huge);
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.body.error).toBe('payload_too_large');
    expect((await h.get('/healthz')).status).toBe(200);
    // Failed authentications are audited, aggregated per client.
    const entries = await h.main.audit.read({ count: 10_000 });
    const authFailed = entries.filter((e) => (e.entry as { type: string }).type === 'auth_failed');
    expect(authFailed.length).toBeGreaterThanOrEqual(1);
    expect(authFailed.length).toBeLessThan(3);
  });
});

describe('webhook: Redis outage', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h?.stop();
  });

  // Stops or freezes the one redis-server; not run on a Redis Cluster (tests/integration/redis-sentinel-failover.test.ts covers HA).
  it.skipIf(testRedisMode() === 'cluster')('answers 503 within 2 s while Redis is down, then accepts the same notification and acts once', async () => {
    const body = fixture('firing-llm-high-latency-p95').body;
    await h.redis.stop();
    for (let i = 0; i < 3; i++) {
      const res = await h.post(body);
      expect(res.status).toBe(503);
      expect(res.ms).toBeLessThan(2000);
      expect(res.body.error).toBe('unavailable');
    }
    await h.redis.start();
    const accepted = await poll(async () => {
      const res = await h.post(body);
      return res.status === 200 ? res : undefined;
    }, 20_000, 'webhook to accept again');
    expect(accepted.body.decisions[0].decision).toBe('enqueued');
    const again = await h.post(body);
    expect(again.body.decisions[0]).toMatchObject({ decision: 'duplicate', runId: accepted.body.decisions[0].runId });
    const run = await h.waitRun(accepted.body.decisions[0].runId, undefined, 30_000);
    expect(run.status).toBe('succeeded');
    const scalePatches = h.sim.requests.filter((r) => r.method === 'PATCH' && r.path.endsWith('/deployments/llm-api/scale'));
    expect(scalePatches).toHaveLength(1);
  });

  // Stops or freezes the one redis-server; not run on a Redis Cluster (tests/integration/redis-sentinel-failover.test.ts covers HA).
  it.skipIf(testRedisMode() === 'cluster')('answers 503 within 2 s while Redis hangs without refusing connections, and acts once afterwards', async () => {
    const info = await h.main.redis.info('server');
    const pid = Number(/process_id:(\d+)/.exec(info)?.[1]);
    expect(pid).toBeGreaterThan(0);
    const body = notification([{ labels: { alertname: 'LLMHighLatencyP95', namespace: 'ml-serving', deployment: 'embedding-service' } }]);
    // A notification answered before: its replay takes the path answered from memory, which must not hang either.
    const replayed = notification([{ labels: { alertname: 'LLMHighLatencyP95', namespace: 'ml-serving', deployment: 'replayed-while-frozen' } }]);
    expect((await h.post(replayed)).status).toBe(200);
    process.kill(pid, 'SIGSTOP');
    try {
      const [res, replay] = await Promise.all([h.post(body), h.post(replayed)]);
      expect(res.status).toBe(503);
      expect(res.ms).toBeLessThan(2000);
      expect(replay.status).toBe(503);
      expect(replay.ms).toBeLessThan(2000);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    const accepted = await poll(async () => {
      const res = await h.post(body);
      return res.status === 200 ? res : undefined;
    }, 20_000, 'webhook to accept again');
    const runId = accepted.body.decisions[0].runId as string;
    expect(['enqueued', 'duplicate']).toContain(accepted.body.decisions[0].decision);
    await h.waitRun(runId, undefined, 30_000);
    // The run recorded while Redis hung (if any) and the retry are one episode: one run, acted on once.
    const runs = (await h.main.runs.list({ limit: 100 })).filter((r) => r.target === 'deployment/ml-serving/embedding-service');
    expect(runs).toHaveLength(1);
  });
});
