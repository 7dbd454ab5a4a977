import { describe, expect, it } from 'vitest';
import { RecordingCluster, type MutationSink } from '../../../src/engine/recording-cluster.js';
import { finalActionResults } from '../../../src/engine/run-executor.js';
import { namespaceBlock } from '../../../src/engine/namespace-guard.js';
import { GuardBlockedError, KubeApiError } from '../../../src/domain/errors.js';
import type { RunStep } from '../../../src/domain/run.js';
import type { ClusterClient } from '../../../src/kube/cluster-client.js';
import { ReplicaAckError, RetryableError } from '../../../src/domain/errors.js';
import { FakeCluster } from '../../helpers/fake-cluster.js';

interface TestSink extends MutationSink {
  steps: RunStep[];
  gates: number;
  /** The steps as each persist saw them (what Redis would hold). */
  saved: RunStep[][];
  audited: RunStep[];
  failPersist: boolean;
}

function sink(dryRun: boolean, gate: () => Promise<void> = async () => undefined, opts: { attempt?: number; steps?: RunStep[] } = {}): TestSink {
  const s: TestSink = {
    dryRun,
    attempt: opts.attempt ?? 1,
    steps: opts.steps ?? [],
    gates: 0,
    saved: [],
    audited: [],
    failPersist: false,
    async beforeMutation() {
      s.gates += 1;
      await gate();
    },
    async persist(audited: readonly RunStep[] = []) {
      if (s.failPersist) throw new Error('connection closed');
      s.saved.push(structuredClone(s.steps));
      s.audited.push(...structuredClone([...audited]));
    },
  };
  return s;
}

/** Applies the next call of `method`, then throws `error` as if its answer was lost. */
function losingAnswer<K extends 'patchScale' | 'setUnschedulable' | 'evictPod' | 'createEvent' | 'annotate'>(fake: FakeCluster, method: K, error: Error): ClusterClient {
  let armed = true;
  return new Proxy(fake, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (prop !== method || typeof value !== 'function') return typeof value === 'function' ? value.bind(target) : value;
      return async (...args: unknown[]) => {
        const result = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        if (!armed) return result;
        armed = false;
        throw error;
      };
    },
  });
}

const lost = () => new KubeApiError(500, 'InternalError', 'etcd timeout after the write', 'patch', 'deployments/scale');

