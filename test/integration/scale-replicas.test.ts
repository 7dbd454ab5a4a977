/**
 * scale-replicas end to end: an Alertmanager notification reaches the running service, a rule
 * picks the playbook, the worker scales through the scale subresource of the simulated cluster,
 * and the test checks the sim's record of requests and its state.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, fixture, poll, type Harness } from '../helpers/harness.js';
import { notification } from '../helpers/alerts.js';
import type { SimRequestRecord } from '../../src/sim/sim-server.js';

const LAST_ACTION = 'remediator.dev/last-action';

// Scenario rules come first (first match decides); the catch-alls serve the captured fixture
// and the StatefulSet alert.
const RULES = `
rules:
  - name: scale-absolute
    matchers: ['scenario="absolute"']
    playbook: scale-replicas
    params: { replicas: 5, maxReplicas: 8 }
  - name: scale-clamped
    matchers: ['scenario="clamped"']
    playbook: scale-replicas
    params: { step: 10, maxReplicas: 4 }
  - name: scale-conflict
    matchers: ['scenario="conflict"']
    playbook: scale-replicas
    params: { step: 1, maxReplicas: 30 }
  - name: scale-saturated
    matchers: ['alertname="LLMRequestSaturation"']
    playbook: scale-replicas
    params: { maxReplicas: 5 }
  - name: scale-slow-llm
    matchers: ['alertname="LLMHighLatencyP95"']
    playbook: scale-replicas
    params: { maxReplicas: 6 }
`;

/* eslint-disable @typescript-eslint/no-explicit-any */
type Obj = any;

const NS = 'default';

async function createDeployment(h: Harness, name: string, replicas: number): Promise<void> {
  const res = await fetch(`${h.sim.url}/apis/apps/v1/namespaces/${NS}/deployments`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, namespace: NS, labels: { 'app.kubernetes.io/name': name } },
      spec: {
        replicas,
        selector: { matchLabels: { 'app.kubernetes.io/name': name } },
        template: {
          metadata: { labels: { 'app.kubernetes.io/name': name } },
          spec: { containers: [{ name: 'web', image: 'nginx:1.27', resources: { requests: { cpu: '10m', memory: '16Mi' } } }] },
        },
      },
    }),
  });
  expect(res.status).toBe(201);
  // The sim's pods turn Ready on a timer, and each status write bumps the Deployment's
  // resourceVersion; wait for that to settle so a conflict test sees only the conflict it causes.
  await poll(
    async () => ((h.sim.get('deployment', NS, name) as Obj).status?.readyReplicas === replicas ? true : undefined),
    10_000,
    `${name} ready`,
  );
}

function replicasOf(h: Harness, kind: 'deployment' | 'statefulset', namespace: string, name: string): number {
  return (h.sim.get(kind, namespace, name) as Obj).spec.replicas as number;
}

function scalePath(namespace: string, name: string, plural = 'deployments'): string {
  return `/apis/apps/v1/namespaces/${namespace}/${plural}/${name}/scale`;
}

function scaleRequests(h: Harness, path: string, from = 0): SimRequestRecord[] {
  return h.sim.requests.slice(from).filter((r) => r.path === path);
}

function mutationsSince(h: Harness, from: number): SimRequestRecord[] {
  return h.sim.requests.slice(from).filter((r) => r.method !== 'GET');
}

function latency(labels: Record<string, string>, startsAt?: string) {
  return { labels: { alertname: 'LLMHighLatencyP95', severity: 'warning', ...labels }, ...(startsAt ? { startsAt } : {}) };
}

async function postOne(h: Harness, alert: ReturnType<typeof latency>): Promise<string> {
  const res = await h.post(notification([alert]));
  expect(res.status).toBe(200);
  expect(res.body.decisions).toMatchObject([{ decision: 'enqueued' }]);
  return res.body.decisions[0].runId as string;
}

/**
 * Matches the playbook's read of the scale right before its PATCH: the first GET of `path` after
 * the last-action stamp (a PATCH of the Deployment), which goes before the scale.
 */
function readAfterStamp(path: string): (r: SimRequestRecord) => boolean {
  const workload = path.replace(/\/scale$/, '');
  let stamped = false;
  return (r) => {
    if (r.method === 'PATCH' && r.path === workload) stamped = true;
    return stamped && r.method === 'GET' && r.path === path;
  };
}

