/**
 * Issue 17: Kubernetes API faults injected in the simulated cluster, before anything is applied
 * (SimEarlyFault): bursts of 500, 429 with and without Retry-After, 503 on the reads, 409 on the
 * patch, slow answers under `kubernetes.requestTimeoutSeconds`, and hung connections that the
 * client must time out. scale-replicas runs from LLMHighLatencyP95 alerts, one Deployment per case,
 * all cases at once on one service (requestTimeoutSeconds: 1) so that the persistent ones, which
 * go through the whole retry budget (JOB_ATTEMPTS with exponential backoff from JOB_BACKOFF_MS),
 * overlap. Every run must end, retried within bounds, succeeded with exactly one effective scale or
 * failed with a reason naming the fault; none may stay running.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSeed } from '../../src/sim/sim-seed.js';
import { startSimCluster } from '../../src/sim/sim-cluster.js';
import type { SimEarlyFault, SimRequestRecord } from '../../src/sim/sim-server.js';
import { requestMatcher } from '../../src/sim/sim-early-faults.js';
import { JOB_ATTEMPTS, JOB_BACKOFF_MS } from '../../src/queue/run-queue.js';
import { isTerminal, type Run } from '../../src/domain/run.js';
import { ALERTMANAGER_TOKEN, OPERATOR_TOKEN, startScenarioRig, waitTerminal, type ScenarioRig } from '../helpers/fault-rig.js';
import { notification } from '../helpers/alerts.js';

const NS = 'faults';
const REQUEST_TIMEOUT_MS = 1000;
/** Whole retry budget: the backoff between JOB_ATTEMPTS attempts (2 + 4 + 8 + 16 s). */
const BACKOFF_BUDGET_MS = Array.from({ length: JOB_ATTEMPTS - 1 }, (_, i) => JOB_BACKOFF_MS * 2 ** i).reduce((a, b) => a + b, 0);
/** A persistent fault must end its run within the budget plus per-attempt work (timeouts included) and queue slack. */
const GIVE_UP_BOUND_MS = BACKOFF_BUDGET_MS + JOB_ATTEMPTS * (REQUEST_TIMEOUT_MS + 1000) + 5000;

const CASES = ['burst500', 'read503', 'readdown', 'ra429', 'bare429', 'persist500', 'conflict409', 'conflictforever', 'slow', 'hang', 'hangforever'] as const;
type CaseName = (typeof CASES)[number];

const SEED = `
options: { readyDelayMs: 50, terminationDelayMs: 0 }
nodes:
  - { name: cpu-1, cpu: "64", memory: 263375424Ki }
namespaces:
  - { name: ${NS} }
objects:
${CASES.map(
  (name) => `  - apiVersion: apps/v1
    kind: Deployment
    metadata: { name: ${name.toLowerCase()}, namespace: ${NS}, labels: { app: ${name.toLowerCase()} } }
    spec:
      replicas: 2
      selector: { matchLabels: { app: ${name.toLowerCase()} } }
      template:
        metadata: { labels: { app: ${name.toLowerCase()} } }
        spec:
          containers: [{ name: web, image: nginx:1.27, resources: { requests: { cpu: 10m, memory: 16Mi } } }]`,
).join('\n')}
`;

const RULES = `
  - name: scale-slow-llm
    matchers: ['alertname="LLMHighLatencyP95"']
    playbook: scale-replicas
    params: { step: 1, maxReplicas: 6, waitForReadySeconds: 20 }
    cooldown: 15m`;

const deployPath = (name: string) => `/apis/apps/v1/namespaces/${NS}/deployments/${name.toLowerCase()}`;
const scalePath = (name: string) => `${deployPath(name)}/scale`;

interface Figures {
  case: CaseName;
  status: string;
  attempts: number;
  elapsedMs: number;
  /** Requests that met the fault, by what it did. */
  faulted: number;
  /** Scale PATCHes the server applied (must be 1 on success, 0 on failure). */
  appliedScales: number;
  /** Arrival gaps (ms) between consecutive requests on the faulted path. */
  gapsMs: number[];
  reason: string;
}

