/**
 * Issue 18: byte-identical replays of a notification whose decisions are final are answered from
 * memory (no intake script), with the same answer a full evaluation gives; a blocked decision, a
 * run blocked at the worker (its episode given back) and a wiped Redis all send the replay back
 * through the full path.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, poll, type Harness } from '../helpers/harness.js';
import { notification } from '../helpers/alerts.js';
import { testRedisMode } from '../helpers/test-redis.js';

const RULES = `
rules:
  - name: scale-slow
    matchers: ['alertname="LLMHighLatencyP95"']
    playbook: scale-replicas
    params: { maxReplicas: 3, waitForReadySeconds: 0 }
`;

function alert(deployment: string, namespace = 'ml-serving', startsAt = '2026-12-08T01:00:00.000Z') {
  return { labels: { alertname: 'LLMHighLatencyP95', namespace, deployment, severity: 'warning' }, startsAt, fingerprint: `fp-${namespace}-${deployment}` };
}

describe('replays answered from memory (issue 18)', () => {
  let h: Harness;
  let admin: ReturnType<Harness['testRedis']['client']>;
  beforeAll(async () => {
    h = await startHarness({ rules: RULES });
    admin = h.testRedis.client();
  });
  afterAll(async () => {
    admin?.disconnect();
    await h?.stop();
  });

  /** Notifications answered from memory so far (`remediator_notification_replays_total`). */
  async function replays(): Promise<number> {
    const text = await h.main.metrics.registry.metrics();
    return Number(/^remediator_notification_replays_total (\d+)/m.exec(text)?.[1] ?? NaN);
  }

  async function seen(runId: string): Promise<number> {
    const items = await h.main.runs.get(runId);
    const episode = items?.trigger.episode;
    return Number((await admin.hget(`${h.main.keys.tag}:inbox:${episode}`, 'seen')) ?? 0);
  }

  it('answers a replay of final decisions without a script, as the full evaluation would, and counts it in the inbox', async () => {
    const body = JSON.stringify(notification([alert('llm-api'), alert('llm-7b')]));
    const first = await h.post(undefined, { raw: body });
    expect(first.status).toBe(200);
    expect(first.body.decisions.map((d: { decision: string }) => d.decision)).toEqual(['enqueued', 'enqueued']);
    const runIds = first.body.decisions.map((d: { runId: string }) => d.runId);

    // The same alerts in other bytes: the full path, which finds them duplicates.
    const reformatted = await h.post(undefined, { raw: JSON.stringify(JSON.parse(body), null, 1) });
    expect(reformatted.body.decisions.map((d: { decision: string }) => d.decision)).toEqual(['duplicate', 'duplicate']);

    const before = await replays();
    const replay = await h.post(undefined, { raw: body });
    expect(replay.status).toBe(200);
    expect(replay.body).toEqual(reformatted.body);
    expect(replay.body.decisions.map((d: { runId: string }) => d.runId)).toEqual(runIds);
    expect(await replays()).toBe(before + 1);
    // First sight, the reformatted delivery, the replay: counted (the counters are flushed within a second).
    await poll(async () => ((await seen(runIds[0])) === 3 ? true : undefined), 5000, 'the replay counted in the inbox');
  });

  it('a blocked decision (kube-system is denied by default) is evaluated again on every replay', async () => {
    const body = JSON.stringify(notification([alert('coredns', 'kube-system')]));
    const first = await h.post(undefined, { raw: body });
    expect(first.body.decisions[0]).toMatchObject({ decision: 'blocked', guard: 'namespace' });
    const before = await replays();
    const again = await h.post(undefined, { raw: body });
    expect(again.body.decisions[0]).toMatchObject({ decision: 'blocked', guard: 'namespace' });
    expect(await replays()).toBe(before);
  });

  it.skipIf(testRedisMode() === 'cluster')('after FLUSHALL the replay is evaluated again and starts a new run', async () => {
    const body = JSON.stringify(notification([alert('llm-13b')]));
    const first = await h.post(undefined, { raw: body });
    expect(first.body.decisions[0].decision).toBe('enqueued');
    await h.waitRun(first.body.decisions[0].runId);
    const before = await replays();
    const cached = await h.post(undefined, { raw: body });
    expect(cached.body.decisions[0]).toMatchObject({ decision: 'duplicate', runId: first.body.decisions[0].runId });
    expect(await replays()).toBe(before + 1);
    await admin.flushall();
    const after = await h.post(undefined, { raw: body });
    expect(after.status).toBe(200);
    expect(after.body.decisions[0].decision).toBe('enqueued');
    expect(after.body.decisions[0].runId).not.toBe(first.body.decisions[0].runId);
    expect(await replays()).toBe(before + 1);
    await h.waitRun(after.body.decisions[0].runId);
  });

  it('a run blocked at the worker gives its episode back: the replay is evaluated again and starts a new run', async () => {
    // The opt-out label is a guard only the worker applies: the intake enqueues, the worker blocks.
    await h.sim.patchObject('deployment', 'ml-serving', 'llm-api', { metadata: { labels: { 'remediator.dev/disabled': 'true' } } });
    try {
      const body = JSON.stringify(notification([alert('llm-api', 'ml-serving', '2026-12-08T02:00:00.000Z')]));
      const first = await h.post(undefined, { raw: body });
      expect(first.body.decisions[0].decision).toBe('enqueued');
      const blocked = await h.waitRun(first.body.decisions[0].runId);
      expect(blocked).toMatchObject({ status: 'blocked', guard: { guard: 'opt_out' } });
      const before = await replays();
      const again = await h.post(undefined, { raw: body });
      expect(again.body.decisions[0].decision).toBe('enqueued');
      expect(again.body.decisions[0].runId).not.toBe(first.body.decisions[0].runId);
      expect(await replays()).toBe(before);
      await h.waitRun(again.body.decisions[0].runId);
    } finally {
      await h.sim.patchObject('deployment', 'ml-serving', 'llm-api', { metadata: { labels: { 'remediator.dev/disabled': null } } });
    }
  });
});