describe('RecordingCluster', () => {
  it('forces the run’s dry-run mode on every mutation, whatever the playbook passes', async () => {
    const fake = new FakeCluster();
    fake.addNode({ name: 'n1' });
    const s = sink(true);
    const cluster = new RecordingCluster(fake, s);
    await cluster.setUnschedulable('n1', true, { dryRun: false });
    await cluster.annotate({ kind: 'Node', name: 'n1' }, 'k', 'v', { dryRun: false });
    const mutations = fake.calls.filter((c) => c.dryRun !== undefined);
    expect(mutations.map((c) => [c.method, c.dryRun])).toEqual([
      ['setUnschedulable', true],
      ['annotate', true],
    ]);
    expect(s.steps.map((step) => [step.action, step.result, step.request.dryRun])).toEqual([
      ['cordon', 'dry_run', true],
      ['annotate', 'dry_run', true],
    ]);
  });

  it('records before/after from the playbook’s own read, without another request', async () => {
    const fake = new FakeCluster();
    fake.addDeployment('ns', 'web', { replicas: 2 });
    const s = sink(false);
    const cluster = new RecordingCluster(fake, s);
    const scale = await cluster.getScale('Deployment', 'ns', 'web');
    const reads = fake.calls.filter((c) => c.method === 'getScale').length;
    await cluster.patchScale('Deployment', 'ns', 'web', 3, scale!.resourceVersion, { dryRun: false });
    expect(fake.calls.filter((c) => c.method === 'getScale').length).toBe(reads);
    expect(s.steps[0]).toMatchObject({ action: 'scale', object: 'deployment/ns/web', result: 'ok', before: { replicas: 2 }, after: { replicas: 3 } });
  });

  it('runs the guard gate before every mutation and acts on nothing when it refuses', async () => {
    const fake = new FakeCluster();
    fake.addNode({ name: 'n1' });
    const s = sink(false, async () => {
      throw new GuardBlockedError('paused', 'paused for the test');
    });
    const cluster = new RecordingCluster(fake, s);
    await expect(cluster.setUnschedulable('n1', true, { dryRun: false })).rejects.toBeInstanceOf(GuardBlockedError);
    expect(fake.calls.filter((c) => c.method === 'setUnschedulable')).toHaveLength(0);
    expect(s.steps).toHaveLength(0);
    expect(s.gates).toBe(1);
  });

  it('records a failed request as an error step and rethrows it', async () => {
    const fake = new FakeCluster();
    fake.addNode({ name: 'n1' });
    fake.failNext('setUnschedulable', new KubeApiError(500, 'InternalError', 'boom', 'patch', 'nodes'));
    const s = sink(false);
    const cluster = new RecordingCluster(fake, s);
    await expect(cluster.setUnschedulable('n1', true, { dryRun: false })).rejects.toMatchObject({ code: 500, retryable: true });
    expect(s.steps[0]).toMatchObject({ action: 'cordon', result: 'error', uncertain: true });
    expect(s.steps[0]!.detail).toMatch(/boom/);
  });

  it('saves the intent before the request leaves, and sends nothing when it cannot be saved', async () => {
    const fake = new FakeCluster();
    fake.addDeployment('ns', 'web', { replicas: 3 });
    const s = sink(false);
    const cluster = new RecordingCluster(fake, s);
    const scale = await cluster.getScale('Deployment', 'ns', 'web');
    await cluster.patchScale('Deployment', 'ns', 'web', 4, scale!.resourceVersion, { dryRun: false });
    expect(s.saved[0]).toEqual([expect.objectContaining({ key: 'scale deployment/ns/web', result: 'pending', intent: expect.objectContaining({ from: 3, replicas: 4 }) })]);
    expect(s.saved[1]![0]).toMatchObject({ result: 'ok', after: { replicas: 4 } });
    expect(s.audited.map((step) => step.result)).toEqual(['ok']);

    s.failPersist = true;
    const calls = fake.calls.filter((c) => c.method === 'patchScale').length;
    await expect(cluster.patchScale('Deployment', 'ns', 'web', 5, scale!.resourceVersion, { dryRun: false })).rejects.toBeInstanceOf(RetryableError);
    expect(fake.calls.filter((c) => c.method === 'patchScale')).toHaveLength(calls);
  });

  it('with replicas to wait for, sends a request only once they confirmed its intent; unconfirmed, the step stays open and nothing leaves', async () => {
    const fake = new FakeCluster();
    fake.addDeployment('ns', 'web', { replicas: 3 });
    const order: string[] = [];
    let confirmed = false;
    const s = sink(false);
    const persist = s.persist.bind(s);
    s.persist = async (audited) => {
      order.push('persist');
      await persist(audited);
    };
    s.durable = async () => {
      order.push('durable');
      if (!confirmed) throw new ReplicaAckError('only 0 of the 1 replicas confirmed');
    };
    const cluster = new RecordingCluster(fake, s);
    const scale = await cluster.getScale('Deployment', 'ns', 'web');
    await expect(cluster.patchScale('Deployment', 'ns', 'web', 4, scale!.resourceVersion, { dryRun: false })).rejects.toBeInstanceOf(ReplicaAckError);
    expect(fake.calls.filter((c) => c.method === 'patchScale')).toHaveLength(0);
    expect(order).toEqual(['persist', 'durable']);
    expect(s.saved.at(-1)).toEqual([expect.objectContaining({ result: 'pending' })]);

    // The next attempt finds the step open, reads 3 back (not applied) and sends it once confirmed.
    confirmed = true;
    const next = sink(false, undefined, { attempt: 2, steps: structuredClone(s.saved.at(-1)!) });
    next.durable = async () => undefined;
    const again = new RecordingCluster(fake, next);
    const result = await again.patchScale('Deployment', 'ns', 'web', 4, (await again.getScale('Deployment', 'ns', 'web'))!.resourceVersion, { dryRun: false });
    expect(result.replicas).toBe(4);
    expect(fake.calls.filter((c) => c.method === 'patchScale')).toHaveLength(1);

    // A connection error while waiting is retryable too.
    const third = sink(false);
    third.durable = async () => {
      throw new Error('Connection is closed.');
    };
    await expect(new RecordingCluster(fake, third).patchScale('Deployment', 'ns', 'web', 5, '1', { dryRun: false })).rejects.toBeInstanceOf(RetryableError);
    expect(fake.calls.filter((c) => c.method === 'patchScale')).toHaveLength(1);
  });

  it('reads the object back when the answer is lost after the write: applied once, reported as done', async () => {
    const fake = new FakeCluster();
    fake.addDeployment('ns', 'web', { replicas: 3 });
    const s = sink(false);
    const cluster = new RecordingCluster(losingAnswer(fake, 'patchScale', lost()), s);
    const scale = await cluster.getScale('Deployment', 'ns', 'web');
    const result = await cluster.patchScale('Deployment', 'ns', 'web', 4, scale!.resourceVersion, { dryRun: false });
    expect(result.replicas).toBe(4);
    expect(fake.calls.filter((c) => c.method === 'patchScale')).toHaveLength(1);
    expect(s.steps).toEqual([expect.objectContaining({ result: 'ok', detail: expect.stringMatching(/answer was lost.*read back/) })]);
  });

  it('a later attempt settles an open step it finds applied, and sends nothing for it again (3 → 4, never 5)', async () => {
    const fake = new FakeCluster();
    fake.addDeployment('ns', 'web', { replicas: 3 });
    const first = sink(false);
    await expect(new RecordingCluster(losingAnswer(fake, 'patchScale', new KubeApiError(0, 'Timeout', 'no answer', 'patch', 'scale')), first)
      .patchScale('Deployment', 'ns', 'web', 4, (await fake.getScale('Deployment', 'ns', 'web'))!.resourceVersion, { dryRun: false })).resolves.toMatchObject({ replicas: 4 });
    // The attempt died before the outcome was saved: Redis holds the pending intent only.
    const second = sink(false, undefined, { attempt: 2, steps: structuredClone(first.saved[0]!) });
    const cluster = new RecordingCluster(fake, second);
    expect(await cluster.settleOpenSteps()).toBe(1);
    expect(second.steps[0]).toMatchObject({ result: 'ok', detail: expect.stringMatching(/confirmed by a later attempt/) });
    // The playbook re-reads 4 and derives 5 from its step: the recorded intent wins.
    const scale = await cluster.getScale('Deployment', 'ns', 'web');
    const result = await cluster.patchScale('Deployment', 'ns', 'web', 5, scale!.resourceVersion, { dryRun: false });
    expect(result.replicas).toBe(4);
    expect(fake.calls.filter((c) => c.method === 'patchScale')).toHaveLength(1);
    expect((await fake.getScale('Deployment', 'ns', 'web'))!.replicas).toBe(4);
  });

  it('an open intent that did not land is sent again as recorded, not as the retry derives it', async () => {
    const fake = new FakeCluster();
    fake.addDeployment('ns', 'web', { replicas: 3 });
    const pending: RunStep = {
      action: 'scale',
      object: 'deployment/ns/web',
      key: 'scale deployment/ns/web',
      intent: { type: 'scale', kind: 'Deployment', namespace: 'ns', name: 'web', from: 2, replicas: 4 },
      attempt: 1,
      request: { method: 'PATCH', path: '/apis/apps/v1/namespaces/ns/deployments/web/scale', dryRun: false },
      result: 'pending',
      at: '',
    };
    const s = sink(false, undefined, { attempt: 2, steps: [pending] });
    const cluster = new RecordingCluster(fake, s);
    await cluster.settleOpenSteps();
    expect(s.steps[0]).toMatchObject({ result: 'error', uncertain: true });
    const scale = await cluster.getScale('Deployment', 'ns', 'web');
    await cluster.patchScale('Deployment', 'ns', 'web', 5, scale!.resourceVersion, { dryRun: false });
    expect((await fake.getScale('Deployment', 'ns', 'web'))!.replicas).toBe(4);
    expect(s.steps.map((step) => [step.result, step.attempt])).toEqual([
      ['error', 1],
      ['ok', 2],
    ]);
  });

  it('an Event whose create answer was lost is not created twice (deterministic name, 409 or read back)', async () => {
    const fake = new FakeCluster();
    fake.addNode({ name: 'n1' });
    const s = sink(false);
    const cluster = new RecordingCluster(losingAnswer(fake, 'createEvent', new KubeApiError(503, 'ServiceUnavailable', 'lost', 'create', 'events')), s);
    await cluster.createEvent({ kind: 'Node', name: 'n1' }, { reason: 'RemediationCordon', message: 'cordoned', type: 'Normal', name: 'n1.abc' }, { dryRun: false });
    const again = new RecordingCluster(fake, sink(false, undefined, { attempt: 1 }));
    await again.createEvent({ kind: 'Node', name: 'n1' }, { reason: 'RemediationCordon', message: 'cordoned', type: 'Normal', name: 'n1.abc' }, { dryRun: false });
    expect(fake.events.filter((e) => !e.dryRun)).toHaveLength(1);
    expect(s.steps[0]).toMatchObject({ result: 'ok' });
  });
});

