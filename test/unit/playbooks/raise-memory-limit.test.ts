import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { raiseMemoryLimit, rolloutMissing } from '../../../playbooks/raise-memory-limit.js';
import { GuardBlockedError, KubeApiError, PermanentError } from '../../../src/domain/errors.js';
import type { RunStep } from '../../../src/domain/run.js';
import { RecordingCluster, type MutationSink } from '../../../src/engine/recording-cluster.js';
import type { ClusterClient } from '../../../src/kube/cluster-client.js';
import { FakeCluster, type ContainerSpec } from '../../helpers/fake-cluster.js';
import { createFakeContext, FakeClock } from '../../helpers/fake-playbook-context.js';

const NS = 'ml-serving';
const NAME = 'llm-api';
const KEY = `Deployment/${NS}/${NAME}`;
const TARGET = `deployment/${NS}/${NAME}`;
const POD = 'llm-api-7d9f8b6c5-x2kqp';

function params(input: Record<string, unknown> = {}) {
  return raiseMemoryLimit.paramsSchema.parse({ namespace: NS, name: NAME, maxLimit: '64Gi', ...input });
}

function setup(containers: ContainerSpec[] = [{ name: 'llm-api', memoryLimit: '64Mi', memoryRequest: '32Mi' }], options: { dryRun?: boolean; previousSteps?: RunStep[]; target?: string } = {}) {
  const clock = new FakeClock();
  const cluster = new FakeCluster({ now: () => clock.now() });
  const { deployment, replicaSet } = cluster.addDeployment(NS, NAME, { replicas: 2, containers });
  const ctx = createFakeContext({ cluster, clock, target: TARGET, ...options });
  const container = (name = containers[0]!.name) => cluster.templates.get(KEY)!.find((c) => c.name === name)!;
  return { cluster, clock, ctx, deployment, replicaSet, container, rv: () => cluster.scales.get(KEY)!.resourceVersion };
}

