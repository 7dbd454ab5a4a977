/**
 * drain-gpu-node end to end: a GPUNodeOverheating notification is POSTed to the running service,
 * which drains a node of the simulated cluster. The sim's own record of requests and its state
 * are the evidence: what was evicted (and how), what was left alone, what was cordoned.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_RULES, startHarness, poll, type Harness } from '../helpers/harness.js';
import { notification } from '../helpers/alerts.js';
import { metricValue } from '../helpers/metrics-text.js';
import { PODS } from '../../src/sim/sim-controllers.js';
import type { KubeObject } from '../../src/sim/kube-types.js';
import type { Run } from '../../src/domain/run.js';
import type { SimRequestRecord } from '../../src/sim/sim-server.js';

const LAST_ACTION = 'remediator.dev/last-action';
const LLM_API_POD = 'llm-api-7d9f8b6c5-x2kqp'; // ml-serving, on gpu-node-3, under PDB llm-api

function overheating(nodes: string[], startsAt?: string) {
  return notification(
    nodes.map((node) => ({ labels: { alertname: 'GPUNodeOverheating', node, severity: 'critical' }, ...(startsAt ? { startsAt } : {}) })),
  );
}

/** Posts one alert for `node`, expects it enqueued, returns its run id. */
async function alertFor(h: Harness, node: string): Promise<string> {
  const res = await h.post(overheating([node]));
  expect(res.status).toBe(200);
  expect(res.body.decisions).toMatchObject([{ decision: 'enqueued' }]);
  return res.body.decisions[0].runId as string;
}

function podsOn(h: Harness, node: string): KubeObject[] {
  return h.sim.list('pod').filter((p) => p.spec?.['nodeName'] === node);
}

function id(p: KubeObject): string {
  return `${p.metadata.namespace}/${p.metadata.name}`;
}

function controllerKind(p: KubeObject): string | undefined {
  return p.metadata.ownerReferences?.find((o) => o.controller)?.kind;
}

function isMirror(p: KubeObject): boolean {
  return p.metadata.annotations?.['kubernetes.io/config.mirror'] !== undefined;
}

const EVICTION_PATH = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/eviction$/;

/** Every request that touched a pod through the eviction subresource or a DELETE. */
function podDisruptions(h: Harness): SimRequestRecord[] {
  return h.sim.requests.filter(
    (r) => (r.method !== 'GET' && EVICTION_PATH.test(r.path)) || (r.method === 'DELETE' && /\/pods(\/|$)/.test(r.path)),
  );
}

function evictionsOf(h: Harness, ns: string, name: string): SimRequestRecord[] {
  return h.sim.requests.filter((r) => r.method === 'POST' && r.path === `/api/v1/namespaces/${ns}/pods/${name}/eviction`);
}

function nodeUnschedulable(h: Harness, node: string): boolean {
  return h.sim.get('node', undefined, node)?.spec?.['unschedulable'] === true;
}

function unschedulableNodes(h: Harness): string[] {
  return h.sim
    .list('node')
    .filter((n) => n.spec?.['unschedulable'] === true)
    .map((n) => n.metadata.name!)
    .sort();
}

function eventsFor(h: Harness, kind: string, name: string): KubeObject[] {
  return h.sim.list('event').filter((e) => {
    const involved = e['involvedObject'] as { kind?: string; name?: string } | undefined;
    return involved?.kind === kind && involved?.name === name;
  });
}

async function metrics(h: Harness): Promise<string> {
  return (await h.get('/metrics')).text;
}

async function auditEntries(h: Harness): Promise<Record<string, unknown>[]> {
  return (await h.main.audit.read({ count: 100_000 })).map((r) => r.entry as unknown as Record<string, unknown>);
}

