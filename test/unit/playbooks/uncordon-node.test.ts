import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { playbooks } from '../../../playbooks/index.js';
import { drainGpuNode } from '../../../playbooks/drain-gpu-node.js';
import { LAST_ACTION_ANNOTATION, NOT_OUR_CORDON } from '../../../playbooks/node-marks.js';
import { uncordonNode } from '../../../playbooks/uncordon-node.js';
import { GuardBlockedError, KubeApiError, PermanentError } from '../../../src/domain/errors.js';
import type { RunStep } from '../../../src/domain/run.js';
import type { NodeInfo, Taint } from '../../../src/kube/cluster-client.js';
import { FakeCluster } from '../../helpers/fake-cluster.js';
import { createFakeContext, FakeClock, type FakeContextOptions, type FakePlaybookContext } from '../../helpers/fake-playbook-context.js';

const NODE = 'gpu-node-2';
const OUR_TAINT: Taint = { key: 'remediator.dev/gpu-overheated', value: 'true', effect: 'NoSchedule' };
const GPU_TAINT: Taint = { key: 'nvidia.com/gpu', value: 'present', effect: 'NoSchedule' };
const HOT_TAINT: Taint = { key: 'example.com/gpu-hot', effect: 'PreferNoSchedule' };

function params(input: Record<string, unknown> = {}) {
  return uncordonNode.paramsSchema.parse({ node: NODE, ...input });
}

/** The executor's stamp JSON (src/engine/run-executor.ts stampLastAction). */
function stamp(playbook: string, reason: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ playbook, runId: 'run-drain-1', rule: 'drain-hot', reason, time: '2026-11-28T09:00:00.000Z', ...extra });
}

const DRAINED = { [LAST_ACTION_ANNOTATION]: stamp('drain-gpu-node', `cordoned and drained node ${NODE}: evicted 2 pods (a/b, c/d)`) };

function setup(node: Partial<NodeInfo> = {}, options: Omit<FakeContextOptions, 'cluster'> = {}) {
  const clock = new FakeClock();
  const cluster = new FakeCluster({ now: () => clock.now() });
  cluster.addNode({ name: NODE, ...node });
  cluster.addNode({ name: 'gpu-node-4' });
  const ctx = createFakeContext({ cluster, clock, ...options });
  return { cluster, ctx, node: () => cluster.nodes.get(NODE)! };
}

/** What the executor does with a stamp: the annotation lands on the node. */
function applyStamps(cluster: FakeCluster, ctx: FakePlaybookContext, playbook: string): void {
  for (const { ref, reason } of ctx.stamps.splice(0)) {
    if (ref.kind === 'Node') cluster.nodes.get(ref.name)!.annotations[LAST_ACTION_ANNOTATION] = stamp(playbook, reason, { runId: ctx.runId });
  }
}

describe('uncordon-node params', () => {
  it('has the documented defaults, and is registered and not destructive', () => {
    expect(params()).toEqual({ node: NODE, force: false });
    expect(playbooks.map((p) => p.name)).toContain('uncordon-node');
    expect(uncordonNode.destructive).toBe(false);
    expect(uncordonNode.target(params())).toBe(`node/${NODE}`);
  });

  it('accepts a qualified taintKey and refuses bad ones, bad names and unknown keys', () => {
    expect(params({ taintKey: 'example.com/gpu-hot' }).taintKey).toBe('example.com/gpu-hot');
    for (const bad of [{ taintKey: 'a b' }, { taintKey: '/x' }, { node: 'gpu_node' }, { force: 'yes' }, { taint: 'x' }]) {
      expect(uncordonNode.paramsSchema.safeParse({ node: NODE, ...bad }).success, JSON.stringify(bad)).toBe(false);
    }
  });

  it('is servable as JSON Schema', () => {
    const schema = z.toJSONSchema(uncordonNode.paramsSchema, { io: 'input', unrepresentable: 'any' }) as { required: string[]; properties: Record<string, unknown> };
    expect(schema.required).toEqual(['node']);
    expect(Object.keys(schema.properties)).toEqual(['node', 'force', 'taintKey']);
  });

  it('takes the node from the same labels as drain-gpu-node', () => {
    const labels = { alertname: 'GPUNodeRecovered', node: NODE, Hostname: 'other' };
    expect(uncordonNode.paramsFromLabels(labels)).toEqual({ node: NODE });
    expect(uncordonNode.paramsFromLabels({ kubernetes_node: 'n1', Hostname: 'n2' })).toEqual({ node: 'n1' });
    expect(uncordonNode.paramsFromLabels({ hostname: 'n3', instance: 'n4:9400' })).toEqual({ node: 'n3' });
    expect(uncordonNode.paramsFromLabels({ instance: 'gpu-node-5:9400' })).toEqual({ node: 'gpu-node-5' });
    expect(uncordonNode.paramsFromLabels({ node: '../x', instance: '[::1]:9100' })).toEqual({});
    for (const labels of [{ node: 'a' }, { instance: 'b:1' }, {}] as Record<string, string>[]) expect(uncordonNode.paramsFromLabels(labels)).toEqual(drainGpuNode.paramsFromLabels(labels));
  });
});