describe('raise-memory-limit params', () => {
  it('defaults kind to Deployment, factor to 1.5 and timeoutSeconds to 600', () => {
    expect(params()).toEqual({ namespace: NS, name: NAME, kind: 'Deployment', factor: 1.5, maxLimit: '64Gi', timeoutSeconds: 600 });
  });

  it('requires maxLimit, and a workload name or a pod', () => {
    const noCap = raiseMemoryLimit.paramsSchema.safeParse({ namespace: NS, name: NAME });
    expect(noCap.error?.issues.map((i) => i.path.join('.'))).toContain('maxLimit');
    const nothing = raiseMemoryLimit.paramsSchema.safeParse({ namespace: NS, maxLimit: '8Gi' });
    expect(nothing.error?.issues.map((i) => [i.path.join('.'), i.message])).toEqual([['name', 'give name (the workload) or pod (one of its pods)']]);
    expect(raiseMemoryLimit.paramsSchema.safeParse({ namespace: NS, pod: POD, maxLimit: '8Gi' }).success).toBe(true);
  });

  it('refuses a factor of 1 or less, a maxLimit that is not a memory quantity above 0, and bad names', () => {
    for (const bad of [
      { factor: 1 },
      { factor: 0.5 },
      { factor: '2' },
      { maxLimit: '64GB' },
      { maxLimit: '0' },
      { maxLimit: '-1Gi' },
      { maxLimit: 'lots' },
      { timeoutSeconds: -1 },
      { timeoutSeconds: 1.5 },
      { container: 'Bad_Name' },
      { name: 'a/b' },
      { kind: 'DaemonSet' },
      { maxlimit: '8Gi' },
    ]) {
      expect(raiseMemoryLimit.paramsSchema.safeParse({ namespace: NS, name: NAME, maxLimit: '8Gi', ...bad }).success, JSON.stringify(bad)).toBe(false);
    }
    for (const good of ['64Gi', '1.5Gi', '500M', '1e9', '65536Ki']) {
      expect(raiseMemoryLimit.paramsSchema.safeParse({ namespace: NS, name: NAME, maxLimit: good }).success, good).toBe(true);
    }
  });

  it('is servable as JSON Schema', () => {
    const schema = z.toJSONSchema(raiseMemoryLimit.paramsSchema, { io: 'input', unrepresentable: 'any' }) as { properties: Record<string, unknown>; required: string[] };
    expect(Object.keys(schema.properties)).toEqual(['namespace', 'kind', 'name', 'pod', 'container', 'factor', 'maxLimit', 'timeoutSeconds']);
    expect(schema.required).toEqual(expect.arrayContaining(['namespace', 'maxLimit']));
  });

  it('derives namespace, pod and container from the KubePodOOMKilled fixture labels, and drops invalid values', () => {
    const labels = { alertname: 'KubePodOOMKilled', container: 'llm-api', namespace: NS, pod: POD, reason: 'OOMKilled', severity: 'warning' };
    expect(raiseMemoryLimit.paramsFromLabels(labels)).toEqual({ namespace: NS, pod: POD, container: 'llm-api' });
    expect(raiseMemoryLimit.paramsFromLabels({ namespace: '../kube-system', pod: 'x/../../y', container: 'A_B' })).toEqual({});
  });

  it('targets the named workload, else the pod until the worker resolves its owner', async () => {
    expect(raiseMemoryLimit.target(params())).toBe(TARGET);
    expect(raiseMemoryLimit.target(params({ kind: 'StatefulSet' }))).toBe(`statefulset/${NS}/${NAME}`);
    const fromPod = params({ name: undefined, pod: POD });
    expect(raiseMemoryLimit.target(fromPod)).toBe(`pod/${NS}/${POD}`);

    const { cluster, replicaSet } = setup();
    cluster.addPodOf(replicaSet, POD);
    const sts = cluster.addStatefulSet(NS, 'vllm');
    cluster.addPodOf(sts, 'vllm-0');
    expect(await raiseMemoryLimit.resolveTarget!(cluster, fromPod)).toBe(TARGET);
    expect(await raiseMemoryLimit.resolveTarget!(cluster, params({ name: undefined, pod: 'vllm-0' }))).toBe(`statefulset/${NS}/vllm`);
    expect(await raiseMemoryLimit.resolveTarget!(cluster, params({ name: undefined, pod: 'gone' }))).toBeUndefined();
    expect(cluster.mutations()).toEqual([]);
  });
});

