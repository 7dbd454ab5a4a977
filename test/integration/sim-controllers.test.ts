import { afterEach, describe, expect, it } from 'vitest';
import type { KubeObject } from '../../src/sim/kube-types.js';
import { startSimCluster, type SimCluster } from '../../src/sim/sim-cluster.js';
import { kube, pollUntil } from '../helpers/sim-helpers.js';

const ready = (p: KubeObject) =>
  ((p.status?.['conditions'] as Array<{ type: string; status: string }> | undefined) ?? []).some((c) => c.type === 'Ready' && c.status === 'True');

describe('sim: controllers', () => {
  let sim: SimCluster | undefined;
  afterEach(async () => {
    await sim?.close();
    sim = undefined;
  });

  it('replaces a deleted ReplicaSet pod under a new name and makes it Ready after the delay', async () => {
    // Long enough that the Pending state is observable even on a loaded machine.
    sim = await startSimCluster({ readyDelayMs: 1000 });
    const s = sim;
    const victim = 'llm-api-7d9f8b6c5-x2kqp';
    expect((await kube(s, 'DELETE', `/api/v1/namespaces/ml-serving/pods/${victim}`)).status).toBe(200);
    const pods = s.list('pods', 'ml-serving').filter((p) => p.metadata.name?.startsWith('llm-api-'));
    expect(pods).toHaveLength(2);
    const replacement = pods.find((p) => p.metadata.name !== victim && !ready(p));
    expect(replacement?.metadata.name).toMatch(/^llm-api-7d9f8b6c5-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
    expect(replacement?.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'ReplicaSet', name: 'llm-api-7d9f8b6c5', controller: true });
    expect(replacement?.spec?.['nodeName']).toMatch(/^gpu-node-/);
    expect(replacement?.status?.['phase']).toBe('Pending');
    expect(s.get('deployments', 'ml-serving', 'llm-api')?.status?.['readyReplicas']).toBe(1);
    const name = replacement?.metadata.name ?? '';
    const readyPod = await pollUntil(() => {
      const p = s.get('pods', 'ml-serving', name);
      return p && ready(p) ? p : undefined;
    }, 'replacement Ready', 10_000);
    expect(readyPod.status?.['phase']).toBe('Running');
    expect(s.get('deployments', 'ml-serving', 'llm-api')?.status).toMatchObject({ replicas: 2, readyReplicas: 2, availableReplicas: 2 });
  });

  it('recreates a deleted StatefulSet pod with the same name and a new uid', async () => {
    sim = await startSimCluster({ readyDelayMs: 0 });
    const before = sim.get('pods', 'ml-training', 'trainer-1');
    expect((await kube(sim, 'DELETE', '/api/v1/namespaces/ml-training/pods/trainer-1')).status).toBe(200);
    const after = sim.get('pods', 'ml-training', 'trainer-1');
    expect(after?.metadata.uid).toBeTruthy();
    expect(after?.metadata.uid).not.toBe(before?.metadata.uid);
    expect(after?.metadata.labels?.['statefulset.kubernetes.io/pod-name']).toBe('trainer-1');
    // A fresh container: the OOM history went with the old pod.
    const statuses = after?.status?.['containerStatuses'] as Array<{ restartCount: number; lastState: unknown }>;
    expect(statuses[0]).toMatchObject({ restartCount: 0, lastState: {} });
  });

  it('follows scale changes: new pods up, highest ordinals / newest pods down', async () => {
    sim = await startSimCluster({ readyDelayMs: 0 });
    const s = sim;
    await kube(s, 'PATCH', '/apis/apps/v1/namespaces/ml-training/statefulsets/trainer/scale', {
      body: { spec: { replicas: 5 } },
      contentType: 'application/merge-patch+json',
    });
    expect(s.list('pods', 'ml-training').map((p) => p.metadata.name).sort()).toEqual(['trainer-0', 'trainer-1', 'trainer-2', 'trainer-3', 'trainer-4']);
    await kube(s, 'PATCH', '/apis/apps/v1/namespaces/ml-training/statefulsets/trainer', {
      body: { spec: { replicas: 2 } },
      contentType: 'application/merge-patch+json',
    });
    expect(s.list('pods', 'ml-training').map((p) => p.metadata.name).sort()).toEqual(['trainer-0', 'trainer-1']);
    expect(s.get('statefulsets', 'ml-training', 'trainer')?.status).toMatchObject({ replicas: 2, readyReplicas: 2 });

    const podsOf = () => s.list('pods', 'ml-serving').filter((p) => p.metadata.labels?.['app.kubernetes.io/name'] === 'llm-inference');
    const original = podsOf().map((p) => p.metadata.name);
    await kube(s, 'PUT', '/apis/apps/v1/namespaces/ml-serving/deployments/llm-inference/scale', {
      body: { kind: 'Scale', apiVersion: 'autoscaling/v1', metadata: { name: 'llm-inference', namespace: 'ml-serving' }, spec: { replicas: 5 } },
    });
    expect(podsOf()).toHaveLength(5);
    expect(s.get('replicasets', 'ml-serving', podsOf()[0]?.metadata.ownerReferences?.[0]?.name ?? '')?.spec?.['replicas']).toBe(5);
    await kube(s, 'PATCH', '/apis/apps/v1/namespaces/ml-serving/deployments/llm-inference/scale', {
      body: { spec: { replicas: 3 } },
      contentType: 'application/merge-patch+json',
    });
    expect(podsOf().map((p) => p.metadata.name).sort()).toEqual([...original].sort());
    expect(s.get('deployments', 'ml-serving', 'llm-inference')?.status).toMatchObject({ replicas: 3, readyReplicas: 3 });
    expect(s.get('poddisruptionbudgets', 'ml-serving', 'llm-inference-pdb')?.status).toMatchObject({ currentHealthy: 3, desiredHealthy: 2, disruptionsAllowed: 1 });
  });

  it('runs one DaemonSet pod per node and schedules nothing new on a cordoned node', async () => {
    sim = await startSimCluster({ readyDelayMs: 0 });
    const daemonPods = sim.list('pods', 'monitoring');
    expect(daemonPods.map((p) => p.spec?.['nodeName']).sort()).toEqual(['cpu-node-1', 'gpu-node-1', 'gpu-node-2', 'gpu-node-3', 'gpu-node-4']);
    const cordon = await kube(sim, 'PATCH', '/api/v1/nodes/gpu-node-1', {
      body: { spec: { unschedulable: true } },
      contentType: 'application/strategic-merge-patch+json',
    });
    expect(cordon.body.spec.taints).toEqual([expect.objectContaining({ key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' })]);
    const llmApiPods = () => sim!.list('pods', 'ml-serving').filter((p) => p.metadata.name?.startsWith('llm-api-'));
    const existing = new Set(llmApiPods().map((p) => p.metadata.name));
    await kube(sim, 'PATCH', '/apis/apps/v1/namespaces/ml-serving/deployments/llm-api/scale', {
      body: { spec: { replicas: 6 } },
      contentType: 'application/merge-patch+json',
    });
    const added = llmApiPods().filter((p) => !existing.has(p.metadata.name));
    expect(added).toHaveLength(4);
    expect(added.map((p) => p.spec?.['nodeName'])).not.toContain('gpu-node-1');
    expect(added.every((p) => String(p.spec?.['nodeName']).startsWith('gpu-node-'))).toBe(true);
    const uncordon = await kube(sim, 'PATCH', '/api/v1/nodes/gpu-node-1', { body: { spec: { unschedulable: null } }, contentType: 'application/merge-patch+json' });
    expect(uncordon.body.spec.taints).toBeUndefined();
  });

  it('leaves a pod Pending when no node fits its GPU request', async () => {
    sim = await startSimCluster({ readyDelayMs: 0 });
    const res = await kube(sim, 'POST', '/api/v1/namespaces/ml-batch/pods', {
      body: {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'too-big' },
        spec: { containers: [{ name: 'c', image: 'cuda', resources: { limits: { 'nvidia.com/gpu': 9 } } }] },
      },
    });
    expect(res.status).toBe(201);
    const pod = sim.get('pods', 'ml-batch', 'too-big');
    expect(pod?.spec?.['nodeName']).toBeUndefined();
    expect(pod?.status).toMatchObject({ phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable' }] });
  });

  it('keeps a gracefully deleted pod terminating for terminationDelayMs', async () => {
    sim = await startSimCluster({ readyDelayMs: 0, terminationDelayMs: 300 });
    const s = sim;
    const del = await kube(s, 'DELETE', '/api/v1/namespaces/ml-training/pods/trainer-2');
    expect(del.body.metadata.deletionTimestamp).toBeTruthy();
    expect(s.get('pods', 'ml-training', 'trainer-2')?.metadata.deletionTimestamp).toBeTruthy();
    const oldUid = del.body.metadata.uid;
    // The StatefulSet waits for the name to be free, then recreates it.
    const recreated = await pollUntil(() => {
      const p = s.get('pods', 'ml-training', 'trainer-2');
      return p && p.metadata.uid !== oldUid ? p : undefined;
    }, 'trainer-2 recreated');
    expect(recreated.metadata.deletionTimestamp).toBeUndefined();
    const immediate = await kube(s, 'DELETE', '/api/v1/namespaces/ml-training/pods/trainer-0?gracePeriodSeconds=0');
    expect(immediate.status).toBe(200);
    expect(s.get('pods', 'ml-training', 'trainer-0')?.metadata.uid).not.toBe(immediate.body.metadata.uid);
  });

  it('streams watch events', async () => {
    sim = await startSimCluster({ readyDelayMs: 0 });
    const controller = new AbortController();
    const res = await fetch(`${sim.url}/api/v1/namespaces/ml-training/pods?watch=true&resourceVersion=0`, { signal: controller.signal });
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    const events: Array<{ type: string; object: KubeObject }> = [];
    const readUntil = async (pred: () => boolean) => {
      const deadline = Date.now() + 5000;
      while (!pred() && Date.now() < deadline) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let nl: number;
        while ((nl = buffer.indexOf('\n')) >= 0) {
          events.push(JSON.parse(buffer.slice(0, nl)));
          buffer = buffer.slice(nl + 1);
        }
      }
    };
    await readUntil(() => events.length >= 3);
    expect(events.slice(0, 3).map((e) => e.type)).toEqual(['ADDED', 'ADDED', 'ADDED']);
    await kube(sim, 'DELETE', '/api/v1/namespaces/ml-training/pods/trainer-0');
    await readUntil(() => events.some((e) => e.type === 'DELETED'));
    expect(events.find((e) => e.type === 'DELETED')?.object.metadata.name).toBe('trainer-0');
    controller.abort();
  });
});
