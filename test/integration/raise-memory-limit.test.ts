/**
 * raise-memory-limit end to end against the simulated cluster over HTTP: an OOM alert reaches
 * the running service, the worker resolves the pod's Deployment, raises the container's limit
 * 1.5× with one strategic-merge patch (resourceVersion precondition) and waits for the rollout
 * the sim's controllers carry out; manual runs cover a StatefulSet, a dry run, a conflict with a
 * concurrent writer (retried toward the recorded limit) and a rollout that never completes. The
 * adapter's 409/422/dry-run behaviour is checked on the same server.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, TOKENS, type Harness } from '../helpers/harness.js';
import { notification } from '../helpers/alerts.js';
import { kube, kubeConfigFor, pollUntil } from '../helpers/sim-helpers.js';
import { ClientNodeCluster } from '../../src/kube/client-node-cluster.js';
import { KubeApiError } from '../../src/domain/errors.js';
import type { KubeObject } from '../../src/sim/kube-types.js';
import type { Run } from '../../src/domain/run.js';
import type { SimRequestRecord } from '../../src/sim/sim-server.js';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Obj = any;

const NS = 'default';
const LAST_ACTION = 'remediator.dev/last-action';

const RULES = `
rules:
  - name: raise-memory-on-oom
    matchers: ['alertname="KubePodOOMKilled"']
    playbook: raise-memory-limit
    params: { maxLimit: 1Gi, timeoutSeconds: 20 }
`;

interface WorkloadSpec {
  kind: 'Deployment' | 'StatefulSet';
  name: string;
  replicas: number;
  limit: string;
  request?: string;
  annotations?: Record<string, string>;
}

async function createWorkload(h: Harness, w: WorkloadSpec): Promise<void> {
  const plural = w.kind === 'Deployment' ? 'deployments' : 'statefulsets';
  const labels = { app: w.name };
  const resources = { limits: { memory: w.limit }, requests: { cpu: '10m', ...(w.request ? { memory: w.request } : {}) } };
  const res = await fetch(`${h.sim.url}/apis/apps/v1/namespaces/${NS}/${plural}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      apiVersion: 'apps/v1',
      kind: w.kind,
      metadata: { name: w.name, namespace: NS, labels },
      spec: {
        replicas: w.replicas,
        selector: { matchLabels: labels },
        ...(w.kind === 'StatefulSet' ? { serviceName: w.name } : {}),
        template: {
          metadata: { labels, ...(w.annotations ? { annotations: w.annotations } : {}) },
          spec: { containers: [{ name: 'app', image: 'busybox:1.36', resources }] },
        },
      },
    }),
  });
  expect(res.status).toBe(201);
}

function podsOf(h: Harness, app: string): KubeObject[] {
  return h.sim.list('Pod', NS).filter((p) => p.metadata.labels?.['app'] === app && !p.metadata.deletionTimestamp);
}

function isReady(pod: KubeObject): boolean {
  return ((pod.status?.['conditions'] as { type: string; status: string }[] | undefined) ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

function memoryOf(obj: Obj, template = true): { limit?: string; request?: string } {
  const spec = template ? obj.spec.template.spec : obj.spec;
  const resources = spec.containers[0].resources ?? {};
  return { limit: resources.limits?.memory, request: resources.requests?.memory };
}

function readyPods(h: Harness, app: string, count: number): Promise<KubeObject[]> {
  return pollUntil(() => {
    const pods = podsOf(h, app);
    return pods.length === count && pods.every(isReady) ? pods : undefined;
  }, `${count} Ready pods of ${app}`);
}

function patchesOf(h: Harness, plural: string, name: string): SimRequestRecord[] {
  return h.sim.requests.filter((r) => r.method === 'PATCH' && r.path === `/apis/apps/v1/namespaces/${NS}/${plural}/${name}`);
}

async function manualRun(h: Harness, params: Record<string, unknown>, dryRun = false): Promise<Run> {
  const res = await h.call('/api/v1/runs', TOKENS.operator, { playbook: 'raise-memory-limit', params, reason: 'integration test', ...(dryRun ? { dryRun: true } : {}) });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  return h.waitRun(res.body.id as string, undefined, 30_000);
}

describe('raise-memory-limit against the simulated cluster', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({ rules: RULES });
  });

  afterAll(() => h?.stop());

  it('an OOM alert raises the Deployment’s limit 1.5× in one strategic-merge patch, and the run succeeds once the rollout is complete', async () => {
    await createWorkload(h, { kind: 'Deployment', name: 'leaky', replicas: 2, limit: '64Mi', request: '32Mi' });
    const before = await readyPods(h, 'leaky', 2);
    const deployment = h.sim.get('Deployment', NS, 'leaky') as Obj;
    const oldReplicaSets = h.sim.list('ReplicaSet', NS).filter((rs) => rs.metadata.labels?.['app'] === 'leaky');
    expect(oldReplicaSets).toHaveLength(1);

    const res = await h.post(notification([{ labels: { alertname: 'KubePodOOMKilled', namespace: NS, pod: before[0]!.metadata.name!, container: 'app', reason: 'OOMKilled' } }]));
    expect(res.status).toBe(200);
    expect(res.body.decisions).toMatchObject([{ decision: 'enqueued' }]);
    const run = await h.waitRun(res.body.decisions[0].runId as string, undefined, 30_000);

    const target = `deployment/${NS}/leaky`;
    expect(run.status, run.reason).toBe('succeeded');
    expect(run.changed).toBe(true);
    expect(run.target).toBe(target);
    expect(run.reason).toBe(`raised the memory limit of container app of ${target} from 64Mi to 96Mi; ${target}: rollout complete, 2/2 updated and available`);
    expect(run.health).toMatchObject({ result: 'healthy', detail: `${target}: rollout complete, 2/2 updated and available` });

    // The template: the limit raised, the request left, the generation bumped once.
    const after = h.sim.get('Deployment', NS, 'leaky') as Obj;
    expect(memoryOf(after)).toEqual({ limit: '96Mi', request: '32Mi' });
    expect(after.metadata.generation).toBe(deployment.metadata.generation + 1);
    expect(after.status.observedGeneration).toBe(after.metadata.generation);
    expect(JSON.parse(after.metadata.annotations[LAST_ACTION])).toMatchObject({ playbook: 'raise-memory-limit', runId: run.id });

    // The rollout: a new ReplicaSet (new pod-template-hash) with every pod on the new limit and Ready; the old one at 0.
    const pods = podsOf(h, 'leaky');
    expect(pods).toHaveLength(2);
    expect(pods.every(isReady)).toBe(true);
    expect(pods.map((p) => memoryOf(p, false).limit)).toEqual(['96Mi', '96Mi']);
    expect(pods.some((p) => before.some((b) => b.metadata.uid === p.metadata.uid))).toBe(false);
    const replicaSets = h.sim.list('ReplicaSet', NS).filter((rs) => rs.metadata.labels?.['app'] === 'leaky') as Obj[];
    expect(replicaSets).toHaveLength(2);
    const old = replicaSets.find((rs) => rs.metadata.uid === oldReplicaSets[0]!.metadata.uid);
    const current = replicaSets.find((rs) => rs.metadata.uid !== oldReplicaSets[0]!.metadata.uid);
    expect(old.spec.replicas).toBe(0);
    expect(current.metadata.labels['pod-template-hash']).not.toBe(old.metadata.labels['pod-template-hash']);
    expect(pods.every((p) => p.metadata.labels?.['pod-template-hash'] === current.metadata.labels['pod-template-hash'])).toBe(true);

    // The request on the wire: a strategic merge patch of the one container, conditional on the
    // resourceVersion read, carrying the last-action stamp (one request: both land or neither).
    const patches = patchesOf(h, 'deployments', 'leaky');
    expect(patches).toHaveLength(1);
    expect(patches[0]).toMatchObject({ contentType: 'application/strategic-merge-patch+json', dryRun: false, status: 200 });
    expect(patches[0]!.body).toEqual({
      metadata: { resourceVersion: expect.any(String), annotations: { [LAST_ACTION]: after.metadata.annotations[LAST_ACTION] } },
      spec: { template: { spec: { containers: [{ name: 'app', resources: { limits: { memory: '96Mi' } } }] } } },
    });

    const events = h.sim.list('Event', NS).filter((e: Obj) => e.reason === 'RemediationMemoryLimit') as Obj[];
    expect(events).toHaveLength(1);
    expect(events[0].involvedObject).toMatchObject({ kind: 'Deployment', name: 'leaky', uid: after.metadata.uid });
    expect(events[0].message).toBe(`raised the memory limit of container app of ${target} from 64Mi to 96Mi`);
  });

  it('a StatefulSet’s pods are replaced one by one with the new template, and the run succeeds once all are updated', async () => {
    await createWorkload(h, { kind: 'StatefulSet', name: 'cache', replicas: 2, limit: '1Gi' });
    const before = await readyPods(h, 'cache', 2);

    const run = await manualRun(h, { namespace: NS, kind: 'StatefulSet', name: 'cache', maxLimit: '4Gi', timeoutSeconds: 20 });

    expect(run.status, run.reason).toBe('succeeded');
    expect(run.health).toMatchObject({ result: 'healthy', detail: `statefulset/${NS}/cache: rollout complete, 2/2 updated and available` });
    const sts = h.sim.get('StatefulSet', NS, 'cache') as Obj;
    expect(memoryOf(sts).limit).toBe('1536Mi');
    expect(sts.status.currentRevision).toBe(sts.status.updateRevision);
    const pods = podsOf(h, 'cache');
    expect(pods.map((p) => p.metadata.name).sort()).toEqual(['cache-0', 'cache-1']);
    expect(pods.every((p) => isReady(p) && memoryOf(p, false).limit === '1536Mi' && p.metadata.labels?.['controller-revision-hash'] === sts.status.updateRevision)).toBe(true);
    expect(pods.some((p) => before.some((b) => b.metadata.uid === p.metadata.uid))).toBe(false);
  });

  it('the sim rolls a StatefulSet like its controller: highest ordinal first, the next once that one is Ready', async () => {
    await createWorkload(h, { kind: 'StatefulSet', name: 'ordered', replicas: 2, limit: '64Mi' });
    const before = await readyPods(h, 'ordered', 2);
    const oldRevision = (h.sim.get('StatefulSet', NS, 'ordered') as Obj).status.updateRevision as string;
    const res = await kube(h.sim, 'PATCH', `/apis/apps/v1/namespaces/${NS}/statefulsets/ordered`, {
      body: { spec: { template: { spec: { containers: [{ name: 'app', resources: { limits: { memory: '96Mi' } } }] } } } },
      contentType: 'application/strategic-merge-patch+json',
    });
    expect(res.status).toBe(200);

    // Right after the write: ordinal 1 replaced (not Ready yet), ordinal 0 untouched.
    const sts = h.sim.get('StatefulSet', NS, 'ordered') as Obj;
    const pod = (name: string) => h.sim.get('Pod', NS, name) as Obj;
    expect(sts.status.updateRevision).not.toBe(oldRevision);
    expect(sts.status).toMatchObject({ currentRevision: oldRevision, updatedReplicas: 1, currentReplicas: 1 });
    expect(pod('ordered-1').metadata.uid).not.toBe(before.find((p) => p.metadata.name === 'ordered-1')!.metadata.uid);
    expect(isReady(pod('ordered-1'))).toBe(false);
    expect(pod('ordered-0').metadata.uid).toBe(before.find((p) => p.metadata.name === 'ordered-0')!.metadata.uid);

    const done = await pollUntil(() => {
      const s = h.sim.get('StatefulSet', NS, 'ordered') as Obj;
      return s.status.currentRevision === s.status.updateRevision ? s : undefined;
    }, 'the StatefulSet rollout');
    expect(done.status).toMatchObject({ replicas: 2, updatedReplicas: 2, currentReplicas: 2, readyReplicas: 2, availableReplicas: 2 });
    expect(podsOf(h, 'ordered').map((p) => memoryOf(p, false).limit)).toEqual(['96Mi', '96Mi']);
  });

  it('dry run: the patch goes with dryRun=All, nothing changes and nothing is waited for', async () => {
    await createWorkload(h, { kind: 'Deployment', name: 'shadow', replicas: 1, limit: '256Mi' });
    await readyPods(h, 'shadow', 1);
    const generation = (h.sim.get('Deployment', NS, 'shadow') as Obj).metadata.generation;

    const run = await manualRun(h, { namespace: NS, name: 'shadow', maxLimit: '1Gi' }, true);

    expect(run.status, run.reason).toBe('succeeded');
    expect(run).toMatchObject({ changed: false, dryRun: true });
    expect(run.reason).toBe(`dry run: would raise the memory limit of container app of deployment/${NS}/shadow from 256Mi to 384Mi`);
    expect(run.health).toBeUndefined();
    const raise = patchesOf(h, 'deployments', 'shadow').filter((p) => (p.body as Obj)?.spec !== undefined);
    expect(raise).toMatchObject([{ dryRun: true, status: 200 }]);
    const after = h.sim.get('Deployment', NS, 'shadow') as Obj;
    expect(memoryOf(after).limit).toBe('256Mi');
    expect(after.metadata.generation).toBe(generation);
    expect(after.metadata.annotations?.[LAST_ACTION]).toBeUndefined();
  });

  it('a resourceVersion conflict is retried: the retry re-reads and sends the limit it recorded, never a second raise', async () => {
    await createWorkload(h, { kind: 'Deployment', name: 'contended', replicas: 1, limit: '64Mi' });
    await readyPods(h, 'contended', 1);
    // A concurrent writer raises the limit to 80Mi right before the playbook's patch arrives.
    const api = h.sim.api;
    const patch = api.patch.bind(api);
    let armed = true;
    api.patch = (scope, name, type, body, opts, sub) => {
      if (armed && name === 'contended' && type === 'strategic' && scope.def.kind === 'Deployment' && !opts.dryRun) {
        armed = false;
        const current = h.sim.get('Deployment', NS, 'contended') as Obj;
        const template = structuredClone(current.spec.template);
        template.spec.containers[0].resources.limits.memory = '80Mi';
        h.sim.patchObject('Deployment', NS, 'contended', { spec: { template } });
      }
      return patch(scope, name, type, body, opts, sub);
    };
    try {
      const run = await manualRun(h, { namespace: NS, name: 'contended', maxLimit: '1Gi', timeoutSeconds: 20 });
      expect(run.status, run.reason).toBe('succeeded');
      expect(run.attempts).toBe(2);
      // 80Mi × 1.5 would be 120Mi: the retry moved toward the 96Mi it recorded before the 409.
      expect(run.reason).toMatch(/^raised the memory limit of container app of deployment\/default\/contended from 80Mi to 96Mi; /);
    } finally {
      api.patch = patch;
    }
    const raises = patchesOf(h, 'deployments', 'contended').filter((p) => (p.body as Obj)?.spec !== undefined);
    expect(raises.map((p) => [p.status, (p.body as Obj).spec.template.spec.containers[0].resources.limits.memory])).toEqual([
      [409, '96Mi'],
      [200, '96Mi'],
    ]);
    // Between the two, the retry read the Deployment again (a fresh resourceVersion).
    const from = h.sim.requests.indexOf(raises[0]!);
    const to = h.sim.requests.indexOf(raises[1]!);
    expect(h.sim.requests.slice(from + 1, to).some((r) => r.method === 'GET' && r.path === `/apis/apps/v1/namespaces/${NS}/deployments/contended`)).toBe(true);
    expect((raises[1]!.body as Obj).metadata.resourceVersion).not.toBe((raises[0]!.body as Obj).metadata.resourceVersion);
    expect(memoryOf(h.sim.get('Deployment', NS, 'contended')).limit).toBe('96Mi');
  }, 30_000);

  it('a rollout that never completes: unhealthy with what is missing after timeoutSeconds, the run fails, the new limit stays', async () => {
    // Pods of this template never become Ready.
    await createWorkload(h, { kind: 'Deployment', name: 'stuck', replicas: 2, limit: '128Mi', annotations: { 'sim.remediator.dev/ready-delay-ms': '-1' } });
    await pollUntil(() => (podsOf(h, 'stuck').length === 2 ? true : undefined), 'the pods of stuck');

    const run = await manualRun(h, { namespace: NS, name: 'stuck', maxLimit: '1Gi', timeoutSeconds: 2 });

    const missing = `deployment/${NS}/stuck: 0 of 2 available after 2s`;
    expect(run.status).toBe('failed');
    expect(run.health).toMatchObject({ result: 'unhealthy', detail: missing });
    expect(run.reason).toBe(`raised the memory limit of container app of deployment/${NS}/stuck from 128Mi to 192Mi, but the rollout did not complete: ${missing}`);
    expect(memoryOf(h.sim.get('Deployment', NS, 'stuck')).limit).toBe('192Mi');
  });

  it('the adapter: a stale resourceVersion is a 409, an invalid quantity or a request above the limit a 422, dryRun=All changes nothing', async () => {
    await createWorkload(h, { kind: 'Deployment', name: 'adapter', replicas: 1, limit: '64Mi', request: '64Mi' });
    const cluster = new ClientNodeCluster({ kc: kubeConfigFor(h.sim), requestTimeoutMs: 5000 });
    const read = await cluster.getPodTemplate('Deployment', NS, 'adapter');
    expect(read).toMatchObject({ kind: 'Deployment', namespace: NS, name: 'adapter', containers: [{ name: 'app', memoryLimit: '64Mi', memoryLimitBytes: 64 * 2 ** 20, memoryRequest: '64Mi', memoryRequestBytes: 64 * 2 ** 20 }] });
    expect(await cluster.getPodTemplate('StatefulSet', NS, 'adapter')).toBeUndefined();

    const failure = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e as KubeApiError);
    const dry = await cluster.setMemoryLimit('Deployment', NS, 'adapter', { container: 'app', limit: '96Mi' }, read!.resourceVersion, { dryRun: true });
    expect(dry.containers[0]!.memoryLimit).toBe('96Mi');
    expect(await cluster.getPodTemplate('Deployment', NS, 'adapter')).toEqual(read);

    const invalidQuantity = await failure(cluster.setMemoryLimit('Deployment', NS, 'adapter', { container: 'app', limit: 'lots' }, read!.resourceVersion, { dryRun: false }));
    expect(invalidQuantity).toBeInstanceOf(KubeApiError);
    expect(invalidQuantity).toMatchObject({ code: 422 });
    const requestAbove = await failure(cluster.setMemoryLimit('Deployment', NS, 'adapter', { container: 'app', limit: '32Mi' }, read!.resourceVersion, { dryRun: false }));
    expect(requestAbove).toMatchObject({ code: 422 });
    expect(String((requestAbove as Error).message)).toContain('must be less than or equal to memory limit of 32Mi');

    const applied = await cluster.setMemoryLimit('Deployment', NS, 'adapter', { container: 'app', limit: '128Mi', request: '128Mi' }, read!.resourceVersion, { dryRun: false });
    expect(applied.containers[0]).toMatchObject({ memoryLimit: '128Mi', memoryRequest: '128Mi' });
    expect(applied.generation).toBe(read!.generation + 1);
    const stale = await failure(cluster.setMemoryLimit('Deployment', NS, 'adapter', { container: 'app', limit: '256Mi' }, read!.resourceVersion, { dryRun: false }));
    expect(stale).toMatchObject({ code: 409, retryable: true });
    expect((await cluster.getPodTemplate('Deployment', NS, 'adapter'))!.containers[0]!.memoryLimit).toBe('128Mi');
  });
});
