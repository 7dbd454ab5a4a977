import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { scaleReplicas } from '../../../playbooks/scale-replicas.js';
import { KubeApiError, PermanentError } from '../../../src/domain/errors.js';
import type { RunStep } from '../../../src/domain/run.js';
import { FakeCluster } from '../../helpers/fake-cluster.js';
import { createFakeContext } from '../../helpers/fake-playbook-context.js';

const NS = 'ml-serving';

function params(input: Record<string, unknown>) {
  return scaleReplicas.paramsSchema.parse({ namespace: NS, name: 'llm-api', maxReplicas: 8, ...input });
}

function setup(replicas = 3, options: { dryRun?: boolean; previousSteps?: RunStep[] } = {}) {
  const cluster = new FakeCluster();
  cluster.addDeployment(NS, 'llm-api', { replicas });
  const ctx = createFakeContext({ cluster, ...options });
  return { cluster, ctx, replicas: () => cluster.scales.get(`Deployment/${NS}/llm-api`)!.replicas };
}

describe('scale-replicas params', () => {
  it('defaults kind to Deployment, minReplicas to 1 and waitForReadySeconds to 300, and leaves step to the run', () => {
    expect(params({})).toEqual({ namespace: NS, name: 'llm-api', kind: 'Deployment', minReplicas: 1, maxReplicas: 8, waitForReadySeconds: 300 });
  });

  it('requires maxReplicas', () => {
    const result = scaleReplicas.paramsSchema.safeParse({ namespace: NS, name: 'x' });
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => i.path.join('.'))).toContain('maxReplicas');
  });

  it('refuses replicas and step together, and min above max', () => {
    const both = scaleReplicas.paramsSchema.safeParse({ namespace: NS, name: 'x', maxReplicas: 5, replicas: 3, step: 1 });
    expect(both.success).toBe(false);
    expect(both.error?.issues[0]?.message).toMatch(/either replicas or step/);
    const inverted = scaleReplicas.paramsSchema.safeParse({ namespace: NS, name: 'x', maxReplicas: 2, minReplicas: 3 });
    expect(inverted.success).toBe(false);
    expect(inverted.error?.issues[0]?.path).toEqual(['minReplicas']);
  });

  it('refuses negative absolute replicas, non-integers, unknown keys and invalid names', () => {
    for (const bad of [{ replicas: -1 }, { step: 1.5 }, { maxReplica: 3 }, { name: 'Bad/Name' }, { namespace: 'a.b' }, { waitForReadySeconds: -1 }, { waitForReadySeconds: 2.5 }]) {
      expect(scaleReplicas.paramsSchema.safeParse({ namespace: NS, name: 'x', maxReplicas: 5, ...bad }).success, JSON.stringify(bad)).toBe(false);
    }
  });

  it('is servable as JSON Schema', () => {
    const schema = z.toJSONSchema(scaleReplicas.paramsSchema, { io: 'input', unrepresentable: 'any' }) as { properties: Record<string, unknown>; required: string[] };
    expect(Object.keys(schema.properties)).toEqual(['namespace', 'kind', 'name', 'replicas', 'step', 'minReplicas', 'maxReplicas', 'waitForReadySeconds']);
    expect(schema.required).toEqual(expect.arrayContaining(['namespace', 'name', 'maxReplicas']));
  });

  it('derives namespace and workload from the LLMHighLatencyP95 fixture labels', () => {
    const labels = { alertname: 'LLMHighLatencyP95', deployment: 'llm-api', namespace: 'ml-serving', severity: 'warning' };
    expect(scaleReplicas.paramsFromLabels(labels)).toEqual({ namespace: 'ml-serving', kind: 'Deployment', name: 'llm-api' });
  });

  it('maps a statefulset label to kind StatefulSet and ignores invalid values', () => {
    expect(scaleReplicas.paramsFromLabels({ namespace: 'ml', statefulset: 'vllm' })).toEqual({ namespace: 'ml', kind: 'StatefulSet', name: 'vllm' });
    expect(scaleReplicas.paramsFromLabels({ namespace: '../kube-system', deployment: 'x/../../y' })).toEqual({});
  });

  it('targets the workload', () => {
    expect(scaleReplicas.target(params({}))).toBe('deployment/ml-serving/llm-api');
    expect(scaleReplicas.target(params({ kind: 'StatefulSet' }))).toBe('statefulset/ml-serving/llm-api');
  });
});

