import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startSimCluster, type SimCluster } from '../../src/sim/sim-cluster.js';
import { kube } from '../helpers/sim-helpers.js';

const evictionBody = (name: string, namespace: string, deleteOptions?: unknown) => ({
  apiVersion: 'policy/v1',
  kind: 'Eviction',
  metadata: { name, namespace },
  ...(deleteOptions ? { deleteOptions } : {}),
});

function inferencePods(sim: SimCluster): string[] {
  return sim
    .list('pods', 'ml-serving')
    .filter((p) => p.metadata.labels?.['app.kubernetes.io/name'] === 'llm-inference' && !p.metadata.deletionTimestamp)
    .map((p) => p.metadata.name ?? '')
    .sort();
}

function evict(sim: SimCluster, name: string, query = '', deleteOptions?: unknown) {
  return kube(sim, 'POST', `/api/v1/namespaces/ml-serving/pods/${name}/eviction${query}`, { body: evictionBody(name, 'ml-serving', deleteOptions) });
}

describe('sim: pod eviction and PodDisruptionBudgets', () => {
  let sim: SimCluster;
  beforeEach(async () => {
    // Replacements never become ready on their own here, so budgets stay exhausted until a test says so.
    sim = await startSimCluster({ readyDelayMs: 60_000 });
  });
  afterEach(async () => {
    await sim.close();
  });

  it('evicts within the budget (201 Success), then answers 429 until the PDB allows more', async () => {
    const [first, second] = inferencePods(sim);
    const ok = await evict(sim, first!);
    expect(ok.status).toBe(201);
    expect(ok.body).toEqual({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 });
    expect(sim.get('pods', 'ml-serving', first!)).toBeUndefined();

    const blocked = await evict(sim, second!);
    expect(blocked.status).toBe(429);
    expect(blocked.body).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: "Cannot evict pod as it would violate the pod's disruption budget.",
      reason: 'TooManyRequests',
      details: { causes: [{ reason: 'DisruptionBudget', message: 'The disruption budget llm-inference-pdb needs 2 healthy pods and has 2 currently' }] },
      code: 429,
    });
    expect(sim.get('pods', 'ml-serving', second!)).toBeDefined();

    // An operator relaxes the budget over the API; the next attempt goes through.
    const relaxed = await kube(sim, 'PATCH', '/apis/policy/v1/namespaces/ml-serving/poddisruptionbudgets/llm-inference-pdb', {
      body: { spec: { minAvailable: 1 } },
      contentType: 'application/merge-patch+json',
    });
    expect(relaxed.status).toBe(200);
    // The response shows the object as written; the disruption controller then recomputes the status.
    expect(sim.get('poddisruptionbudgets', 'ml-serving', 'llm-inference-pdb')?.status).toMatchObject({ desiredHealthy: 1, disruptionsAllowed: 1 });
    expect((await evict(sim, second!)).status).toBe(201);
    expect(sim.get('pods', 'ml-serving', second!)).toBeUndefined();
  });

  it('lets tests relax a budget directly with setPdbMaxUnavailable', async () => {
    sim.setPdbMaxUnavailable('ml-serving', 'llm-inference-pdb', 0);
    const [first] = inferencePods(sim);
    expect((await evict(sim, first!)).status).toBe(429);
    sim.setPdbMaxUnavailable('ml-serving', 'llm-inference-pdb', '100%');
    expect((await evict(sim, first!)).status).toBe(201);
  });

  it('answers 500 when two PDBs select the pod', async () => {
    const second = await kube(sim, 'POST', '/apis/policy/v1/namespaces/ml-serving/poddisruptionbudgets', {
      body: {
        apiVersion: 'policy/v1',
        kind: 'PodDisruptionBudget',
        metadata: { name: 'platform-wide' },
        spec: { maxUnavailable: '50%', selector: { matchLabels: { 'app.kubernetes.io/part-of': 'llm-platform' } } },
      },
    });
    expect(second.status).toBe(201);
    const res = await evict(sim, inferencePods(sim)[0]!);
    expect(res.status).toBe(500);
    expect(res.body).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'Internal error occurred: This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.',
      reason: 'InternalError',
      details: { causes: [{ message: 'This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.' }] },
      code: 500,
    });
  });

  it('evaluates the budget on a dry run without deleting or decrementing', async () => {
    const [first, second] = inferencePods(sim);
    const pdbBefore = sim.get('poddisruptionbudgets', 'ml-serving', 'llm-inference-pdb');
    expect((await evict(sim, first!, '?dryRun=All')).status).toBe(201);
    expect((await evict(sim, second!, '', { dryRun: ['All'] })).status).toBe(201);
    expect(inferencePods(sim)).toContain(first);
    expect(sim.get('poddisruptionbudgets', 'ml-serving', 'llm-inference-pdb')).toEqual(pdbBefore);
    sim.setPdbMaxUnavailable('ml-serving', 'llm-inference-pdb', 0);
    expect((await evict(sim, first!, '?dryRun=All')).status).toBe(429);
    expect(sim.mutations().filter((r) => r.dryRun)).toHaveLength(3);
  });

  it('deletes pending pods without a budget check and reports 404 / 400 / 409 like the server', async () => {
    const [first, second] = inferencePods(sim);
    expect((await evict(sim, first!)).status).toBe(201);
    // The replacement is Pending (not ready yet): evicting it ignores the exhausted budget.
    const pending = inferencePods(sim).find((n) => sim.get('pods', 'ml-serving', n)?.status?.['phase'] === 'Pending');
    expect(pending).toBeDefined();
    expect((await evict(sim, pending!)).status).toBe(201);

    const missing = await evict(sim, 'no-such-pod');
    expect(missing.status).toBe(404);
    expect(missing.body.message).toBe('pods "no-such-pod" not found');
    const mismatch = await kube(sim, 'POST', `/api/v1/namespaces/ml-serving/pods/${second}/eviction`, { body: evictionBody('other', 'ml-serving') });
    expect(mismatch.status).toBe(400);
    expect(mismatch.body).toMatchObject({ reason: 'BadRequest', message: 'name in URL does not match name in Eviction object' });
    const wrongUid = await evict(sim, second!, '', { preconditions: { uid: 'stale' } });
    expect(wrongUid.status).toBe(409);
  });

  it('evicts pods no budget selects, and unmanaged pods, freely', async () => {
    const res = await kube(sim, 'POST', '/api/v1/namespaces/ml-batch/pods/gpu-debug-shell/eviction', { body: evictionBody('gpu-debug-shell', 'ml-batch') });
    expect(res.status).toBe(201);
    expect(sim.get('pods', 'ml-batch', 'gpu-debug-shell')).toBeUndefined();
  });
});
