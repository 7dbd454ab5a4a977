import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { restartOomPod } from '../../../playbooks/restart-oom-pod.js';
import { KubeApiError, PermanentError } from '../../../src/domain/errors.js';
import type { RunStep } from '../../../src/domain/run.js';
import type { ContainerInfo, PodInfo } from '../../../src/kube/cluster-client.js';
import { FakeCluster } from '../../helpers/fake-cluster.js';
import { createFakeContext, FakeClock } from '../../helpers/fake-playbook-context.js';

const NS = 'ml-serving';
const POD = 'llm-api-7d9f8b6c5-x2kqp';
const OOM: ContainerInfo = { name: 'llm-api', lastTerminationReason: 'OOMKilled', restartCount: 3, requestsGpu: true };
const HEALTHY: ContainerInfo = { name: 'sidecar', restartCount: 0, requestsGpu: false };

function params(input: Record<string, unknown> = {}) {
  return restartOomPod.paramsSchema.parse({ namespace: NS, pod: POD, ...input });
}

interface SetupOptions {
  containers?: ContainerInfo[];
  dryRun?: boolean;
  previousSteps?: RunStep[];
}

/** Deployment llm-api with two pods: the OOM-killed one and a healthy sibling that must never count as the replacement. */
function setup(options: SetupOptions = {}) {
  const clock = new FakeClock();
  const cluster = new FakeCluster({ now: () => clock.now() });
  const { replicaSet } = cluster.addDeployment(NS, 'llm-api', { replicas: 2 });
  const pod = cluster.addPodOf(replicaSet, POD, { containers: options.containers ?? [OOM, HEALTHY], nodeName: 'gpu-node-3' });
  const sibling = cluster.addPodOf(replicaSet, 'llm-api-7d9f8b6c5-abcde', { createdAt: '2026-11-28T08:00:00Z' });
  const ctx = createFakeContext({ cluster, clock, dryRun: options.dryRun, previousSteps: options.previousSteps });
  return { cluster, ctx, clock, pod, sibling };
}

describe('restart-oom-pod params', () => {
  it('has the documented defaults', () => {
    expect(params()).toEqual({
      namespace: NS,
      pod: POD,
      requireOOMKilled: true,
      allowUnmanaged: false,
      method: 'evict',
      waitForReadySeconds: 300,
    });
  });

  it('refuses unknown methods, negative durations and invalid names', () => {
    for (const bad of [{ method: 'kill' }, { gracePeriodSeconds: -1 }, { waitForReadySeconds: -5 }, { pod: 'a/b' }, { container: 'Bad_Name' }]) {
      expect(restartOomPod.paramsSchema.safeParse({ namespace: NS, pod: POD, ...bad }).success, JSON.stringify(bad)).toBe(false);
    }
  });

  it('is servable as JSON Schema', () => {
    const schema = z.toJSONSchema(restartOomPod.paramsSchema, { io: 'input', unrepresentable: 'any' }) as { required: string[] };
    expect(schema.required).toEqual(expect.arrayContaining(['namespace', 'pod']));
  });

  it('derives namespace, pod and container from the KubePodOOMKilled fixture labels', () => {
    const labels = {
      alertname: 'KubePodOOMKilled',
      container: 'llm-api',
      namespace: 'ml-serving',
      pod: 'llm-api-7d9f8b6c5-x2kqp',
      reason: 'OOMKilled',
      severity: 'warning',
    };
    expect(restartOomPod.paramsFromLabels(labels)).toEqual({ namespace: 'ml-serving', pod: 'llm-api-7d9f8b6c5-x2kqp', container: 'llm-api' });
  });

  it('leaves out invalid label values', () => {
    expect(restartOomPod.paramsFromLabels({ namespace: 'ML_Serving', pod: '../etc', container: 'ok' })).toEqual({ container: 'ok' });
  });

  it('targets the pod before resolving', () => {
    expect(restartOomPod.target(params())).toBe(`pod/${NS}/${POD}`);
  });
});