describe('drain-gpu-node: a full drain of gpu-node-3', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('cordons, evicts every evictable pod through the Eviction API, leaves DaemonSet and mirror pods alone', async () => {
    const before = podsOn(h, 'gpu-node-3');
    const daemonSet = before.filter((p) => controllerKind(p) === 'DaemonSet');
    const mirror = before.filter(isMirror);
    const evictable = before.filter((p) => controllerKind(p) !== 'DaemonSet' && !isMirror(p));
    // The seed puts both kinds that must be left alone on gpu-node-3, and several pods to move.
    expect(daemonSet.length).toBeGreaterThan(0);
    expect(mirror.length).toBeGreaterThan(0);
    expect(evictable.map(id)).toContain(`ml-serving/${LLM_API_POD}`);
    expect(evictable.length).toBeGreaterThanOrEqual(3);

    const runId = await alertFor(h, 'gpu-node-3');
    const run = await h.waitRun(runId, undefined, 30_000);
    expect(run).toMatchObject({ status: 'succeeded', changed: true, dryRun: false, playbook: 'drain-gpu-node', target: 'node/gpu-node-3' });
    expect(run.reason).toMatch(/gpu-node-3/);

    // Exactly one eviction per evictable pod, all POSTs to the eviction subresource, none refused;
    // never a DELETE of a pod; nothing for DaemonSet or mirror pods.
    const disruptions = podDisruptions(h);
    expect(disruptions.filter((r) => r.method === 'DELETE')).toEqual([]);
    const evicted = disruptions.map((r) => {
      const m = EVICTION_PATH.exec(r.path)!;
      return `${m[1]}/${m[2]}`;
    });
    expect(evicted.sort()).toEqual(evictable.map(id).sort());
    for (const r of disruptions) {
      expect(r.method).toBe('POST');
      expect(r.dryRun).toBe(false);
      expect(r.status).toBe(201);
      expect(r.body).toMatchObject({ kind: 'Eviction' });
    }
    for (const p of [...daemonSet, ...mirror]) {
      expect(evictionsOf(h, p.metadata.namespace!, p.metadata.name!)).toEqual([]);
      // Still there, the very same pod.
      expect(h.sim.get('pod', p.metadata.namespace, p.metadata.name!)?.metadata.uid).toBe(p.metadata.uid);
    }
    // The evicted pods are gone (a StatefulSet would reuse the name; compare uids).
    for (const p of evictable) expect(h.sim.get('pod', p.metadata.namespace, p.metadata.name!)?.metadata.uid).not.toBe(p.metadata.uid);
    const left = podsOn(h, 'gpu-node-3').map((p) => p.metadata.uid).sort();
    expect(left).toEqual([...daemonSet, ...mirror].map((p) => p.metadata.uid).sort());

    // Cordoned, with the marks on the cluster.
    expect(nodeUnschedulable(h, 'gpu-node-3')).toBe(true);
    const reasons = eventsFor(h, 'Node', 'gpu-node-3').map((e) => e['reason']);
    expect(reasons).toContain('RemediationCordon');
    expect(reasons).toContain('RemediationDrain');
    for (const e of eventsFor(h, 'Node', 'gpu-node-3')) expect(e['reportingComponent']).toBe('remediator');
    const stamp = h.sim.get('node', undefined, 'gpu-node-3')?.metadata.annotations?.[LAST_ACTION];
    expect(stamp).toBeDefined();
    expect(JSON.parse(stamp!)).toMatchObject({ playbook: 'drain-gpu-node', runId, rule: 'drain-overheated-gpu-nodes' });

    // The run record lists each request it made; the audit log and /metrics agree.
    const evictSteps = run.steps.filter((s) => s.action === 'evict');
    expect(evictSteps.map((s) => s.request.path).sort()).toEqual(
      evictable.map((p) => `/api/v1/namespaces/${p.metadata.namespace}/pods/${p.metadata.name}/eviction`).sort(),
    );
    expect(evictSteps.every((s) => s.result === 'ok' && s.request.method === 'POST')).toBe(true);
    expect(run.steps.filter((s) => s.action === 'cordon')).toMatchObject([{ result: 'ok', request: { method: 'PATCH', path: '/api/v1/nodes/gpu-node-3' } }]);
    const audited = (await auditEntries(h)).filter((e) => e['runId'] === runId && e['type'] === 'kube_mutation' && e['action'] === 'evict');
    expect(audited).toHaveLength(evictable.length);
    const text = await metrics(h);
    expect(metricValue(text, 'remediator_actions_total', { playbook: 'drain-gpu-node', action: 'evict', result: 'ok' })).toBe(evictable.length);
    expect(metricValue(text, 'remediator_actions_total', { playbook: 'drain-gpu-node', action: 'cordon', result: 'ok' })).toBe(1);
    expect(metricValue(text, 'remediator_runs_total', { playbook: 'drain-gpu-node', source: 'alert', status: 'succeeded' })).toBe(1);
  }, 40_000);
});