/** Every 409 on the scale path is followed by a successful re-read (GET) before the next PATCH. */
function expectRereadAfterConflict(requests: SimRequestRecord[]): void {
  for (let i = 0; i < requests.length; i++) {
    if (requests[i]!.method !== 'PATCH' || requests[i]!.status !== 409) continue;
    const next = requests.slice(i + 1).find((r) => r.method === 'GET' || r.method === 'PATCH');
    if (next === undefined) continue; // gave up or noop without a further write: nothing to check
    expect({ method: next.method, status: next.status }).toEqual({ method: 'GET', status: 200 });
  }
}

/**
 * A concurrent writer that wins the race deterministically: right after the sim has sent its
 * response to the first matching request (the playbook's read of the scale), `write` changes the
 * object, so the resourceVersion the playbook holds is stale when its PATCH arrives. The sim has
 * no fault-injection hook, so this hooks the request record's status, which the sim sets right
 * after the response is written.
 */
function afterFirstResponse(h: Harness, match: (r: SimRequestRecord) => boolean, write: () => void): () => void {
  const requests = h.sim.requests;
  const push = requests.push;
  let fired = false;
  requests.push = function (this: SimRequestRecord[], ...records: SimRequestRecord[]): number {
    for (const record of records) {
      if (fired || !match(record)) continue;
      let status = record.status;
      Object.defineProperty(record, 'status', {
        configurable: true,
        enumerable: true,
        get: () => status,
        set: (value: number) => {
          status = value;
          if (!fired && value >= 200 && value < 300) {
            fired = true;
            write();
          }
        },
      });
    }
    return push.apply(this, records);
  };
  return () => {
    requests.push = push;
    expect(fired).toBe(true);
  };
}