describe('scale-replicas run', () => {
  it('steps up by 1 by default, with the resourceVersion it read, and marks the workload: the stamp before the scale, the Event after', async () => {
    const { cluster, ctx, replicas } = setup(3);
    const rv = cluster.scales.get(`Deployment/${NS}/llm-api`)!.resourceVersion;
    const stampsAtScale: number[] = [];
    cluster.beforeNext('patchScale', () => stampsAtScale.push(ctx.stamps.length));

    const outcome = await scaleReplicas.run(ctx, params({}));

    expect(outcome).toEqual({ result: 'changed', reason: 'scaled deployment/ml-serving/llm-api from 3 to 4; deployment/ml-serving/llm-api: 4/4 available' });
    expect(replicas()).toBe(4);
    expect(cluster.callsOf('patchScale')).toEqual([
      { method: 'patchScale', args: ['Deployment', NS, 'llm-api', 4, rv], dryRun: false },
    ]);
    const ref = { kind: 'Deployment', namespace: NS, name: 'llm-api' };
    const mark = 'scaled deployment/ml-serving/llm-api from 3 to 4';
    expect(ctx.events).toEqual([{ ref, reason: 'RemediationScale', message: mark, type: 'Normal' }]);
    // Stamped before the request left (a stamp after it is lost when the attempt stops in between).
    expect(ctx.stamps).toEqual([{ ref, reason: 'scaling deployment/ml-serving/llm-api from 3 to 4' }]);
    expect(stampsAtScale).toEqual([1]);
    // Read once to plan and once after the stamp.
    expect(cluster.callsOf('getScale')).toHaveLength(2);
    expect(ctx.health).toEqual([{ result: 'healthy', detail: 'deployment/ml-serving/llm-api: 4/4 available' }]);
  });

  it('scales to an absolute count, up or down', async () => {
    const up = setup(2);
    expect(await scaleReplicas.run(up.ctx, params({ replicas: 6 }))).toMatchObject({ result: 'changed' });
    expect(up.replicas()).toBe(6);
    const down = setup(6);
    expect(await scaleReplicas.run(down.ctx, params({ replicas: 2 }))).toMatchObject({ result: 'changed', reason: expect.stringContaining('from 6 to 2') });
    expect(down.replicas()).toBe(2);
  });

  it('steps down with a negative step, never below minReplicas', async () => {
    const { ctx, replicas } = setup(3);
    await scaleReplicas.run(ctx, params({ step: -5, minReplicas: 2 }));
    expect(replicas()).toBe(2);
  });

  it('clamps at maxReplicas', async () => {
    const { ctx, replicas } = setup(6);
    const outcome = await scaleReplicas.run(ctx, params({ step: 5 }));
    expect(outcome.reason).toMatch(/^scaled deployment\/ml-serving\/llm-api from 6 to 8; /);
    expect(replicas()).toBe(8);
    const absolute = setup(1);
    await scaleReplicas.run(absolute.ctx, params({ replicas: 50 }));
    expect(absolute.replicas()).toBe(8);
  });

  it('is a noop when already at the target, and when a step-up finds the workload at max', async () => {
    const there = setup(5);
    expect(await scaleReplicas.run(there.ctx, params({ replicas: 5 }))).toEqual({
      result: 'noop',
      reason: 'deployment/ml-serving/llm-api already has 5 replicas',
    });
    const atMax = setup(8);
    expect(await scaleReplicas.run(atMax.ctx, params({}))).toMatchObject({ result: 'noop', reason: expect.stringContaining('maxReplicas 8') });
    expect(there.cluster.mutations()).toEqual([]);
    expect(atMax.cluster.mutations()).toEqual([]);
    expect(there.ctx.stamps).toEqual([]);
    expect(there.ctx.health).toEqual([]);
    expect(atMax.ctx.health).toEqual([]);
    expect(there.cluster.callsOf('getWorkloadStatus')).toEqual([]);
    expect(there.ctx.clock.sleeps).toEqual([]);
  });

  it('never lets the clamp turn a step-up into a scale-down', async () => {
    const { cluster, ctx, replicas } = setup(12);
    expect(await scaleReplicas.run(ctx, params({ step: 1 }))).toMatchObject({ result: 'noop' });
    expect(replicas()).toBe(12);
    expect(cluster.mutations()).toEqual([]);
  });

  it('is skipped when an HPA targets the workload, before reading the scale', async () => {
    const { cluster, ctx } = setup(3);
    cluster.addHpa('Deployment', NS, 'llm-api', 'llm-api-hpa');
    const outcome = await scaleReplicas.run(ctx, params({}));
    expect(outcome).toEqual({ result: 'skipped', reason: expect.stringContaining('managed by HPA llm-api-hpa') });
    expect(cluster.callsOf('getScale')).toEqual([]);
    expect(cluster.mutations()).toEqual([]);
  });

  describe('opt-out (ctx.optOutLabel "true")', () => {
    it('is skipped when the Deployment carries the label, before reading the scale', async () => {
      const { cluster, ctx, replicas } = setup(3);
      cluster.workloads.get(`Deployment/${NS}/llm-api`)!.labels['remediator.dev/disabled'] = 'true';
      expect(await scaleReplicas.run(ctx, params({}))).toEqual({
        result: 'skipped',
        reason: `deployment/${NS}/llm-api is opted out (remediator.dev/disabled=true on Deployment ${NS}/llm-api)`,
      });
      expect(cluster.callsOf('getScale')).toEqual([]);
      expect(cluster.mutations()).toEqual([]);
      expect(replicas()).toBe(3);
    });

    it('is skipped when the namespace carries the label', async () => {
      const { cluster, ctx } = setup(3);
      cluster.setNamespaceLabels(NS, { 'remediator.dev/disabled': 'true' });
      expect(await scaleReplicas.run(ctx, params({}))).toEqual({
        result: 'skipped',
        reason: `deployment/${NS}/llm-api is opted out (remediator.dev/disabled=true on namespace ${NS})`,
      });
      expect(cluster.mutations()).toEqual([]);
    });

    it('is skipped for an opted-out StatefulSet, with the configured label', async () => {
      const cluster = new FakeCluster();
      cluster.addStatefulSet(NS, 'vllm', { replicas: 2, labels: { 'example.com/no-remediation': 'true' } });
      const ctx = createFakeContext({ cluster, optOutLabel: 'example.com/no-remediation' });
      expect(await scaleReplicas.run(ctx, params({ kind: 'StatefulSet', name: 'vllm' }))).toEqual({
        result: 'skipped',
        reason: `statefulset/${NS}/vllm is opted out (example.com/no-remediation=true on StatefulSet ${NS}/vllm)`,
      });
      expect(cluster.mutations()).toEqual([]);
    });

    it('ignores another label and values other than "true"', async () => {
      const { cluster, ctx, replicas } = setup(3);
      cluster.workloads.get(`Deployment/${NS}/llm-api`)!.labels['example.com/no-remediation'] = 'true';
      cluster.setNamespaceLabels(NS, { 'remediator.dev/disabled': 'false' });
      expect((await scaleReplicas.run(ctx, params({}))).result).toBe('changed');
      expect(replicas()).toBe(4);
    });
  });

  it('fails permanently when the workload does not exist', async () => {
    const { ctx } = setup(3);
    await expect(scaleReplicas.run(ctx, params({ name: 'missing' }))).rejects.toThrow(PermanentError);
    await expect(scaleReplicas.run(ctx, params({ name: 'missing' }))).rejects.toThrow('deployment/ml-serving/missing not found');
  });

  it('scales a StatefulSet through its own scale subresource', async () => {
    const cluster = new FakeCluster();
    cluster.addStatefulSet(NS, 'vllm', { replicas: 2 });
    const ctx = createFakeContext({ cluster });
    const outcome = await scaleReplicas.run(ctx, params({ kind: 'StatefulSet', name: 'vllm' }));
    expect(outcome.reason).toBe('scaled statefulset/ml-serving/vllm from 2 to 3; statefulset/ml-serving/vllm: 3/3 available');
    expect(cluster.scales.get(`StatefulSet/${NS}/vllm`)!.replicas).toBe(3);
  });

  describe('on 409', () => {
    it('re-reads and patches the target computed first, with the fresh resourceVersion', async () => {
      const { cluster, ctx, replicas } = setup(3);
      // Someone else scales 3 → 2 between our read and our patch.
      cluster.beforeNext('patchScale', () => cluster.setScale('Deployment', NS, 'llm-api', 2));
      const outcome = await scaleReplicas.run(ctx, params({}));
      expect(cluster.callsOf('patchScale').map((c) => c.args[3])).toEqual([4, 4]);
      // To plan, after the stamp, after the 409.
      expect(cluster.callsOf('getScale')).toHaveLength(3);
      expect(ctx.stamps).toHaveLength(1);
      expect(replicas()).toBe(4);
      expect(outcome.reason).toMatch(/^scaled deployment\/ml-serving\/llm-api from 2 to 4; /);
    });

    it('does not move against the intended direction: a scale-up that finds replicas ≥ target is a noop', async () => {
      const { cluster, ctx, replicas } = setup(3);
      cluster.beforeNext('patchScale', () => cluster.setScale('Deployment', NS, 'llm-api', 6));
      const outcome = await scaleReplicas.run(ctx, params({ replicas: 5 }));
      expect(outcome).toMatchObject({ result: 'noop', reason: expect.stringContaining('already has 6 replicas') });
      expect(replicas()).toBe(6);
      expect(cluster.callsOf('patchScale')).toHaveLength(1);
      // The stamp went first and stays (the cooldown counts from the decision, as in Redis); no Event.
      expect(ctx.stamps.map((s) => s.reason)).toEqual(['scaling deployment/ml-serving/llm-api from 3 to 5']);
      expect(ctx.events).toEqual([]);
      expect(ctx.health).toEqual([]);
    });

    it('is symmetric for scale-down', async () => {
      const { cluster, ctx, replicas } = setup(6);
      cluster.beforeNext('patchScale', () => cluster.setScale('Deployment', NS, 'llm-api', 2));
      expect(await scaleReplicas.run(ctx, params({ step: -1 }))).toMatchObject({ result: 'noop' });
      expect(replicas()).toBe(2);
    });

    it('gives up after 5 conflicts with the retryable 409', async () => {
      const { cluster, ctx } = setup(3);
      const conflict = new KubeApiError(409, 'Conflict', 'modified', 'patch', 'deployments/scale');
      cluster.failNext('patchScale', conflict, 10);
      const error = await scaleReplicas.run(ctx, params({})).catch((e: unknown) => e);
      expect(error).toBe(conflict);
      expect(conflict.retryable).toBe(true);
      expect(cluster.callsOf('patchScale')).toHaveLength(5);
    });

    it('propagates other API errors at once', async () => {
      const { cluster, ctx } = setup(3);
      cluster.failNext('patchScale', new KubeApiError(403, 'Forbidden', 'no', 'patch', 'deployments/scale'));
      await expect(scaleReplicas.run(ctx, params({}))).rejects.toMatchObject({ code: 403, retryable: false });
      expect(cluster.callsOf('patchScale')).toHaveLength(1);
    });
  });

  it('in dry-run sends the patch with dryRun: true and changes nothing', async () => {
    const { cluster, ctx, replicas } = setup(3, { dryRun: true });
    const outcome = await scaleReplicas.run(ctx, params({}));
    expect(outcome).toEqual({ result: 'changed', reason: 'would scale deployment/ml-serving/llm-api from 3 to 4' });
    expect(cluster.mutations().length).toBeGreaterThan(0);
    expect(cluster.mutations().every((c) => c.dryRun === true)).toBe(true);
    expect(replicas()).toBe(3);
    // No health wait, no verdict.
    expect(cluster.callsOf('getWorkloadStatus')).toEqual([]);
    expect(ctx.clock.sleeps).toEqual([]);
    expect(ctx.health).toEqual([]);
  });

  it('does not step again when an earlier attempt of the run already scaled', async () => {
    const step: RunStep = {
      action: 'scale',
      object: 'deployment/ml-serving/llm-api',
      request: {
        method: 'PATCH',
        path: '/apis/apps/v1/namespaces/ml-serving/deployments/llm-api/scale',
        dryRun: false,
        body: { metadata: { resourceVersion: '7' }, spec: { replicas: 4 } },
      },
      result: 'ok',
      at: '2026-11-28T09:59:00Z',
    };
    const { cluster, ctx, replicas } = setup(4, { previousSteps: [step] });
    const outcome = await scaleReplicas.run(ctx, params({}));
    expect(outcome).toEqual({
      result: 'changed',
      reason: 'scaled deployment/ml-serving/llm-api to 4 in an earlier attempt of this run; deployment/ml-serving/llm-api: 4/4 available',
    });
    expect(cluster.callsOf('patchScale')).toEqual([]);
    expect(replicas()).toBe(4);
    expect(ctx.health).toEqual([{ result: 'healthy', detail: 'deployment/ml-serving/llm-api: 4/4 available' }]);
  });

  it('validates names before any cluster call', async () => {
    const { cluster, ctx } = setup(3);
    const unchecked = { namespace: 'ml-serving', kind: 'Deployment', name: '../../secrets', minReplicas: 1, maxReplicas: 3, waitForReadySeconds: 300 } as const;
    await expect(scaleReplicas.run(ctx, unchecked)).rejects.toThrow(PermanentError);
    expect(cluster.calls).toEqual([]);
  });
});