describe('drain-gpu-node: a PodDisruptionBudget that blocks, then allows', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('while the budget allows nothing, retries every 5 s as kubectl does; sends the pod within a second once it allows one', async () => {
    const pod = h.sim.get('pod', 'ml-serving', LLM_API_POD)!;
    expect(pod.spec?.['nodeName']).toBe('gpu-node-3');
    h.sim.setPdbMaxUnavailable('ml-serving', 'llm-api', 0);

    const runId = await alertFor(h, 'gpu-node-3');
    const refused = await poll(
      async () => {
        const attempts = evictionsOf(h, 'ml-serving', LLM_API_POD).filter((r) => r.status === 429);
        return attempts.length >= 2 ? attempts : undefined;
      },
      20_000,
      'two 429 answers for the llm-api pod',
    );
    // Still running, the pod is still there, and the node is already cordoned.
    expect((await h.main.runs.get(runId))?.status).toBe('running');
    expect(h.sim.get('pod', 'ml-serving', LLM_API_POD)?.metadata.uid).toBe(pod.metadata.uid);
    expect(nodeUnschedulable(h, 'gpu-node-3')).toBe(true);
    const gap = Date.parse(refused[1]!.time) - Date.parse(refused[0]!.time);
    expect(gap).toBeGreaterThanOrEqual(4500);
    expect(gap).toBeLessThan(8000);

    // The budget is read meanwhile (every 100 ms), so its opening is seen, not the next 5 s tick.
    expect(h.sim.requests.filter((r) => r.method === 'GET' && r.path === '/apis/policy/v1/namespaces/ml-serving/poddisruptionbudgets/llm-api').length).toBeGreaterThanOrEqual(10);
    const allowedAt = Date.now();
    h.sim.setPdbMaxUnavailable('ml-serving', 'llm-api', 1);
    const run = await h.waitRun(runId, undefined, 30_000);
    const evictedAt = Date.parse(evictionsOf(h, 'ml-serving', LLM_API_POD).at(-1)!.time);
    expect(evictedAt - allowedAt).toBeLessThan(2000);
    expect(run).toMatchObject({ status: 'succeeded', changed: true });
    expect(h.sim.get('pod', 'ml-serving', LLM_API_POD)).toBeUndefined();

    const attempts = evictionsOf(h, 'ml-serving', LLM_API_POD);
    expect(attempts.map((r) => r.status)).toEqual([...attempts.slice(0, -1).map(() => 429), 201]);
    expect(attempts.length).toBeGreaterThanOrEqual(3);
    // Refused answers 5 s apart; the last (allowed) one may come sooner, as soon as the budget allows.
    for (let i = 1; i < attempts.length - 1; i++) {
      expect(Date.parse(attempts[i]!.time) - Date.parse(attempts[i - 1]!.time)).toBeGreaterThanOrEqual(4500);
    }
    expect(h.sim.requests.filter((r) => r.method === 'DELETE')).toEqual([]);
  }, 45_000);
});

