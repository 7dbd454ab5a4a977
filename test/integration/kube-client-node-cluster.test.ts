import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ClientNodeCluster } from '../../src/kube/client-node-cluster.js';
import { loadKubeConfig } from '../../src/kube/load-kube-config.js';
import { KubeApiError, PermanentError } from '../../src/domain/errors.js';
import type { KubeObject, Pod } from '../../src/sim/kube-types.js';
import { startSimCluster, type SimCluster } from '../../src/sim/sim-cluster.js';
import { simKubeconfigYaml } from '../../src/sim/sim-kubeconfig.js';

/**
 * ClientNodeCluster against the simulated API server over HTTP, with the bundled GPU-cluster
 * seed. Every test checks what went over the wire (sim.requests) as well as what came back.
 */

const MERGE = 'application/merge-patch+json';

let sim: SimCluster;
let cluster: ClientNodeCluster;
let observed: [string, string, number][];

function kubeConfig(yaml: string): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromString(yaml);
  return kc;
}

function clusterFor(kc: k8s.KubeConfig, sink: [string, string, number][]): ClientNodeCluster {
  return new ClientNodeCluster({
    kc,
    requestTimeoutMs: 5000,
    observe: (verb, resource, code) => sink.push([verb, resource, code]),
  });
}

beforeEach(async () => {
  sim = await startSimCluster({ port: 0, readyDelayMs: 0 });
  observed = [];
  cluster = clusterFor(kubeConfig(sim.kubeconfigYaml()), observed);
});

afterEach(async () => {
  await sim.close();
});

async function caught(promise: Promise<unknown>): Promise<KubeApiError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(KubeApiError);
    return err as KubeApiError;
  }
  throw new Error('expected a KubeApiError');
}

function lastRequest() {
  const last = sim.requests.at(-1);
  if (!last) throw new Error('the sim saw no request');
  return last;
}

function podsOf(namespace: string, appName: string): Pod[] {
  return (sim.list('Pod', namespace) as Pod[]).filter((p) => p.metadata.labels?.['app.kubernetes.io/name'] === appName);
}

function rvOf(obj: KubeObject | undefined): string | undefined {
  return obj?.metadata.resourceVersion;
}

const VERB_OF_METHOD: Record<string, string[]> = {
  GET: ['get', 'list'],
  POST: ['create'],
  PATCH: ['patch'],
  DELETE: ['delete'],
  PUT: ['update'],
};

/** observe() saw exactly the requests the sim received, with the same status codes. */
function expectObservedEverySimRequest(): void {
  expect(observed.length).toBe(sim.requests.length);
  sim.requests.forEach((record, i) => {
    const [verb, resource, code] = observed[i]!;
    expect(code, `${record.method} ${record.path}`).toBe(record.status);
    expect(VERB_OF_METHOD[record.method]).toContain(verb);
    const base = resource.split('/')[0]!;
    if (resource !== 'version') expect(record.path).toContain(`/${base}`);
  });
}