describe('scale-replicas health check (README "Closing the loop")', () => {
  const TARGET = 'deployment/ml-serving/llm-api';

  function scaledEarlier(from: number, to: number): RunStep {
    return {
      action: 'scale',
      object: TARGET,
      request: {
        method: 'PATCH',
        path: '/apis/apps/v1/namespaces/ml-serving/deployments/llm-api/scale',
        dryRun: false,
        body: { metadata: { resourceVersion: '7' }, spec: { replicas: to } },
      },
      intent: { type: 'scale', kind: 'Deployment', namespace: NS, name: 'llm-api', from, replicas: to },
      result: 'ok',
      at: '2026-11-28T09:59:00Z',
    };
  }

  it('polls the status every second until the new replicas are available, then reports healthy', async () => {
    const { cluster, ctx } = setup(3);
    cluster.holdRollout('Deployment', NS, 'llm-api', { readyReplicas: 3, availableReplicas: 3 }, 3);

    const outcome = await scaleReplicas.run(ctx, params({}));

    expect(outcome).toEqual({ result: 'changed', reason: `scaled ${TARGET} from 3 to 4; ${TARGET}: 4/4 available` });
    expect(cluster.callsOf('getWorkloadStatus')).toHaveLength(4);
    expect(ctx.clock.sleeps).toEqual([1000, 1000, 1000]);
    expect(ctx.health).toEqual([{ result: 'healthy', detail: `${TARGET}: 4/4 available` }]);
    // The verdict comes after the marks of the change.
    expect(ctx.events).toHaveLength(1);
    expect(ctx.stamps).toHaveLength(1);
  });

  it('does not trust a status the controller wrote before it observed the scale (observedGeneration behind)', async () => {
    const { cluster, ctx } = setup(3);
    // Generation 1 is the one before the scale; its status even looks complete for 4.
    cluster.holdRollout('Deployment', NS, 'llm-api', { observedGeneration: 1, statusReplicas: 5, updatedReplicas: 5, availableReplicas: 5 }, 2);
    await scaleReplicas.run(ctx, params({}));
    expect(ctx.clock.sleeps).toEqual([1000, 1000]);
    expect(ctx.health).toEqual([{ result: 'healthy', detail: `${TARGET}: 4/4 available` }]);
  });

  it('times out: reports what is missing, fails permanently, and leaves the new count in place', async () => {
    const { cluster, ctx, replicas } = setup(3);
    cluster.holdRollout('Deployment', NS, 'llm-api', { readyReplicas: 3, availableReplicas: 3 });

    const error = await scaleReplicas.run(ctx, params({ waitForReadySeconds: 30 })).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(PermanentError);
    expect((error as Error).message).toBe(`scaled ${TARGET} from 3 to 4, but the rollout did not complete: ${TARGET}: 3 of 4 available after 30s`);
    expect(ctx.health).toEqual([{ result: 'unhealthy', detail: `${TARGET}: 3 of 4 available after 30s` }]);
    expect(ctx.clock.elapsedSince()).toBe(30_000);
    // Not rolled back: one patch, and the workload keeps 4.
    expect(cluster.callsOf('patchScale')).toHaveLength(1);
    expect(replicas()).toBe(4);
  });

  it('a Deployment also needs its replicas updated (a rollout in progress is not done)', async () => {
    const { cluster, ctx } = setup(3);
    cluster.holdRollout('Deployment', NS, 'llm-api', { updatedReplicas: 2 });
    await expect(scaleReplicas.run(ctx, params({ waitForReadySeconds: 5 }))).rejects.toThrow(`${TARGET}: 2 of 4 updated after 5s`);
    expect(ctx.health.map((h) => h.result)).toEqual(['unhealthy']);
  });

  it('a StatefulSet is judged by available replicas only', async () => {
    const cluster = new FakeCluster();
    cluster.addStatefulSet(NS, 'vllm', { replicas: 2 });
    cluster.holdRollout('StatefulSet', NS, 'vllm', { updatedReplicas: 0 });
    const ctx = createFakeContext({ cluster });
    await scaleReplicas.run(ctx, params({ kind: 'StatefulSet', name: 'vllm' }));
    expect(ctx.health).toEqual([{ result: 'healthy', detail: 'statefulset/ml-serving/vllm: 3/3 available' }]);
  });

  it('a scale-down waits until the surplus pods are gone, and says so when they are not', async () => {
    const done = setup(6);
    done.cluster.holdRollout('Deployment', NS, 'llm-api', { statusReplicas: 3 }, 2);
    expect((await scaleReplicas.run(done.ctx, params({ replicas: 2 }))).reason).toBe(`scaled ${TARGET} from 6 to 2; ${TARGET}: 2/2 available`);
    expect(done.ctx.clock.sleeps).toEqual([1000, 1000]);

    const stuck = setup(6);
    stuck.cluster.holdRollout('Deployment', NS, 'llm-api', { statusReplicas: 3 });
    await expect(scaleReplicas.run(stuck.ctx, params({ replicas: 2, waitForReadySeconds: 10 }))).rejects.toThrow(
      `${TARGET}: 3 replicas still running (want 2) after 10s`,
    );
    expect(stuck.replicas()).toBe(2);
  });

  it('a scale-up does not mind more replicas than the target (a surge or a later scale-up)', async () => {
    const { cluster, ctx } = setup(3);
    cluster.holdRollout('Deployment', NS, 'llm-api', { statusReplicas: 6, updatedReplicas: 6, availableReplicas: 6 });
    await scaleReplicas.run(ctx, params({}));
    expect(ctx.health).toEqual([{ result: 'healthy', detail: `${TARGET}: 6/4 available` }]);
  });

  it('waitForReadySeconds 0: no wait and no verdict', async () => {
    const { cluster, ctx } = setup(3);
    cluster.holdRollout('Deployment', NS, 'llm-api', { availableReplicas: 0 });
    expect(await scaleReplicas.run(ctx, params({ waitForReadySeconds: 0 }))).toEqual({ result: 'changed', reason: `scaled ${TARGET} from 3 to 4` });
    expect(cluster.callsOf('getWorkloadStatus')).toEqual([]);
    expect(ctx.health).toEqual([]);
  });

  it('a workload deleted while it waits is unhealthy', async () => {
    const { cluster, ctx } = setup(3);
    cluster.holdRollout('Deployment', NS, 'llm-api', { availableReplicas: 3 }, 1);
    // First status read: not there yet; before the second, someone deletes the Deployment.
    cluster.beforeNext('getWorkloadStatus', () => undefined);
    cluster.beforeNext('getWorkloadStatus', () => cluster.scales.delete(`Deployment/${NS}/llm-api`));
    await expect(scaleReplicas.run(ctx, params({}))).rejects.toThrow(`scaled ${TARGET} from 3 to 4, but ${TARGET} is gone`);
    expect(cluster.callsOf('getWorkloadStatus')).toHaveLength(2);
    expect(ctx.health).toEqual([{ result: 'unhealthy', detail: `${TARGET} is gone` }]);
  });

  describe('a resumed attempt whose scale an earlier attempt applied', () => {
    it('still runs the health check, in the recorded direction', async () => {
      const { cluster, ctx } = setup(4, { previousSteps: [scaledEarlier(6, 4)] });
      cluster.holdRollout('Deployment', NS, 'llm-api', { statusReplicas: 5 }, 2);
      const outcome = await scaleReplicas.run(ctx, params({ step: -2 }));
      expect(outcome.reason).toBe(`scaled ${TARGET} to 4 in an earlier attempt of this run; ${TARGET}: 4/4 available`);
      expect(cluster.callsOf('patchScale')).toEqual([]);
      expect(ctx.clock.sleeps).toEqual([1000, 1000]);
      expect(ctx.health).toEqual([{ result: 'healthy', detail: `${TARGET}: 4/4 available` }]);
    });

    it('fails when the rollout does not complete in time', async () => {
      const { cluster, ctx } = setup(4, { previousSteps: [scaledEarlier(3, 4)] });
      cluster.holdRollout('Deployment', NS, 'llm-api', { availableReplicas: 3 });
      await expect(scaleReplicas.run(ctx, params({ waitForReadySeconds: 20 }))).rejects.toThrow(
        `scaled ${TARGET} to 4 in an earlier attempt of this run, but the rollout did not complete: ${TARGET}: 3 of 4 available after 20s`,
      );
      expect(ctx.health).toEqual([{ result: 'unhealthy', detail: `${TARGET}: 3 of 4 available after 20s` }]);
    });

    it('dry: neither waits nor reports', async () => {
      const dryStep = { ...scaledEarlier(3, 4), request: { ...scaledEarlier(3, 4).request, dryRun: true }, result: 'dry_run' as const };
      const { cluster, ctx } = setup(3, { dryRun: true, previousSteps: [dryStep] });
      await scaleReplicas.run(ctx, params({}));
      expect(cluster.callsOf('getWorkloadStatus')).toEqual([]);
      expect(ctx.health).toEqual([]);
    });
  });
});