describe('drain-gpu-node: pods that kubectl drain refuses, and nodes without GPUs', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      extra: 'guards: { maxUnschedulableNodes: 5 }',
      rules: `
rules:
  - name: drain-no-flags
    matchers: ['alertname="GPUNodeOverheating"', 'node="gpu-node-4"']
    playbook: drain-gpu-node
    params: { timeoutSeconds: 30 }
  - name: drain-force-only
    matchers: ['alertname="GPUNodeOverheating"', 'node="gpu-node-1"']
    playbook: drain-gpu-node
    params: { timeoutSeconds: 30, force: true }
  - name: drain-emptydir-only
    matchers: ['alertname="GPUNodeOverheating"', 'node="gpu-node-2"']
    playbook: drain-gpu-node
    params: { timeoutSeconds: 30, deleteEmptyDirData: true }
  - name: drain-defaults
    matchers: ['alertname="GPUNodeOverheating"']
    playbook: drain-gpu-node
`,
    });
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('an unmanaged pod with emptyDir (no force, no deleteEmptyDirData): no eviction at all, node cordoned, run failed naming the pod', async () => {
    const shell = h.sim.get('pod', 'ml-batch', 'gpu-debug-shell')!;
    expect(shell.spec?.['nodeName']).toBe('gpu-node-4');
    expect(shell.metadata.ownerReferences ?? []).toEqual([]);
    const uids = podsOn(h, 'gpu-node-4').map((p) => p.metadata.uid).sort();

    const run = await h.waitRun(await alertFor(h, 'gpu-node-4'));
    expect(run.status).toBe('failed');
    expect(run.reason).toMatch(/ml-batch\/gpu-debug-shell/);
    expect(run.reason).toMatch(/controller|force/);
    expect(run.reason).toMatch(/emptyDir|deleteEmptyDirData/);
    expect(podDisruptions(h)).toEqual([]);
    expect(nodeUnschedulable(h, 'gpu-node-4')).toBe(true);
    expect(podsOn(h, 'gpu-node-4').map((p) => p.metadata.uid).sort()).toEqual(uids);
    expect(eventsFor(h, 'Node', 'gpu-node-4').map((e) => e['reason'])).toContain('RemediationBlocked');
  });

  it('emptyDir pods with force but without deleteEmptyDirData: no eviction, run failed naming them', async () => {
    const emptyDirPods = podsOn(h, 'gpu-node-1').filter((p) =>
      ((p.spec?.['volumes'] as { emptyDir?: unknown }[] | undefined) ?? []).some((v) => v.emptyDir !== undefined),
    );
    expect(emptyDirPods.length).toBeGreaterThan(0);
    const disruptionsBefore = podDisruptions(h).length;

    const run = await h.waitRun(await alertFor(h, 'gpu-node-1'));
    expect(run.status).toBe('failed');
    for (const p of emptyDirPods) expect(run.reason).toContain(id(p));
    expect(run.reason).toMatch(/deleteEmptyDirData/);
    expect(podDisruptions(h).length).toBe(disruptionsBefore);
    expect(nodeUnschedulable(h, 'gpu-node-1')).toBe(true);
    for (const p of emptyDirPods) expect(h.sim.get('pod', p.metadata.namespace, p.metadata.name!)?.metadata.uid).toBe(p.metadata.uid);
  });

  it('an unmanaged pod without emptyDir, with deleteEmptyDirData but no force: no eviction, run failed naming it', async () => {
    // The seed has no plain unmanaged pod on gpu-node-2: create one there, as a user would.
    h.sim.api.create(
      { def: PODS, version: 'v1', namespace: 'ml-batch' },
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'adhoc-profiler', namespace: 'ml-batch' },
        spec: { nodeName: 'gpu-node-2', containers: [{ name: 'profiler', image: 'nvcr.io/nvidia/cuda:12.6.3-base-ubuntu22.04', command: ['sleep', 'infinity'] }] },
      },
      { dryRun: false },
    );
    const uids = podsOn(h, 'gpu-node-2').map((p) => p.metadata.uid).sort();
    expect(uids.length).toBeGreaterThan(2);
    const disruptionsBefore = podDisruptions(h).length;

    const run = await h.waitRun(await alertFor(h, 'gpu-node-2'));
    expect(run.status).toBe('failed');
    expect(run.reason).toMatch(/ml-batch\/adhoc-profiler/);
    expect(run.reason).toMatch(/force/);
    // The emptyDir pods there are allowed by this rule: only the unmanaged one is named.
    expect(run.reason).not.toMatch(/trainer-1|embed-batch/);
    expect(podDisruptions(h).length).toBe(disruptionsBefore);
    expect(nodeUnschedulable(h, 'gpu-node-2')).toBe(true);
    expect(podsOn(h, 'gpu-node-2').map((p) => p.metadata.uid).sort()).toEqual(uids);
  });

  it('a node without GPUs (requireGpu defaults to true) is skipped and nothing is mutated', async () => {
    const mutationsBefore = h.sim.mutations().length;
    const node = h.sim.get('node', undefined, 'cpu-node-1')!;
    const run = await h.waitRun(await alertFor(h, 'cpu-node-1'));
    expect(run).toMatchObject({ status: 'skipped', changed: false, target: 'node/cpu-node-1', steps: [] });
    expect(run.reason).toMatch(/nvidia\.com\/gpu/);
    expect(h.sim.mutations().length).toBe(mutationsBefore);
    const after = h.sim.get('node', undefined, 'cpu-node-1')!;
    expect(after.spec?.['unschedulable']).toBeFalsy();
    expect(after.metadata.resourceVersion).toBe(node.metadata.resourceVersion);
  });
});