describe('ClientNodeCluster against the simulated cluster', () => {
  it('pings /version', async () => {
    await expect(cluster.ping()).resolves.toMatch(/^v1\.32\./);
    expect(lastRequest()).toMatchObject({ method: 'GET', path: '/version', status: 200 });
    expect(observed).toEqual([['get', 'version', 200]]);
  });

  describe('nodes', () => {
    it('lists nodes in chunks and reads allocatable GPUs', async () => {
      const nodes = await cluster.listNodes();
      expect(nodes.map((n) => n.name).sort()).toEqual(['cpu-node-1', 'gpu-node-1', 'gpu-node-2', 'gpu-node-3', 'gpu-node-4']);
      expect(nodes.find((n) => n.name === 'gpu-node-1')).toMatchObject({ allocatableGpus: 8, unschedulable: false, taints: [] });
      expect(nodes.find((n) => n.name === 'cpu-node-1')?.allocatableGpus).toBe(0);
      expect(lastRequest()).toMatchObject({ method: 'GET', path: '/api/v1/nodes', query: { limit: '500' } });
      expect(observed).toEqual([['list', 'nodes', 200]]);
    });

    it('gets a node; a missing node is undefined', async () => {
      const node = await cluster.getNode('gpu-node-3');
      expect(node).toMatchObject({ name: 'gpu-node-3', allocatableGpus: 8, unschedulable: false });
      expect(node?.uid).toBe(sim.get('Node', undefined, 'gpu-node-3')?.metadata.uid);
      expect(node?.labels['node.kubernetes.io/instance-type']).toBe('p5.48xlarge');
      await expect(cluster.getNode('gpu-node-99')).resolves.toBeUndefined();
      expect(observed).toEqual([
        ['get', 'nodes', 200],
        ['get', 'nodes', 404],
      ]);
    });

    it('cordons (with its stamp, in the same merge patch) and uncordons', async () => {
      const stamp = { 'remediator.dev/last-action': '{"playbook":"drain-gpu-node","cordoned":true}' };
      const cordoned = await cluster.setUnschedulable('gpu-node-3', true, { dryRun: false, annotations: stamp });
      expect(cordoned.unschedulable).toBe(true);
      expect(cordoned.annotations).toMatchObject(stamp);
      const request = lastRequest();
      expect(request).toMatchObject({ method: 'PATCH', path: '/api/v1/nodes/gpu-node-3', contentType: MERGE, dryRun: false, status: 200 });
      expect(request.body).toEqual({ spec: { unschedulable: true }, metadata: { annotations: stamp } });
      expect(request.userAgent).toMatch(new RegExp(`^remediator/\\S+ \\(.+; pid ${process.pid}\\)$`));
      expect(request.query.fieldManager).toBe('remediator');
      expect((sim.get('Node', undefined, 'gpu-node-3')?.spec as { unschedulable?: boolean }).unschedulable).toBe(true);

      const uncordoned = await cluster.setUnschedulable('gpu-node-3', false, { dryRun: false });
      expect(uncordoned.unschedulable).toBe(false);
      expect((await cluster.getNode('gpu-node-3'))?.unschedulable).toBe(false);
      expectObservedEverySimRequest();
    });

    it('a dry-run cordon sends dryRun=All and changes nothing', async () => {
      const before = sim.get('Node', undefined, 'gpu-node-2');
      const answer = await cluster.setUnschedulable('gpu-node-2', true, { dryRun: true });
      expect(answer.unschedulable).toBe(true);
      expect(lastRequest()).toMatchObject({ method: 'PATCH', dryRun: true, query: { dryRun: 'All' }, contentType: MERGE });
      const after = sim.get('Node', undefined, 'gpu-node-2');
      expect(rvOf(after)).toBe(rvOf(before));
      expect((after?.spec as { unschedulable?: boolean }).unschedulable).toBeFalsy();
    });

    it('replaces taints with a merge patch conditional on resourceVersion; a stale one is a retryable 409', async () => {
      const node = await cluster.getNode('gpu-node-1');
      const taints = [...node!.taints, { key: 'remediator.dev/overheating', value: 'true', effect: 'NoSchedule' as const }];
      const updated = await cluster.replaceNodeTaints('gpu-node-1', taints, node!.resourceVersion, { dryRun: false });
      expect(updated.taints).toContainEqual({ key: 'remediator.dev/overheating', value: 'true', effect: 'NoSchedule' });
      const request = lastRequest();
      expect(request).toMatchObject({ method: 'PATCH', path: '/api/v1/nodes/gpu-node-1', contentType: MERGE, status: 200 });
      expect(request.body).toEqual({
        metadata: { resourceVersion: node!.resourceVersion },
        spec: { taints: [{ key: 'remediator.dev/overheating', value: 'true', effect: 'NoSchedule' }] },
      });

      const err = await caught(cluster.replaceNodeTaints('gpu-node-1', [], node!.resourceVersion, { dryRun: false }));
      expect(err).toMatchObject({ code: 409, reason: 'Conflict', retryable: true, verb: 'patch', resource: 'nodes' });
      expect((await cluster.getNode('gpu-node-1'))?.taints.map((t) => t.key)).toContain('remediator.dev/overheating');
      expectObservedEverySimRequest();
    });

    it('a dry-run taint replacement changes nothing', async () => {
      const node = await cluster.getNode('gpu-node-4');
      const taint = { key: 'remediator.dev/drain', effect: 'NoSchedule' as const };
      const answer = await cluster.replaceNodeTaints('gpu-node-4', [taint], node!.resourceVersion, { dryRun: true });
      expect(answer.taints).toContainEqual(taint);
      expect(lastRequest()).toMatchObject({ dryRun: true, contentType: MERGE });
      expect(rvOf(sim.get('Node', undefined, 'gpu-node-4'))).toBe(node!.resourceVersion);
    });
  });

  describe('workloads', () => {
    it('reads the scale subresource of a Deployment and a StatefulSet; missing → undefined', async () => {
      await expect(cluster.getScale('Deployment', 'ml-serving', 'llm-inference')).resolves.toMatchObject({
        kind: 'Deployment',
        namespace: 'ml-serving',
        name: 'llm-inference',
        replicas: 3,
      });
      await expect(cluster.getScale('StatefulSet', 'ml-training', 'trainer')).resolves.toMatchObject({ kind: 'StatefulSet', replicas: 3 });
      await expect(cluster.getScale('Deployment', 'ml-serving', 'nope')).resolves.toBeUndefined();
      expect(observed).toEqual([
        ['get', 'deployments/scale', 200],
        ['get', 'statefulsets/scale', 200],
        ['get', 'deployments/scale', 404],
      ]);
    });

    it('scales with a merge patch that carries the resourceVersion', async () => {
      const scale = await cluster.getScale('Deployment', 'ml-serving', 'llm-inference');
      const result = await cluster.patchScale('Deployment', 'ml-serving', 'llm-inference', 4, scale!.resourceVersion, { dryRun: false });
      expect(result).toMatchObject({ replicas: 4, name: 'llm-inference' });
      const request = lastRequest();
      expect(request).toMatchObject({
        method: 'PATCH',
        path: '/apis/apps/v1/namespaces/ml-serving/deployments/llm-inference/scale',
        contentType: MERGE,
        dryRun: false,
        status: 200,
      });
      expect(request.body).toEqual({ metadata: { resourceVersion: scale!.resourceVersion }, spec: { replicas: 4 } });
      expect((sim.get('Deployment', 'ml-serving', 'llm-inference')?.spec as { replicas: number }).replicas).toBe(4);

      const sts = await cluster.getScale('StatefulSet', 'ml-training', 'trainer');
      await cluster.patchScale('StatefulSet', 'ml-training', 'trainer', 2, sts!.resourceVersion, { dryRun: false });
      expect(lastRequest().path).toBe('/apis/apps/v1/namespaces/ml-training/statefulsets/trainer/scale');
      expect((sim.get('StatefulSet', 'ml-training', 'trainer')?.spec as { replicas: number }).replicas).toBe(2);
      expectObservedEverySimRequest();
    });

    it('a stale resourceVersion is a retryable 409 and changes nothing', async () => {
      const scale = await cluster.getScale('Deployment', 'ml-serving', 'llm-inference');
      sim.patchObject('Deployment', 'ml-serving', 'llm-inference', { metadata: { annotations: { touched: 'yes' } } });
      const err = await caught(cluster.patchScale('Deployment', 'ml-serving', 'llm-inference', 5, scale!.resourceVersion, { dryRun: false }));
      expect(err).toMatchObject({ code: 409, reason: 'Conflict', retryable: true, verb: 'patch', resource: 'deployments/scale' });
      expect((sim.get('Deployment', 'ml-serving', 'llm-inference')?.spec as { replicas: number }).replicas).toBe(3);
      expect(observed.at(-1)).toEqual(['patch', 'deployments/scale', 409]);
    });

    it('a dry-run scale sends dryRun=All and changes nothing', async () => {
      const scale = await cluster.getScale('Deployment', 'ml-serving', 'llm-inference');
      const answer = await cluster.patchScale('Deployment', 'ml-serving', 'llm-inference', 6, scale!.resourceVersion, { dryRun: true });
      expect(answer.replicas).toBe(6);
      expect(lastRequest()).toMatchObject({ method: 'PATCH', dryRun: true, query: { dryRun: 'All' }, contentType: MERGE, status: 200 });
      const after = sim.get('Deployment', 'ml-serving', 'llm-inference');
      expect((after?.spec as { replicas: number }).replicas).toBe(3);
      expect((await cluster.getScale('Deployment', 'ml-serving', 'llm-inference'))?.resourceVersion).toBe(scale!.resourceVersion);
    });

    it('finds the HPA that targets a workload, and none for others', async () => {
      await expect(cluster.findHpaFor('Deployment', 'ml-serving', 'embedding-service')).resolves.toBe('embedding-service');
      await expect(cluster.findHpaFor('Deployment', 'ml-serving', 'llm-inference')).resolves.toBeUndefined();
      await expect(cluster.findHpaFor('StatefulSet', 'ml-serving', 'embedding-service')).resolves.toBeUndefined();
      expect(lastRequest()).toMatchObject({
        method: 'GET',
        path: '/apis/autoscaling/v2/namespaces/ml-serving/horizontalpodautoscalers',
        query: { limit: '500' },
      });
      expect(observed.every(([verb, resource, code]) => verb === 'list' && resource === 'horizontalpodautoscalers' && code === 200)).toBe(true);
    });

    it('reads Deployments, StatefulSets, ReplicaSets and DaemonSets; missing → undefined', async () => {
      const deployment = await cluster.getWorkload('Deployment', 'ml-serving', 'llm-inference');
      expect(deployment).toMatchObject({
        kind: 'Deployment',
        namespace: 'ml-serving',
        name: 'llm-inference',
        selector: { 'app.kubernetes.io/name': 'llm-inference' },
      });
      expect(deployment?.uid).toBe(sim.get('Deployment', 'ml-serving', 'llm-inference')?.metadata.uid);
      expect(deployment?.controller).toBeUndefined();

      const replicaSet = await cluster.getWorkload('ReplicaSet', 'ml-serving', 'llm-api-7d9f8b6c5');
      expect(replicaSet?.controller).toMatchObject({ kind: 'Deployment', name: 'llm-api' });

      await expect(cluster.getWorkload('StatefulSet', 'ml-training', 'trainer')).resolves.toMatchObject({
        kind: 'StatefulSet',
        selector: { 'app.kubernetes.io/name': 'trainer' },
      });
      await expect(cluster.getWorkload('DaemonSet', 'monitoring', 'dcgm-exporter')).resolves.toMatchObject({ kind: 'DaemonSet' });
      await expect(cluster.getWorkload('Deployment', 'ml-serving', 'missing')).resolves.toBeUndefined();
      expect(observed.map(([verb, resource, code]) => `${verb} ${resource} ${code}`)).toEqual([
        'get deployments 200',
        'get replicasets 200',
        'get statefulsets 200',
        'get daemonsets 200',
        'get deployments 404',
      ]);
    });

    it('reads namespace labels; missing → undefined', async () => {
      await expect(cluster.getNamespaceLabels('ml-serving')).resolves.toMatchObject({ team: 'inference' });
      await expect(cluster.getNamespaceLabels('nope')).resolves.toBeUndefined();
      expect(observed).toEqual([
        ['get', 'namespaces', 200],
        ['get', 'namespaces', 404],
      ]);
    });
  });

  describe('pods', () => {
    it('converts a pod: controller, OOM kill, GPUs, readiness', async () => {
      const pod = await cluster.getPod('ml-serving', 'llm-api-7d9f8b6c5-x2kqp');
      expect(pod).toMatchObject({
        namespace: 'ml-serving',
        name: 'llm-api-7d9f8b6c5-x2kqp',
        nodeName: 'gpu-node-3',
        phase: 'Running',
        ready: true,
        terminating: false,
        isMirror: false,
        hasEmptyDir: false,
        requestsGpu: true,
        controller: { kind: 'ReplicaSet', name: 'llm-api-7d9f8b6c5' },
        containers: [{ name: 'llm-api', lastTerminationReason: 'OOMKilled', restartCount: 3, requestsGpu: true }],
      });
      expect(pod?.uid).toBe(sim.get('Pod', 'ml-serving', 'llm-api-7d9f8b6c5-x2kqp')?.metadata.uid);
      expect(pod?.createdAt).toMatch(/^\d{4}-\d\d-\d\dT/);
      await expect(cluster.getPod('ml-serving', 'gone-pod')).resolves.toBeUndefined();
      expect(observed).toEqual([
        ['get', 'pods', 200],
        ['get', 'pods', 404],
      ]);
    });

    it('sees an OOM kill that happens later', async () => {
      const [pod] = podsOf('ml-serving', 'llm-inference');
      sim.markOOMKilled('ml-serving', pod!.metadata.name!, 'vllm');
      const info = await cluster.getPod('ml-serving', pod!.metadata.name!);
      expect(info?.containers).toEqual([expect.objectContaining({ name: 'vllm', lastTerminationReason: 'OOMKilled', requestsGpu: true })]);
    });

    it('lists pods by label selector', async () => {
      const pods = await cluster.listPods('ml-serving', { 'app.kubernetes.io/name': 'llm-inference' });
      expect(pods).toHaveLength(3);
      expect(pods.every((p) => p.controller?.kind === 'ReplicaSet' && p.requestsGpu)).toBe(true);
      expect(lastRequest()).toMatchObject({
        path: '/api/v1/namespaces/ml-serving/pods',
        query: { labelSelector: 'app.kubernetes.io/name=llm-inference', limit: '500' },
      });
      const all = await cluster.listPods('ml-serving', {});
      expect(all.length).toBe(sim.list('Pod', 'ml-serving').length);
      expect(lastRequest().query.labelSelector).toBeUndefined();
    });

    it('lists the pods on a node across namespaces, with mirror, DaemonSet, emptyDir and unmanaged pods told apart', async () => {
      const pods = await cluster.listPodsOnNode('gpu-node-4');
      expect(lastRequest()).toMatchObject({ path: '/api/v1/pods', query: { fieldSelector: 'spec.nodeName=gpu-node-4', limit: '500' } });
      expect(pods.length).toBeGreaterThan(0);
      expect(pods.every((p) => p.nodeName === 'gpu-node-4')).toBe(true);
      const expected = (sim.list('Pod') as Pod[]).filter((p) => p.spec.nodeName === 'gpu-node-4').map((p) => p.metadata.name);
      expect(pods.map((p) => p.name).sort()).toEqual(expected.sort());

      const byName = new Map(pods.map((p) => [p.name, p]));
      expect(byName.get('gpu-health-agent-gpu-node-4')).toMatchObject({ isMirror: true, controller: { kind: 'Node', name: 'gpu-node-4' } });
      expect(byName.get('gpu-debug-shell')).toMatchObject({ hasEmptyDir: true, requestsGpu: true, isMirror: false });
      expect(byName.get('gpu-debug-shell')?.controller).toBeUndefined();
      const daemon = pods.find((p) => p.controller?.kind === 'DaemonSet');
      expect(daemon).toMatchObject({ namespace: 'monitoring', requestsGpu: false, controller: { name: 'dcgm-exporter' } });
      expect(byName.get('embed-batch-5f7c9-zx5mn')).toMatchObject({ hasEmptyDir: true, requestsGpu: true });
      expect(observed).toEqual([['list', 'pods', 200]]);
    });

    it('evicts through the Eviction API with a uid precondition', async () => {
      const pod = sim.get('Pod', 'ml-training', 'trainer-1') as Pod;
      await expect(
        cluster.evictPod('ml-training', 'trainer-1', pod.metadata.uid!, { dryRun: false, gracePeriodSeconds: 30 }),
      ).resolves.toBe('evicted');
      const request = lastRequest();
      expect(request).toMatchObject({
        method: 'POST',
        path: '/api/v1/namespaces/ml-training/pods/trainer-1/eviction',
        dryRun: false,
        status: 201,
      });
      expect(request.contentType).toMatch(/^application\/json/);
      expect(request.body).toEqual({
        apiVersion: 'policy/v1',
        kind: 'Eviction',
        metadata: { name: 'trainer-1', namespace: 'ml-training' },
        deleteOptions: { preconditions: { uid: pod.metadata.uid }, gracePeriodSeconds: 30 },
      });
      expect(sim.get('Pod', 'ml-training', 'trainer-1')?.metadata.uid).not.toBe(pod.metadata.uid);
      expect(observed).toEqual([['create', 'pods/eviction', 201]]);
    });

    it('an eviction blocked by the PDB is a retryable 429 and leaves the pod', async () => {
      sim.setPdbMaxUnavailable('ml-serving', 'llm-inference-pdb', 0);
      const [pod] = podsOf('ml-serving', 'llm-inference');
      const err = await caught(cluster.evictPod('ml-serving', pod!.metadata.name!, pod!.metadata.uid!, { dryRun: false }));
      expect(err).toMatchObject({ code: 429, reason: 'TooManyRequests', retryable: true, verb: 'create', resource: 'pods/eviction' });
      expect(err.message).toContain('disruption budget');
      expect(sim.get('Pod', 'ml-serving', pod!.metadata.name!)?.metadata.uid).toBe(pod!.metadata.uid);
      expect(observed).toEqual([['create', 'pods/eviction', 429]]);
    });

    it('a dry-run eviction sends dryRun=All in the query and deleteOptions and evicts nothing', async () => {
      const [pod] = podsOf('ml-serving', 'llm-api');
      const name = pod!.metadata.name!;
      await expect(cluster.evictPod('ml-serving', name, pod!.metadata.uid!, { dryRun: true })).resolves.toBe('evicted');
      const request = lastRequest();
      expect(request).toMatchObject({ dryRun: true, query: { dryRun: 'All' }, status: 201 });
      expect((request.body as { deleteOptions: { dryRun: string[] } }).deleteOptions.dryRun).toEqual(['All']);
      const after = sim.get('Pod', 'ml-serving', name);
      expect(after?.metadata.uid).toBe(pod!.metadata.uid);
      expect(after?.metadata.deletionTimestamp).toBeUndefined();
    });

    it('evicting or deleting a pod that does not exist is gone', async () => {
      await expect(cluster.evictPod('ml-serving', 'no-such-pod', 'uid-1', { dryRun: false })).resolves.toBe('gone');
      await expect(cluster.deletePod('ml-serving', 'no-such-pod', 'uid-1', { dryRun: false })).resolves.toBe('gone');
      expect(observed).toEqual([
        ['create', 'pods/eviction', 404],
        ['delete', 'pods', 404],
      ]);
    });

    it('a pod replaced under the same name (uid mismatch) is gone for evict and delete, and is left alone', async () => {
      const replacement = sim.get('Pod', 'ml-training', 'trainer-0') as Pod;
      await expect(cluster.evictPod('ml-training', 'trainer-0', 'old-uid', { dryRun: false })).resolves.toBe('gone');
      await expect(cluster.deletePod('ml-training', 'trainer-0', 'old-uid', { dryRun: false })).resolves.toBe('gone');
      expect(sim.get('Pod', 'ml-training', 'trainer-0')?.metadata.uid).toBe(replacement.metadata.uid);
      expect(observed.map(([, , code]) => code)).toEqual([409, 409]);
    });

    it('deletes with a uid precondition and the grace period in the body', async () => {
      const pod = sim.get('Pod', 'ml-serving', 'llm-api-7d9f8b6c5-x2kqp') as Pod;
      await expect(
        cluster.deletePod('ml-serving', 'llm-api-7d9f8b6c5-x2kqp', pod.metadata.uid!, { dryRun: false, gracePeriodSeconds: 5 }),
      ).resolves.toBe('deleted');
      const request = lastRequest();
      expect(request).toMatchObject({ method: 'DELETE', path: '/api/v1/namespaces/ml-serving/pods/llm-api-7d9f8b6c5-x2kqp', dryRun: false });
      expect(request.status).toBeLessThan(300);
      expect(request.body).toEqual({ preconditions: { uid: pod.metadata.uid }, gracePeriodSeconds: 5 });
      expect(sim.get('Pod', 'ml-serving', 'llm-api-7d9f8b6c5-x2kqp')).toBeUndefined();
      expectObservedEverySimRequest();
    });

    it('a dry-run delete sends dryRun=All and deletes nothing', async () => {
      const pod = sim.get('Pod', 'ml-batch', 'embed-batch-5f7c9-4kq2x') as Pod;
      await expect(cluster.deletePod('ml-batch', 'embed-batch-5f7c9-4kq2x', pod.metadata.uid!, { dryRun: true })).resolves.toBe('deleted');
      const request = lastRequest();
      expect(request).toMatchObject({ method: 'DELETE', dryRun: true, query: { dryRun: 'All' } });
      expect((request.body as { dryRun?: string[] }).dryRun).toEqual(['All']);
      const after = sim.get('Pod', 'ml-batch', 'embed-batch-5f7c9-4kq2x');
      expect(after?.metadata.uid).toBe(pod.metadata.uid);
      expect(after?.metadata.deletionTimestamp).toBeUndefined();
    });
  });

  describe('marks', () => {
    const KEY = 'remediator.dev/last-action';
    const VALUE = JSON.stringify({ playbook: 'drain-gpu-node', runId: 'r1' });

    it('annotates every kind with a merge patch of metadata.annotations', async () => {
      const refs = [
        { kind: 'Node' as const, name: 'gpu-node-1', path: '/api/v1/nodes/gpu-node-1' },
        { kind: 'Namespace' as const, name: 'ml-batch', path: '/api/v1/namespaces/ml-batch' },
        { kind: 'Pod' as const, namespace: 'ml-training', name: 'trainer-0', path: '/api/v1/namespaces/ml-training/pods/trainer-0' },
        { kind: 'Deployment' as const, namespace: 'ml-serving', name: 'llm-api', path: '/apis/apps/v1/namespaces/ml-serving/deployments/llm-api' },
        { kind: 'StatefulSet' as const, namespace: 'ml-training', name: 'trainer', path: '/apis/apps/v1/namespaces/ml-training/statefulsets/trainer' },
        {
          kind: 'ReplicaSet' as const,
          namespace: 'ml-serving',
          name: 'llm-api-7d9f8b6c5',
          path: '/apis/apps/v1/namespaces/ml-serving/replicasets/llm-api-7d9f8b6c5',
        },
        {
          kind: 'DaemonSet' as const,
          namespace: 'monitoring',
          name: 'dcgm-exporter',
          path: '/apis/apps/v1/namespaces/monitoring/daemonsets/dcgm-exporter',
        },
      ];
      for (const ref of refs) {
        await cluster.annotate(ref, KEY, VALUE, { dryRun: false });
        const request = lastRequest();
        expect(request).toMatchObject({ method: 'PATCH', path: ref.path, contentType: MERGE, status: 200 });
        expect(request.body).toEqual({ metadata: { annotations: { [KEY]: VALUE } } });
        expect(sim.get(ref.kind, ref.namespace, ref.name)?.metadata.annotations?.[KEY]).toBe(VALUE);
      }
      expect(observed.map(([verb, resource]) => `${verb} ${resource}`)).toEqual([
        'patch nodes',
        'patch namespaces',
        'patch pods',
        'patch deployments',
        'patch statefulsets',
        'patch replicasets',
        'patch daemonsets',
      ]);
      expectObservedEverySimRequest();
    });

    it('a dry-run annotation changes nothing', async () => {
      const before = sim.get('Deployment', 'ml-serving', 'llm-inference');
      await cluster.annotate({ kind: 'Deployment', namespace: 'ml-serving', name: 'llm-inference' }, KEY, VALUE, { dryRun: true });
      expect(lastRequest()).toMatchObject({ dryRun: true, contentType: MERGE, status: 200 });
      const after = sim.get('Deployment', 'ml-serving', 'llm-inference');
      expect(after?.metadata.annotations?.[KEY]).toBeUndefined();
      expect(rvOf(after)).toBe(rvOf(before));
    });

    it('annotating a missing object is a permanent 404', async () => {
      const err = await caught(cluster.annotate({ kind: 'Pod', namespace: 'ml-serving', name: 'nope' }, KEY, VALUE, { dryRun: false }));
      expect(err).toMatchObject({ code: 404, retryable: false, verb: 'patch', resource: 'pods' });
    });

    it('records core/v1 Events: namespaced objects in their namespace, nodes in default', async () => {
      const pod = sim.get('Pod', 'ml-training', 'trainer-0') as Pod;
      await cluster.createEvent(
        { kind: 'Pod', namespace: 'ml-training', name: 'trainer-0', uid: pod.metadata.uid! },
        { reason: 'RemediationRestart', message: 'restarting after OOM kill', type: 'Normal' },
        { dryRun: false },
      );
      const podEvent = lastRequest();
      expect(podEvent).toMatchObject({ method: 'POST', path: '/api/v1/namespaces/ml-training/events', status: 201 });
      const body = podEvent.body as Record<string, unknown>;
      expect(body).toMatchObject({
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { namespace: 'ml-training' },
        involvedObject: { apiVersion: 'v1', kind: 'Pod', namespace: 'ml-training', name: 'trainer-0', uid: pod.metadata.uid },
        reason: 'RemediationRestart',
        message: 'restarting after OOM kill',
        type: 'Normal',
        source: { component: 'remediator' },
        reportingComponent: 'remediator',
        count: 1,
      });
      expect(typeof body['reportingInstance']).toBe('string');
      expect(body['firstTimestamp']).toMatch(/^\d{4}-\d\d-\d\dT.*Z$/);
      expect(body['lastTimestamp']).toBe(body['firstTimestamp']);
      expect((body['metadata'] as { name: string }).name).toMatch(/^trainer-0\.[0-9a-f]+$/);
      expect(body['eventTime']).toBeUndefined();

      await cluster.createEvent(
        { kind: 'Node', name: 'gpu-node-3' },
        { reason: 'RemediationCordon', message: 'cordoned: GPU overheating', type: 'Warning' },
        { dryRun: false },
      );
      const nodeEvent = lastRequest();
      expect(nodeEvent).toMatchObject({ path: '/api/v1/namespaces/default/events', status: 201 });
      expect((nodeEvent.body as { involvedObject: Record<string, unknown> }).involvedObject).toEqual({
        apiVersion: 'v1',
        kind: 'Node',
        name: 'gpu-node-3',
      });

      const stored = [...sim.list('Event', 'ml-training'), ...sim.list('Event', 'default')] as (KubeObject & { reason?: string })[];
      expect(stored.map((e) => e.reason)).toEqual(expect.arrayContaining(['RemediationRestart', 'RemediationCordon']));
      expect(observed).toEqual([
        ['create', 'events', 201],
        ['create', 'events', 201],
      ]);
    });

    it('creates an Event under the name it is given, and tells whether it exists', async () => {
      const ref = { kind: 'Node' as const, name: 'gpu-node-4' };
      expect(await cluster.eventExists('default', 'gpu-node-4.0123456789abcdef')).toBe(false);
      await cluster.createEvent(ref, { reason: 'RemediationCordon', message: 'cordoned', type: 'Normal', name: 'gpu-node-4.0123456789abcdef' }, { dryRun: false });
      expect((lastRequest().body as { metadata: { name: string } }).metadata.name).toBe('gpu-node-4.0123456789abcdef');
      expect(await cluster.eventExists('default', 'gpu-node-4.0123456789abcdef')).toBe(true);
      // The same name again is the server's 409: a resent create never makes a second Event.
      await expect(cluster.createEvent(ref, { reason: 'RemediationCordon', message: 'cordoned', type: 'Normal', name: 'gpu-node-4.0123456789abcdef' }, { dryRun: false })).rejects.toMatchObject({ code: 409 });
    });

    it('a dry-run Event is sent with dryRun=All and not stored', async () => {
      const before = sim.list('Event', 'default').length;
      await cluster.createEvent(
        { kind: 'Node', name: 'gpu-node-2' },
        { reason: 'RemediationDrain', message: 'would drain', type: 'Normal' },
        { dryRun: true },
      );
      expect(lastRequest()).toMatchObject({ method: 'POST', dryRun: true, query: { dryRun: 'All' }, status: 201 });
      expect(sim.list('Event', 'default')).toHaveLength(before);
    });
  });

  it('observe() sees every request of a mixed session, failures included, with the sim’s status codes', async () => {
    const scale = await cluster.getScale('Deployment', 'ml-serving', 'llm-inference');
    await cluster.patchScale('Deployment', 'ml-serving', 'llm-inference', 4, scale!.resourceVersion, { dryRun: true });
    await caught(cluster.patchScale('Deployment', 'ml-serving', 'llm-inference', 4, '1', { dryRun: false }));
    await cluster.getPod('ml-serving', 'missing');
    await cluster.listPodsOnNode('gpu-node-1');
    await cluster.setUnschedulable('gpu-node-1', true, { dryRun: true });
    await cluster.evictPod('ml-serving', 'missing', 'u', { dryRun: false });
    await cluster.ping();
    expect(observed.map(([, , code]) => code)).toEqual([200, 200, 409, 404, 200, 200, 404, 200]);
    expectObservedEverySimRequest();
  });

  describe('authentication and kubeconfig', () => {
    let dir: string;
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'remediator-sim-kubeconfig-'));
    });
    afterEach(() => {
      rmSync(dir, { recursive: true, force: true });
    });

    it('loads the sim kubeconfig from a file and talks to the sim with its bearer token', async () => {
      const secured = await startSimCluster({ port: 0, readyDelayMs: 0, token: 'secret-token' });
      try {
        const file = join(dir, 'kubeconfig');
        writeFileSync(file, simKubeconfigYaml(secured.url, 'secret-token'));
        const { kc, source } = loadKubeConfig({ kubeconfig: file, env: {} });
        expect(source).toBe(`kubeconfig file ${file} (context sim)`);
        const seen: [string, string, number][] = [];
        const client = clusterFor(kc, seen);
        await expect(client.getNode('gpu-node-1')).resolves.toMatchObject({ name: 'gpu-node-1' });

        writeFileSync(file, simKubeconfigYaml(secured.url, 'wrong-token'));
        const wrong = clusterFor(loadKubeConfig({ kubeconfig: file, env: {} }).kc, seen);
        const err = await caught(wrong.getNode('gpu-node-1'));
        expect(err).toMatchObject({ code: 401, retryable: false });
        expect(seen).toEqual([
          ['get', 'nodes', 200],
          ['get', 'nodes', 401],
        ]);
      } finally {
        await secured.close();
      }
    });

    it('loads the sim kubeconfig through $KUBECONFIG', async () => {
      const file = join(dir, 'config');
      writeFileSync(file, simKubeconfigYaml(sim.url));
      const { kc } = loadKubeConfig({ env: { KUBECONFIG: file }, serviceAccountDir: join(dir, 'none') });
      await expect(clusterFor(kc, []).ping()).resolves.toMatch(/^v1\.32\./);
    });
  });
});

