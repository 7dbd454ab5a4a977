import { describe, expect, it } from 'vitest';
import { RecordingCluster, type MutationSink } from '../../../src/engine/recording-cluster.js';
import { finalActionResults } from '../../../src/engine/run-executor.js';
import { namespaceBlock } from '../../../src/engine/namespace-guard.js';
import { GuardBlockedError, KubeApiError } from '../../../src/domain/errors.js';
import type { RunStep } from '../../../src/domain/run.js';
import { FakeCluster } from '../../helpers/fake-cluster.js';

function sink(dryRun: boolean, gate: () => Promise<void> = async () => undefined): MutationSink & { steps: RunStep[]; gates: number } {
  const s = {
    dryRun,
    steps: [] as RunStep[],
    gates: 0,
    async beforeMutation() {
      s.gates += 1;
      await gate();
    },
    async record(step: RunStep) {
      s.steps.push(step);
    },
  };
  return s;
}

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
    expect(s.steps[0]).toMatchObject({ action: 'cordon', result: 'error' });
    expect(s.steps[0]!.detail).toMatch(/boom/);
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