describe('restart-oom-pod resolveTarget', () => {
  it('resolves a ReplicaSet pod to its Deployment', async () => {
    const { cluster } = setup();
    expect(await restartOomPod.resolveTarget!(cluster, params())).toBe('deployment/ml-serving/llm-api');
    expect(cluster.mutations()).toEqual([]);
  });

  it('resolves a StatefulSet pod to its StatefulSet', async () => {
    const cluster = new FakeCluster();
    cluster.addPodOf(cluster.addStatefulSet('ml-training', 'trainer'), 'trainer-0');
    expect(await restartOomPod.resolveTarget!(cluster, params({ namespace: 'ml-training', pod: 'trainer-0' }))).toBe(
      'statefulset/ml-training/trainer',
    );
  });

  it('keeps the pod as target for unmanaged pods and other controllers, and is undefined without a pod', async () => {
    const cluster = new FakeCluster();
    cluster.addPod({ namespace: NS, name: 'bare' });
    cluster.addPod({ namespace: NS, name: 'job-pod', controller: { kind: 'Job', name: 'nightly' } });
    expect(await restartOomPod.resolveTarget!(cluster, params({ pod: 'bare' }))).toBe(`pod/${NS}/bare`);
    expect(await restartOomPod.resolveTarget!(cluster, params({ pod: 'job-pod' }))).toBe(`pod/${NS}/job-pod`);
    expect(await restartOomPod.resolveTarget!(cluster, params({ pod: 'missing' }))).toBeUndefined();
  });
});