describe('drain-gpu-node: a drain that cannot finish in time', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      rules: `
rules:
  - name: drain-quickly
    matchers: ['alertname="GPUNodeOverheating"']
    playbook: drain-gpu-node
    params: { timeoutSeconds: 4, deleteEmptyDirData: true }
`,
    });
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('fails at the timeout, naming the pods still on the node, which are still there', async () => {
    h.sim.setPdbMaxUnavailable('ml-serving', 'llm-api', 0);
    const pod = h.sim.get('pod', 'ml-serving', LLM_API_POD)!;
    const started = Date.now();
    const run = await h.waitRun(await alertFor(h, 'gpu-node-3'), undefined, 30_000);
    const took = Date.now() - started;
    expect(run.status).toBe('failed');
    expect(run.reason).toMatch(/timed out/);
    expect(run.reason).toContain(`ml-serving/${LLM_API_POD}`);
    // It waited for the budget (at least the timeout) but not much past it.
    expect(took).toBeGreaterThanOrEqual(4000);
    expect(took).toBeLessThan(12_000);
    expect(h.sim.get('pod', 'ml-serving', LLM_API_POD)?.metadata.uid).toBe(pod.metadata.uid);
    expect(h.sim.get('pod', 'ml-serving', LLM_API_POD)?.spec?.['nodeName']).toBe('gpu-node-3');
    expect(evictionsOf(h, 'ml-serving', LLM_API_POD).every((r) => r.status === 429)).toBe(true);
    expect(evictionsOf(h, 'ml-serving', LLM_API_POD).length).toBeGreaterThanOrEqual(1);
    expect(nodeUnschedulable(h, 'gpu-node-3')).toBe(true);
    const text = await metrics(h);
    expect(metricValue(text, 'remediator_actions_total', { playbook: 'drain-gpu-node', action: 'evict', result: 'error' })).toBeGreaterThanOrEqual(1);
    expect(metricValue(text, 'remediator_runs_total', { playbook: 'drain-gpu-node', source: 'alert', status: 'failed' })).toBe(1);
  }, 30_000);
});

