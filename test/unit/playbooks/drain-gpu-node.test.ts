import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { drainGpuNode } from '../../../playbooks/drain-gpu-node.js';
import { GuardBlockedError, KubeApiError, PermanentError } from '../../../src/domain/errors.js';
import type { NodeInfo } from '../../../src/kube/cluster-client.js';
import type { RunStep } from '../../../src/domain/run.js';
import { LAST_ACTION_ANNOTATION, NOT_OUR_CORDON } from '../../../playbooks/node-marks.js';
import { FakeCluster } from '../../helpers/fake-cluster.js';
import { createFakeContext, FakeClock } from '../../helpers/fake-playbook-context.js';

const NODE = 'gpu-node-3';
const LLM_A = 'llm-api-7d9f8b6c5-x2kqp';
const LLM_B = 'llm-api-7d9f8b6c5-q8w2e';

function params(input: Record<string, unknown> = {}) {
  return drainGpuNode.paramsSchema.parse({ node: NODE, ...input });
}

interface SetupOptions {
  node?: Partial<NodeInfo>;
  dryRun?: boolean;
  nodeBudget?: number;
  optOutLabel?: string;
}

/**
 * gpu-node-3 runs two llm-api pods (GPU), a router pod (no GPU), a dcgm-exporter DaemonSet pod and
 * a static kube-proxy mirror pod. Another node runs a pod that must never be touched.
 */
function setup(options: SetupOptions = {}) {
  const clock = new FakeClock();
  const cluster = new FakeCluster({ now: () => clock.now() });
  cluster.addNode({ name: NODE, ...options.node });
  cluster.addNode({ name: 'gpu-node-4' });
  const llm = cluster.addDeployment('ml-serving', 'llm-api', { replicas: 3 }).replicaSet;
  const router = cluster.addDeployment('ml-serving', 'router').replicaSet;
  const dcgm = cluster.addWorkload({ kind: 'DaemonSet', namespace: 'gpu-operator', name: 'dcgm-exporter', selector: { app: 'dcgm-exporter' } });
  const a = cluster.addPodOf(llm, LLM_A, { nodeName: NODE, requestsGpu: true });
  const b = cluster.addPodOf(llm, LLM_B, { nodeName: NODE, requestsGpu: true });
  const r = cluster.addPodOf(router, 'router-7d9f8b6c5-m4n5b', { nodeName: NODE });
  cluster.addPodOf(dcgm, 'dcgm-exporter-x7k2p', { nodeName: NODE, hasEmptyDir: true });
  cluster.addPod({ namespace: 'kube-system', name: `kube-proxy-${NODE}`, nodeName: NODE, isMirror: true, controller: { kind: 'Node', name: NODE } });
  cluster.addPodOf(llm, 'llm-api-7d9f8b6c5-elsewhere', { nodeName: 'gpu-node-4', requestsGpu: true });
  const ctx = createFakeContext({ cluster, clock, dryRun: options.dryRun, nodeBudget: options.nodeBudget, optOutLabel: options.optOutLabel });
  return { cluster, ctx, clock, pods: { a, b, r } };
}

function evicted(cluster: FakeCluster): string[] {
  return cluster.callsOf('evictPod').map((c) => `${c.args[0]}/${c.args[1]}`);
}

describe('drain-gpu-node params', () => {
  it('has the documented defaults', () => {
    expect(params()).toEqual({
      node: NODE,
      requireGpu: true,
      timeoutSeconds: 600,
      ignoreDaemonSets: true,
      deleteEmptyDirData: false,
      force: false,
      onlyGpuPods: false,
    });
  });

  it('accepts a NoSchedule or PreferNoSchedule taint', () => {
    expect(params({ taint: { key: 'remediator.dev/gpu-overheated', value: 'true', effect: 'NoSchedule' } }).taint).toEqual({
      key: 'remediator.dev/gpu-overheated',
      value: 'true',
      effect: 'NoSchedule',
    });
    expect(params({ taint: { key: 'gpu-hot', effect: 'PreferNoSchedule' } }).taint?.effect).toBe('PreferNoSchedule');
  });

  it('refuses a NoExecute taint, saying it bypasses PodDisruptionBudgets', () => {
    const result = drainGpuNode.paramsSchema.safeParse({ node: NODE, taint: { key: 'gpu-hot', effect: 'NoExecute' } });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.path).toEqual(['taint', 'effect']);
    expect(result.error?.issues[0]?.message).toMatch(/NoExecute.*bypasses PodDisruptionBudgets/);
  });

  it('refuses invalid node names, taint keys and unknown keys', () => {
    for (const bad of [{ node: 'gpu_node' }, { taint: { key: 'a b', effect: 'NoSchedule' } }, { timeoutSeconds: 0 }, { ignoreDaemonset: true }]) {
      expect(drainGpuNode.paramsSchema.safeParse({ node: NODE, ...bad }).success, JSON.stringify(bad)).toBe(false);
    }
  });

  it('is servable as JSON Schema', () => {
    const schema = z.toJSONSchema(drainGpuNode.paramsSchema, { io: 'input', unrepresentable: 'any' }) as { required: string[]; properties: Record<string, unknown> };
    expect(schema.required).toContain('node');
    expect(schema.properties).toHaveProperty('taint');
  });

  it('targets the node', () => {
    expect(drainGpuNode.target(params())).toBe('node/gpu-node-3');
  });
});