describe('raise-memory-limit run', () => {
  it('raises the limit 1.5× with the resourceVersion it read, leaves the request, marks the workload and waits for the rollout', async () => {
    const { cluster, ctx, container, rv } = setup();
    const read = rv();

    const outcome = await raiseMemoryLimit.run(ctx, params());

    const done = `raised the memory limit of container llm-api of ${TARGET} from 64Mi to 96Mi`;
    expect(outcome).toEqual({ result: 'changed', reason: `${done}; ${TARGET}: rollout complete, 2/2 updated and available` });
    // The last-action stamp rides in the same patch: the raise and its stamp land together or not at all.
    const stamp = ctx.lastActionAnnotation(done);
    expect(cluster.callsOf('setMemoryLimit')).toEqual([
      { method: 'setMemoryLimit', args: ['Deployment', NS, NAME, { container: 'llm-api', limit: '96Mi' }, read, stamp], dryRun: false },
    ]);
    expect(container()).toEqual({ name: 'llm-api', memoryLimit: '96Mi', memoryRequest: '32Mi' });
    expect(cluster.workloads.get(`Deployment/${NS}/${NAME}`)?.annotations).toMatchObject(stamp);
    expect(ctx.events).toEqual([{ ref: { kind: 'Deployment', namespace: NS, name: NAME }, reason: 'RemediationMemoryLimit', message: done, type: 'Normal' }]);
    expect(ctx.stamps).toEqual([]);
    expect(ctx.health).toEqual([{ result: 'healthy', detail: `${TARGET}: rollout complete, 2/2 updated and available` }]);
  });

  it('rounds the product up to whole Mi, without floating-point residue', async () => {
    const cases: [limit: string, factor: number, want: string][] = [
      ['100Mi', 1.1, '110Mi'],
      ['333Mi', 1.5, '500Mi'],
      ['100M', 1.5, '144Mi'], // 100e6 B × 1.5 = 143.05 Mi
      ['1Gi', 1.5, '1536Mi'],
      ['2Gi', 1.5, '3Gi'],
      ['1000001', 2, '2Mi'],
    ];
    for (const [limit, factor, want] of cases) {
      const { ctx, container } = setup([{ name: 'main', memoryLimit: limit }]);
      const outcome = await raiseMemoryLimit.run(ctx, params({ factor, timeoutSeconds: 0 }));
      expect(container().memoryLimit, `${limit} × ${factor}`).toBe(want);
      expect(outcome.reason).toContain(`from ${limit} to ${want}`);
    }
  });

  it('caps the new limit at maxLimit and says so', async () => {
    const { ctx, container } = setup([{ name: 'main', memoryLimit: '48Gi' }]);
    const outcome = await raiseMemoryLimit.run(ctx, params({ timeoutSeconds: 0 }));
    expect(container().memoryLimit).toBe('64Gi');
    expect(outcome.reason).toBe(`raised the memory limit of container main of ${TARGET} from 48Gi to 64Gi (capped at maxLimit 64Gi); not waiting for the rollout`);
  });

  it('is skipped when the limit is already at or above maxLimit, without a request', async () => {
    for (const limit of ['64Gi', '65536Mi', '80Gi']) {
      const { cluster, ctx } = setup([{ name: 'main', memoryLimit: limit }]);
      const outcome = await raiseMemoryLimit.run(ctx, params());
      expect(outcome).toEqual({ result: 'skipped', reason: `container main of ${TARGET} already has memory limit ${limit}, at or above maxLimit 64Gi` });
      expect(cluster.mutations()).toEqual([]);
      expect(ctx.events).toEqual([]);
    }
  });

  it('is skipped when the container has no memory limit, and says there is nothing to raise', async () => {
    const { cluster, ctx } = setup([{ name: 'main', memoryRequest: '1Gi' }]);
    const outcome = await raiseMemoryLimit.run(ctx, params());
    expect(outcome).toEqual({ result: 'skipped', reason: `nothing to raise: container main of ${TARGET} has no memory limit` });
    expect(cluster.mutations()).toEqual([]);
    expect(ctx.stamps).toEqual([]);
  });

  it('raises the request only when it would exceed the new limit, and then to the limit', async () => {
    const below = setup([{ name: 'main', memoryLimit: '1Gi', memoryRequest: '1Gi' }]);
    await raiseMemoryLimit.run(below.ctx, params({ timeoutSeconds: 0 }));
    expect(below.container()).toEqual({ name: 'main', memoryLimit: '1536Mi', memoryRequest: '1Gi' });
    expect(below.cluster.callsOf('setMemoryLimit')[0]!.args[3]).toEqual({ container: 'main', limit: '1536Mi' });

    // A template whose request exceeds even the new limit (the fake does not validate like the server).
    const above = setup([{ name: 'main', memoryLimit: '1Gi', memoryRequest: '2Gi' }]);
    const outcome = await raiseMemoryLimit.run(above.ctx, params({ timeoutSeconds: 0 }));
    expect(above.cluster.callsOf('setMemoryLimit')[0]!.args[3]).toEqual({ container: 'main', limit: '1536Mi', request: '1536Mi' });
    expect(above.container()).toEqual({ name: 'main', memoryLimit: '1536Mi', memoryRequest: '1536Mi' });
    expect(outcome.reason).toContain('; request set to 1536Mi (it was 2Gi, above the new limit)');
  });

  it('picks the only container, refuses to guess among several, and skips a container the template lacks', async () => {
    const one = setup([{ name: 'server', memoryLimit: '1Gi' }]);
    await raiseMemoryLimit.run(one.ctx, params({ timeoutSeconds: 0 }));
    expect(one.container().memoryLimit).toBe('1536Mi');

    const two = setup([{ name: 'server', memoryLimit: '1Gi' }, { name: 'sidecar', memoryLimit: '64Mi' }]);
    await expect(raiseMemoryLimit.run(two.ctx, params())).rejects.toThrow(
      new PermanentError(`${TARGET} has 2 containers (server, sidecar); name the one to raise with the container param`),
    );
    await raiseMemoryLimit.run(two.ctx, params({ container: 'sidecar', timeoutSeconds: 0 }));
    expect([two.container('server').memoryLimit, two.container('sidecar').memoryLimit]).toEqual(['1Gi', '96Mi']);

    const missing = setup([{ name: 'server', memoryLimit: '1Gi' }]);
    expect(await raiseMemoryLimit.run(missing.ctx, params({ container: 'istio-proxy' }))).toEqual({
      result: 'skipped',
      reason: `${TARGET} has no container istio-proxy in its pod template (containers: server)`,
    });
    expect(missing.cluster.mutations()).toEqual([]);
  });

  it('dry run: sends the patch with dryRun, changes nothing and never waits', async () => {
    const { cluster, ctx, container } = setup(undefined, { dryRun: true });
    const outcome = await raiseMemoryLimit.run(ctx, params());
    expect(outcome).toEqual({ result: 'changed', reason: `would raise the memory limit of container llm-api of ${TARGET} from 64Mi to 96Mi` });
    expect(cluster.mutations().map((c) => [c.method, c.dryRun])).toEqual([['setMemoryLimit', true]]);
    expect(container().memoryLimit).toBe('64Mi');
    expect(cluster.callsOf('getWorkloadStatus')).toEqual([]);
    expect(ctx.health).toEqual([]);
    expect(ctx.clock.sleeps).toEqual([]);
    expect(ctx.events.map((e) => e.message)).toEqual([outcome.reason]);
  });

  describe('from an OOM alert (pod)', () => {
    it("changes the pod's Deployment, resolved through its ReplicaSet", async () => {
      const { cluster, ctx, replicaSet, container } = setup();
      cluster.addPodOf(replicaSet, POD);
      const outcome = await raiseMemoryLimit.run(ctx, params({ name: undefined, pod: POD, container: 'llm-api', timeoutSeconds: 0 }));
      expect(outcome.result).toBe('changed');
      expect(container().memoryLimit).toBe('96Mi');
    });

    it("changes the pod's StatefulSet", async () => {
      const { cluster, ctx } = setup();
      const sts = cluster.addStatefulSet(NS, 'vllm', { containers: [{ name: 'vllm', memoryLimit: '16Gi' }] });
      cluster.addPodOf(sts, 'vllm-0');
      const outcome = await raiseMemoryLimit.run(ctx, params({ name: undefined, pod: 'vllm-0', container: 'vllm', timeoutSeconds: 0 }));
      expect(outcome.reason).toBe(`raised the memory limit of container vllm of statefulset/${NS}/vllm from 16Gi to 24Gi; not waiting for the rollout`);
      expect(cluster.templates.get(`StatefulSet/${NS}/vllm`)![0]!.memoryLimit).toBe('24Gi');
    });

    it('uses the workload the worker resolved when the pod is gone (replaced by an earlier rollout), else skips', async () => {
      const { ctx, container } = setup();
      const outcome = await raiseMemoryLimit.run(ctx, params({ name: undefined, pod: POD, timeoutSeconds: 0 }));
      expect(outcome.result).toBe('changed');
      expect(container().memoryLimit).toBe('96Mi');

      const unresolved = setup(undefined, { target: `pod/${NS}/${POD}` });
      expect(await raiseMemoryLimit.run(unresolved.ctx, params({ name: undefined, pod: POD }))).toEqual({
        result: 'skipped',
        reason: `pod ${NS}/${POD} not found; cannot tell which workload to change`,
      });
    });

    it('skips a pod without a Deployment or StatefulSet owner', async () => {
      const { cluster, ctx } = setup();
      cluster.addPod({ namespace: NS, name: 'bare' });
      const ds = cluster.addWorkload({ kind: 'DaemonSet', namespace: NS, name: 'exporter', selector: { app: 'exporter' } });
      cluster.addPodOf(ds, 'exporter-abcde');
      expect(await raiseMemoryLimit.run(ctx, params({ name: undefined, pod: 'bare' }))).toEqual({
        result: 'skipped',
        reason: `pod ${NS}/bare has no controller, not by a Deployment or StatefulSet whose pod template could be changed`,
      });
      expect((await raiseMemoryLimit.run(ctx, params({ name: undefined, pod: 'exporter-abcde' }))).reason).toBe(
        `pod ${NS}/exporter-abcde is owned by DaemonSet exporter, not by a Deployment or StatefulSet whose pod template could be changed`,
      );
      expect(cluster.mutations()).toEqual([]);
    });

    it('is blocked (opt_out) when the pod, the workload or the namespace opts out', async () => {
      for (const where of ['pod', 'deployment', 'namespace'] as const) {
        const { cluster, ctx, replicaSet } = setup();
        cluster.addPodOf(replicaSet, POD, where === 'pod' ? { labels: { 'remediator.dev/disabled': 'true' } } : {});
        if (where === 'deployment') cluster.workloads.get(KEY)!.labels['remediator.dev/disabled'] = 'true';
        if (where === 'namespace') cluster.setNamespaceLabels(NS, { 'remediator.dev/disabled': 'true' });
        const error = await raiseMemoryLimit.run(ctx, params({ name: undefined, pod: POD })).catch((e: unknown) => e);
        expect(error, where).toBeInstanceOf(GuardBlockedError);
        expect((error as GuardBlockedError).guard).toBe('opt_out');
        expect(cluster.mutations(), where).toEqual([]);
      }
    });
  });

  describe('health check', () => {
    it('waits until the controller observed the new generation and every replica is updated and available', async () => {
      const { cluster, ctx, clock } = setup();
      // The patch made generation 2; the controller reports generation 1 for two more reads.
      cluster.holdRollout('Deployment', NS, NAME, { observedGeneration: 1 }, 2);
      const outcome = await raiseMemoryLimit.run(ctx, params());
      expect(outcome.result).toBe('changed');
      expect(ctx.health).toEqual([{ result: 'healthy', detail: `${TARGET}: rollout complete, 2/2 updated and available` }]);
      expect(clock.sleeps).toEqual([1000, 1000]);
    });

    it('reports unhealthy with what is missing after timeoutSeconds, fails the run, and keeps the new limit', async () => {
      const { cluster, ctx, clock, container } = setup();
      cluster.holdRollout('Deployment', NS, NAME, { updatedReplicas: 1, statusReplicas: 3, availableReplicas: 1 });
      const error = await raiseMemoryLimit.run(ctx, params({ timeoutSeconds: 30 })).catch((e: unknown) => e);
      const missing = `${TARGET}: 1 of 2 updated, 2 old pods still running, 1 of 2 available after 30s`;
      expect(error).toBeInstanceOf(PermanentError);
      expect((error as Error).message).toBe(`raised the memory limit of container llm-api of ${TARGET} from 64Mi to 96Mi, but the rollout did not complete: ${missing}`);
      expect(ctx.health).toEqual([{ result: 'unhealthy', detail: missing }]);
      expect(clock.elapsedSince()).toBe(30_000);
      expect(container().memoryLimit).toBe('96Mi');
    });

    it('does not check with timeoutSeconds 0', async () => {
      const { cluster, ctx } = setup();
      const outcome = await raiseMemoryLimit.run(ctx, params({ timeoutSeconds: 0 }));
      expect(outcome.reason).toMatch(/; not waiting for the rollout$/);
      expect(cluster.callsOf('getWorkloadStatus')).toEqual([]);
      expect(ctx.health).toEqual([]);
    });

    it('names what a rollout lacks', () => {
      const status = { replicas: 3, generation: 4, observedGeneration: 4, statusReplicas: 3, updatedReplicas: 3, readyReplicas: 3, availableReplicas: 3 };
      expect(rolloutMissing('Deployment', status)).toEqual([]);
      expect(rolloutMissing('StatefulSet', { ...status, observedGeneration: 3 })).toEqual(['the StatefulSet controller has not observed generation 4 yet (status is of 3)']);
      expect(rolloutMissing('StatefulSet', { ...status, updatedReplicas: 2, availableReplicas: 2 })).toEqual(['2 of 3 updated', '1 old pods still running', '2 of 3 available']);
    });
  });
});