describe('scale-replicas through the webhook', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ rules: RULES });
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('steps the Deployment named by the alert labels by 1 with a merge patch carrying the resourceVersion', async () => {
    const path = scalePath('ml-serving', 'llm-api');
    const initial = replicasOf(h, 'deployment', 'ml-serving', 'llm-api');
    const from = h.sim.requests.length;
    const res = await h.post(fixture('firing-llm-high-latency-p95').body);
    expect(res.body.decisions).toMatchObject([{ rule: 'scale-slow-llm', decision: 'enqueued' }]);
    const runId = res.body.decisions[0].runId as string;
    const run = await h.waitRun(runId);
    expect(run).toMatchObject({ status: 'succeeded', changed: true, playbook: 'scale-replicas', target: 'deployment/ml-serving/llm-api' });
    expect(run.params).toMatchObject({ namespace: 'ml-serving', kind: 'Deployment', name: 'llm-api', maxReplicas: 6 });
    expect(replicasOf(h, 'deployment', 'ml-serving', 'llm-api')).toBe(initial + 1);

    const reqs = scaleRequests(h, path, from);
    const patches = reqs.filter((r) => r.method === 'PATCH');
    expect(patches).toHaveLength(1);
    const patch = patches[0]!;
    expect(patch.status).toBe(200);
    expect(patch.dryRun).toBe(false);
    expect(patch.contentType?.split(';')[0]).toBe('application/merge-patch+json');
    const body = patch.body as Obj;
    expect(body.spec.replicas).toBe(initial + 1);
    expect(typeof body.metadata.resourceVersion).toBe('string');
    expect(body.metadata.resourceVersion.length).toBeGreaterThan(0);
    // Read before written.
    expect(reqs.findIndex((r) => r.method === 'GET')).toBeLessThan(reqs.indexOf(patch));

    const deployment = h.sim.get('deployment', 'ml-serving', 'llm-api') as Obj;
    expect(JSON.parse(deployment.metadata.annotations[LAST_ACTION])).toMatchObject({ playbook: 'scale-replicas', runId, rule: 'scale-slow-llm' });
    const events = h.sim.list('event', 'ml-serving').filter((e: Obj) => e.reason === 'RemediationScale' && e.involvedObject?.name === 'llm-api');
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ reportingComponent: 'remediator', involvedObject: { kind: 'Deployment' } });
  });

  it('scales to an absolute count', async () => {
    await createDeployment(h, 'web-absolute', 2);
    const from = h.sim.requests.length;
    const run = await h.waitRun(await postOne(h, latency({ namespace: NS, deployment: 'web-absolute', scenario: 'absolute' })));
    expect(run).toMatchObject({ status: 'succeeded', changed: true });
    expect(replicasOf(h, 'deployment', NS, 'web-absolute')).toBe(5);
    const patches = scaleRequests(h, scalePath(NS, 'web-absolute'), from).filter((r) => r.method === 'PATCH');
    expect(patches.map((p) => [(p.body as Obj).spec.replicas, p.status])).toEqual([[5, 200]]);
  });

  it('clamps a step at maxReplicas, then is a noop without any PATCH once there', async () => {
    await createDeployment(h, 'web-clamped', 2);
    const path = scalePath(NS, 'web-clamped');
    const labels = { namespace: NS, deployment: 'web-clamped', scenario: 'clamped' };
    let from = h.sim.requests.length;
    const first = await h.waitRun(await postOne(h, latency(labels)));
    expect(first).toMatchObject({ status: 'succeeded', changed: true });
    expect(replicasOf(h, 'deployment', NS, 'web-clamped')).toBe(4);
    expect(scaleRequests(h, path, from).filter((r) => r.method === 'PATCH').map((p) => (p.body as Obj).spec.replicas)).toEqual([4]);

    // A new episode of the same alert: already at max.
    from = h.sim.requests.length;
    const second = await h.waitRun(await postOne(h, latency(labels, '2026-11-29T02:00:00.000Z')));
    expect(second).toMatchObject({ status: 'succeeded', changed: false });
    expect(second.reason).toMatch(/4/);
    expect(mutationsSince(h, from)).toEqual([]);
    expect(scaleRequests(h, path, from).some((r) => r.method === 'GET')).toBe(true);
    expect(replicasOf(h, 'deployment', NS, 'web-clamped')).toBe(4);
  });

  it('skips a workload targeted by an HPA, without any PATCH', async () => {
    await createDeployment(h, 'web-hpa', 2);
    const hpa = await fetch(`${h.sim.url}/apis/autoscaling/v2/namespaces/${NS}/horizontalpodautoscalers`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        apiVersion: 'autoscaling/v2',
        kind: 'HorizontalPodAutoscaler',
        metadata: { name: 'web-hpa-autoscaler', namespace: NS },
        spec: {
          scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web-hpa' },
          minReplicas: 2,
          maxReplicas: 10,
          metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } }],
        },
      }),
    });
    expect(hpa.status).toBe(201);
    const from = h.sim.requests.length;
    const run = await h.waitRun(await postOne(h, latency({ namespace: NS, deployment: 'web-hpa' })));
    expect(run.status).toBe('skipped');
    expect(run.reason).toMatch(/HPA/);
    expect(run.reason).toContain('web-hpa-autoscaler');
    expect(mutationsSince(h, from)).toEqual([]);
    expect(replicasOf(h, 'deployment', NS, 'web-hpa')).toBe(2);
  });

  it('on a 409 re-reads the scale and patches with the fresh resourceVersion', async () => {
    await createDeployment(h, 'web-conflict', 2);
    const path = scalePath(NS, 'web-conflict');
    const from = h.sim.requests.length;
    // The concurrent writer only touches an annotation: same replicas, new resourceVersion.
    const restore = afterFirstResponse(
      h,
      readAfterStamp(path),
      () => h.sim.patchObject('deployment', NS, 'web-conflict', { metadata: { annotations: { 'example.com/touched': 'yes' } } }),
    );
    let run;
    try {
      run = await h.waitRun(await postOne(h, latency({ namespace: NS, deployment: 'web-conflict', scenario: 'conflict' })));
    } finally {
      restore();
    }
    // Handled inside the playbook (one attempt), not by a queue retry of the whole job.
    expect(run).toMatchObject({ status: 'succeeded', changed: true, attempts: 1 });
    expect(replicasOf(h, 'deployment', NS, 'web-conflict')).toBe(3);
    const reqs = scaleRequests(h, path, from);
    // (The engine also reads the scale right before each PATCH, for the step's `before` snapshot.)
    const patches = reqs.filter((r) => r.method === 'PATCH');
    expect(patches.map((r) => r.status)).toEqual([409, 200]);
    const [stale, fresh] = patches as [SimRequestRecord, SimRequestRecord];
    expect(reqs.slice(reqs.indexOf(stale), reqs.indexOf(fresh)).some((r) => r.method === 'GET' && r.status === 200)).toBe(true);
    expect((fresh.body as Obj).metadata.resourceVersion).not.toBe((stale.body as Obj).metadata.resourceVersion);
    expect((fresh.body as Obj).spec.replicas).toBe(3);
    expectRereadAfterConflict(reqs);
  });

  it('on a 409 after a concurrent scale-up beyond its target, never moves replicas back down', async () => {
    await createDeployment(h, 'web-race', 2);
    const path = scalePath(NS, 'web-race');
    const from = h.sim.requests.length;
    const restore = afterFirstResponse(
      h,
      readAfterStamp(path),
      () => h.sim.patchObject('deployment', NS, 'web-race', { spec: { replicas: 6 } }),
    );
    let run;
    try {
      run = await h.waitRun(await postOne(h, latency({ namespace: NS, deployment: 'web-race', scenario: 'conflict' })));
    } finally {
      restore();
    }
    expect(run).toMatchObject({ status: 'succeeded', changed: false, attempts: 1 });
    expect(run.reason).toMatch(/6/);
    expect(replicasOf(h, 'deployment', NS, 'web-race')).toBe(6);
    const reqs = scaleRequests(h, path, from);
    const patches = reqs.filter((r) => r.method === 'PATCH');
    expect(patches.map((r) => r.status)).toEqual([409]);
    expect((patches[0]!.body as Obj).spec.replicas).toBe(3);
    // The conflict was followed by a re-read, which found 6 and stopped.
    expect(reqs.slice(reqs.indexOf(patches[0]!) + 1).some((r) => r.method === 'GET' && r.status === 200)).toBe(true);
    expectRereadAfterConflict(reqs);
    // The only write that reached the Deployment is the last-action stamp, which went before the
    // scale (the cooldown counts from the decision); none came after the conflict.
    const applied = mutationsSince(h, from).filter((r) => r.status < 300);
    expect(applied.map((r) => `${r.method} ${r.path}`)).toEqual([`PATCH ${path.replace(/\/scale$/, '')}`]);
    expect(h.sim.requests.indexOf(applied[0]!)).toBeLessThan(h.sim.requests.indexOf(patches[0]!));
  });

  it('with a writer scaling up in parallel, replicas never fall below what the writer set', async () => {
    // Not deterministic by design (the interleaving varies); the invariants hold for every one.
    await createDeployment(h, 'web-parallel', 2);
    const path = scalePath(NS, 'web-parallel');
    const from = h.sim.requests.length;
    let writerValue = 2;
    let stop = false;
    const history: number[] = [];
    const writer = (async () => {
      while (!stop && writerValue < 25) {
        writerValue += 1;
        h.sim.patchObject('deployment', NS, 'web-parallel', { spec: { replicas: writerValue } });
        await new Promise((r) => setTimeout(r, 3));
      }
    })();
    const sampler = setInterval(() => history.push(replicasOf(h, 'deployment', NS, 'web-parallel')), 1);
    let run;
    try {
      run = await h.waitRun(await postOne(h, latency({ namespace: NS, deployment: 'web-parallel', scenario: 'conflict' })));
    } finally {
      stop = true;
      await writer;
      clearInterval(sampler);
    }
    expect(run.status).toBe('succeeded');
    history.push(replicasOf(h, 'deployment', NS, 'web-parallel'));
    for (let i = 1; i < history.length; i++) expect(history[i]!).toBeGreaterThanOrEqual(history[i - 1]!);
    expect(replicasOf(h, 'deployment', NS, 'web-parallel')).toBeGreaterThanOrEqual(writerValue);
    const reqs = scaleRequests(h, path, from);
    expectRereadAfterConflict(reqs);
    // Every successful PATCH moved replicas up (never below the value it read).
    for (const p of reqs.filter((r) => r.method === 'PATCH' && r.status === 200)) expect((p.body as Obj).spec.replicas).toBeGreaterThan(2);
  });

  it('scales a StatefulSet named by the statefulset label', async () => {
    const initial = replicasOf(h, 'statefulset', 'ml-training', 'trainer');
    const from = h.sim.requests.length;
    const res = await h.post(
      notification([{ labels: { alertname: 'LLMRequestSaturation', namespace: 'ml-training', statefulset: 'trainer', severity: 'warning' } }]),
    );
    expect(res.body.decisions).toMatchObject([{ rule: 'scale-saturated', decision: 'enqueued' }]);
    const run = await h.waitRun(res.body.decisions[0].runId);
    expect(run).toMatchObject({ status: 'succeeded', changed: true, target: 'statefulset/ml-training/trainer' });
    expect(run.params).toMatchObject({ kind: 'StatefulSet', name: 'trainer', namespace: 'ml-training' });
    expect(replicasOf(h, 'statefulset', 'ml-training', 'trainer')).toBe(initial + 1);
    const patches = scaleRequests(h, scalePath('ml-training', 'trainer', 'statefulsets'), from).filter((r) => r.method === 'PATCH');
    expect(patches).toHaveLength(1);
    expect(patches[0]!.contentType?.split(';')[0]).toBe('application/merge-patch+json');
    expect((patches[0]!.body as Obj).spec.replicas).toBe(initial + 1);
    expect(h.sim.requests.slice(from).some((r) => r.path.includes('/deployments/trainer'))).toBe(false);
    // The StatefulSet controller follows: a new ordinal pod appears.
    await poll(async () => (h.sim.get('pod', 'ml-training', `trainer-${initial}`) ? true : undefined), 5_000, `pod trainer-${initial}`);
  });
});