describe('drain-gpu-node paramsFromLabels', () => {
  it('takes node from the GPUNodeOverheating fixture labels', () => {
    const labels = {
      Hostname: 'gpu-node-3',
      alertname: 'GPUNodeOverheating',
      gpu: '0',
      modelName: 'NVIDIA H100 80GB HBM3',
      node: 'gpu-node-3',
      severity: 'critical',
    };
    expect(drainGpuNode.paramsFromLabels(labels)).toEqual({ node: 'gpu-node-3' });
  });

  it('falls back to kubernetes_node, Hostname, hostname, then instance without its port', () => {
    expect(drainGpuNode.paramsFromLabels({ kubernetes_node: 'n1', Hostname: 'n2', hostname: 'n3', instance: 'n4:9400' })).toEqual({ node: 'n1' });
    expect(drainGpuNode.paramsFromLabels({ Hostname: 'n2', hostname: 'n3', instance: 'n4:9400' })).toEqual({ node: 'n2' });
    expect(drainGpuNode.paramsFromLabels({ hostname: 'n3', instance: 'n4:9400' })).toEqual({ node: 'n3' });
    expect(drainGpuNode.paramsFromLabels({ instance: 'gpu-node-5.cluster.local:9100' })).toEqual({ node: 'gpu-node-5.cluster.local' });
    expect(drainGpuNode.paramsFromLabels({ instance: 'gpu-node-6' })).toEqual({ node: 'gpu-node-6' });
  });

  it('ignores invalid values', () => {
    expect(drainGpuNode.paramsFromLabels({ node: 'GPU_Node 3', Hostname: 'gpu-node-3' })).toEqual({ node: 'gpu-node-3' });
    expect(drainGpuNode.paramsFromLabels({ node: '../../api', instance: '[fe80::1]:9100' })).toEqual({});
    expect(drainGpuNode.paramsFromLabels({ alertname: 'GPUNodeOverheating' })).toEqual({});
  });
});