/** The engine's side of a run: steps recorded through RecordingCluster, one attempt after another. */
class Attempts {
  readonly steps: RunStep[] = [];
  private attempt = 0;

  constructor(private readonly fake: ClusterClient) {}

  next(inner: ClusterClient = this.fake): { cluster: RecordingCluster; previousSteps: RunStep[] } {
    this.attempt += 1;
    const sink: MutationSink = {
      dryRun: false,
      attempt: this.attempt,
      steps: this.steps,
      beforeMutation: async () => undefined,
      persist: async () => undefined,
    };
    const previousSteps = structuredClone(this.steps);
    return { cluster: new RecordingCluster(inner, sink), previousSteps };
  }
}

/** Applies the next setMemoryLimit, then loses its answer (a 500 after the write). */
function losingAnswer(fake: FakeCluster): ClusterClient {
  let armed = true;
  return new Proxy(fake, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function') return value;
      if (prop !== 'setMemoryLimit') return value.bind(target);
      return async (...args: unknown[]) => {
        const result = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        if (!armed) return result;
        armed = false;
        throw new KubeApiError(500, 'InternalError', 'etcd timeout after the write', 'patch', 'deployments');
      };
    },
  });
}

describe('raise-memory-limit exactly once (through RecordingCluster)', () => {
  function world(containers: ContainerSpec[] = [{ name: 'llm-api', memoryLimit: '64Mi' }]) {
    const clock = new FakeClock();
    const fake = new FakeCluster({ now: () => clock.now() });
    fake.addDeployment(NS, NAME, { replicas: 2, containers });
    const attempts = new Attempts(fake);
    const ctxFor = (a: { cluster: RecordingCluster; previousSteps: RunStep[] }) => createFakeContext({ cluster: a.cluster, clock, previousSteps: a.previousSteps, target: TARGET });
    const limit = () => fake.templates.get(KEY)![0]!.memoryLimit;
    return { fake, attempts, ctxFor, limit };
  }

  it('an answer lost after the server applied the patch is read back, never sent again, in this attempt or the next', async () => {
    const { fake, attempts, ctxFor, limit } = world();
    const first = attempts.next(losingAnswer(fake));
    const outcome = await raiseMemoryLimit.run(ctxFor(first), params());
    expect(outcome.result).toBe('changed');
    expect(limit()).toBe('96Mi');
    expect(attempts.steps.filter((s) => s.action === 'set_memory_limit').map((s) => [s.result, s.after])).toEqual([['ok', { container: 'llm-api', memoryLimit: '96Mi' }]]);

    // The job is retried anyway (say the worker died before it ended the run): nothing is raised twice.
    const second = attempts.next();
    const again = await raiseMemoryLimit.run(ctxFor(second), params());
    expect(again.reason).toBe(
      `raised the memory limit of container llm-api of ${TARGET} from 64Mi to 96Mi in an earlier attempt of this run; ${TARGET}: rollout complete, 2/2 updated and available`,
    );
    expect(limit()).toBe('96Mi');
    expect(fake.callsOf('setMemoryLimit')).toHaveLength(1);
  });

  it('a step left open (answer lost, not readable) is settled by the next attempt without a second patch', async () => {
    const { fake, attempts, ctxFor, limit } = world();
    const first = attempts.next(losingAnswer(fake));
    // The read-back after the lost answer fails too: the step stays open (uncertain).
    fake.beforeNext('setMemoryLimit', () => fake.failNext('getPodTemplate', new KubeApiError(0, 'Timeout', 'no answer', 'get', 'deployments')));
    await expect(raiseMemoryLimit.run(ctxFor(first), params())).rejects.toThrow('etcd timeout after the write');
    expect(attempts.steps.find((s) => s.action === 'set_memory_limit')).toMatchObject({ result: 'error', uncertain: true });

    const second = attempts.next();
    expect(await second.cluster.settleOpenSteps()).toBe(1);
    second.previousSteps.splice(0, second.previousSteps.length, ...structuredClone(attempts.steps));
    const outcome = await raiseMemoryLimit.run(ctxFor(second), params());
    expect(outcome.reason).toMatch(/^raised the memory limit of container llm-api of .* from 64Mi to 96Mi in an earlier attempt of this run;/);
    expect(limit()).toBe('96Mi');
    expect(fake.callsOf('setMemoryLimit')).toHaveLength(1);
  });

  it('a resourceVersion conflict fails the attempt retryably; the retry re-reads and sends the recorded limit, not a new product', async () => {
    const { fake, attempts, ctxFor, limit } = world();
    // A concurrent writer raises the limit to 80Mi right before the patch: 409.
    fake.beforeNext('setMemoryLimit', () => fake.setContainerMemory('Deployment', NS, NAME, 'llm-api', { limit: '80Mi' }));
    const error = await raiseMemoryLimit.run(ctxFor(attempts.next()), params()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KubeApiError);
    expect((error as KubeApiError).code).toBe(409);
    expect((error as KubeApiError).retryable).toBe(true);
    expect(limit()).toBe('80Mi');
    const recorded = attempts.steps.find((s) => s.action === 'set_memory_limit')!;
    expect(recorded).toMatchObject({ result: 'error', intent: { type: 'memory-limit', container: 'llm-api', from: '64Mi', limit: '96Mi' } });

    // The engine retries the job: it moves toward 96Mi (80Mi × 1.5 would be 120Mi).
    const second = attempts.next();
    const outcome = await raiseMemoryLimit.run(ctxFor(second), params());
    expect(outcome.reason).toMatch(/^raised the memory limit of container llm-api of deployment\/ml-serving\/llm-api from 80Mi to 96Mi;/);
    expect(limit()).toBe('96Mi');
    const sent = fake.callsOf('setMemoryLimit').map((c) => [(c.args[3] as { limit: string }).limit, c.args[4] as string]);
    expect(sent.map(([l]) => l)).toEqual(['96Mi', '96Mi']);
    // The retry carried the resourceVersion it re-read, not the stale one.
    expect(sent[1]![1]).not.toBe(sent[0]![1]);
  });

  it('a retry after a conflict that finds the limit at or above the recorded one is done, without a patch', async () => {
    const { fake, attempts, ctxFor, limit } = world();
    fake.beforeNext('setMemoryLimit', () => fake.setContainerMemory('Deployment', NS, NAME, 'llm-api', { limit: '128Mi' }));
    await expect(raiseMemoryLimit.run(ctxFor(attempts.next()), params())).rejects.toThrow(/modified/);

    const outcome = await raiseMemoryLimit.run(ctxFor(attempts.next()), params());
    expect(outcome).toEqual({
      result: 'noop',
      reason: `container llm-api of ${TARGET} already has memory limit 128Mi (this run meant to raise it to 96Mi); it was raised meanwhile`,
    });
    expect(limit()).toBe('128Mi');
    expect(fake.callsOf('setMemoryLimit')).toHaveLength(1);
  });
});