describe('uncordon-node run', () => {
  it('uncordons a node drain-gpu-node cordoned, removes only remediator.dev/ taints read-modify-write, marks it and frees the budget', async () => {
    const { cluster, ctx, node } = setup({ unschedulable: true, taints: [GPU_TAINT, OUR_TAINT], annotations: { ...DRAINED } });
    const rv = node().resourceVersion;

    const outcome = await uncordonNode.run(ctx, params());

    const cordonedBy = 'cordoned by drain-gpu-node (run run-drain-1, rule drain-hot, at 2026-11-28T09:00:00.000Z)';
    expect(outcome).toEqual({
      result: 'changed',
      reason: `uncordoned node ${NODE} (${cordonedBy}); removed taint remediator.dev/gpu-overheated=true:NoSchedule`,
    });
    expect(node().unschedulable).toBe(false);
    expect(node().taints).toEqual([GPU_TAINT]);
    // Taints first, with the resourceVersion read; then the uncordon.
    expect(cluster.mutations().map((c) => c.method)).toEqual(['replaceNodeTaints', 'setUnschedulable']);
    expect(cluster.callsOf('replaceNodeTaints')[0]!.args).toEqual([NODE, [GPU_TAINT], rv]);
    expect(cluster.callsOf('setUnschedulable')[0]!.args).toEqual([NODE, false]);
    expect(ctx.events.map((e) => [e.reason, e.message])).toEqual([
      ['RemediationUncordon', `removed taint remediator.dev/gpu-overheated=true:NoSchedule from node ${NODE} (requested by rule test-rule)`],
      ['RemediationUncordon', `uncordoned node ${NODE} (${cordonedBy}) (requested by rule test-rule)`],
    ]);
    expect(ctx.stamps).toEqual([{ ref: { kind: 'Node', name: NODE }, reason: outcome.reason }]);
    expect(ctx.budgetReleases).toEqual([NODE]);
  });

  it('names the operator of a manual run in its Events', async () => {
    const { ctx } = setup({ unschedulable: true, annotations: { ...DRAINED } }, { requestedBy: { operator: 'alice' } });
    await uncordonNode.run(ctx, params());
    expect(ctx.events[0]!.message).toMatch(/\(requested by operator alice\)$/);
  });

  it('after a drain frees the node budget for the next drain (drain, blocked drain, uncordon, drain)', async () => {
    const clock = new FakeClock();
    const cluster = new FakeCluster({ now: () => clock.now() });
    cluster.addNode({ name: NODE });
    cluster.addNode({ name: 'gpu-node-4' });
    const ctx = createFakeContext({ cluster, clock, nodeBudget: 1 });

    expect((await drainGpuNode.run(ctx, drainGpuNode.paramsSchema.parse({ node: NODE, taint: OUR_TAINT }))).result).toBe('changed');
    applyStamps(cluster, ctx, 'drain-gpu-node');
    await expect(drainGpuNode.run(ctx, drainGpuNode.paramsSchema.parse({ node: 'gpu-node-4' }))).rejects.toThrow(GuardBlockedError);

    const outcome = await uncordonNode.run(ctx, params());
    expect(outcome.result).toBe('changed');
    expect(outcome.reason).toContain('cordoned by drain-gpu-node');
    expect(cluster.nodes.get(NODE)).toMatchObject({ unschedulable: false, taints: [] });
    applyStamps(cluster, ctx, 'uncordon-node');

    expect((await drainGpuNode.run(ctx, drainGpuNode.paramsSchema.parse({ node: 'gpu-node-4' }))).result).toBe('changed');
    // Once uncordoned, the node's last action is the uncordon: a later cordon is not ours to undo.
    cluster.updateNode(NODE, (n) => (n.unschedulable = true));
    expect((await uncordonNode.run(ctx, params())).result).toBe('skipped');
  });

  it('undoes the cordon of a drain that failed after cordoning (its stamp is there)', async () => {
    const { cluster, ctx, node } = setup();
    cluster.addPod({ namespace: 'ml-batch', name: 'debug-shell', nodeName: NODE });
    await expect(drainGpuNode.run(ctx, drainGpuNode.paramsSchema.parse({ node: NODE }))).rejects.toThrow(/has no controller/);
    expect(node().unschedulable).toBe(true);
    applyStamps(cluster, ctx, 'drain-gpu-node');
    expect((await uncordonNode.run(ctx, params())).result).toBe('changed');
    expect(node().unschedulable).toBe(false);
  });

  describe('refuses a cordon remediator did not make (skipped, nothing touched)', () => {
    const cases: [string, Record<string, string>, RegExp][] = [
      ['no annotation (a human cordoned it)', {}, /it has no remediator\.dev\/last-action annotation/],
      ['an unreadable annotation', { [LAST_ACTION_ANNOTATION]: 'by hand' }, /is not remediator's JSON/],
      ['the last action was not a cordon', { [LAST_ACTION_ANNOTATION]: stamp('uncordon-node', `uncordoned node ${NODE}`) }, /its last remediator action was uncordon-node \(run run-drain-1/],
      ['the last action was scale-replicas (not a node playbook)', { [LAST_ACTION_ANNOTATION]: stamp('scale-replicas', 'x') }, /was scale-replicas/],
      [
        'the drain found it already cordoned by someone else',
        { [LAST_ACTION_ANNOTATION]: stamp('drain-gpu-node', `drained node ${NODE} (${NOT_OUR_CORDON}): evicted 1 pod (a/b)`) },
        /drain-gpu-node \(run run-drain-1.*\) found it already cordoned, not by remediator/,
      ],
    ];
    for (const [what, annotations, why] of cases) {
      it(what, async () => {
        const { cluster, ctx, node } = setup({ unschedulable: true, taints: [OUR_TAINT], annotations });
        const outcome = await uncordonNode.run(ctx, params());
        expect(outcome.result).toBe('skipped');
        expect(outcome.reason).toMatch(new RegExp(`^node ${NODE} is cordoned, but not by remediator \\(`));
        expect(outcome.reason).toMatch(why);
        expect(outcome.reason).toMatch(/left as it is \(set force: true to undo it anyway\)$/);
        expect(cluster.mutations()).toEqual([]);
        expect(node()).toMatchObject({ unschedulable: true, taints: [OUR_TAINT] });
        expect(ctx.events).toEqual([]);
        expect(ctx.stamps).toEqual([]);
        expect(ctx.budgetReleases).toEqual([]);
      });
    }

    it('with force: true it is uncordoned, and the reason says so', async () => {
      const { ctx, node } = setup({ unschedulable: true, taints: [OUR_TAINT] });
      const outcome = await uncordonNode.run(ctx, params({ force: true }));
      expect(outcome).toEqual({
        result: 'changed',
        reason: `uncordoned node ${NODE} (force: not cordoned by remediator, it has no remediator.dev/last-action annotation); removed taint remediator.dev/gpu-overheated=true:NoSchedule`,
      });
      expect(node()).toMatchObject({ unschedulable: false, taints: [] });
      expect(ctx.budgetReleases).toEqual([NODE]);
    });
  });

  it('is a noop for a schedulable node without remediator.dev/ taints, releasing any stale claim', async () => {
    const { cluster, ctx } = setup({ taints: [GPU_TAINT] });
    expect(await uncordonNode.run(ctx, params())).toEqual({ result: 'noop', reason: `node ${NODE} is schedulable and has no remediator.dev/ taints` });
    expect(await uncordonNode.run(ctx, params({ taintKey: 'example.com/gpu-hot' }))).toEqual({
      result: 'noop',
      reason: `node ${NODE} is schedulable and has no taint with key example.com/gpu-hot`,
    });
    expect(cluster.mutations()).toEqual([]);
    expect(ctx.stamps).toEqual([]);
    expect(ctx.budgetReleases).toEqual([NODE, NODE]);
  });

  it('removes remediator.dev/ taints left on a schedulable node even without a stamp: their key says they are ours', async () => {
    const { ctx, node } = setup({ taints: [OUR_TAINT, GPU_TAINT] });
    const outcome = await uncordonNode.run(ctx, params());
    expect(outcome).toEqual({
      result: 'changed',
      reason: `removed taint remediator.dev/gpu-overheated=true:NoSchedule from node ${NODE} (already schedulable)`,
    });
    expect(node().taints).toEqual([GPU_TAINT]);
  });

  describe('taintKey', () => {
    it('removes every taint with exactly that key (any effect) and keeps remediator.dev/ ones', async () => {
      const hotToo: Taint = { ...HOT_TAINT, effect: 'NoSchedule' };
      const { ctx, node } = setup({ unschedulable: true, taints: [HOT_TAINT, OUR_TAINT, hotToo, GPU_TAINT], annotations: { ...DRAINED } });
      const outcome = await uncordonNode.run(ctx, params({ taintKey: 'example.com/gpu-hot' }));
      expect(outcome.reason).toMatch(/; removed taints example\.com\/gpu-hot:PreferNoSchedule, example\.com\/gpu-hot:NoSchedule$/);
      expect(node()).toMatchObject({ unschedulable: false, taints: [OUR_TAINT, GPU_TAINT] });
    });

    it('outside remediator.dev/ needs our stamp (or force), also on a schedulable node', async () => {
      const { cluster, ctx, node } = setup({ taints: [HOT_TAINT] });
      const outcome = await uncordonNode.run(ctx, params({ taintKey: HOT_TAINT.key }));
      expect(outcome).toMatchObject({ result: 'skipped' });
      expect(outcome.reason).toMatch(new RegExp(`^node ${NODE} has taint example.com/gpu-hot:PreferNoSchedule, not added by remediator`));
      expect(cluster.mutations()).toEqual([]);

      expect((await uncordonNode.run(ctx, params({ taintKey: HOT_TAINT.key, force: true }))).result).toBe('changed');
      expect(node().taints).toEqual([]);

      const stamped = setup({ taints: [HOT_TAINT], annotations: { ...DRAINED } });
      expect((await uncordonNode.run(stamped.ctx, params({ taintKey: HOT_TAINT.key }))).reason).toBe(
        `removed taint example.com/gpu-hot:PreferNoSchedule from node ${NODE} (already schedulable) (cordoned by drain-gpu-node (run run-drain-1, rule drain-hot, at 2026-11-28T09:00:00.000Z))`,
      );
    });
  });

  it('re-reads on 409 and keeps a taint another controller added meanwhile', async () => {
    const { cluster, ctx, node } = setup({ unschedulable: true, taints: [OUR_TAINT], annotations: { ...DRAINED } });
    cluster.beforeNext('replaceNodeTaints', () => cluster.updateNode(NODE, (n) => n.taints.push({ ...GPU_TAINT })));
    expect((await uncordonNode.run(ctx, params())).result).toBe('changed');
    expect(cluster.callsOf('replaceNodeTaints')).toHaveLength(2);
    expect(cluster.callsOf('replaceNodeTaints')[1]!.args[1]).toEqual([GPU_TAINT]);
    expect(node()).toMatchObject({ unschedulable: false, taints: [GPU_TAINT] });
  });

  it('gives up after 5 conflicts with the retryable 409, without uncordoning', async () => {
    const { cluster, ctx, node } = setup({ unschedulable: true, taints: [OUR_TAINT], annotations: { ...DRAINED } });
    for (let i = 0; i < 5; i++) cluster.beforeNext('replaceNodeTaints', () => cluster.updateNode(NODE, () => undefined));
    const error = await uncordonNode.run(ctx, params()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KubeApiError);
    expect(error).toMatchObject({ code: 409, retryable: true });
    expect(node().unschedulable).toBe(true);
    expect(ctx.budgetReleases).toEqual([]);
  });

  it('is skipped on an opted-out node, even with force', async () => {
    const { cluster, ctx } = setup(
      { unschedulable: true, labels: { 'example.com/no-remediation': 'true' }, annotations: { ...DRAINED } },
      { optOutLabel: 'example.com/no-remediation' },
    );
    expect(await uncordonNode.run(ctx, params({ force: true }))).toEqual({
      result: 'skipped',
      reason: `node ${NODE} is opted out (example.com/no-remediation=true on node ${NODE})`,
    });
    expect(cluster.mutations()).toEqual([]);
  });

  it('in dry-run sends every mutation with dryRun: true and changes nothing', async () => {
    const { cluster, ctx, node } = setup({ unschedulable: true, taints: [OUR_TAINT], annotations: { ...DRAINED } }, { dryRun: true });
    const outcome = await uncordonNode.run(ctx, params());
    expect(outcome.result).toBe('changed');
    expect(outcome.reason).toMatch(new RegExp(`^would uncordon node ${NODE} .*; would remove taint remediator.dev/gpu-overheated=true:NoSchedule$`));
    expect(cluster.mutations().map((c) => [c.method, c.dryRun])).toEqual([
      ['replaceNodeTaints', true],
      ['setUnschedulable', true],
    ]);
    expect(node()).toMatchObject({ unschedulable: true, taints: [OUR_TAINT] });
  });

  describe('resumed after an earlier attempt of this run', () => {
    function step(action: string, body: unknown): RunStep {
      return { action, object: `node/${NODE}`, request: { method: 'PATCH', path: `/api/v1/nodes/${NODE}`, dryRun: false, body }, result: 'ok', at: '2026-11-28T09:59:00Z' };
    }

    it('reports the earlier uncordon as changed, stamping and releasing again', async () => {
      const { cluster, ctx } = setup({ annotations: { ...DRAINED } }, { previousSteps: [step('uncordon', { spec: { unschedulable: false } })] });
      expect(await uncordonNode.run(ctx, params())).toEqual({ result: 'changed', reason: `uncordoned node ${NODE} in an earlier attempt of this run` });
      expect(cluster.mutations()).toEqual([]);
      expect(ctx.stamps).toHaveLength(1);
      expect(ctx.budgetReleases).toEqual([NODE]);
    });

    it('finishes the uncordon after the taints went in an earlier attempt, without judging ownership again', async () => {
      const { ctx, node } = setup({ unschedulable: true }, { previousSteps: [step('taint', { spec: { taints: [] } })] });
      expect((await uncordonNode.run(ctx, params())).result).toBe('changed');
      expect(node().unschedulable).toBe(false);
    });
  });

  it('fails permanently for a missing node, and validates the name before any call', async () => {
    const { cluster, ctx } = setup();
    await expect(uncordonNode.run(ctx, params({ node: 'gpu-node-9' }))).rejects.toThrow(new PermanentError('node gpu-node-9 not found'));
    cluster.calls.length = 0;
    await expect(uncordonNode.run(ctx, { ...params(), node: 'nodes/../secrets' })).rejects.toThrow(PermanentError);
    expect(cluster.calls).toEqual([]);
  });
});
