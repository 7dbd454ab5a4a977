/**
 * Dry runs end to end: the captured notifications are POSTed to the running service in dry-run
 * mode (global, then rule-level shadow mode). Each playbook must send every mutation with
 * dryRun=All (Events and annotations included), record its exact plan, skip every wait, and
 * leave the simulated cluster exactly as it was.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, fixture, DEFAULT_RULES, type Harness } from '../helpers/harness.js';
import { notification } from '../helpers/alerts.js';
import { metricSum, metricValue } from '../helpers/metrics-text.js';
import type { KubeObject } from '../../src/sim/kube-types.js';
import type { Run } from '../../src/domain/run.js';

const OOM_POD = 'llm-api-7d9f8b6c5-x2kqp';

function podsOn(h: Harness, node: string): KubeObject[] {
  return h.sim.list('pod').filter((p) => p.spec?.['nodeName'] === node);
}

function evictable(p: KubeObject): boolean {
  const owner = p.metadata.ownerReferences?.find((o) => o.controller)?.kind;
  return owner !== 'DaemonSet' && p.metadata.annotations?.['kubernetes.io/config.mirror'] === undefined;
}

function evictionPath(p: KubeObject): string {
  return `/api/v1/namespaces/${p.metadata.namespace}/pods/${p.metadata.name}/eviction`;
}

/** What a dry run must not change. */
function snapshot(h: Harness) {
  const node = h.sim.get('node', undefined, 'gpu-node-3')!;
  const deploy = h.sim.get('deployment', 'ml-serving', 'llm-api')!;
  return {
    node: {
      unschedulable: node.spec?.['unschedulable'] ?? false,
      taints: node.spec?.['taints'] ?? [],
      annotations: node.metadata.annotations ?? {},
      resourceVersion: node.metadata.resourceVersion,
    },
    podsOnNode3: podsOn(h, 'gpu-node-3')
      .map((p) => `${p.metadata.namespace}/${p.metadata.name}@${p.metadata.uid}`)
      .sort(),
    llmApi: { replicas: deploy.spec?.['replicas'], annotations: deploy.metadata.annotations ?? {}, resourceVersion: deploy.metadata.resourceVersion },
    oomPod: h.sim.get('pod', 'ml-serving', OOM_POD)?.metadata.uid,
    allPods: h.sim
      .list('pod')
      .map((p) => p.metadata.uid)
      .sort(),
    unschedulableNodes: h.sim.list('node').filter((n) => n.spec?.['unschedulable'] === true).length,
    events: h.sim.list('event').length,
  };
}

function methodPath(x: { method: string; path: string }): string {
  return `${x.method} ${x.path}`;
}

function expectDryRun(run: Run): void {
  expect(run).toMatchObject({ status: 'succeeded', changed: false, dryRun: true });
  expect(run.reason).toMatch(/^dry run/);
  expect(run.steps.length).toBeGreaterThan(0);
  for (const step of run.steps) {
    expect(step.result).toBe('dry_run');
    expect(step.request.dryRun).toBe(true);
    expect(step.request.method).toMatch(/^(POST|PATCH|PUT|DELETE)$/);
    expect(step.request.path).toMatch(/^\/api/);
  }
}