describe('restart-oom-pod run', () => {
  it('evicts an OOM-killed pod with its uid as precondition and waits for a Ready replacement', async () => {
    const { cluster, ctx, clock, pod } = setup();
    cluster.replacementReadyAfterReads = 4;
    const stampsAtEviction: number[] = [];
    cluster.beforeNext('evictPod', () => stampsAtEviction.push(ctx.stamps.length));

    const outcome = await restartOomPod.run(ctx, params());

    expect(cluster.callsOf('evictPod')).toEqual([
      { method: 'evictPod', args: [NS, POD, pod.uid, { gracePeriodSeconds: undefined }], dryRun: false },
    ]);
    const replacement = [...cluster.pods.values()].find((p) => p.name.startsWith('llm-api-7d9f8b6c5-r'))!;
    expect(outcome).toEqual({
      result: 'changed',
      reason: `evicted pod ${NS}/${POD} (OOMKilled container llm-api); replacement ${NS}/${replacement.name} Ready`,
    });
    // Polled once a second until the replacement turned Ready; the healthy sibling never counted.
    expect(clock.sleeps).toEqual([1000, 1000, 1000]);
    expect(ctx.events).toEqual([
      { ref: { kind: 'Pod', namespace: NS, name: POD, uid: pod.uid }, reason: 'RemediationRestart', message: expect.stringContaining('evicted'), type: 'Normal' },
    ]);
    // The owner was stamped before the eviction left (a stamp after it is lost when the attempt stops in between).
    expect(ctx.stamps).toEqual([{ ref: { kind: 'Deployment', namespace: NS, name: 'llm-api' }, reason: `evicting pod ${NS}/${POD} (OOMKilled container llm-api)` }]);
    expect(stampsAtEviction).toEqual([1]);
    expect(ctx.health).toEqual([{ result: 'healthy', detail: `deployment/${NS}/llm-api: replacement ${NS}/${replacement.name} Ready` }]);
  });

  it('deletes with the uid precondition when method is delete, passing the grace period', async () => {
    const { cluster, ctx, pod } = setup();
    const outcome = await restartOomPod.run(ctx, params({ method: 'delete', gracePeriodSeconds: 30 }));
    expect(cluster.callsOf('evictPod')).toEqual([]);
    expect(cluster.callsOf('deletePod')).toEqual([
      { method: 'deletePod', args: [NS, POD, pod.uid, { gracePeriodSeconds: 30 }], dryRun: false },
    ]);
    expect(outcome.reason).toMatch(new RegExp(`^deleted pod ${NS}/${POD}`));
  });

  it('accepts a current termination reason of OOMKilled', async () => {
    const { ctx } = setup({ containers: [{ name: 'llm-api', currentTerminationReason: 'OOMKilled', restartCount: 0, requestsGpu: true }] });
    expect(await restartOomPod.run(ctx, params())).toMatchObject({ result: 'changed' });
  });

  it('is skipped when no container was OOMKilled, without touching anything', async () => {
    const { cluster, ctx } = setup({ containers: [{ ...HEALTHY, lastTerminationReason: 'Error' }] });
    expect(await restartOomPod.run(ctx, params())).toEqual({ result: 'skipped', reason: `no container of pod ${NS}/${POD} was OOMKilled` });
    expect(cluster.mutations()).toEqual([]);
    expect(ctx.events).toEqual([]);
  });

  it('only looks at the named container', async () => {
    const { cluster, ctx } = setup();
    expect(await restartOomPod.run(ctx, params({ container: 'sidecar' }))).toEqual({
      result: 'skipped',
      reason: `container sidecar of pod ${NS}/${POD} was not OOMKilled`,
    });
    expect(await restartOomPod.run(ctx, params({ container: 'nope' }))).toEqual({ result: 'skipped', reason: `pod ${NS}/${POD} has no container nope` });
    expect(cluster.mutations()).toEqual([]);
    expect(await restartOomPod.run(ctx, params({ container: 'llm-api' }))).toMatchObject({ result: 'changed' });
  });

  it('restarts without an OOM kill when requireOOMKilled is false', async () => {
    const { ctx } = setup({ containers: [HEALTHY] });
    const outcome = await restartOomPod.run(ctx, params({ requireOOMKilled: false }));
    expect(outcome).toMatchObject({ result: 'changed', reason: expect.stringMatching(new RegExp(`^evicted pod ${NS}/${POD}; replacement`)) });
  });

  it('is skipped for a pod without a controller unless allowUnmanaged', async () => {
    const clock = new FakeClock();
    const cluster = new FakeCluster({ now: () => clock.now() });
    const bare = cluster.addPod({ namespace: NS, name: 'bare', containers: [OOM] });
    const ctx = createFakeContext({ cluster, clock });

    expect(await restartOomPod.run(ctx, params({ pod: 'bare' }))).toEqual({
      result: 'skipped',
      reason: `pod ${NS}/bare has no controller; set allowUnmanaged to restart it anyway (nothing will recreate it)`,
    });
    expect(cluster.mutations()).toEqual([]);

    const outcome = await restartOomPod.run(ctx, params({ pod: 'bare', allowUnmanaged: true }));
    expect(cluster.callsOf('evictPod')[0]?.args.slice(0, 3)).toEqual([NS, 'bare', bare.uid]);
    expect(outcome.reason).toContain('nothing will replace it');
    expect(clock.sleeps).toEqual([]);
    expect(ctx.stamps).toEqual([]);
  });

  describe('opt-out (ctx.optOutLabel "true")', () => {
    const LABEL = 'remediator.dev/disabled';
    const cases = [
      ['the pod', (c: FakeCluster) => (c.pods.get(`${NS}/${POD}`)!.labels[LABEL] = 'true'), `pod ${NS}/${POD}`],
      ['its namespace', (c: FakeCluster) => c.setNamespaceLabels(NS, { team: 'inference', [LABEL]: 'true' }), `namespace ${NS}`],
      ['its ReplicaSet', (c: FakeCluster) => (c.workloads.get(`ReplicaSet/${NS}/llm-api-7d9f8b6c5`)!.labels[LABEL] = 'true'), `ReplicaSet ${NS}/llm-api-7d9f8b6c5`],
      ['its Deployment', (c: FakeCluster) => (c.workloads.get(`Deployment/${NS}/llm-api`)!.labels[LABEL] = 'true'), `Deployment ${NS}/llm-api`],
    ] as const;
    for (const [what, optOut, object] of cases) {
      it(`is blocked (opt_out) when ${what} carries the label, naming the label and the object`, async () => {
        const { cluster, ctx } = setup();
        optOut(cluster);
        await expect(restartOomPod.run(ctx, params())).rejects.toMatchObject({ guard: 'opt_out', detail: `pod ${NS}/${POD} is opted out (${LABEL}=true on ${object})` });
        expect(cluster.mutations()).toEqual([]);
        expect(ctx.events).toEqual([]);
        expect(ctx.stamps).toEqual([]);
      });
    }

    it('is blocked (opt_out) when the StatefulSet carries the label', async () => {
      const clock = new FakeClock();
      const cluster = new FakeCluster({ now: () => clock.now() });
      const sts = cluster.addStatefulSet('ml-training', 'trainer', { labels: { [LABEL]: 'true' } });
      cluster.addPodOf(sts, 'trainer-0', { containers: [{ ...OOM, name: 'trainer' }] });
      const ctx = createFakeContext({ cluster, clock });
      await expect(restartOomPod.run(ctx, params({ namespace: 'ml-training', pod: 'trainer-0' }))).rejects.toMatchObject({ guard: 'opt_out', detail: `pod ml-training/trainer-0 is opted out (${LABEL}=true on StatefulSet ml-training/trainer)` });
      expect(cluster.mutations()).toEqual([]);
    });

    it('honours the configured label only, and only the value "true"', async () => {
      const { cluster } = setup();
      cluster.pods.get(`${NS}/${POD}`)!.labels[LABEL] = 'true';
      cluster.setNamespaceLabels(NS, { 'example.com/no-remediation': 'yes' });
      const ctx = createFakeContext({ cluster, optOutLabel: 'example.com/no-remediation' });
      expect(await restartOomPod.run(ctx, params({ waitForReadySeconds: 0 }))).toMatchObject({ result: 'changed' });

      const other = setup();
      other.cluster.setNamespaceLabels(NS, { 'example.com/no-remediation': 'true' });
      const ctx2 = createFakeContext({ cluster: other.cluster, optOutLabel: 'example.com/no-remediation' });
      await expect(restartOomPod.run(ctx2, params())).rejects.toMatchObject({ guard: 'opt_out', detail: `pod ${NS}/${POD} is opted out (example.com/no-remediation=true on namespace ${NS})` });
    });
  });

  it('is skipped when the pod is gone', async () => {
    const { cluster, ctx } = setup();
    expect(await restartOomPod.run(ctx, params({ pod: 'llm-api-7d9f8b6c5-zzzzz' }))).toEqual({
      result: 'skipped',
      reason: `pod ${NS}/llm-api-7d9f8b6c5-zzzzz not found`,
    });
    expect(cluster.mutations()).toEqual([]);
  });

  it('lets a PodDisruptionBudget refusal (429) propagate as a retryable error, marking nothing', async () => {
    const { cluster, ctx } = setup();
    cluster.refuseEviction(NS, POD);
    const error = await restartOomPod.run(ctx, params()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KubeApiError);
    expect(error).toMatchObject({ code: 429, retryable: true });
    expect(ctx.events).toEqual([]);
    // The owner's stamp went before the eviction and stays: the cooldown counts from the decision, as in Redis.
    expect(ctx.stamps.map((s) => s.reason)).toEqual([`evicting pod ${NS}/${POD} (OOMKilled container llm-api)`]);
    expect(cluster.pods.has(`${NS}/${POD}`)).toBe(true);
  });

  it('is a noop when the uid precondition finds the pod already replaced', async () => {
    const { cluster, ctx } = setup();
    cluster.beforeNext('evictPod', () => {
      cluster.pods.delete(`${NS}/${POD}`);
      cluster.addPod({ namespace: NS, name: POD });
    });
    expect(await restartOomPod.run(ctx, params())).toEqual({ result: 'noop', reason: `pod ${NS}/${POD} was already replaced` });
    expect(ctx.stamps).toHaveLength(1);
    expect(ctx.events).toEqual([]);
  });

  it('fails permanently when no replacement is Ready in time (the pod was restarted), reporting it unhealthy', async () => {
    const { cluster, ctx, clock } = setup();
    cluster.replacementReadyAfterReads = Infinity;
    const error = await restartOomPod.run(ctx, params({ waitForReadySeconds: 10 })).catch((e: unknown) => e);
    const replacement = [...cluster.pods.values()].find((p) => p.name.startsWith('llm-api-7d9f8b6c5-r'))!;
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as Error).message).toBe(
      `evicted pod ${NS}/${POD} (OOMKilled container llm-api), but its replacement was not Ready within 10s (${NS}/${replacement.name} not Ready)`,
    );
    expect(ctx.health).toEqual([
      { result: 'unhealthy', detail: `deployment/${NS}/llm-api: no Ready replacement for pod ${NS}/${POD} after 10s (${NS}/${replacement.name} not Ready)` },
    ]);
    expect(clock.elapsedSince()).toBe(10_000);
    // The restart stays done: one eviction, the pod gone, the stamp written.
    expect(cluster.callsOf('evictPod')).toHaveLength(1);
    expect(cluster.pods.has(`${NS}/${POD}`)).toBe(false);
    expect(ctx.stamps).toHaveLength(1);
  });

  it('says when nothing replaced the pod at all', async () => {
    const { cluster, ctx } = setup();
    cluster.autoReplace = false;
    await expect(restartOomPod.run(ctx, params({ waitForReadySeconds: 3 }))).rejects.toThrow('its replacement was not Ready within 3s (no replacement pod yet)');
    expect(ctx.health).toEqual([{ result: 'unhealthy', detail: `deployment/${NS}/llm-api: no Ready replacement for pod ${NS}/${POD} after 3s (no replacement pod yet)` }]);
  });

  it('reports no health for an unmanaged pod (nothing to wait for) or a pod already replaced (noop)', async () => {
    const { cluster, ctx } = setup();
    cluster.addPod({ namespace: NS, name: 'debug-shell', containers: [OOM] });
    expect((await restartOomPod.run(ctx, params({ pod: 'debug-shell', allowUnmanaged: true }))).reason).toContain('nothing will replace it');
    expect(ctx.health).toEqual([]);

    const replaced = setup();
    replaced.cluster.beforeNext('evictPod', () => {
      replaced.cluster.pods.delete(`${NS}/${POD}`);
      replaced.cluster.addPod({ namespace: NS, name: POD });
    });
    expect((await restartOomPod.run(replaced.ctx, params())).result).toBe('noop');
    expect(replaced.ctx.health).toEqual([]);
  });

  it('does not wait when waitForReadySeconds is 0', async () => {
    const { cluster, ctx, clock } = setup();
    cluster.replacementReadyAfterReads = Infinity;
    const outcome = await restartOomPod.run(ctx, params({ waitForReadySeconds: 0 }));
    expect(outcome.reason).toBe(`evicted pod ${NS}/${POD} (OOMKilled container llm-api); not waiting for a replacement`);
    expect(clock.sleeps).toEqual([]);
    expect(cluster.callsOf('listPods')).toEqual([]);
    expect(ctx.health).toEqual([]);
  });

  it('in dry-run sends the eviction with dryRun: true and never waits', async () => {
    const { cluster, ctx, clock } = setup({ dryRun: true });
    const outcome = await restartOomPod.run(ctx, params());
    expect(outcome).toEqual({ result: 'changed', reason: `would evict pod ${NS}/${POD} (OOMKilled container llm-api)` });
    expect(cluster.mutations().map((c) => [c.method, c.dryRun])).toEqual([['evictPod', true]]);
    expect(cluster.pods.has(`${NS}/${POD}`)).toBe(true);
    expect(clock.sleeps).toEqual([]);
    expect(ctx.health).toEqual([]);
  });

  describe('StatefulSet pods', () => {
    function statefulSetup() {
      const clock = new FakeClock();
      const cluster = new FakeCluster({ now: () => clock.now() });
      const sts = cluster.addStatefulSet('ml-training', 'trainer', { replicas: 2 });
      const pod = cluster.addPodOf(sts, 'trainer-0', { containers: [{ ...OOM, name: 'trainer' }] });
      cluster.addPodOf(sts, 'trainer-1');
      return { clock, cluster, pod, ctx: createFakeContext({ cluster, clock }) };
    }

    it('waits for the same-named pod with a new uid to be Ready and stamps the StatefulSet', async () => {
      const { cluster, ctx, pod } = statefulSetup();
      cluster.replacementReadyAfterReads = 3;
      const outcome = await restartOomPod.run(ctx, params({ namespace: 'ml-training', pod: 'trainer-0' }));
      const replacement = cluster.pods.get('ml-training/trainer-0')!;
      expect(replacement.uid).not.toBe(pod.uid);
      expect(replacement.ready).toBe(true);
      expect(outcome.reason).toBe('evicted pod ml-training/trainer-0 (OOMKilled container trainer); replacement ml-training/trainer-0 Ready');
      expect(ctx.stamps[0]?.ref).toEqual({ kind: 'StatefulSet', namespace: 'ml-training', name: 'trainer' });
      expect(ctx.health).toEqual([{ result: 'healthy', detail: 'statefulset/ml-training/trainer: replacement ml-training/trainer-0 Ready' }]);
    });

    it('a same-named pod that never comes back Ready is unhealthy', async () => {
      const { cluster, ctx } = statefulSetup();
      cluster.replacementReadyAfterReads = Infinity;
      await expect(restartOomPod.run(ctx, params({ namespace: 'ml-training', pod: 'trainer-0', waitForReadySeconds: 5 }))).rejects.toThrow(PermanentError);
      expect(ctx.health).toEqual([
        { result: 'unhealthy', detail: 'statefulset/ml-training/trainer: no Ready replacement for pod ml-training/trainer-0 after 5s (ml-training/trainer-0 not Ready)' },
      ]);
    });

    it('refuses gracePeriodSeconds 0 before acting', async () => {
      const { cluster, ctx } = statefulSetup();
      await expect(restartOomPod.run(ctx, params({ namespace: 'ml-training', pod: 'trainer-0', method: 'delete', gracePeriodSeconds: 0 }))).rejects.toThrow(
        PermanentError,
      );
      expect(cluster.mutations()).toEqual([]);
    });
  });

  describe('resumed after an earlier attempt restarted the pod', () => {
    function evictionStep(uid: string, at: string): RunStep {
      return {
        action: 'evict',
        object: `pod/${NS}/${POD}`,
        request: {
          method: 'POST',
          path: `/api/v1/namespaces/${NS}/pods/${POD}/eviction`,
          dryRun: false,
          body: { apiVersion: 'policy/v1', kind: 'Eviction', deleteOptions: { preconditions: { uid } } },
        },
        result: 'ok',
        at,
      };
    }

    it('never restarts again and finishes the wait, finding the owner from the run target the worker resolved', async () => {
      const first = setup();
      const { cluster, clock, pod } = first;
      const at = new Date(clock.now()).toISOString();
      await cluster.evictPod(NS, POD, pod.uid, { dryRun: false });
      cluster.calls.length = 0;
      // The earlier attempt died right after the eviction: no stamp, no Event; the pod is gone.
      const ctx = createFakeContext({ cluster, clock, previousSteps: [evictionStep(pod.uid, at)], target: 'deployment/ml-serving/llm-api' });

      const outcome = await restartOomPod.run(ctx, params());

      expect(cluster.mutations()).toEqual([]);
      expect(ctx.events.map((e) => [e.reason, e.ref.name])).toEqual([['RemediationRestart', POD]]);
      expect(ctx.stamps.map((s) => s.ref)).toEqual([{ kind: 'Deployment', namespace: 'ml-serving', name: 'llm-api' }]);
      expect(outcome).toEqual({
        result: 'changed',
        reason: expect.stringMatching(new RegExp(`^evicted pod ${NS}/${POD} in an earlier attempt of this run; replacement ${NS}/llm-api-7d9f8b6c5-r\\d+ Ready$`)),
      });
      expect(ctx.health).toEqual([{ result: 'healthy', detail: expect.stringMatching(new RegExp(`^deployment/${NS}/llm-api: replacement ${NS}/llm-api-7d9f8b6c5-r\\d+ Ready$`)) }]);
    });

    it('reports unhealthy when the resumed wait times out', async () => {
      const first = setup();
      const { cluster, clock, pod } = first;
      cluster.replacementReadyAfterReads = Infinity;
      const at = new Date(clock.now()).toISOString();
      await cluster.evictPod(NS, POD, pod.uid, { dryRun: false });
      const ctx = createFakeContext({ cluster, clock, previousSteps: [evictionStep(pod.uid, at)], target: 'deployment/ml-serving/llm-api' });
      await expect(restartOomPod.run(ctx, params({ waitForReadySeconds: 4 }))).rejects.toThrow(
        `evicted pod ${NS}/${POD} in an earlier attempt of this run, but its replacement was not Ready within 4s`,
      );
      expect(ctx.health.map((h) => h.result)).toEqual(['unhealthy']);
    });

    it('takes a replacement whose whole-second creationTimestamp predates the answer the step recorded', async () => {
      const { cluster, clock, pod } = setup();
      // The server created the replacement at 10:00:00.990 and wrote "10:00:00Z"; the answer came 60 ms later.
      clock.advance(990);
      await cluster.evictPod(NS, POD, pod.uid, { dryRun: false });
      const replacement = [...cluster.pods.values()].find((p) => p.name.startsWith('llm-api-7d9f8b6c5-r'))!;
      replacement.createdAt = '2026-11-28T10:00:00Z';
      clock.advance(60);
      const ctx = createFakeContext({ cluster, clock, previousSteps: [evictionStep(pod.uid, new Date(clock.now()).toISOString())], target: 'deployment/ml-serving/llm-api' });

      const outcome = await restartOomPod.run(ctx, params({ waitForReadySeconds: 5 }));

      expect(outcome.reason).toBe(`evicted pod ${NS}/${POD} in an earlier attempt of this run; replacement ${NS}/${replacement.name} Ready`);
      expect(ctx.health.map((h) => h.result)).toEqual(['healthy']);
    });

    it('does not take a StatefulSet replacement for a new OOM candidate', async () => {
      const clock = new FakeClock();
      const cluster = new FakeCluster({ now: () => clock.now() });
      const sts = cluster.addStatefulSet(NS, 'vllm');
      const old: PodInfo = cluster.addPodOf(sts, POD, { containers: [OOM] });
      const at = new Date(clock.now()).toISOString();
      await cluster.evictPod(NS, POD, old.uid, { dryRun: false });
      cluster.calls.length = 0;
      const ctx = createFakeContext({ cluster, clock, previousSteps: [evictionStep(old.uid, at)] });

      const outcome = await restartOomPod.run(ctx, params());

      expect(cluster.mutations()).toEqual([]);
      expect(outcome.reason).toBe(`evicted pod ${NS}/${POD} in an earlier attempt of this run; replacement ${NS}/${POD} Ready`);
    });
  });

  it('validates names before any cluster call', async () => {
    const { cluster, ctx } = setup();
    const unchecked = { ...params(), pod: 'a/../../b' };
    await expect(restartOomPod.run(ctx, unchecked)).rejects.toThrow(PermanentError);
    expect(cluster.calls).toEqual([]);
  });
});
