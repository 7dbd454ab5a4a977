import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import type { KubeObject } from '../../src/sim/kube-types.js';
import { startSimCluster, type SimCluster } from '../../src/sim/sim-cluster.js';
import { kubectl, kubectlEnv, pollUntil, type KubectlEnv } from '../helpers/sim-helpers.js';

const ready = (p: KubeObject) =>
  ((p.status?.['conditions'] as Array<{ type: string; status: string }> | undefined) ?? []).some((c) => c.type === 'Ready' && c.status === 'True');

/** The preinstalled kubectl (1.32) must be able to operate the simulated cluster. */
describe('sim: kubectl 1.32 against the simulated cluster', () => {
  let sim: SimCluster;
  let env: KubectlEnv;

  beforeAll(async () => {
    sim = await startSimCluster({});
    env = kubectlEnv(sim);
  });
  afterAll(async () => {
    env?.dispose();
    await sim?.close();
  });

  it('gets nodes and pods as tables', async () => {
    const nodes = await kubectl(env, ['get', 'nodes']);
    expect(nodes.stderr).toBe('');
    expect(nodes.code).toBe(0);
    expect(nodes.stdout).toMatch(/^NAME\s+STATUS\s+ROLES\s+AGE\s+VERSION\n/);
    expect(nodes.stdout).toMatch(/^gpu-node-3\s+Ready\s+gpu\s+\S+\s+v1\.32\.4$/m);

    const pods = await kubectl(env, ['get', 'pods', '-A']);
    expect(pods.code).toBe(0);
    expect(pods.stdout).toMatch(/^NAMESPACE\s+NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\n/);
    expect(pods.stdout).toMatch(/^ml-serving\s+llm-api-7d9f8b6c5-x2kqp\s+1\/1\s+Running\s+3 \(\S+ ago\)/m);
    expect(pods.stdout.trim().split('\n')).toHaveLength(1 + sim.list('pods').length);
  }, 30_000);

  it('scales a deployment through the scale subresource', async () => {
    const res = await kubectl(env, ['scale', 'deployment', 'llm-inference', '-n', 'ml-serving', '--replicas=4']);
    expect(res.code).toBe(0);
    expect(res.stdout.trim()).toBe('deployment.apps/llm-inference scaled');
    expect(sim.get('deployments', 'ml-serving', 'llm-inference')?.spec?.['replicas']).toBe(4);
    expect(sim.requests.some((r) => r.method === 'PATCH' && r.path === '/apis/apps/v1/namespaces/ml-serving/deployments/llm-inference/scale')).toBe(true);
    // rollout status watches the Deployment until the new replicas are available.
    const rollout = await kubectl(env, ['rollout', 'status', 'deployment/llm-inference', '-n', 'ml-serving', '--timeout=20s'], 30_000);
    expect(rollout.code, rollout.stderr).toBe(0);
    expect(rollout.stdout).toContain('deployment "llm-inference" successfully rolled out');
    expect(sim.get('deployments', 'ml-serving', 'llm-inference')?.status?.['readyReplicas']).toBe(4);
  }, 40_000);

  it('cordons and drains a GPU node: managed pods move, DaemonSet and mirror pods stay', async () => {
    const cordon = await kubectl(env, ['cordon', 'gpu-node-2']);
    expect(cordon.code).toBe(0);
    expect(cordon.stdout.trim()).toBe('node/gpu-node-2 cordoned');
    expect(sim.get('nodes', undefined, 'gpu-node-2')?.spec?.['unschedulable']).toBe(true);
    expect(sim.requests.find((r) => r.method === 'PATCH' && r.path === '/api/v1/nodes/gpu-node-2')?.contentType).toBe(
      'application/strategic-merge-patch+json',
    );

    const onNode = () => sim.list('pods').filter((p) => p.spec?.['nodeName'] === 'gpu-node-2');
    const before = onNode();
    const movable = before.filter((p) => {
      const owner = p.metadata.ownerReferences?.[0]?.kind;
      return owner !== 'DaemonSet' && owner !== 'Node';
    });
    expect(movable.map((p) => p.metadata.name)).toContain('trainer-1');

    const drain = await kubectl(env, ['drain', 'gpu-node-2', '--ignore-daemonsets', '--delete-emptydir-data', '--force', '--timeout=60s'], 90_000);
    expect(drain.code, drain.stderr).toBe(0);
    expect(drain.stdout).toContain('node/gpu-node-2 drained');
    for (const pod of movable) expect(drain.stdout).toContain(`pod/${pod.metadata.name} evicted`);
    expect(sim.requests.filter((r) => r.path.endsWith('/eviction')).length).toBeGreaterThanOrEqual(movable.length);

    const remaining = onNode().map((p) => p.metadata.ownerReferences?.[0]?.kind).sort();
    expect(remaining).toEqual(['DaemonSet', 'Node']);
    const trainer1 = sim.get('pods', 'ml-training', 'trainer-1');
    expect(trainer1?.metadata.uid).not.toBe(before.find((p) => p.metadata.name === 'trainer-1')?.metadata.uid);
    expect(trainer1?.spec?.['nodeName']).not.toBe('gpu-node-2');
    await pollUntil(
      () => {
        const inference = sim.list('pods', 'ml-serving').filter((p) => p.metadata.labels?.['app.kubernetes.io/name'] === 'llm-inference');
        return inference.length === 4 && inference.every(ready) ? true : undefined;
      },
      'llm-inference back to 4 ready replicas elsewhere',
      10_000,
    ).catch((err: Error) => {
      const state = sim.list('pods').map((p) => `${p.metadata.name}@${String(p.spec?.['nodeName'])}:${String(p.status?.['phase'])}`);
      throw new Error(`${err.message}; pods: ${state.join(' ')}`);
    });
  }, 120_000);

  it('keeps retrying a PDB-blocked eviction (429) until the budget allows it', async () => {
    const fresh = await startSimCluster({ readyDelayMs: 0 });
    try {
      const freshEnv = kubectlEnv(fresh);
      onTestFinished(() => freshEnv.dispose());
      const victim = fresh.list('pods', 'ml-serving').find((p) => p.metadata.labels?.['app.kubernetes.io/name'] === 'llm-inference');
      const node = String(victim?.spec?.['nodeName']);
      fresh.setPdbMaxUnavailable('ml-serving', 'llm-inference-pdb', 0);
      const drain = kubectl(freshEnv, ['drain', node, '--ignore-daemonsets', '--delete-emptydir-data', '--force', '--timeout=60s'], 90_000);
      await pollUntil(
        () => (fresh.requests.some((r) => r.path.endsWith(`/pods/${victim?.metadata.name}/eviction`) && r.status === 429) ? true : undefined),
        'a 429 for the PDB-protected pod',
        20_000,
      );
      expect(fresh.get('pods', 'ml-serving', victim?.metadata.name ?? '')).toBeDefined();
      fresh.setPdbMaxUnavailable('ml-serving', 'llm-inference-pdb', '100%');
      const result = await drain;
      expect(result.code).toBe(0);
      expect(result.stdout + result.stderr).toContain("Cannot evict pod as it would violate the pod's disruption budget.");
      expect(result.stdout).toContain(`node/${node} drained`);
      expect(fresh.get('pods', 'ml-serving', victim?.metadata.name ?? '')).toBeUndefined();
    } finally {
      await fresh.close();
    }
  }, 120_000);

  it('refuses to drain a node with an unmanaged pod unless forced (kubectl filters see ownerReferences)', async () => {
    const res = await kubectl(env, ['drain', 'gpu-node-4', '--ignore-daemonsets', '--delete-emptydir-data', '--timeout=20s'], 40_000);
    expect(res.code).not.toBe(0);
    expect(res.stderr).toContain('ml-batch/gpu-debug-shell');
    expect(sim.get('pods', 'ml-batch', 'gpu-debug-shell')).toBeDefined();
    expect(sim.get('nodes', undefined, 'gpu-node-4')?.spec?.['unschedulable']).toBe(true);
  }, 60_000);
});
