import * as k8s from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { startSimCluster, type SimCluster } from '../../src/sim/sim-cluster.js';
import type { SimRequestRecord } from '../../src/sim/sim-server.js';
import { apiFailure, kube, kubeConfigFor, mergePatch, pollUntil } from '../helpers/sim-helpers.js';
import { requestMatcher } from '../../src/sim/sim-early-faults.js';

const DEPLOY = '/apis/apps/v1/namespaces/ml-serving/deployments';
const SCALE = `${DEPLOY}/llm-api/scale`;
const MERGE = 'application/merge-patch+json';

function replicasOf(sim: SimCluster, name: string): unknown {
  return (sim.get('Deployment', 'ml-serving', name)?.spec as { replicas?: unknown } | undefined)?.replicas;
}

function lastRecord(sim: SimCluster, method: string, path: string): SimRequestRecord {
  const found = sim.requests.filter((r) => r.method === method && r.path === path).at(-1);
  if (!found) throw new Error(`no ${method} ${path} recorded`);
  return found;
}

const scalePatch = (r: SimRequestRecord): boolean => r.method === 'PATCH' && r.path === SCALE;

describe('sim: injected faults (the write is applied, its answer is lost)', () => {
  let sim: SimCluster;
  let closed: boolean;

  beforeEach(async () => {
    sim = await startSimCluster();
    closed = false;
  });
  afterEach(async () => {
    if (!closed) await sim.close();
  });

  it("'error': the scale patch is stored, the client gets a 500 Status, the next one is answered", async () => {
    sim.injectFault({ match: scalePatch, answer: 'error' });
    const failed = await kube(sim, 'PATCH', SCALE, { body: { spec: { replicas: 3 } }, contentType: MERGE });
    expect(failed.status).toBe(500);
    expect(failed.body).toMatchObject({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'InternalError', code: 500 });
    expect(failed.body.message).toMatch(/lost after the write/);

    const deployment = await kube(sim, 'GET', `${DEPLOY}/llm-api`);
    expect(deployment.body.spec.replicas).toBe(3);
    expect(lastRecord(sim, 'PATCH', SCALE)).toMatchObject({ applied: true, fault: 'error', status: 500, body: { spec: { replicas: 3 } } });

    const again = await kube(sim, 'PATCH', SCALE, { body: { spec: { replicas: 3 } }, contentType: MERGE });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ kind: 'Scale', spec: { replicas: 3 } });
    const second = lastRecord(sim, 'PATCH', SCALE);
    expect(second).toMatchObject({ applied: true, status: 200 });
    expect(second.fault).toBeUndefined();
    // Reads are recorded as not applied, so `applied` separates writes that took effect.
    expect(lastRecord(sim, 'GET', `${DEPLOY}/llm-api`).applied).toBe(false);
  });

  it("'error' through @kubernetes/client-node: an ApiException 500 although the node is cordoned", async () => {
    const core = kubeConfigFor(sim).makeApiClient(k8s.CoreV1Api);
    sim.injectFault({ match: (r) => r.method === 'PATCH' && r.path === '/api/v1/nodes/gpu-node-2', answer: 'error' });
    const failure = await apiFailure(core.patchNode({ name: 'gpu-node-2', body: { spec: { unschedulable: true } } }, mergePatch));
    expect(failure.code).toBe(500);
    expect(failure.status).toMatchObject({ kind: 'Status', reason: 'InternalError', code: 500 });
    expect((await core.readNode({ name: 'gpu-node-2' })).spec?.unschedulable).toBe(true);
    expect(lastRecord(sim, 'PATCH', '/api/v1/nodes/gpu-node-2')).toMatchObject({ applied: true, fault: 'error', status: 500 });
  });

  it("'none': the client never gets an answer, the change is stored, and the sim still closes promptly", async () => {
    sim.injectFault({ match: scalePatch, answer: 'none', times: 2 });
    const request = (replicas: number, signal?: AbortSignal) =>
      fetch(`${sim.url}${SCALE}`, {
        method: 'PATCH',
        headers: { authorization: 'Bearer sim-token', 'content-type': MERGE },
        body: JSON.stringify({ spec: { replicas } }),
        ...(signal ? { signal } : {}),
      });

    await expect(request(4, AbortSignal.timeout(500))).rejects.toMatchObject({ name: 'TimeoutError' });
    expect(replicasOf(sim, 'llm-api')).toBe(4);
    expect(lastRecord(sim, 'PATCH', SCALE)).toMatchObject({ applied: true, fault: 'none', status: 0 });

    // A second unanswered request is still open when the sim closes: close() must not wait for it.
    const pending = request(5);
    const outcome = pending.then(
      () => 'answered',
      () => 'failed',
    );
    await pollUntil(() => (replicasOf(sim, 'llm-api') === 5 ? true : undefined), 'the second patch to be applied');
    const started = Date.now();
    await sim.close();
    closed = true;
    expect(Date.now() - started).toBeLessThan(2000);
    expect(await outcome).toBe('failed');
    expect(lastRecord(sim, 'PATCH', SCALE)).toMatchObject({ applied: true, fault: 'none', status: 0 });
  });

  it("afterApply is awaited after the store changed and before the answer ('normal')", async () => {
    let hookDone = false;
    let seenInHook: { replicas: unknown; record: SimRequestRecord } | undefined;
    sim.injectFault({
      match: scalePatch,
      answer: 'normal',
      afterApply: async (record) => {
        seenInHook = { replicas: replicasOf(sim, 'llm-api'), record: { ...record } };
        // A stand-in for slow work such as killing the client; the assertion is about ordering.
        await new Promise((resolve) => setTimeout(resolve, 100));
        hookDone = true;
      },
    });
    const pending = kube(sim, 'PATCH', SCALE, { body: { spec: { replicas: 6 } }, contentType: MERGE }).then((res) => ({ res, hookDone }));
    const { res, hookDone: doneWhenAnswered } = await pending;
    expect(doneWhenAnswered).toBe(true);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ kind: 'Scale', spec: { replicas: 6 } });
    expect(seenInHook?.replicas).toBe(6);
    expect(seenInHook?.record).toMatchObject({ method: 'PATCH', path: SCALE, applied: true, status: 0 });
    expect(lastRecord(sim, 'PATCH', SCALE)).toMatchObject({ applied: true, fault: 'normal', status: 200 });
  });

  it('a hook that throws is ignored: the faulted answer is still sent', async () => {
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      sim.injectFault({
        match: scalePatch,
        answer: 'error',
        afterApply: () => {
          throw new Error('hook exploded');
        },
      });
      const res = await kube(sim, 'PATCH', SCALE, { body: { spec: { replicas: 1 } }, contentType: MERGE });
      expect(res.status).toBe(500);
      expect(replicasOf(sim, 'llm-api')).toBe(1);
      expect(stderr.mock.calls.map((c) => String(c[0])).join('')).toMatch(/hook exploded/);
    } finally {
      stderr.mockRestore();
    }
  });

  it('reads, failed requests and dry runs never consume a fault', async () => {
    sim.injectFault({ match: () => true, answer: 'error' });

    const read = await kube(sim, 'GET', SCALE);
    expect(read.status).toBe(200);
    const missing = await kube(sim, 'PATCH', `${DEPLOY}/nope/scale`, { body: { spec: { replicas: 3 } }, contentType: MERGE });
    expect(missing.status).toBe(404);
    const stale = await kube(sim, 'PATCH', SCALE, {
      body: { metadata: { resourceVersion: '1' }, spec: { replicas: 3 } },
      contentType: MERGE,
    });
    expect(stale.status).toBe(409);
    const dry = await kube(sim, 'PATCH', `${SCALE}?dryRun=All`, { body: { spec: { replicas: 7 } }, contentType: MERGE });
    expect(dry.status).toBe(200);
    expect(dry.body.spec.replicas).toBe(7);
    expect(replicasOf(sim, 'llm-api')).toBe(2);

    const untouched = sim.requests.slice(-4);
    expect(untouched.map((r) => [r.method, r.status, r.applied, r.fault])).toEqual([
      ['GET', 200, false, undefined],
      ['PATCH', 404, false, undefined],
      ['PATCH', 409, false, undefined],
      ['PATCH', 200, false, undefined],
    ]);
    expect(untouched[3]?.dryRun).toBe(true);

    const hit = await kube(sim, 'PATCH', SCALE, { body: { spec: { replicas: 3 } }, contentType: MERGE });
    expect(hit.status).toBe(500);
    expect(replicasOf(sim, 'llm-api')).toBe(3);
  });

  it('times counts hits, and clearFaults drops what is left', async () => {
    sim.injectFault({ match: scalePatch, answer: 'error', times: 2 });
    const statuses: number[] = [];
    for (const replicas of [3, 4, 5]) {
      statuses.push((await kube(sim, 'PATCH', SCALE, { body: { spec: { replicas } }, contentType: MERGE })).status);
    }
    expect(statuses).toEqual([500, 500, 200]);
    expect(replicasOf(sim, 'llm-api')).toBe(5);

    sim.injectFault({ match: scalePatch, answer: 'error', times: 5 });
    sim.clearFaults();
    expect((await kube(sim, 'PATCH', SCALE, { body: { spec: { replicas: 2 } }, contentType: MERGE })).status).toBe(200);
  });
});

