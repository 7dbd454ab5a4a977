import * as k8s from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { startSimCluster, type SimCluster } from '../../src/sim/sim-cluster.js';
import type { SimRequestRecord } from '../../src/sim/sim-server.js';
import { apiFailure, kube, kubeConfigFor, mergePatch, pollUntil } from '../helpers/sim-helpers.js';

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
