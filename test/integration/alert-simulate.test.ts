/**
 * `POST /api/v1/alerts/simulate` (issue 13, part 2): four alerts — one a rule would act on, one no
 * rule matches, one with a label missing, one blocked by a cooldown — get the verdict the webhook
 * would give now, with the reasons, and nothing in Redis is added or changed (every key compared
 * before and after, except the named housekeeping keys background loops touch).
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { notification } from '../helpers/alerts.js';
import { startHarness, TOKENS, type Harness } from '../helpers/harness.js';
import { pollUntil } from '../helpers/sim-helpers.js';

/** Keys background loops write whatever the API does: elections, the sealer, BullMQ's stall checks. */
const HOUSEKEEPING = [/:sweeper$/, /:sealer/, /:audit:(seals|sealed|verified|checkpoint)/, /stalled-check$/, /:meta$/];

const BIN = fileURLToPath(new URL('../../bin/remediator.js', import.meta.url));

let h: Harness;
let client: Redis;

async function snapshot(): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      if (HOUSEKEEPING.some((re) => re.test(key))) continue;
      const dump = await client.dumpBuffer(key);
      if (dump) out.set(key, dump.toString('base64'));
    }
  } while (cursor !== '0');
  return out;
}

const simulate = async (body: unknown) => {
  const res = await fetch(`${h.main.url}/api/v1/alerts/simulate`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKENS.viewer}` }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as { received: number; decisions: any[] } };
};

beforeAll(async () => {
  h = await startHarness();
  client = new Redis(h.redis.url);
  // A real run on llm-api starts its 15 m cooldown.
  const acted = await h.post(notification([{ labels: { alertname: 'LLMHighLatencyP95', namespace: 'ml-serving', deployment: 'llm-api', severity: 'warning' }, startsAt: '2026-12-07T09:00:00.000Z' }]));
  const run = await h.waitRun(acted.body.decisions[0].runId);
  expect(run.status).toBe('succeeded');
  // The sweeper drops the finished run from the live set on its next pass: let it, so the
  // snapshot below sees only what the simulation itself might write (seen in CI as ':live' changing).
  await pollUntil(async () => ((await client.zscore(`{${h.config.redis.prefix}}:live`, run.id)) === null ? true : undefined), 'the sweeper to drop the finished run from the live set', 10_000);
}, 60_000);

afterAll(async () => {
  await client?.quit();
  await h?.stop();
});

describe('POST /api/v1/alerts/simulate', () => {
  it('gives each alert the verdict the webhook would, and writes nothing', async () => {
    const before = await snapshot();
    const res = await simulate(
      notification([
        { labels: { alertname: 'LLMHighLatencyP95', namespace: 'ml-serving', deployment: 'embedding-service', severity: 'warning' }, annotations: { summary: 'p95 3.1s' } },
        { labels: { alertname: 'NodeDiskFull', node: 'cpu-node-1' } },
        { labels: { alertname: 'LLMHighLatencyP95', namespace: 'ml-serving', pod: 'llm-api-0', severity: 'warning' } },
        { labels: { alertname: 'LLMHighLatencyP95', namespace: 'ml-serving', deployment: 'llm-api', severity: 'warning' }, startsAt: '2026-12-07T10:00:00.000Z' },
      ]),
    );
    expect(res.status).toBe(200);
    const [match, unmatched, invalid, cooled] = res.body.decisions;

    expect(match).toMatchObject({ decision: 'enqueued', rule: 'scale-slow-llm' });
    expect(match.outcomes[0]).toMatchObject({ playbook: 'scale-replicas', target: 'deployment/ml-serving/embedding-service', approval: 'none', params: { namespace: 'ml-serving', kind: 'Deployment', name: 'embedding-service' } });
    expect(match.rules).toEqual([
      { rule: 'drain-overheated-gpu-nodes', matched: false, failed: 'alertname="GPUNodeOverheating": the alert has alertname="LLMHighLatencyP95"' },
      { rule: 'restart-oom-killed-pods', matched: false, failed: 'alertname="KubePodOOMKilled": the alert has alertname="LLMHighLatencyP95"' },
      { rule: 'scale-slow-llm', matched: true },
    ]);
    const verdicts = Object.fromEntries(match.outcomes[0].guards.map((g: { guard: string; verdict: string }) => [g.guard, g.verdict]));
    expect(verdicts).toMatchObject({ namespace: 'pass', paused: 'pass', escalated: 'pass', cooldown: 'checked at execution', rate_limit: 'pass', opt_out: 'checked at execution', target_locked: 'checked at execution', max_concurrent: 'checked at execution' });

    expect(unmatched).toMatchObject({ decision: 'unmatched', rule: null });
    expect(unmatched.rules.map((r: { failed: string }) => r.failed)).toEqual([
      'alertname="GPUNodeOverheating": the alert has alertname="NodeDiskFull"',
      'alertname="KubePodOOMKilled": the alert has alertname="NodeDiskFull"',
      'alertname="LLMHighLatencyP95": the alert has alertname="NodeDiskFull"',
    ]);

    expect(invalid).toMatchObject({
      decision: 'invalid_params',
      rule: 'scale-slow-llm',
      reason: 'rule scale-slow-llm needs label deployment (or statefulset); the alert has alertname, namespace, pod, severity',
    });

    expect(cooled).toMatchObject({ decision: 'blocked', rule: 'scale-slow-llm' });
    expect(cooled.outcomes[0]).toMatchObject({ guard: 'cooldown', target: 'deployment/ml-serving/llm-api' });
    expect(cooled.reason).toMatch(/^blocked by guard cooldown: deployment\/ml-serving\/llm-api is in cooldown for another \d+s$/);

    const after = await snapshot();
    const changed = [...new Set([...before.keys(), ...after.keys()])].filter((k) => before.get(k) !== after.get(k));
    expect(changed).toEqual([]);
  });

  it('remediator explain -f prints the same verdicts from a captured notification', async () => {
    const file = fileURLToPath(new URL('../fixtures/alertmanager/firing-llm-high-latency-p95.json', import.meta.url));
    const res = await new Promise<{ code: number; out: string }>((resolve) =>
      execFile(process.execPath, [BIN, 'explain', '-f', file, '--url', h.main.url, '--token', TOKENS.viewer], { timeout: 30_000 }, (err, out) => resolve({ code: err ? 1 : 0, out })),
    );
    expect(res.code).toBe(0);
    expect(res.out).toMatch(/^alert LLMHighLatencyP95 00bf06a2e4a81b74: blocked by rule scale-slow-llm — blocked by guard cooldown: /m);
    expect(res.out).toMatch(/^ {2}rule drain-overheated-gpu-nodes: no match \(alertname="GPUNodeOverheating": the alert has alertname="LLMHighLatencyP95"\)$/m);
    expect(res.out).toMatch(/^ {4}opt_out +checked at execution$/m);
  });

  it('is for viewers and up, and refuses an unusable envelope', async () => {
    expect((await simulate({ receiver: 'x' })).status).toBe(400);
    const res = await fetch(`${h.main.url}/api/v1/alerts/simulate`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKENS.alertmanager}` }, body: '{"alerts":[]}' });
    expect(res.status).toBe(403);
  });
});