describe('drain-gpu-node: the node budget (maxUnschedulableNodes: 1)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ extra: 'guards: { maxUnschedulableNodes: 1 }' });
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('a node already cordoned by someone else uses the budget: the run is blocked, nothing is touched', async () => {
    h.sim.patchObject('node', undefined, 'gpu-node-1', { spec: { unschedulable: true } });
    const runId = await alertFor(h, 'gpu-node-2');
    const run = await h.waitRun(runId);
    expect(run.status).toBe('blocked');
    expect(run.guard?.guard).toBe('node_budget');
    expect(run.reason).toBeTruthy();
    expect(nodeUnschedulable(h, 'gpu-node-2')).toBe(false);
    expect(h.sim.mutations()).toEqual([]);
    const blocks = (await auditEntries(h)).filter((e) => e['type'] === 'guard_blocked');
    expect(blocks).toMatchObject([{ runId, guard: 'node_budget', target: 'node/gpu-node-2' }]);
    const text = await metrics(h);
    expect(metricValue(text, 'remediator_guard_blocks_total', { guard: 'node_budget' })).toBe(1);
  });
});

/** Posts one notification with an alert per GPU node; returns the four finished runs by node. */
async function overheatEverything(h: Harness): Promise<Map<string, Run>> {
  const nodes = ['gpu-node-1', 'gpu-node-2', 'gpu-node-3', 'gpu-node-4'];
  const res = await h.post(overheating(nodes));
  expect(res.status).toBe(200);
  expect(res.body.decisions.map((d: { decision: string }) => d.decision)).toEqual(['enqueued', 'enqueued', 'enqueued', 'enqueued']);
  const runs = new Map<string, Run>();
  for (const d of res.body.decisions as { runId: string }[]) {
    const run = await h.waitRun(d.runId, undefined, 60_000);
    runs.set(run.target.replace(/^node\//, ''), run);
  }
  expect([...runs.keys()].sort()).toEqual(nodes);
  return runs;
}

describe('drain-gpu-node: every GPU node overheating at once (budget 1)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ extra: 'guards: { maxUnschedulableNodes: 1 }' });
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('cordons exactly one node; the other runs are blocked by node_budget', async () => {
    expect(unschedulableNodes(h)).toEqual([]);
    const runs = await overheatEverything(h);
    const cordoned = unschedulableNodes(h);
    expect(cordoned).toHaveLength(1);
    for (const [node, run] of runs) {
      if (node === cordoned[0]) {
        expect(run.status).not.toBe('blocked');
      } else {
        expect(run.status).toBe('blocked');
        expect(run.guard?.guard).toBe('node_budget');
        // A blocked run never reached the node.
        expect(h.sim.requests.filter((r) => r.method !== 'GET' && r.path === `/api/v1/nodes/${node}`)).toEqual([]);
      }
    }
    expect(metricValue(await metrics(h), 'remediator_guard_blocks_total', { guard: 'node_budget' })).toBe(3);
  }, 70_000);
});

describe('drain-gpu-node: the node budget as a percentage ("40%" of 5 nodes)', () => {
  let h: Harness;
  beforeAll(async () => {
    // Two of the four GPU nodes cordoned leave 16 GPUs for the seed's 17 GPU pods: a drain whose
    // evicted pods cannot all fit elsewhere waits out its timeout in the health check, so keep it short.
    h = await startHarness({ extra: 'guards: { maxUnschedulableNodes: "40%" }', rules: DEFAULT_RULES.replace('timeoutSeconds: 60', 'timeoutSeconds: 10') });
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('allows ceil(0.4 * 5) = 2 nodes and blocks the rest', async () => {
    expect(h.sim.list('node')).toHaveLength(5);
    const runs = await overheatEverything(h);
    const cordoned = unschedulableNodes(h);
    expect(cordoned).toHaveLength(2);
    const blocked = [...runs].filter(([, run]) => run.status === 'blocked');
    expect(blocked.map(([node]) => node).sort()).toEqual([...runs.keys()].filter((n) => !cordoned.includes(n)).sort());
    for (const [, run] of blocked) expect(run.guard?.guard).toBe('node_budget');
    expect(metricValue(await metrics(h), 'remediator_guard_blocks_total', { guard: 'node_budget' })).toBe(2);
  }, 70_000);
});
