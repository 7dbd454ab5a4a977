/**
 * restart-oom-pod end to end: an Alertmanager notification reaches the running service, a rule
 * picks the playbook, the worker acts on the simulated cluster over HTTP, and the test checks the
 * sim's own record of requests and its state, the run record, the audit log and /metrics.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, fixture, poll, type Harness } from '../helpers/harness.js';
import { notification } from '../helpers/alerts.js';
import { metricValue } from '../helpers/metrics-text.js';
import type { Run } from '../../src/domain/run.js';

const LAST_ACTION = 'remediator.dev/last-action';

// Rules are told apart by a `scenario` label so each case has its own params and cooldown;
// the catch-all (no cooldown) serves the captured fixture.
const RULES = `
rules:
  - name: restart-delete
    matchers: ['alertname="KubePodOOMKilled"', 'scenario="delete"']
    playbook: restart-oom-pod
    params: { method: delete, waitForReadySeconds: 30 }
  - name: restart-burst
    matchers: ['alertname="KubePodOOMKilled"', 'scenario="burst"']
    playbook: restart-oom-pod
    params: { waitForReadySeconds: 30 }
    cooldown: 10m
  - name: restart-oom
    matchers: ['alertname="KubePodOOMKilled"']
    playbook: restart-oom-pod
    params: { waitForReadySeconds: 30 }
`;

/* eslint-disable @typescript-eslint/no-explicit-any */
type Obj = any;

function podReady(p: Obj): boolean {
  return !p.metadata?.deletionTimestamp && (p.status?.conditions ?? []).some((c: Obj) => c.type === 'Ready' && c.status === 'True');
}

function podsOf(h: Harness, namespace: string, app: string): Obj[] {
  return h.sim.list('pod', namespace).filter((p: Obj) => p.metadata?.labels?.['app.kubernetes.io/name'] === app);
}

function mutationsSince(h: Harness, index: number): Obj[] {
  return h.sim.requests.slice(index).filter((r) => r.method !== 'GET');
}

function oomAlert(namespace: string, pod: string, container: string, extra: Record<string, string> = {}, startsAt?: string) {
  return { labels: { alertname: 'KubePodOOMKilled', namespace, pod, container, severity: 'warning', ...extra }, ...(startsAt ? { startsAt } : {}) };
}

async function postOne(h: Harness, alert: ReturnType<typeof oomAlert>): Promise<string> {
  const res = await h.post(notification([alert]));
  expect(res.status).toBe(200);
  expect(res.body.decisions).toHaveLength(1);
  expect(res.body.decisions[0].decision).toBe('enqueued');
  return res.body.decisions[0].runId as string;
}

function restartMutations(h: Harness, namespace: string, from = 0): Obj[] {
  return h.sim.requests
    .slice(from)
    .filter(
      (r) =>
        (r.method === 'POST' && new RegExp(`^/api/v1/namespaces/${namespace}/pods/[^/]+/eviction$`).test(r.path)) ||
        (r.method === 'DELETE' && new RegExp(`^/api/v1/namespaces/${namespace}/pods/[^/]+$`).test(r.path)),
    );
}