describe('drain-gpu-node run', () => {
  it('cordons, evicts every pod but DaemonSet and mirror pods with a uid precondition, and waits until they are gone', async () => {
    const { cluster, ctx, pods } = setup();

    const outcome = await drainGpuNode.run(ctx, params());

    expect(outcome).toEqual({
      result: 'changed',
      reason:
        `cordoned and drained node ${NODE}: evicted 3 pods (ml-serving/${LLM_A}, ml-serving/${LLM_B}, ml-serving/router-7d9f8b6c5-m4n5b); ` +
        '2 workloads back at desired availability: deployment/ml-serving/llm-api 3/3, deployment/ml-serving/router 1/1',
    });
    expect(ctx.health).toEqual([
      { result: 'healthy', detail: '2 workloads back at desired availability: deployment/ml-serving/llm-api 3/3, deployment/ml-serving/router 1/1' },
    ]);
    expect(ctx.budgetClaims).toEqual([NODE]);
    expect(cluster.nodes.get(NODE)!.unschedulable).toBe(true);
    expect(cluster.callsOf('evictPod').map((c) => c.args.slice(0, 3))).toEqual([
      ['ml-serving', LLM_A, pods.a.uid],
      ['ml-serving', LLM_B, pods.b.uid],
      ['ml-serving', 'router-7d9f8b6c5-m4n5b', pods.r.uid],
    ]);
    expect(cluster.pods.has(`gpu-operator/dcgm-exporter-x7k2p`)).toBe(true);
    expect(cluster.pods.has(`kube-system/kube-proxy-${NODE}`)).toBe(true);
    expect(cluster.pods.has('ml-serving/llm-api-7d9f8b6c5-elsewhere')).toBe(true);
    // Cordon strictly before the first eviction.
    const methods = cluster.mutations().map((c) => c.method);
    expect(methods.indexOf('setUnschedulable')).toBeLessThan(methods.indexOf('evictPod'));
    expect(ctx.events.map((e) => e.reason)).toEqual([
      'RemediationCordon',
      'RemediationDrain',
      'RemediationEvict',
      'RemediationEvict',
      'RemediationEvict',
    ]);
    expect(ctx.events[2]).toEqual({
      ref: { kind: 'Pod', namespace: 'ml-serving', name: LLM_A, uid: pods.a.uid },
      reason: 'RemediationEvict',
      message: `evicted pod ml-serving/${LLM_A} to drain node ${NODE}`,
      type: 'Normal',
    });
    expect(ctx.stamps).toEqual([{ ref: { kind: 'Node', name: NODE }, reason: outcome.reason }]);
  });

  it('polls every second until evicted pods are gone', async () => {
    const { cluster, ctx, clock } = setup();
    cluster.lingerAfterRemoval('ml-serving', LLM_A, 3);
    await drainGpuNode.run(ctx, params());
    expect(clock.sleeps).toEqual([1000, 1000]);
    expect(cluster.pods.has(`ml-serving/${LLM_A}`)).toBe(false);
  });

  it('retries a pod whose refusal names no budget every 5 s (as kubectl does) until it is allowed', async () => {
    const { cluster, ctx, clock } = setup();
    cluster.refuseEviction('ml-serving', LLM_B, 3);

    const outcome = await drainGpuNode.run(ctx, params());

    expect(outcome.result).toBe('changed');
    expect(evicted(cluster)).toEqual([
      `ml-serving/${LLM_A}`,
      `ml-serving/${LLM_B}`,
      'ml-serving/router-7d9f8b6c5-m4n5b',
      `ml-serving/${LLM_B}`,
      `ml-serving/${LLM_B}`,
      `ml-serving/${LLM_B}`,
    ]);
    expect(new Set(clock.sleeps)).toEqual(new Set([100]));
    expect(clock.elapsedSince()).toBe(15_000);
    expect(cluster.callsOf('getDisruptionsAllowed')).toEqual([]);
    expect(cluster.pods.has(`ml-serving/${LLM_B}`)).toBe(false);
    expect(ctx.actionErrors).toEqual([]);
  });

  it('times out on a PDB that never allows, naming the pods still on the node and counting the evictions as errors', async () => {
    const { cluster, ctx, clock } = setup();
    cluster.refuseEviction('ml-serving', LLM_B);

    const error = await drainGpuNode.run(ctx, params({ timeoutSeconds: 30 })).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(PermanentError);
    expect((error as Error).message).toBe(`drain timed out after 30s; still on node: ml-serving/${LLM_B}`);
    expect(clock.elapsedSince()).toBe(30_000);
    expect(ctx.actionErrors).toEqual(['evict']);
    expect(cluster.pods.has(`ml-serving/${LLM_A}`)).toBe(false);
    expect(ctx.stamps).toHaveLength(1);
  });

  it('times out while waiting for evicted pods that do not go away', async () => {
    const { cluster, ctx } = setup();
    cluster.lingerAfterRemoval('ml-serving', LLM_A);
    cluster.lingerAfterRemoval('ml-serving', 'router-7d9f8b6c5-m4n5b');
    await expect(drainGpuNode.run(ctx, params({ timeoutSeconds: 20 }))).rejects.toThrow(
      `drain timed out after 20s; still on node: ml-serving/${LLM_A}, ml-serving/router-7d9f8b6c5-m4n5b`,
    );
    expect(ctx.actionErrors).toEqual([]);
  });

  it('treats a pod already gone (404) as done', async () => {
    const { cluster, ctx } = setup();
    // Deleted by someone else just before: its ReplicaSet has already replaced it.
    cluster.beforeNext('evictPod', () => {
      cluster.pods.delete(`ml-serving/${LLM_A}`);
      cluster.addPodOf(cluster.workloads.get('ReplicaSet/ml-serving/llm-api-7d9f8b6c5')!, 'llm-api-7d9f8b6c5-n3w9p', { nodeName: 'gpu-node-4' });
    });
    const outcome = await drainGpuNode.run(ctx, params());
    expect(outcome.reason).toContain(`1 pod already gone (ml-serving/${LLM_A})`);
  });

  it('sends a pod a named budget refused again as soon as that budget allows a disruption, one per disruption allowed', async () => {
    const { cluster, ctx, clock } = setup();
    cluster.refuseEviction('ml-serving', LLM_A, 1, 'llm-api');
    cluster.refuseEviction('ml-serving', LLM_B, 1, 'llm-api');
    cluster.setDisruptionsAllowed('ml-serving', 'llm-api', 0);
    // The budget allows one disruption after the third read (750 ms), then another.
    let reads = 0;
    const allowLater = () => {
      reads += 1;
      if (reads === 3) cluster.setDisruptionsAllowed('ml-serving', 'llm-api', 1);
      if (reads < 10) cluster.beforeNext('getDisruptionsAllowed', allowLater);
    };
    cluster.beforeNext('getDisruptionsAllowed', allowLater);

    const outcome = await drainGpuNode.run(ctx, params());

    expect(outcome.result).toBe('changed');
    const calls = evicted(cluster);
    // One each at first (both refused), then one per read that allowed one: never both at once on a budget of 1.
    expect(calls.slice(0, 3).sort()).toEqual([`ml-serving/${LLM_A}`, `ml-serving/${LLM_B}`, 'ml-serving/router-7d9f8b6c5-m4n5b'].sort());
    expect(calls.slice(3)).toEqual([`ml-serving/${LLM_A}`, `ml-serving/${LLM_B}`]);
    expect(clock.elapsedSince()).toBeLessThan(2000);
    expect(cluster.callsOf('getDisruptionsAllowed').every((c) => c.args[0] === 'ml-serving' && c.args[1] === 'llm-api')).toBe(true);
  });

  it('a budget it may not read (403) does not fail the drain: its pods are retried every 5 s, as kubectl does', async () => {
    const { cluster, ctx, clock } = setup();
    cluster.refuseEviction('ml-serving', LLM_B, 1, 'llm-api');
    cluster.failNext('getDisruptionsAllowed', new KubeApiError(403, 'Forbidden', 'poddisruptionbudgets "llm-api" is forbidden', 'get', 'poddisruptionbudgets'), 1000);

    const outcome = await drainGpuNode.run(ctx, params());

    expect(outcome.result).toBe('changed');
    expect(evicted(cluster).filter((p) => p === `ml-serving/${LLM_B}`)).toHaveLength(2);
    expect(clock.elapsedSince()).toBe(5000);
  });

  it('fails on other eviction errors, retrying nothing', async () => {
    const { cluster, ctx } = setup();
    cluster.failNext('evictPod', new KubeApiError(500, 'InternalError', 'This pod has more than one PodDisruptionBudget', 'create', 'pods/eviction'));
    await expect(drainGpuNode.run(ctx, params())).rejects.toMatchObject({ code: 500 });
    // The three evictions went out together; the failure stops the drain, and nothing is sent again.
    const calls = evicted(cluster);
    expect(new Set(calls).size).toBe(calls.length);
    expect(calls.length).toBeLessThanOrEqual(3);
  });

  it('passes the grace period to every eviction', async () => {
    const { cluster, ctx } = setup();
    await drainGpuNode.run(ctx, params({ gracePeriodSeconds: 45 }));
    expect(cluster.callsOf('evictPod').every((c) => (c.args[3] as { gracePeriodSeconds?: number }).gracePeriodSeconds === 45)).toBe(true);
  });

  describe('blocking pods: nothing is evicted, the node stays cordoned, the error names every pod', () => {
    it('an unmanaged pod without force', async () => {
      const { cluster, ctx } = setup();
      cluster.addPod({ namespace: 'ml-serving', name: 'debug-shell', nodeName: NODE });
      const error = await drainGpuNode.run(ctx, params()).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PermanentError);
      expect((error as Error).message).toBe(`cannot drain node ${NODE}: pod ml-serving/debug-shell has no controller (use force)`);
      expect(cluster.callsOf('evictPod')).toEqual([]);
      expect(cluster.nodes.get(NODE)!.unschedulable).toBe(true);
      expect(ctx.events.map((e) => e.reason)).toEqual(['RemediationCordon', 'RemediationBlocked']);
    });

    it('an emptyDir pod without deleteEmptyDirData, listed together with an unmanaged one', async () => {
      const { cluster, ctx } = setup();
      const router = cluster.workloads.get('ReplicaSet/ml-serving/router-7d9f8b6c5')!;
      cluster.addPodOf(router, 'router-7d9f8b6c5-cache1', { nodeName: NODE, hasEmptyDir: true });
      cluster.addPod({ namespace: 'ml-batch', name: 'scratch', nodeName: NODE });
      await expect(drainGpuNode.run(ctx, params())).rejects.toThrow(
        `cannot drain node ${NODE}: pod ml-serving/router-7d9f8b6c5-cache1 uses emptyDir data (use deleteEmptyDirData); pod ml-batch/scratch has no controller (use force)`,
      );
      expect(cluster.callsOf('evictPod')).toEqual([]);
    });

    it('a pod, namespace or workload opted out, even with force', async () => {
      for (const optOut of ['pod', 'namespace', 'deployment'] as const) {
        const { cluster, ctx } = setup();
        if (optOut === 'pod') cluster.pods.get(`ml-serving/${LLM_A}`)!.labels['remediator.dev/disabled'] = 'true';
        if (optOut === 'namespace') cluster.setNamespaceLabels('ml-serving', { 'remediator.dev/disabled': 'true' });
        if (optOut === 'deployment') cluster.workloads.get('Deployment/ml-serving/llm-api')!.labels['remediator.dev/disabled'] = 'true';
        const error = await drainGpuNode.run(ctx, params({ force: true, deleteEmptyDirData: true })).catch((e: unknown) => e);
        expect((error as Error).message, optOut).toMatch(new RegExp(`pod ml-serving/${LLM_A} is opted out`));
        expect(cluster.callsOf('evictPod'), optOut).toEqual([]);
      }
    });

    it('a pod opted out with the configured label (ctx.optOutLabel), not the default one', async () => {
      const { cluster, ctx } = setup({ optOutLabel: 'example.com/no-remediation' });
      cluster.pods.get(`ml-serving/${LLM_A}`)!.labels['remediator.dev/disabled'] = 'true';
      expect((await drainGpuNode.run(ctx, params())).result).toBe('changed');

      const second = setup({ optOutLabel: 'example.com/no-remediation' });
      second.cluster.setNamespaceLabels('ml-serving', { 'example.com/no-remediation': 'true' });
      await expect(drainGpuNode.run(second.ctx, params())).rejects.toThrow(
        `pod ml-serving/${LLM_A} is opted out (example.com/no-remediation=true on namespace ml-serving)`,
      );
      expect(second.cluster.callsOf('evictPod')).toEqual([]);
    });

    it('a pod whose ReplicaSet is opted out, and a label value other than "true" does not count', async () => {
      const { cluster, ctx } = setup();
      cluster.workloads.get('ReplicaSet/ml-serving/llm-api-7d9f8b6c5')!.labels['remediator.dev/disabled'] = 'true';
      cluster.workloads.get('Deployment/ml-serving/router')!.labels['remediator.dev/disabled'] = 'false';
      const error = (await drainGpuNode.run(ctx, params()).catch((e: unknown) => e)) as Error;
      expect(error.message).toContain(`pod ml-serving/${LLM_A} is opted out (remediator.dev/disabled=true on ReplicaSet llm-api-7d9f8b6c5)`);
      expect(error.message).not.toContain('router');
    });

    it('a DaemonSet pod when not ignoring DaemonSets', async () => {
      const { cluster, ctx } = setup();
      await expect(drainGpuNode.run(ctx, params({ ignoreDaemonSets: false }))).rejects.toThrow(
        'pod gpu-operator/dcgm-exporter-x7k2p is managed by DaemonSet dcgm-exporter (use ignoreDaemonSets)',
      );
      expect(cluster.callsOf('evictPod')).toEqual([]);
    });

    it('evicts them once the matching flag is set', async () => {
      const { cluster, ctx } = setup();
      cluster.addPod({ namespace: 'ml-serving', name: 'debug-shell', nodeName: NODE, hasEmptyDir: true });
      const outcome = await drainGpuNode.run(ctx, params({ force: true, deleteEmptyDirData: true }));
      expect(outcome.result).toBe('changed');
      expect(evicted(cluster)).toContain('ml-serving/debug-shell');
    });

    it('finished pods are cleaned up without checks', async () => {
      const { cluster, ctx } = setup();
      cluster.addPod({ namespace: 'ml-batch', name: 'done-job', nodeName: NODE, phase: 'Succeeded', hasEmptyDir: true });
      await drainGpuNode.run(ctx, params());
      expect(evicted(cluster)).toContain('ml-batch/done-job');
    });
  });

  it('evicts only GPU pods with onlyGpuPods, but still cordons; a non-GPU unmanaged pod does not block', async () => {
    const { cluster, ctx } = setup();
    cluster.addPod({ namespace: 'ml-serving', name: 'debug-shell', nodeName: NODE });
    const outcome = await drainGpuNode.run(ctx, params({ onlyGpuPods: true }));
    expect(evicted(cluster)).toEqual([`ml-serving/${LLM_A}`, `ml-serving/${LLM_B}`]);
    expect(cluster.nodes.get(NODE)!.unschedulable).toBe(true);
    expect(outcome.reason).toContain('evicted 2 pods');
  });

  it('is skipped on a node without allocatable GPUs, touching nothing', async () => {
    const { cluster, ctx } = setup({ node: { allocatableGpus: 0 } });
    expect(await drainGpuNode.run(ctx, params())).toEqual({ result: 'skipped', reason: `node ${NODE} has no allocatable nvidia.com/gpu` });
    expect(cluster.mutations()).toEqual([]);
    expect(ctx.budgetClaims).toEqual([]);
    expect((await drainGpuNode.run(ctx, params({ requireGpu: false }))).result).toBe('changed');
  });

  it('is skipped on an opted-out node (the configured label), touching nothing and claiming no budget', async () => {
    for (const label of ['remediator.dev/disabled', 'example.com/no-remediation']) {
      const { cluster, ctx } = setup({ node: { labels: { [label]: 'true' } }, optOutLabel: label });
      expect(await drainGpuNode.run(ctx, params())).toEqual({
        result: 'skipped',
        reason: `node ${NODE} is opted out (${label}=true on node ${NODE})`,
      });
      expect(cluster.mutations()).toEqual([]);
      expect(ctx.budgetClaims).toEqual([]);
    }
    const { ctx } = setup({ node: { labels: { 'remediator.dev/disabled': 'true' } }, optOutLabel: 'example.com/no-remediation' });
    expect((await drainGpuNode.run(ctx, params())).result).toBe('changed');
  });

  it('does not cordon when the node budget is used up', async () => {
    const { cluster, ctx } = setup({ nodeBudget: 0 });
    const error = await drainGpuNode.run(ctx, params()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GuardBlockedError);
    expect(error).toMatchObject({ guard: 'node_budget' });
    expect(cluster.mutations()).toEqual([]);
    expect(cluster.nodes.get(NODE)!.unschedulable).toBe(false);
  });

  it('does not claim budget or cordon again for an already cordoned node', async () => {
    const { cluster, ctx } = setup({ node: { unschedulable: true } });
    const outcome = await drainGpuNode.run(ctx, params());
    expect(ctx.budgetClaims).toEqual([]);
    expect(cluster.callsOf('setUnschedulable')).toEqual([]);
    expect(outcome.reason).toMatch(new RegExp(`^drained node ${NODE} \\(already cordoned, not by remediator\\): evicted 3 pods`));
    expect(ctx.stamps.at(-1)?.reason).toContain(NOT_OUR_CORDON);
  });

  describe('the stamp tells uncordon-node whose cordon it is', () => {
    it('a node this drain cordons: the stamp does not carry the "not ours" note', async () => {
      const { ctx } = setup();
      await drainGpuNode.run(ctx, params());
      expect(ctx.stamps).toHaveLength(1);
      expect(ctx.stamps[0]!.reason).not.toContain(NOT_OUR_CORDON);
    });

    it('a node cordoned by an earlier drain (its stamp is still there) stays ours', async () => {
      const stamp = JSON.stringify({ playbook: 'drain-gpu-node', runId: 'run-0', rule: 'drain-hot', reason: `drain timed out after 600s; still on node: x`, time: '2026-11-28T09:00:00Z' });
      const { ctx } = setup({ node: { unschedulable: true, annotations: { [LAST_ACTION_ANNOTATION]: stamp } } });
      const outcome = await drainGpuNode.run(ctx, params());
      expect(outcome.reason).toMatch(new RegExp(`^drained node ${NODE} \\(cordoned earlier by remediator\\): evicted 3 pods`));
      expect(ctx.stamps.at(-1)?.reason).not.toContain(NOT_OUR_CORDON);
    });

    it('a node this run cordoned in an earlier attempt stays ours', async () => {
      const cordonStep: RunStep = {
        action: 'cordon',
        object: `node/${NODE}`,
        request: { method: 'PATCH', path: `/api/v1/nodes/${NODE}`, body: { spec: { unschedulable: true } }, dryRun: false },
        result: 'ok',
        at: '2026-11-28T09:59:00Z',
      };
      const clock = new FakeClock();
      const { cluster } = setup({ node: { unschedulable: true } });
      const ctx = createFakeContext({ cluster, clock, previousSteps: [cordonStep] });
      const outcome = await drainGpuNode.run(ctx, params());
      expect(outcome.reason).toContain('(cordoned earlier by remediator)');
      expect(ctx.stamps.at(-1)?.reason).not.toContain(NOT_OUR_CORDON);
    });

    it('a human cordon is noted also when the drain fails or times out', async () => {
      const failing = setup({ node: { unschedulable: true } });
      failing.cluster.addPod({ namespace: 'ml-batch', name: 'scratch', nodeName: NODE });
      await expect(drainGpuNode.run(failing.ctx, params({ taint: { key: 'remediator.dev/hot', effect: 'NoSchedule' } }))).rejects.toThrow(PermanentError);
      expect(failing.ctx.stamps.at(-1)?.reason).toContain(NOT_OUR_CORDON);

      const slow = setup({ node: { unschedulable: true } });
      slow.cluster.refuseEviction('ml-serving', LLM_A);
      await expect(drainGpuNode.run(slow.ctx, params({ timeoutSeconds: 10 }))).rejects.toThrow(/timed out/);
      expect(slow.ctx.stamps.at(-1)?.reason).toMatch(/^drain timed out after 10s.*\(node already cordoned, not by remediator\)$/);
    });
  });

  it('is a noop for an already cordoned node with nothing to evict', async () => {
    const cluster = new FakeCluster();
    cluster.addNode({ name: NODE, unschedulable: true });
    cluster.addPod({ namespace: 'kube-system', name: `kube-proxy-${NODE}`, nodeName: NODE, isMirror: true });
    const ctx = createFakeContext({ cluster });
    expect(await drainGpuNode.run(ctx, params())).toEqual({ result: 'noop', reason: `node ${NODE} is already cordoned and has no pods to evict` });
    expect(cluster.mutations()).toEqual([]);
    expect(ctx.stamps).toEqual([]);
    expect(ctx.health).toEqual([]);
  });

  it('fails permanently for a missing node, and validates the name before any call', async () => {
    const { cluster, ctx } = setup();
    await expect(drainGpuNode.run(ctx, params({ node: 'gpu-node-9' }))).rejects.toThrow(new PermanentError('node gpu-node-9 not found'));
    cluster.calls.length = 0;
    await expect(drainGpuNode.run(ctx, { ...params(), node: 'nodes/../secrets' })).rejects.toThrow(PermanentError);
    expect(cluster.calls).toEqual([]);
  });

  describe('taint', () => {
    const taint = { key: 'remediator.dev/gpu-overheated', value: 'true', effect: 'NoSchedule' } as const;
    const existing = { key: 'nvidia.com/gpu', value: 'present', effect: 'NoSchedule' } as const;

    it('is added read-modify-write with the resourceVersion, keeping existing taints', async () => {
      const { cluster, ctx } = setup({ node: { taints: [existing] } });
      await drainGpuNode.run(ctx, params({ taint }));
      const [call] = cluster.callsOf('replaceNodeTaints');
      expect(call?.args[1]).toEqual([existing, taint]);
      expect(cluster.nodes.get(NODE)!.taints).toEqual([existing, taint]);
      // After the cordon, so it carries the resourceVersion the cordon produced.
      const methods = cluster.mutations().map((c) => c.method);
      expect(methods.indexOf('setUnschedulable')).toBeLessThan(methods.indexOf('replaceNodeTaints'));
    });

    it('re-reads on 409 and keeps a taint another controller added meanwhile', async () => {
      const { cluster, ctx } = setup({ node: { taints: [existing] } });
      const other = { key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' } as const;
      cluster.beforeNext('replaceNodeTaints', () => cluster.updateNode(NODE, (n) => n.taints.push({ ...other })));
      await drainGpuNode.run(ctx, params({ taint }));
      expect(cluster.callsOf('replaceNodeTaints')).toHaveLength(2);
      expect(cluster.nodes.get(NODE)!.taints).toEqual([existing, other, taint]);
    });

    it('is not written again when already present', async () => {
      const { cluster, ctx } = setup({ node: { taints: [taint], unschedulable: true } });
      await drainGpuNode.run(ctx, params({ taint }));
      expect(cluster.callsOf('replaceNodeTaints')).toEqual([]);
    });
  });

  it('in dry-run sends every mutation with dryRun: true, tries each eviction once and never waits', async () => {
    const { cluster, ctx, clock } = setup({ dryRun: true });
    cluster.refuseEviction('ml-serving', LLM_B);

    const outcome = await drainGpuNode.run(ctx, params({ taint: { key: 'gpu-hot', effect: 'NoSchedule' } }));

    expect(outcome.result).toBe('changed');
    expect(outcome.reason).toBe(
      `would cordon and drain node ${NODE}: evict 2 pods (ml-serving/${LLM_A}, ml-serving/router-7d9f8b6c5-m4n5b); would taint gpu-hot:NoSchedule; a PodDisruptionBudget refuses ml-serving/${LLM_B} now`,
    );
    const mutations = cluster.mutations();
    expect(mutations.map((c) => c.method)).toEqual(['setUnschedulable', 'replaceNodeTaints', 'evictPod', 'evictPod', 'evictPod']);
    expect(mutations.every((c) => c.dryRun === true)).toBe(true);
    expect(clock.sleeps).toEqual([]);
    expect(cluster.nodes.get(NODE)!.unschedulable).toBe(false);
    expect(cluster.pods.has(`ml-serving/${LLM_A}`)).toBe(true);
    expect(ctx.actionErrors).toEqual([]);
    // No health wait, no verdict.
    expect(cluster.callsOf('getWorkloadStatus')).toEqual([]);
    expect(ctx.health).toEqual([]);
  });
});