/** The assertions shared by global and rule-level dry runs. */
function dryRunSuite(getH: () => Harness) {
  it('plans each playbook exactly, sends every mutation with dryRun=All and changes nothing', async () => {
    const h = getH();
    const before = snapshot(h);
    const drainPods = podsOn(h, 'gpu-node-3').filter(evictable);
    expect(drainPods.length).toBeGreaterThanOrEqual(3);

    const ids: Record<string, string> = {};
    for (const name of ['firing-kube-pod-oom-killed', 'firing-llm-high-latency-p95', 'firing-gpu-node-overheating']) {
      const res = await h.post(fixture(name).body);
      expect(res.status).toBe(200);
      expect(res.body.decisions).toMatchObject([{ decision: 'enqueued' }]);
      ids[name] = res.body.decisions[0].runId;
    }
    const oom = await h.waitRun(ids['firing-kube-pod-oom-killed']!);
    const scale = await h.waitRun(ids['firing-llm-high-latency-p95']!);
    const drain = await h.waitRun(ids['firing-gpu-node-overheating']!);
    for (const run of [oom, scale, drain]) expectDryRun(run);

    // restart-oom-pod: evict the pod, an Event on it, the annotation on its Deployment.
    expect(oom.playbook).toBe('restart-oom-pod');
    expect(oom.steps.filter((s) => s.action === 'evict').map((s) => methodPath(s.request))).toEqual([
      `POST /api/v1/namespaces/ml-serving/pods/${OOM_POD}/eviction`,
    ]);
    expect(oom.steps.filter((s) => s.action === 'annotate').map((s) => methodPath(s.request))).toEqual([
      'PATCH /apis/apps/v1/namespaces/ml-serving/deployments/llm-api',
    ]);
    expect(oom.steps.some((s) => s.action === 'event' && s.request.method === 'POST' && s.request.path === '/api/v1/namespaces/ml-serving/events')).toBe(true);
    expect(oom.reason).toMatch(/would evict/);

    // scale-replicas: llm-api 2 -> 3 through the scale subresource.
    expect(scale.playbook).toBe('scale-replicas');
    const scaleSteps = scale.steps.filter((s) => s.action === 'scale');
    expect(scaleSteps.map((s) => methodPath(s.request))).toEqual(['PATCH /apis/apps/v1/namespaces/ml-serving/deployments/llm-api/scale']);
    expect(scaleSteps[0]!.request.body).toMatchObject({ spec: { replicas: 3 } });
    expect(scale.reason).toMatch(/would scale .* from 2 to 3/);

    // drain-gpu-node: cordon, one eviction per evictable pod (none for DaemonSet/mirror pods), the annotation.
    expect(drain.playbook).toBe('drain-gpu-node');
    expect(drain.steps.filter((s) => s.action === 'cordon').map((s) => methodPath(s.request))).toEqual(['PATCH /api/v1/nodes/gpu-node-3']);
    expect(drain.steps.find((s) => s.action === 'cordon')!.request.body).toMatchObject({ spec: { unschedulable: true } });
    expect(
      drain.steps
        .filter((s) => s.action === 'evict')
        .map((s) => s.request.path)
        .sort(),
    ).toEqual(drainPods.map(evictionPath).sort());
    expect(drain.steps.filter((s) => s.action === 'annotate').map((s) => methodPath(s.request))).toEqual(['PATCH /api/v1/nodes/gpu-node-3']);
    expect(drain.steps.filter((s) => s.action === 'event').length).toBeGreaterThanOrEqual(2);

    // The recorded plan is exactly what reached the cluster: every non-GET request was a planned
    // step, every one dry (dryRun=All), and none was a pod DELETE.
    const mutations = h.sim.mutations();
    expect(mutations.map(methodPath).sort()).toEqual([...oom.steps, ...scale.steps, ...drain.steps].map((s) => methodPath(s.request)).sort());
    for (const r of mutations) {
      expect(r.dryRun, `${r.method} ${r.path}`).toBe(true);
      expect(r.status, `${r.method} ${r.path}`).toBeLessThan(300);
    }
    expect(mutations.some((r) => r.path.endsWith('/events'))).toBe(true);
    expect(mutations.some((r) => r.method === 'PATCH' && r.path === '/api/v1/nodes/gpu-node-3' && JSON.stringify(r.body).includes('remediator.dev/last-action'))).toBe(true);

    // Nothing persisted.
    expect(snapshot(h)).toEqual(before);

    // The audit log records each mutation as dry.
    const audited = (await h.main.audit.read({ count: 100_000 }))
      .map((r) => r.entry as unknown as Record<string, unknown>)
      .filter((e) => e['type'] === 'kube_mutation');
    expect(audited.length).toBe(mutations.length);
    for (const e of audited) expect(e).toMatchObject({ dryRun: true, result: 'dry_run' });

    const text = (await h.get('/metrics')).text;
    expect(metricValue(text, 'remediator_actions_total', { playbook: 'restart-oom-pod', action: 'evict', result: 'dry_run' })).toBe(1);
    expect(metricValue(text, 'remediator_actions_total', { playbook: 'scale-replicas', action: 'scale', result: 'dry_run' })).toBe(1);
    expect(metricValue(text, 'remediator_actions_total', { playbook: 'drain-gpu-node', action: 'cordon', result: 'dry_run' })).toBe(1);
    expect(metricValue(text, 'remediator_actions_total', { playbook: 'drain-gpu-node', action: 'evict', result: 'dry_run' })).toBe(drainPods.length);
    expect(metricSum(text, 'remediator_actions_total', { result: 'ok' })).toBe(0);
  }, 30_000);

  it('skips every wait: a drain whose PodDisruptionBudget refuses finishes at once, without retrying', async () => {
    const h = getH();
    h.sim.setPdbMaxUnavailable('ml-serving', 'llm-inference-pdb', 0);
    // Wherever the simulated scheduler put an llm-inference pod (the first test drained gpu-node-3 only in dry run).
    const node = ['gpu-node-1', 'gpu-node-2', 'gpu-node-4'].find((n) => podsOn(h, n).some((p) => p.metadata.labels?.['app.kubernetes.io/name'] === 'llm-inference'));
    expect(node).toBeDefined();
    const blockedPod = podsOn(h, node!).find((p) => p.metadata.labels?.['app.kubernetes.io/name'] === 'llm-inference');
    const uids = h.sim.list('pod').map((p) => p.metadata.uid).sort();
    const mutationsBefore = h.sim.mutations().length;

    const started = Date.now();
    const res = await h.post(notification([{ labels: { alertname: 'GPUNodeOverheating', node: node!, severity: 'critical' } }]));
    expect(res.body.decisions).toMatchObject([{ decision: 'enqueued' }]);
    const run = await h.waitRun(res.body.decisions[0].runId, undefined, 20_000);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(run).toMatchObject({ status: 'succeeded', changed: false, dryRun: true });
    expect(run.reason).toMatch(/^dry run/);
    expect(run.reason).toMatch(/PodDisruptionBudget/);
    expect(run.reason).toContain(blockedPod!.metadata.name);

    // One try for the refused pod (a real drain would retry every 5 s), dry like everything else.
    const attempts = h.sim.requests.filter((r) => r.method === 'POST' && r.path === evictionPath(blockedPod!));
    expect(attempts).toHaveLength(1);
    expect(attempts[0]).toMatchObject({ status: 429, dryRun: true });
    const mutations = h.sim.mutations().slice(mutationsBefore);
    expect(mutations.length).toBeGreaterThan(0);
    for (const r of mutations) expect(r.dryRun, `${r.method} ${r.path}`).toBe(true);
    for (const step of run.steps) expect(step.request.dryRun).toBe(true);
    expect(h.sim.get('node', undefined, node!)?.spec?.['unschedulable']).toBeFalsy();
    expect(h.sim.list('pod').map((p) => p.metadata.uid).sort()).toEqual(uids);
    expect(metricSum((await h.get('/metrics')).text, 'remediator_actions_total', { result: 'ok' })).toBe(0);
  }, 30_000);
}