describe('finalActionResults', () => {
  const step = (action: string, object: string, result: RunStep['result']): RunStep => ({ action, object, result, request: { method: 'POST', path: '/', dryRun: result === 'dry_run' }, at: '' });

  it('counts one result per object acted on: its last attempt, events excluded', () => {
    const results = finalActionResults([
      step('cordon', 'node/n1', 'ok'),
      step('event', 'node/n1', 'ok'),
      step('evict', 'pod/a/p1', 'error'),
      step('evict', 'pod/a/p1', 'error'),
      step('evict', 'pod/a/p1', 'ok'),
      step('evict', 'pod/a/p2', 'error'),
      step('evict', 'pod/a/p3', 'gone'),
    ]);
    expect(results).toEqual([
      ['cordon', 'ok'],
      ['evict', 'ok'],
      ['evict', 'error'],
      ['evict', 'ok'],
    ]);
  });
});

describe('namespaceBlock', () => {
  it('applies allow or deny to pod and workload targets, never to nodes', () => {
    expect(namespaceBlock('pod/kube-system/x', { namespaces: { deny: ['kube-system'] } })).toMatch(/deny/);
    expect(namespaceBlock('deployment/ml/x', { namespaces: { deny: ['kube-system'] } })).toBeUndefined();
    expect(namespaceBlock('deployment/ml/x', { namespaces: { allow: ['prod'] } })).toMatch(/allow/);
    expect(namespaceBlock('node/kube-system', { namespaces: { allow: ['prod'] } })).toBeUndefined();
  });
});
