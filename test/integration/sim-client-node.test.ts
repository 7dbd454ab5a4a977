import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimCluster, type SimCluster } from '../../src/sim/sim-cluster.js';
import { apiFailure, kubeConfigFor, mergePatch } from '../helpers/sim-helpers.js';

describe('sim: @kubernetes/client-node 1.4 against the simulated cluster', () => {
  let sim: SimCluster;
  let core: k8s.CoreV1Api;
  let apps: k8s.AppsV1Api;

  beforeAll(async () => {
    sim = await startSimCluster({ readyDelayMs: 60_000 });
    const kc = kubeConfigFor(sim);
    core = kc.makeApiClient(k8s.CoreV1Api);
    apps = kc.makeApiClient(k8s.AppsV1Api);
  });
  afterAll(async () => {
    await sim.close();
  });

  it('answers VersionApi (GET /version/) and the health endpoints', async () => {
    const kc = kubeConfigFor(sim);
    const version = await kc.makeApiClient(k8s.VersionApi).getCode();
    expect(version).toMatchObject({ major: '1', minor: '32', gitVersion: 'v1.32.4' });
    expect(await new k8s.Health(kc).readyz({})).toBe(true);
  });

  it('lists pods on a node and reads namespaces, nodes and HPAs as typed objects', async () => {
    const pods = await core.listPodForAllNamespaces({ fieldSelector: 'spec.nodeName=gpu-node-3' });
    const names = pods.items.map((p) => `${p.metadata?.namespace}/${p.metadata?.name}`);
    expect(names).toEqual(expect.arrayContaining(['ml-serving/llm-api-7d9f8b6c5-x2kqp', 'kube-system/gpu-health-agent-gpu-node-3']));
    const oom = pods.items.find((p) => p.metadata?.name === 'llm-api-7d9f8b6c5-x2kqp');
    expect(oom?.status?.containerStatuses?.[0]?.lastState?.terminated).toMatchObject({ reason: 'OOMKilled', exitCode: 137 });
    expect(oom?.status?.containerStatuses?.[0]?.restartCount).toBe(3);
    const node = await core.readNode({ name: 'gpu-node-3' });
    expect(node.status?.allocatable?.['nvidia.com/gpu']).toBe('8');
    expect(node.metadata?.labels?.['nvidia.com/gpu.present']).toBe('true');
    const ns = await core.readNamespace({ name: 'ml-serving' });
    expect(ns.metadata?.labels?.['kubernetes.io/metadata.name']).toBe('ml-serving');
    const hpas = await kubeConfigFor(sim).makeApiClient(k8s.AutoscalingV2Api).listNamespacedHorizontalPodAutoscaler({ namespace: 'ml-serving' });
    expect(hpas.items[0]?.spec?.scaleTargetRef).toMatchObject({ kind: 'Deployment', name: 'embedding-service' });
  });

  it('reads and merge-patches the scale subresource, with dry run and conflicts', async () => {
    const scale = await apps.readNamespacedDeploymentScale({ name: 'llm-api', namespace: 'ml-serving' });
    expect(scale.spec?.replicas).toBe(2);
    const dry = await apps.patchNamespacedDeploymentScale(
      { name: 'llm-api', namespace: 'ml-serving', body: { spec: { replicas: 3 } }, dryRun: 'All' },
      mergePatch,
    );
    expect(dry.spec?.replicas).toBe(3);
    expect((await apps.readNamespacedDeploymentScale({ name: 'llm-api', namespace: 'ml-serving' })).spec?.replicas).toBe(2);
    const done = await apps.patchNamespacedDeploymentScale(
      { name: 'llm-api', namespace: 'ml-serving', body: { metadata: { resourceVersion: scale.metadata?.resourceVersion }, spec: { replicas: 3 } } },
      mergePatch,
    );
    expect(done.spec?.replicas).toBe(3);
    const conflict = await apiFailure(
      apps.patchNamespacedDeploymentScale(
        { name: 'llm-api', namespace: 'ml-serving', body: { metadata: { resourceVersion: scale.metadata?.resourceVersion }, spec: { replicas: 4 } } },
        mergePatch,
      ),
    );
    expect(conflict.code).toBe(409);
    expect(conflict.status.reason).toBe('Conflict');
    // Without the Content-Type override the client sends json-patch+json, which a real server refuses.
    const trap = await apiFailure(apps.patchNamespacedDeploymentScale({ name: 'llm-api', namespace: 'ml-serving', body: { spec: { replicas: 4 } } }));
    expect(trap.code).toBe(400);
    const requestTypes = sim.mutations().map((r) => r.contentType);
    expect(requestTypes).toContain('application/merge-patch+json');
    expect(requestTypes).toContain('application/json-patch+json');
  });

  it('surfaces 404 and 429 as ApiException with the Status as a JSON string', async () => {
    const missing = await apiFailure(core.readNamespacedPod({ name: 'gone', namespace: 'ml-serving' }));
    expect(missing).toMatchObject({ code: 404, status: { reason: 'NotFound', message: 'pods "gone" not found' } });

    const pods = await core.listNamespacedPod({ namespace: 'ml-serving', labelSelector: 'app.kubernetes.io/name=llm-inference' });
    const [a, b] = pods.items.map((p) => p.metadata?.name ?? '');
    const evict = (name: string) =>
      core.createNamespacedPodEviction({
        name,
        namespace: 'ml-serving',
        body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace: 'ml-serving' } },
      });
    await evict(a!);
    const blocked = await apiFailure(evict(b!));
    expect(blocked.code).toBe(429);
    expect(blocked.status.details.causes[0].reason).toBe('DisruptionBudget');
  });

  it('deletes a pod with a uid precondition and records Events', async () => {
    const pod = await core.readNamespacedPod({ name: 'trainer-2', namespace: 'ml-training' });
    const stale = await apiFailure(
      core.deleteNamespacedPod({ name: 'trainer-2', namespace: 'ml-training', body: { preconditions: { uid: 'other' } } }),
    );
    expect(stale.code).toBe(409);
    const deleted = await core.deleteNamespacedPod({ name: 'trainer-2', namespace: 'ml-training', body: { preconditions: { uid: pod.metadata?.uid } } });
    expect(deleted.metadata?.uid).toBe(pod.metadata?.uid);
    const event = await core.createNamespacedEvent({
      namespace: 'default',
      body: {
        metadata: { generateName: 'gpu-node-3.' },
        involvedObject: { kind: 'Node', name: 'gpu-node-3', apiVersion: 'v1' },
        reason: 'RemediationCordon',
        message: 'cordoned by remediator',
        type: 'Normal',
        reportingComponent: 'remediator',
        firstTimestamp: new Date(),
        lastTimestamp: new Date(),
        count: 1,
      },
    });
    expect(event.metadata?.name).toMatch(/^gpu-node-3\./);
    const events = await core.listNamespacedEvent({ namespace: 'default', fieldSelector: 'involvedObject.name=gpu-node-3' });
    expect(events.items.map((e) => e.reason)).toEqual(['RemediationCordon']);
  });
});