describe('dry run: global dryRun: true', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ extra: 'dryRun: true' });
  });
  afterAll(async () => {
    await h?.stop();
  });
  dryRunSuite(() => h);
});

/** DEFAULT_RULES, each in shadow mode, after one real rule for llm-inference. */
const SHADOW_RULES = `
rules:
  - name: scale-llm-inference-for-real
    matchers: ['alertname="LLMHighLatencyP95"', 'deployment="llm-inference"']
    playbook: scale-replicas
    params: { maxReplicas: 6 }
${DEFAULT_RULES.replace(/^rules:\n/m, '').replace(/^( {4}playbook: .*)$/gm, '$1\n    dryRun: true')}`;

describe('dry run: rule-level dryRun: true (shadow mode) with global dryRun: false', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ extra: 'dryRun: false', rules: SHADOW_RULES });
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('the loaded config is global false, the three fixture rules in shadow mode', () => {
    expect(h.config.dryRun).toBe(false);
    expect(h.config.rules.map((r) => [r.name, r.dryRun])).toEqual([
      ['scale-llm-inference-for-real', false],
      ['drain-overheated-gpu-nodes', true],
      ['restart-oom-killed-pods', true],
      ['scale-slow-llm', true],
    ]);
  });

  dryRunSuite(() => h);

  it('a rule without dryRun in the same process still acts for real', async () => {
    const mutationsBefore = h.sim.mutations().length;
    const res = await h.post(notification([{ labels: { alertname: 'LLMHighLatencyP95', namespace: 'ml-serving', deployment: 'llm-inference', severity: 'warning' } }]));
    expect(res.body.decisions).toMatchObject([{ rule: 'scale-llm-inference-for-real', decision: 'enqueued' }]);
    const run = await h.waitRun(res.body.decisions[0].runId);
    expect(run).toMatchObject({ status: 'succeeded', changed: true, dryRun: false });
    expect(h.sim.get('deployment', 'ml-serving', 'llm-inference')?.spec?.['replicas']).toBe(4);
    const scalePatch = h.sim
      .mutations()
      .slice(mutationsBefore)
      .filter((r) => r.path === '/apis/apps/v1/namespaces/ml-serving/deployments/llm-inference/scale');
    expect(scalePatch).toMatchObject([{ method: 'PATCH', dryRun: false }]);
  });
});