describe('a cluster that does not serve autoscaling/v2', () => {
  it('has no HPA: findHpaFor answers undefined instead of failing the scale', async () => {
    const { createServer } = await import('node:http');
    // An API server without the autoscaling group: every request for it is a 404 Status.
    const server = createServer((req, res) => {
      res.writeHead(404, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: `the server could not find the requested resource (${req.url})`, reason: 'NotFound', code: 404 }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as { port: number };
      const kc = new k8s.KubeConfig();
      kc.loadFromString(simKubeconfigYaml(`http://127.0.0.1:${port}`));
      const cluster = new ClientNodeCluster({ kc, requestTimeoutMs: 5000 });
      expect(await cluster.findHpaFor('Deployment', 'ml-serving', 'llm-api')).toBeUndefined();
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('rollout status (getWorkloadStatus) as the simulated controllers report it', () => {
  // New pods take a minute to be Ready and deleted ones a minute to go: every state in between is observable.
  let slow: SimCluster;
  let seen: [string, string, number][];
  let client: ClientNodeCluster;

  beforeEach(async () => {
    slow = await startSimCluster({ port: 0, readyDelayMs: 60_000, terminationDelayMs: 60_000 });
    seen = [];
    client = clusterFor(kubeConfig(slow.kubeconfigYaml()), seen);
  });

  afterEach(() => slow.close());

  function generationOf(kind: string, namespace: string, name: string): number {
    return Number(slow.get(kind, namespace, name)?.metadata.generation);
  }

  it('a settled Deployment and StatefulSet; missing → undefined; one observed get per read', async () => {
    const generation = generationOf('Deployment', 'ml-serving', 'llm-inference');
    await expect(client.getWorkloadStatus('Deployment', 'ml-serving', 'llm-inference')).resolves.toEqual({
      replicas: 3,
      generation,
      observedGeneration: generation,
      statusReplicas: 3,
      updatedReplicas: 3,
      readyReplicas: 3,
      availableReplicas: 3,
    });
    await expect(client.getWorkloadStatus('StatefulSet', 'ml-training', 'trainer')).resolves.toMatchObject({ replicas: 3, statusReplicas: 3, availableReplicas: 3 });
    await expect(client.getWorkloadStatus('Deployment', 'ml-serving', 'nope')).resolves.toBeUndefined();
    expect(seen).toEqual([
      ['get', 'deployments', 200],
      ['get', 'statefulsets', 200],
      ['get', 'deployments', 404],
    ]);
    expect(slow.requests.map((r) => r.path)).toEqual([
      '/apis/apps/v1/namespaces/ml-serving/deployments/llm-inference',
      '/apis/apps/v1/namespaces/ml-training/statefulsets/trainer',
      '/apis/apps/v1/namespaces/ml-serving/deployments/nope',
    ]);
  });

  it('after a scale-up: the new generation observed, the new pods counted, not yet available', async () => {
    const before = generationOf('Deployment', 'ml-serving', 'llm-inference');
    const scale = await client.getScale('Deployment', 'ml-serving', 'llm-inference');
    await client.patchScale('Deployment', 'ml-serving', 'llm-inference', 5, scale!.resourceVersion, { dryRun: false });
    await expect(client.getWorkloadStatus('Deployment', 'ml-serving', 'llm-inference')).resolves.toEqual({
      replicas: 5,
      generation: before + 1,
      observedGeneration: before + 1,
      statusReplicas: 5,
      updatedReplicas: 5,
      readyReplicas: 3,
      availableReplicas: 3,
    });
  });

  it('after a Deployment pod is deleted: the terminating pod no longer counts, its pending replacement not yet available', async () => {
    const [victim] = podsOf('ml-serving', 'llm-api');
    expect(await client.deletePod('ml-serving', victim!.metadata.name!, victim!.metadata.uid!, { dryRun: false })).toBe('deleted');
    expect(slow.get('Pod', 'ml-serving', victim!.metadata.name!)?.metadata.deletionTimestamp).toBeTruthy();
    await expect(client.getWorkloadStatus('Deployment', 'ml-serving', 'llm-api')).resolves.toMatchObject({
      replicas: 2,
      statusReplicas: 2,
      readyReplicas: 1,
      availableReplicas: 1,
    });

    function podsOf(namespace: string, app: string): Pod[] {
      return (slow.list('Pod', namespace) as Pod[]).filter((p) => p.metadata.labels?.['app.kubernetes.io/name'] === app);
    }
  });

  it('after a StatefulSet scale-down: its terminating pod still counts (and is Ready) until it is gone, as in kube-controller-manager', async () => {
    const scale = await client.getScale('StatefulSet', 'ml-training', 'trainer');
    await client.patchScale('StatefulSet', 'ml-training', 'trainer', 2, scale!.resourceVersion, { dryRun: false });
    expect(slow.get('Pod', 'ml-training', 'trainer-2')?.metadata.deletionTimestamp).toBeTruthy();
    await expect(client.getWorkloadStatus('StatefulSet', 'ml-training', 'trainer')).resolves.toMatchObject({
      replicas: 2,
      statusReplicas: 3,
      updatedReplicas: 2,
      readyReplicas: 3,
      availableReplicas: 3,
    });
  });
});

describe('names are checked before any request', () => {
  const hostile = ['../x', 'a/b', 'x'.repeat(300), 'Upper', '', 'kube-system/..', 'a%2Fb', 'ok?watch=1', '__proto__'];
  it.each(hostile)('%j: refused as a permanent error, and the API server never hears of it', async (bad) => {
    const before = sim.requests.length;
    const calls: (() => Promise<unknown>)[] = [
      () => cluster.getPod('default', bad),
      () => cluster.getPod(bad, 'web-0'),
      () => cluster.evictPod('default', bad, 'uid', { dryRun: false }),
      () => cluster.deletePod(bad, 'web-0', 'uid', { dryRun: false }),
      () => cluster.patchScale('Deployment', 'default', bad, 3, '1', { dryRun: false }),
      () => cluster.getNode(bad),
      () => cluster.setUnschedulable(bad, true, { dryRun: false }),
      () => cluster.listPodsOnNode(bad),
      () => cluster.annotate({ kind: 'Deployment', namespace: 'default', name: bad }, 'k', 'v', { dryRun: false }),
      () => cluster.annotate({ kind: 'Deployment', namespace: bad, name: 'web' }, 'k', 'v', { dryRun: false }),
    ];
    for (const call of calls) {
      const err = await call().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(PermanentError);
      expect((err as Error).message).toMatch(/is not a valid Kubernetes (name|namespace)/);
    }
    expect(sim.requests.slice(before)).toEqual([]);
  });
});