describe('Kubernetes API faults: runs retry within bounds, then succeed or fail with a clear reason', () => {
  let rig: ScenarioRig;
  const figures: Figures[] = [];
  const runIds: string[] = [];

  beforeAll(async () => {
    rig = await startScenarioRig({
      sim: () => startSimCluster({ seed: parseSeed(SEED, 'kube-api-faults') }),
      options: { requestTimeoutSeconds: REQUEST_TIMEOUT_MS / 1000, rules: RULES, guards: { maxConcurrentRuns: CASES.length + 2 } },
    });
    // Each Deployment's pods ready, so the health check after a scale only waits for the new one.
    await waitFor(() => CASES.every((c) => (rig.sim.get('Deployment', NS, c.toLowerCase())?.status as { readyReplicas?: number } | undefined)?.readyReplicas === 2), 'the seeded Deployments to be ready', 15_000);
  }, 30_000);

  afterAll(async () => {
    if (figures.length > 0) {
      const rows = figures
        .sort((a, b) => CASES.indexOf(a.case) - CASES.indexOf(b.case))
        .map((f) => `${f.case.padEnd(12)} ${f.status.padEnd(9)} attempts=${f.attempts} elapsed=${(f.elapsedMs / 1000).toFixed(1)}s faulted=${f.faulted} appliedScales=${f.appliedScales} gaps=[${f.gapsMs.map((g) => (g / 1000).toFixed(2)).join(', ')}]s\n    reason: ${f.reason}`);
      process.stdout.write(`\nkube-api-faults figures:\n${rows.join('\n')}\n`);
    }
    await rig?.stop();
  });

  function fault(spec: Omit<SimEarlyFault, 'stage'>): void {
    rig.sim.injectFault({ stage: 'before-apply', ...spec });
  }

  async function fire(name: CaseName): Promise<{ id: string; postedAt: number }> {
    const postedAt = Date.now();
    const res = await fetch(`${rig.main.url}/api/v1/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ALERTMANAGER_TOKEN}` },
      body: JSON.stringify(notification([{ labels: { alertname: 'LLMHighLatencyP95', severity: 'warning', namespace: NS, deployment: name.toLowerCase() } }])),
    });
    const body = (await res.json()) as { decisions?: { decision: string; runId?: string }[] };
    expect(res.status).toBe(200);
    expect(body.decisions).toMatchObject([{ decision: 'enqueued' }]);
    const id = body.decisions![0]!.runId!;
    runIds.push(id);
    return { id, postedAt };
  }

  /** Waits for the run to end (polling the run store) and records its figures. */
  async function settle(name: CaseName, started: { id: string; postedAt: number }, faultedPath: (r: SimRequestRecord) => boolean, boundMs: number): Promise<{ run: Run; f: Figures; on: SimRequestRecord[] }> {
    const run = await waitTerminal(rig.main, started.id, boundMs);
    const elapsedMs = Date.now() - started.postedAt;
    const on = rig.sim.requests.filter(faultedPath);
    const f: Figures = {
      case: name,
      status: run.status,
      attempts: run.attempts,
      elapsedMs,
      faulted: on.filter((r) => r.fault !== undefined).length,
      appliedScales: rig.sim.requests.filter((r) => r.method === 'PATCH' && r.path === scalePath(name) && r.applied === true).length,
      gapsMs: on.slice(1).map((r, i) => Date.parse(r.time) - Date.parse(on[i]!.time)),
      reason: run.reason ?? '(none)',
    };
    figures.push(f);
    expect(elapsedMs, `${name} ended within ${boundMs} ms`).toBeLessThan(boundMs);
    return { run, f, on };
  }

  function replicas(name: CaseName): unknown {
    return (rig.sim.get('Deployment', NS, name.toLowerCase())?.spec as { replicas?: unknown } | undefined)?.replicas;
  }

  function expectOneScale(name: CaseName, run: Run, f: Figures): void {
    expect(run.status, run.reason).toBe('succeeded');
    expect(run.changed).toBe(true);
    expect(f.appliedScales, 'exactly one effective scale').toBe(1);
    expect(replicas(name)).toBe(3);
  }

  const patchOf = (name: CaseName) => requestMatcher({ method: 'PATCH', path: scalePath(name) });

  it.concurrent('(a) a burst of 500s on the scale patch, shorter than the retry budget: retried with backoff, then one scale', async () => {
    const burst = 3;
    fault({ match: patchOf('burst500'), answer: 500, times: burst });
    const { run, f, on } = await settle('burst500', await fire('burst500'), patchOf('burst500'), GIVE_UP_BOUND_MS);
    expectOneScale('burst500', run, f);
    expect(on.map((r) => [r.status, r.fault ?? 'none', r.applied])).toEqual([
      ...Array.from({ length: burst }, () => [500, 'refused', false]),
      [200, 'none', true],
    ]);
    expect(run.attempts).toBe(burst + 1);
    // Exponential backoff between attempts, not a hot loop.
    f.gapsMs.forEach((gap, i) => expect(gap, `gap ${i + 1}`).toBeGreaterThanOrEqual(JOB_BACKOFF_MS * 2 ** i - 50));
  }, 60_000);

  it.concurrent('(a) a burst of 503s on the reads of the target: retried, then one scale', async () => {
    const reads = requestMatcher({ method: 'GET', path: new RegExp(`^${deployPath('read503')}(/scale)?$`) });
    fault({ match: reads, answer: 503, retryAfterSeconds: 1, times: 2 });
    const { run, f, on } = await settle('read503', await fire('read503'), reads, GIVE_UP_BOUND_MS);
    expectOneScale('read503', run, f);
    // The first reads are the cooldown check before the run starts: each refusal costs a queue
    // attempt with its backoff (run.attempts counts only attempts that got the run going).
    expect(on.slice(0, 2).map((r) => [r.status, r.fault])).toEqual([
      [503, 'refused'],
      [503, 'refused'],
    ]);
    expect(on.slice(2).every((r) => r.status === 200 && r.fault === undefined)).toBe(true);
    f.gapsMs.slice(0, 2).forEach((gap, i) => expect(gap, `gap ${i + 1}`).toBeGreaterThanOrEqual(JOB_BACKOFF_MS * 2 ** i - 50));
  }, 60_000);

  it.concurrent('(a) 503 on every read of the target: failed before it started, after the retry budget, naming the 503', async () => {
    const reads = requestMatcher({ method: 'GET', path: new RegExp(`^${deployPath('readdown')}(/scale)?$`) });
    fault({ match: reads, answer: 503, times: Infinity });
    const { run, f } = await settle('readdown', await fire('readdown'), reads, GIVE_UP_BOUND_MS);
    expect(run.status).toBe('failed');
    expect(run.reason).toMatch(new RegExp(`^gave up after ${JOB_ATTEMPTS} attempts, before it started: .*503`));
    // None of them got the run going, and nothing was sent but reads.
    expect(run.attempts).toBe(0);
    expect(f.appliedScales).toBe(0);
  }, 60_000);

  it.concurrent('(b) 429 with Retry-After longer than the first backoff: the retry waits at least Retry-After, then one scale', async () => {
    const retryAfterSeconds = 4;
    fault({ match: patchOf('ra429'), answer: 429, retryAfterSeconds });
    const { run, f, on } = await settle('ra429', await fire('ra429'), patchOf('ra429'), GIVE_UP_BOUND_MS);
    expectOneScale('ra429', run, f);
    expect(on.map((r) => r.status)).toEqual([429, 200]);
    expect(f.gapsMs[0], `the patch was sent again ${f.gapsMs[0]} ms after a 429 that said Retry-After: ${retryAfterSeconds}`).toBeGreaterThanOrEqual(retryAfterSeconds * 1000);
  }, 60_000);

  it.concurrent('(c) 429 without Retry-After: backoff, then one scale', async () => {
    fault({ match: patchOf('bare429'), answer: 429, times: 2 });
    const { run, f, on } = await settle('bare429', await fire('bare429'), patchOf('bare429'), GIVE_UP_BOUND_MS);
    expectOneScale('bare429', run, f);
    expect(on.map((r) => r.status)).toEqual([429, 429, 200]);
    expect(run.attempts).toBe(3);
    f.gapsMs.forEach((gap, i) => expect(gap, `gap ${i + 1}`).toBeGreaterThanOrEqual(JOB_BACKOFF_MS * 2 ** i - 50));
  }, 60_000);

  it.concurrent('(d) persistent 500: the run fails after the retry budget, naming the 500 InternalError, not stuck running', async () => {
    fault({ match: patchOf('persist500'), answer: 500, times: Infinity });
    const { run, f, on } = await settle('persist500', await fire('persist500'), patchOf('persist500'), GIVE_UP_BOUND_MS);
    expect(run.status).toBe('failed');
    expect(run.reason).toMatch(new RegExp(`gave up after ${JOB_ATTEMPTS} attempts: .*500 InternalError`));
    expect(run.attempts).toBe(JOB_ATTEMPTS);
    expect(on).toHaveLength(JOB_ATTEMPTS);
    expect(f.appliedScales).toBe(0);
    expect(replicas('persist500')).toBe(2);
    // It took the whole backoff, not less: the retries were spaced out.
    expect(f.elapsedMs).toBeGreaterThanOrEqual(BACKOFF_BUDGET_MS - 100);
  }, 60_000);

  it.concurrent('(e) 409 on the scale patch: re-read, sent again in the same attempt, one scale', async () => {
    fault({ match: patchOf('conflict409'), answer: 409 });
    const scaleRequests = requestMatcher({ path: scalePath('conflict409') });
    const { run, f, on } = await settle('conflict409', await fire('conflict409'), scaleRequests, GIVE_UP_BOUND_MS);
    expectOneScale('conflict409', run, f);
    expect(run.attempts).toBe(1);
    // read, (the last-action stamp,) read again, patch (409), re-read, patch (200)
    expect(on.map((r) => `${r.method} ${r.status}`)).toEqual(['GET 200', 'GET 200', 'PATCH 409', 'GET 200', 'PATCH 200']);
  }, 60_000);

  it.concurrent('(e) 409 on every scale patch: bounded re-reads in each attempt, bounded attempts, then failed naming the 409 Conflict', async () => {
    fault({ match: patchOf('conflictforever'), answer: 409, times: Infinity });
    const { run, f, on } = await settle('conflictforever', await fire('conflictforever'), patchOf('conflictforever'), GIVE_UP_BOUND_MS);
    expect(run.status).toBe('failed');
    expect(run.reason).toMatch(new RegExp(`gave up after ${JOB_ATTEMPTS} attempts: .*409 Conflict: Operation cannot be fulfilled on deployments.apps "conflictforever"`));
    expect(run.attempts).toBe(JOB_ATTEMPTS);
    // A bounded number of patches per attempt (scale-replicas' MAX_CONFLICT_RETRIES), never a hot loop.
    expect(on.length % JOB_ATTEMPTS).toBe(0);
    expect(on.length / JOB_ATTEMPTS).toBeLessThanOrEqual(5);
    expect(f.appliedScales).toBe(0);
    expect(replicas('conflictforever')).toBe(2);
  }, 60_000);

  it.concurrent('(f) slow answers below requestTimeoutSeconds: one attempt, one scale', async () => {
    const delayMs = 400;
    const target = requestMatcher({ path: new RegExp(`^${deployPath('slow')}(/|$)`) });
    fault({ match: target, answer: 'serve', delayMs, times: Infinity });
    const { run, f, on } = await settle('slow', await fire('slow'), target, GIVE_UP_BOUND_MS);
    expectOneScale('slow', run, f);
    expect(run.attempts).toBe(1);
    expect(on.length).toBeGreaterThanOrEqual(4);
    expect(on.every((r) => r.delayedMs === delayMs && r.status >= 200 && r.status < 300)).toBe(true);
  }, 60_000);

  it.concurrent('(g) hung scale patches: each times out at requestTimeoutSeconds, retried, then one scale', async () => {
    fault({ match: patchOf('hang'), answer: 'hang', times: 2 });
    const { run, f, on } = await settle('hang', await fire('hang'), patchOf('hang'), GIVE_UP_BOUND_MS);
    expectOneScale('hang', run, f);
    expect(on.map((r) => r.fault ?? 'answered')).toEqual(['hung', 'hung', 'answered']);
    for (const r of on.filter((x) => x.fault === 'hung')) {
      expect(r.hungForMs, 'the client dropped the hung request at its timeout').toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 50);
      expect(r.hungForMs).toBeLessThan(REQUEST_TIMEOUT_MS + 1500);
    }
    expect(run.attempts).toBe(3);
    // The attempts that lost their patch say so in the run's steps.
    const timedOut = run.steps.filter((s) => s.request.path === scalePath('hang') && s.result === 'error');
    expect(timedOut.map((s) => s.detail)).toEqual([expect.stringMatching(/Timeout.*no answer within 1000 ms/), expect.stringMatching(/Timeout.*no answer within 1000 ms/)]);
  }, 60_000);

  it.concurrent('(g) a read that never answers: every attempt times out, the run fails with a timeout reason', async () => {
    const read = requestMatcher({ method: 'GET', path: scalePath('hangforever') });
    fault({ match: read, answer: 'hang', times: Infinity });
    const { run, f, on } = await settle('hangforever', await fire('hangforever'), read, GIVE_UP_BOUND_MS);
    expect(run.status).toBe('failed');
    expect(run.reason).toMatch(new RegExp(`gave up after ${JOB_ATTEMPTS} attempts: .*Timeout: no answer within ${REQUEST_TIMEOUT_MS} ms`));
    expect(run.attempts).toBe(JOB_ATTEMPTS);
    expect(on).toHaveLength(JOB_ATTEMPTS);
    expect(on.every((r) => r.fault === 'hung' && r.hungForMs !== undefined && r.hungForMs >= REQUEST_TIMEOUT_MS - 50)).toBe(true);
    expect(f.appliedScales).toBe(0);
    expect(replicas('hangforever')).toBe(2);
  }, 60_000);

  it('no run is left queued or running, in the run store and through the API', async () => {
    // Runs after the concurrent cases; each of them already waited for its run to end.
    expect(runIds.length).toBe(CASES.length);
    for (const id of runIds) {
      const run = await rig.main.runs.get(id);
      expect(run && isTerminal(run.status), `run ${id} is ${run?.status}`).toBe(true);
    }
    const res = await fetch(`${rig.main.url}/api/v1/runs?status=queued,running&limit=500`, { headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { items: Run[] };
    expect(body.items.map((r) => `${r.id} ${r.status}`)).toEqual([]);
  });
});

async function waitFor(check: () => boolean, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