describe('restart-oom-pod through the webhook', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ rules: RULES });
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('evicts an OOMKilled Deployment pod with a uid precondition, waits for a Ready replacement, and marks the cluster', async () => {
    const ns = 'ml-serving';
    const name = 'llm-api-7d9f8b6c5-x2kqp';
    const old = h.sim.get('pod', ns, name) as Obj;
    expect(old).toBeDefined();
    const oldUid = old.metadata.uid as string;
    const before = new Set(podsOf(h, ns, 'llm-api').map((p) => p.metadata.uid as string));
    const from = h.sim.requests.length;

    const res = await h.post(fixture('firing-kube-pod-oom-killed').body);
    expect(res.status).toBe(200);
    expect(res.body.decisions).toMatchObject([{ rule: 'restart-oom', decision: 'enqueued' }]);
    const runId = res.body.decisions[0].runId as string;
    const run = await h.waitRun(runId, undefined, 40_000);
    expect(run).toMatchObject({ status: 'succeeded', changed: true, dryRun: false, playbook: 'restart-oom-pod', target: 'deployment/ml-serving/llm-api' });
    expect(run.reason).toMatch(/evicted pod ml-serving\/llm-api-7d9f8b6c5-x2kqp/);
    expect(run.reason).toMatch(/Ready/);

    // The sim got exactly one eviction, for this pod, carrying the uid precondition; no DELETE.
    const restarts = restartMutations(h, ns, from);
    expect(restarts).toHaveLength(1);
    const eviction = restarts[0]!;
    expect(eviction).toMatchObject({ method: 'POST', path: `/api/v1/namespaces/${ns}/pods/${name}/eviction`, status: 201, dryRun: false });
    expect(eviction.body.deleteOptions.preconditions.uid).toBe(oldUid);

    // The old pod is gone; a new pod of the Deployment is Ready.
    expect(h.sim.get('pod', ns, name)).toBeUndefined();
    const replacements = podsOf(h, ns, 'llm-api').filter((p) => !before.has(p.metadata.uid) && podReady(p));
    expect(replacements.length).toBeGreaterThanOrEqual(1);
    expect(replacements[0].metadata.ownerReferences[0]).toMatchObject({ kind: 'ReplicaSet', controller: true });
    expect(replacements[0].metadata.ownerReferences[0].name).toMatch(/^llm-api-/);

    // A RemediationRestart Event on the pod.
    const events = h.sim.list('event', ns).filter((e: Obj) => e.reason === 'RemediationRestart' && e.involvedObject?.name === name);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ reportingComponent: 'remediator', involvedObject: { kind: 'Pod', uid: oldUid } });

    // The Deployment carries the last-action annotation.
    const deployment = h.sim.get('deployment', ns, 'llm-api') as Obj;
    const stamp = JSON.parse(deployment.metadata.annotations[LAST_ACTION]);
    expect(stamp).toMatchObject({ playbook: 'restart-oom-pod', runId, rule: 'restart-oom' });
    expect(typeof stamp.reason).toBe('string');
    expect(stamp.reason).toMatch(/evicting pod/);
    expect(Number.isNaN(Date.parse(stamp.time))).toBe(false);

    // The run record lists the eviction step.
    expect(run.steps.some((s) => s.action === 'evict' && s.object === `pod/${ns}/${name}` && s.result === 'ok')).toBe(true);
  });

  it('with method delete sends DELETE with a uid precondition and no eviction', async () => {
    const ns = 'ml-batch';
    const name = 'embed-batch-5f7c9-4kq2x';
    const oldUid = (h.sim.get('pod', ns, name) as Obj).metadata.uid as string;
    const from = h.sim.requests.length;
    const runId = await postOne(h, oomAlert(ns, name, 'embedder', { scenario: 'delete' }));
    const run = await h.waitRun(runId, undefined, 40_000);
    expect(run).toMatchObject({ status: 'succeeded', changed: true, target: 'deployment/ml-batch/embed-batch' });
    expect(run.trigger.rule).toBe('restart-delete');

    const restarts = restartMutations(h, ns, from);
    expect(restarts).toHaveLength(1);
    expect(restarts[0]).toMatchObject({ method: 'DELETE', path: `/api/v1/namespaces/${ns}/pods/${name}` });
    expect(restarts[0].status).toBeLessThan(300);
    expect(restarts[0].body.preconditions.uid).toBe(oldUid);
    expect(h.sim.requests.slice(from).some((r) => r.path.endsWith('/eviction'))).toBe(false);
    expect(h.sim.get('pod', ns, name)).toBeUndefined();
  });

  it('skips a pod that was not OOM-killed, without any mutation', async () => {
    const ns = 'ml-serving';
    const pod = podsOf(h, ns, 'llm-inference').find(podReady);
    expect(pod).toBeDefined();
    const name = pod.metadata.name as string;
    const containers = (pod.status.containerStatuses ?? []) as Obj[];
    expect(containers.some((c) => c.lastState?.terminated?.reason === 'OOMKilled' || c.state?.terminated?.reason === 'OOMKilled')).toBe(false);
    const from = h.sim.requests.length;
    const runId = await postOne(h, oomAlert(ns, name, 'vllm'));
    const run = await h.waitRun(runId);
    expect(run.status).toBe('skipped');
    expect(run.changed).toBe(false);
    expect(run.reason).toMatch(/OOMKilled/);
    expect(mutationsSince(h, from)).toEqual([]);
    expect((h.sim.get('pod', ns, name) as Obj).metadata.uid).toBe(pod.metadata.uid);
  });

  it('skips an OOM-killed pod without a controller, without any mutation', async () => {
    const ns = 'ml-batch';
    const name = 'gpu-debug-shell';
    const pod = h.sim.get('pod', ns, name) as Obj;
    expect(pod).toBeDefined();
    expect((pod.metadata.ownerReferences ?? []).filter((o: Obj) => o.controller)).toEqual([]);
    h.sim.markOOMKilled(ns, name, 'shell');
    const from = h.sim.requests.length;
    const runId = await postOne(h, oomAlert(ns, name, 'shell'));
    const run = await h.waitRun(runId);
    expect(run.status).toBe('skipped');
    expect(run.reason).toMatch(/controller/);
    expect(mutationsSince(h, from)).toEqual([]);
    expect((h.sim.get('pod', ns, name) as Obj).metadata.uid).toBe(pod.metadata.uid);
  });

  it('restarts a StatefulSet pod: the replacement has the same name, a new uid, and is Ready', async () => {
    const ns = 'ml-training';
    const name = 'trainer-0';
    const oldUid = (h.sim.get('pod', ns, name) as Obj).metadata.uid as string;
    const from = h.sim.requests.length;
    const runId = await postOne(h, oomAlert(ns, name, 'trainer'));
    const run = await h.waitRun(runId, undefined, 40_000);
    expect(run).toMatchObject({ status: 'succeeded', changed: true, target: 'statefulset/ml-training/trainer' });

    const restarts = restartMutations(h, ns, from);
    expect(restarts).toHaveLength(1);
    expect(restarts[0]).toMatchObject({ method: 'POST', path: `/api/v1/namespaces/${ns}/pods/${name}/eviction`, status: 201 });
    expect(restarts[0].body.deleteOptions.preconditions.uid).toBe(oldUid);

    const now = h.sim.get('pod', ns, name) as Obj;
    expect(now).toBeDefined();
    expect(now.metadata.uid).not.toBe(oldUid);
    expect(podReady(now)).toBe(true);
    const sts = h.sim.get('statefulset', ns, 'trainer') as Obj;
    expect(JSON.parse(sts.metadata.annotations[LAST_ACTION])).toMatchObject({ playbook: 'restart-oom-pod', runId });
  });

  it('50 OOM alerts for pods of one Deployment: one eviction, the rest blocked by the cooldown; the annotation outlives the Redis cooldown key', async () => {
    const ns = 'default';
    const app = 'oom-burst';
    const N = 50;
    const created = await fetch(`${h.sim.url}/apis/apps/v1/namespaces/${ns}/deployments`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: app, namespace: ns, labels: { 'app.kubernetes.io/name': app } },
        spec: {
          replicas: 1,
          selector: { matchLabels: { 'app.kubernetes.io/name': app } },
          template: {
            metadata: { labels: { 'app.kubernetes.io/name': app } },
            spec: { containers: [{ name: 'worker', image: 'busybox:1.36', resources: { requests: { cpu: '10m', memory: '16Mi' } } }] },
          },
        },
      }),
    });
    expect(created.status).toBe(201);
    h.sim.patchObject('deployment', ns, app, { spec: { replicas: N } });
    const pods = await poll(
      async () => {
        const ready = podsOf(h, ns, app).filter(podReady);
        return ready.length === N ? ready : undefined;
      },
      15_000,
      `${N} Ready pods of ${app}`,
    );
    for (const p of pods) h.sim.markOOMKilled(ns, p.metadata.name, 'worker');
    const names = pods.map((p) => p.metadata.name as string);
    const uids = new Map(pods.map((p) => [p.metadata.name as string, p.metadata.uid as string]));

    const metricsBefore = await h.get('/metrics');
    const cooldownBefore = metricValue(metricsBefore.text, 'remediator_guard_blocks_total', { guard: 'cooldown' }) ?? 0;
    const from = h.sim.requests.length;

    const res = await h.post(notification(names.map((name) => oomAlert(ns, name, 'worker', { scenario: 'burst' }))));
    expect(res.status).toBe(200);
    expect(res.body.decisions).toHaveLength(N);
    const ids = (res.body.decisions as { runId?: string; decision: string }[]).map((d) => {
      // The intake cannot know the pods' owner yet (their target is the pod), so all are queued;
      // an intake-level cooldown block would be fine too.
      expect(['enqueued', 'blocked']).toContain(d.decision);
      return d.runId!;
    });
    const runs: Run[] = [];
    for (const id of ids) runs.push(await h.waitRun(id, undefined, 50_000));

    const succeeded = runs.filter((r) => r.status === 'succeeded');
    const blocked = runs.filter((r) => r.status === 'blocked');
    const skipped = runs.filter((r) => r.status === 'skipped');
    expect(succeeded).toHaveLength(1);
    expect(succeeded[0]!.changed).toBe(true);
    expect(blocked.length + skipped.length).toBe(N - 1);
    expect(blocked.length).toBeGreaterThan(0);
    for (const r of blocked) {
      expect(r.guard?.guard).toBe('cooldown');
      expect(r.guard?.detail).toBeTruthy();
      expect(r.reason).toMatch(/cooldown/);
      expect(r.target).toBe(`deployment/${ns}/${app}`);
    }
    for (const r of skipped) expect(r.reason).toBeTruthy();

    // Exactly one restart reached the sim, for the pod of the one succeeded run, with its uid.
    const restarts = restartMutations(h, ns, from);
    expect(restarts).toHaveLength(1);
    const winner = (succeeded[0]!.params as { pod: string }).pod;
    expect(restarts[0]).toMatchObject({ method: 'POST', path: `/api/v1/namespaces/${ns}/pods/${winner}/eviction`, status: 201 });
    expect(restarts[0].body.deleteOptions.preconditions.uid).toBe(uids.get(winner));
    // No other run made any mutation step; so no two restarts can have overlapped.
    const acting = runs.filter((r) => r.steps.some((s) => s.action === 'evict' || s.action === 'delete_pod'));
    expect(acting.map((r) => r.id)).toEqual([succeeded[0]!.id]);
    for (const r of [...blocked, ...skipped]) expect(r.steps).toEqual([]);
    expect(h.sim.get('pod', ns, winner)).toBeUndefined();

    // Metrics and the audit log name the guard for each blocked run.
    const metricsAfter = await h.get('/metrics');
    expect(metricValue(metricsAfter.text, 'remediator_guard_blocks_total', { guard: 'cooldown' })).toBe(cooldownBefore + blocked.length);
    const audit = (await h.main.audit.read({ count: 100_000 })).map((r) => r.entry as Obj);
    const blockedIds = new Set(blocked.map((r) => r.id));
    const guardEntries = audit.filter((e) => e.type === 'guard_blocked' && blockedIds.has(e.runId));
    expect(guardEntries).toHaveLength(blocked.length);
    for (const e of guardEntries) expect(e).toMatchObject({ guard: 'cooldown', playbook: 'restart-oom-pod', rule: 'restart-burst' });

    // Redis loses the cooldown (a wiped Redis, as far as this target is concerned) ...
    const tag = `{${h.config.redis.prefix}}`;
    const cooldownKeys = (await h.main.redis.keys('*cooldown*')).filter((k) => k.startsWith(tag));
    expect(cooldownKeys.some((k) => k.endsWith(`deployment/${ns}/${app}`))).toBe(true);
    await h.main.redis.del(...cooldownKeys);
    expect(await h.main.redis.keys(`${tag}:cooldown:*`)).toEqual([]);

    // ... and a new episode for another OOM-killed pod of the same Deployment is still blocked,
    // by the annotation on the Deployment.
    const other = names.find((n) => n !== winner)!;
    expect(h.sim.get('pod', ns, other)).toBeDefined();
    const fromWipe = h.sim.requests.length;
    const again = await h.post(notification([oomAlert(ns, other, 'worker', { scenario: 'burst' }, '2026-11-29T01:00:00.000Z')]));
    expect(again.status).toBe(200);
    const decision = again.body.decisions[0];
    let guardDetail: string;
    if (decision.decision === 'blocked') {
      guardDetail = decision.reason;
      expect(decision.guard).toBe('cooldown');
    } else {
      expect(decision.decision).toBe('enqueued');
      const run = await h.waitRun(decision.runId);
      expect(run.status).toBe('blocked');
      expect(run.guard?.guard).toBe('cooldown');
      guardDetail = run.guard!.detail;
    }
    expect(guardDetail).toMatch(/annotation/);
    expect(guardDetail).toContain(LAST_ACTION);
    expect(restartMutations(h, ns, fromWipe)).toEqual([]);
    expect((h.sim.get('pod', ns, other) as Obj).metadata.uid).toBe(uids.get(other));
    const metricsFinal = await h.get('/metrics');
    expect(metricValue(metricsFinal.text, 'remediator_guard_blocks_total', { guard: 'cooldown' })).toBe(cooldownBefore + blocked.length + 1);
  }, 60_000);
});