describe('sim: early faults (refused, hung or slow before anything is applied)', () => {
  let sim: SimCluster;
  let closed: boolean;

  beforeEach(async () => {
    sim = await startSimCluster();
    closed = false;
  });
  afterEach(async () => {
    if (!closed) await sim.close();
  });

  const patchScale = (replicas: number) => kube(sim, 'PATCH', SCALE, { body: { spec: { replicas } }, contentType: MERGE });

  it('a burst of 500s: refused with InternalError and nothing applied, then the same patch goes through', async () => {
    sim.injectFault({ stage: 'before-apply', match: requestMatcher({ method: 'PATCH', path: SCALE }), answer: 500, times: 2 });
    const first = await patchScale(4);
    expect(first.status).toBe(500);
    expect(first.body).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: `Internal error occurred: sim fault: PATCH ${SCALE} refused before it was applied`,
      reason: 'InternalError',
      details: { causes: [{ message: `sim fault: PATCH ${SCALE} refused before it was applied` }] },
      code: 500,
    });
    expect(replicasOf(sim, 'llm-api')).toBe(2);
    expect((await patchScale(4)).status).toBe(500);
    expect(replicasOf(sim, 'llm-api')).toBe(2);
    const third = await patchScale(4);
    expect(third.status).toBe(200);
    expect(replicasOf(sim, 'llm-api')).toBe(4);
    expect(sim.requests.filter(scalePatch).map((r) => [r.status, r.applied, r.fault])).toEqual([
      [500, false, 'refused'],
      [500, false, 'refused'],
      [200, true, undefined],
    ]);
    // Reads were never matched.
    expect((await kube(sim, 'GET', SCALE)).status).toBe(200);
  });

  it('429 with Retry-After: header and details.retryAfterSeconds, as client-node sees them; without: neither', async () => {
    sim.injectFault({ stage: 'before-apply', match: scalePatch, answer: 429, retryAfterSeconds: 3 });
    sim.injectFault({ stage: 'before-apply', match: scalePatch, answer: 429 });
    const headers = { authorization: 'Bearer sim-token', 'content-type': MERGE };
    const withHint = await fetch(`${sim.url}${SCALE}`, { method: 'PATCH', headers, body: JSON.stringify({ spec: { replicas: 5 } }) });
    expect(withHint.status).toBe(429);
    expect(withHint.headers.get('retry-after')).toBe('3');
    expect(await withHint.json()).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'Too many requests, please try again later.',
      reason: 'TooManyRequests',
      details: { retryAfterSeconds: 3 },
      code: 429,
    });
    const apps = kubeConfigFor(sim).makeApiClient(k8s.AppsV1Api);
    const failure = await apiFailure(apps.patchNamespacedDeploymentScale({ namespace: 'ml-serving', name: 'llm-api', body: { spec: { replicas: 5 } } }, mergePatch));
    expect(failure.code).toBe(429);
    expect(failure.status).toEqual({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'Too many requests, please try again later.', reason: 'TooManyRequests', code: 429 });
    expect(sim.requests.filter(scalePatch).at(-1)).toMatchObject({ status: 429, fault: 'refused', applied: false });
    expect(replicasOf(sim, 'llm-api')).toBe(2);
    const bare = await patchScale(5);
    expect(bare.status).toBe(200);
    expect(replicasOf(sim, 'llm-api')).toBe(5);
  });

  it("429 as the max-in-flight / APF filters write it: text/plain with Retry-After", async () => {
    sim.injectFault({ stage: 'before-apply', match: () => true, answer: 429, plainText: true, retryAfterSeconds: 1 });
    const res = await fetch(`${sim.url}/api/v1/nodes`, { headers: { authorization: 'Bearer sim-token' } });
    expect(res.status).toBe(429);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(await res.text()).toBe('Too many requests, please try again later.\n');
  });

  it('409 names the object as NewConflict does; 503 and 504 carry their reasons and retry hints', async () => {
    sim.injectFault({ stage: 'before-apply', match: scalePatch, answer: 409 });
    sim.injectFault({ stage: 'before-apply', match: scalePatch, answer: 503, retryAfterSeconds: 2 });
    sim.injectFault({ stage: 'before-apply', match: scalePatch, answer: 504, message: 'etcd is slow' });
    const conflict = await patchScale(3);
    expect(conflict.status).toBe(409);
    expect(conflict.body).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'Operation cannot be fulfilled on deployments.apps "llm-api": the object has been modified; please apply your changes to the latest version and try again',
      reason: 'Conflict',
      details: { name: 'llm-api', group: 'apps', kind: 'deployments' },
      code: 409,
    });
    const unavailable = await fetch(`${sim.url}${SCALE}`, { method: 'PATCH', headers: { authorization: 'Bearer sim-token', 'content-type': MERGE }, body: '{"spec":{"replicas":3}}' });
    expect(unavailable.status).toBe(503);
    expect(unavailable.headers.get('retry-after')).toBe('2');
    expect(await unavailable.json()).toMatchObject({ reason: 'ServiceUnavailable', details: { retryAfterSeconds: 2 }, code: 503 });
    const timeout = await patchScale(3);
    expect(timeout.body).toMatchObject({ reason: 'Timeout', message: 'Timeout: etcd is slow', code: 504 });
    expect(replicasOf(sim, 'llm-api')).toBe(2);
    // A core-group object: no group in the details.
    sim.injectFault({ stage: 'before-apply', match: (r) => r.method === 'PATCH', answer: 409 });
    const node = await kube(sim, 'PATCH', '/api/v1/nodes/gpu-node-2', { body: { spec: { unschedulable: true } }, contentType: MERGE });
    expect(node.body.details).toEqual({ name: 'gpu-node-2', kind: 'nodes' });
  });

  it("'hang': no answer and nothing applied; the sim still closes promptly", async () => {
    sim.injectFault({ stage: 'before-apply', match: scalePatch, answer: 'hang', times: Infinity });
    const request = (signal?: AbortSignal) =>
      fetch(`${sim.url}${SCALE}`, {
        method: 'PATCH',
        headers: { authorization: 'Bearer sim-token', 'content-type': MERGE },
        body: JSON.stringify({ spec: { replicas: 6 } }),
        ...(signal ? { signal } : {}),
      });
    await expect(request(AbortSignal.timeout(300))).rejects.toMatchObject({ name: 'TimeoutError' });
    expect(replicasOf(sim, 'llm-api')).toBe(2);
    expect(sim.requests.filter(scalePatch)).toMatchObject([{ fault: 'hung', status: 0, applied: false }]);
    // Other requests are answered meanwhile.
    expect((await kube(sim, 'GET', SCALE)).body.spec.replicas).toBe(2);

    const pending = request().then(
      () => 'answered',
      () => 'failed',
    );
    await pollUntil(() => (sim.requests.filter(scalePatch).length === 2 ? true : undefined), 'the second patch to arrive');
    const started = Date.now();
    await sim.close();
    closed = true;
    expect(Date.now() - started).toBeLessThan(2000);
    expect(await pending).toBe('failed');
    expect(replicasOf(sim, 'llm-api')).toBe(2);
  });

  it("'serve' with delayMs: a slow answer, then applied as usual; a delayed refusal waits too", async () => {
    sim.injectFault({ stage: 'before-apply', match: scalePatch, answer: 'serve', delayMs: 300 });
    sim.injectFault({ stage: 'before-apply', match: scalePatch, answer: 503, delayMs: 200 });
    let started = Date.now();
    const slow = await patchScale(3);
    const slowMs = Date.now() - started;
    expect(slow.status).toBe(200);
    expect(slowMs).toBeGreaterThanOrEqual(290);
    expect(replicasOf(sim, 'llm-api')).toBe(3);
    expect(sim.requests.filter(scalePatch).at(-1)).toMatchObject({ fault: 'delayed', delayedMs: 300, status: 200, applied: true });
    started = Date.now();
    const refused = await patchScale(4);
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(refused.status).toBe(503);
    expect(replicasOf(sim, 'llm-api')).toBe(3);
  });

  it('a refused write does not use up a SimFault; Infinity lasts until clearFaults; bad faults are refused', async () => {
    sim.injectFault({ match: scalePatch, answer: 'error' });
    sim.injectFault({ stage: 'before-apply', match: requestMatcher({ method: ['GET'], path: /\/scale$/ }), answer: 503, times: Infinity });
    sim.injectFault({ stage: 'before-apply', match: scalePatch, answer: 500 });
    expect((await patchScale(3)).status).toBe(500);
    expect(sim.requests.filter(scalePatch).at(-1)).toMatchObject({ fault: 'refused', applied: false });
    const lost = await patchScale(3);
    expect(lost.body.message).toMatch(/lost after the write/);
    expect(sim.requests.filter(scalePatch).at(-1)).toMatchObject({ fault: 'error', applied: true });
    for (let i = 0; i < 3; i++) expect((await kube(sim, 'GET', SCALE)).status).toBe(503);
    sim.clearFaults();
    expect((await kube(sim, 'GET', SCALE)).status).toBe(200);

    expect(() => sim.injectFault({ stage: 'before-apply', match: scalePatch, answer: 200 })).toThrow(/4xx or 5xx/);
    expect(() => sim.injectFault({ stage: 'before-apply', match: scalePatch, answer: 500, plainText: true })).toThrow(/429/);
    expect(() => sim.injectFault({ stage: 'before-apply', match: scalePatch, answer: 500, times: 0 })).toThrow(/positive integer/);
  });
});