describe('drain-gpu-node health check (README "Closing the loop")', () => {
  const HEALTHY = '2 workloads back at desired availability: deployment/ml-serving/llm-api 3/3, deployment/ml-serving/router 1/1';

  it('polls once a second until the evicted pods\' workloads are available again, then reports healthy', async () => {
    const { cluster, ctx, clock } = setup();
    cluster.holdRollout('Deployment', 'ml-serving', 'llm-api', { readyReplicas: 1, availableReplicas: 1 }, 2);

    const outcome = await drainGpuNode.run(ctx, params());

    expect(outcome.reason).toMatch(new RegExp(`^cordoned and drained node ${NODE}: evicted 3 pods .*; ${HEALTHY}$`));
    expect(clock.sleeps).toEqual([1000, 1000]);
    // Each workload once per poll until it is back: llm-api three times, router once.
    expect(cluster.callsOf('getWorkloadStatus').map((c) => c.args[2])).toEqual(['llm-api', 'router', 'llm-api', 'llm-api']);
    expect(ctx.health).toEqual([{ result: 'healthy', detail: HEALTHY }]);
    expect(ctx.stamps).toEqual([{ ref: { kind: 'Node', name: NODE }, reason: outcome.reason }]);
  });

  it('times out on replacements that never turn Ready: unhealthy, failed, and the node stays cordoned and drained', async () => {
    const { cluster, ctx, clock } = setup();
    cluster.replacementReadyAfterReads = Infinity;

    const error = await drainGpuNode.run(ctx, params({ timeoutSeconds: 30 })).catch((e: unknown) => e);

    const missing = '2 workloads not back at desired availability within 30s: deployment/ml-serving/llm-api 1 of 3 available, deployment/ml-serving/router 0 of 1 available';
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as Error).message).toBe(
      `cordoned and drained node ${NODE}: evicted 3 pods (ml-serving/${LLM_A}, ml-serving/${LLM_B}, ml-serving/router-7d9f8b6c5-m4n5b), but ${missing}`,
    );
    expect(ctx.health).toEqual([{ result: 'unhealthy', detail: missing }]);
    expect(clock.elapsedSince()).toBe(30_000);
    // Nothing rolled back.
    expect(cluster.nodes.get(NODE)!.unschedulable).toBe(true);
    expect(cluster.pods.has(`ml-serving/${LLM_A}`)).toBe(false);
    expect(cluster.callsOf('setUnschedulable')).toHaveLength(1);
    expect(ctx.events.at(-1)).toEqual({ ref: { kind: 'Node', name: NODE }, reason: 'RemediationDrain', message: `node ${NODE}: ${missing}`, type: 'Warning' });
    expect(ctx.stamps.at(-1)?.reason).toBe((error as Error).message);
  });

  it('shares the drain\'s deadline: time spent waiting for pods to go counts', async () => {
    const { cluster, ctx, clock } = setup();
    cluster.lingerAfterRemoval('ml-serving', LLM_A, 5);
    cluster.holdRollout('Deployment', 'ml-serving', 'llm-api', { availableReplicas: 2 });
    await expect(drainGpuNode.run(ctx, params({ timeoutSeconds: 10 }))).rejects.toThrow(
      'but 1 of 2 workloads not back at desired availability within 10s: deployment/ml-serving/llm-api 2 of 3 available',
    );
    expect(clock.elapsedSince()).toBe(10_000);
  });

  it('checks a StatefulSet, and has nothing to wait for with only unmanaged pods (force)', async () => {
    const clock = new FakeClock();
    const cluster = new FakeCluster({ now: () => clock.now() });
    cluster.addNode({ name: NODE });
    const sts = cluster.addStatefulSet('ml-training', 'trainer', { replicas: 2 });
    cluster.addPodOf(sts, 'trainer-0', { nodeName: NODE });
    cluster.addPodOf(sts, 'trainer-1', { nodeName: 'gpu-node-4' });
    cluster.addPod({ namespace: 'ml-batch', name: 'scratch', nodeName: NODE });
    const ctx = createFakeContext({ cluster, clock });
    expect((await drainGpuNode.run(ctx, params({ force: true }))).reason).toMatch(/; 1 workload back at desired availability: statefulset\/ml-training\/trainer 2\/2$/);

    const bare = new FakeCluster();
    bare.addNode({ name: NODE });
    bare.addPod({ namespace: 'ml-batch', name: 'scratch', nodeName: NODE });
    const bareCtx = createFakeContext({ cluster: bare });
    await drainGpuNode.run(bareCtx, params({ force: true }));
    expect(bareCtx.health).toEqual([{ result: 'healthy', detail: 'no evicted pod belongs to a Deployment or StatefulSet to wait for' }]);
    expect(bare.callsOf('getWorkloadStatus')).toEqual([]);
  });

  it('names the pods an earlier attempt evicted, whose owners it cannot know', async () => {
    const { cluster, clock } = setup({ node: { unschedulable: true } });
    const earlier: RunStep = {
      action: 'evict',
      object: 'pod/ml-serving/llm-api-7d9f8b6c5-gone1',
      request: { method: 'POST', path: '/api/v1/namespaces/ml-serving/pods/llm-api-7d9f8b6c5-gone1/eviction', dryRun: false },
      intent: { type: 'pod-removal', method: 'evict', namespace: 'ml-serving', name: 'llm-api-7d9f8b6c5-gone1', uid: 'pod-uid-gone1' },
      result: 'ok',
      at: '2026-11-28T09:59:00Z',
    };
    const ctx = createFakeContext({ cluster, clock, previousSteps: [earlier] });
    await drainGpuNode.run(ctx, params());
    expect(ctx.health).toEqual([
      { result: 'healthy', detail: `${HEALTHY}; not checked: ml-serving/llm-api-7d9f8b6c5-gone1 (evicted in an earlier attempt, its owner is not known)` },
    ]);
  });

  it('reports nothing when the drain fails before its health check (PDB timeout) or has nothing to evict', async () => {
    const blocked = setup();
    blocked.cluster.refuseEviction('ml-serving', LLM_B);
    await expect(drainGpuNode.run(blocked.ctx, params({ timeoutSeconds: 10 }))).rejects.toThrow(/drain timed out/);
    expect(blocked.ctx.health).toEqual([]);

    const empty = new FakeCluster();
    empty.addNode({ name: NODE });
    const ctx = createFakeContext({ cluster: empty });
    expect((await drainGpuNode.run(ctx, params())).reason).toBe(`cordoned node ${NODE}; no pods to evict`);
    expect(ctx.health).toEqual([]);
  });
});
