/**
 * The sim's optional RBAC over HTTP: 401 for unknown tokens, the admin token all-powerful,
 * anonymous limited to the public paths, a ServiceAccount's grants through a ClusterRoleBinding
 * and a RoleBinding to a ClusterRole, the 403 Status as client-node sees it, dry runs authorized
 * like real requests, the authorization log and its NDJSON file, and RBAC off by default.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimCluster, type SimCluster } from '../../src/sim/sim-cluster.js';
import { AUTH_LOG_DIR_ENV } from '../../src/sim/rbac.js';
import { apiFailure, kube } from '../helpers/sim-helpers.js';

const WORKER = 'system:serviceaccount:remediator:remediator-worker';
const WORKER_TOKEN = 'worker-token-0123456789';
const VIEWER_TOKEN = 'viewer-token-0123456789';

const MANIFESTS = `
apiVersion: v1
kind: ServiceAccount
metadata: { name: remediator-worker, namespace: remediator }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: pod-reader }
rules:
  - { apiGroups: [""], resources: [pods, nodes], verbs: [get, list, watch] }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: { name: worker-reads-pods }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: pod-reader }
subjects: [{ kind: ServiceAccount, name: remediator-worker, namespace: remediator }]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: evictor }
rules:
  - { apiGroups: [""], resources: [pods/eviction], verbs: [create] }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: worker-evicts-in-batch, namespace: ml-batch }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: evictor }
subjects: [{ kind: ServiceAccount, name: remediator-worker, namespace: remediator }]
`;

function client(sim: SimCluster, token: string): k8s.CoreV1Api {
  const kc = new k8s.KubeConfig();
  kc.loadFromString(sim.kubeconfigYaml(token));
  return kc.makeApiClient(k8s.CoreV1Api);
}

describe('sim RBAC', () => {
  let sim: SimCluster;
  let logDir: string;
  const previous = process.env[AUTH_LOG_DIR_ENV];

  beforeAll(async () => {
    logDir = mkdtempSync(join(tmpdir(), 'sim-auth-'));
    process.env[AUTH_LOG_DIR_ENV] = logDir;
    sim = await startSimCluster({ readyDelayMs: 20, rbac: { manifests: MANIFESTS, tokens: { [WORKER_TOKEN]: WORKER, [VIEWER_TOKEN]: 'jane' } } });
    if (previous === undefined) delete process.env[AUTH_LOG_DIR_ENV];
    else process.env[AUTH_LOG_DIR_ENV] = previous;
  });
  afterAll(async () => {
    await sim?.close();
    rmSync(logDir, { recursive: true, force: true });
  });

  it('authenticates: an unknown token is a 401, the admin token may do anything, no token is system:anonymous', async () => {
    const bad = await kube(sim, 'GET', '/api/v1/pods', { token: 'nobody' });
    expect(bad.status).toBe(401);
    expect(bad.body).toMatchObject({ kind: 'Status', reason: 'Unauthorized', code: 401 });
    expect((await kube(sim, 'GET', '/api/v1/nodes')).status).toBe(200);
    expect((await kube(sim, 'DELETE', '/api/v1/namespaces/ml-batch/pods/gpu-debug-shell', { body: { dryRun: ['All'] } })).status).toBe(200);
    expect((await kube(sim, 'GET', '/version', { token: null })).status).toBe(200);
    expect((await kube(sim, 'GET', '/healthz', { token: null })).status).toBe(200);
    const anon = await kube(sim, 'GET', '/api', { token: null });
    expect(anon.status).toBe(403);
    expect(anon.body).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'forbidden: User "system:anonymous" cannot get path "/api"',
      reason: 'Forbidden',
      details: {},
      code: 403,
    });
  });

  it('every authenticated user has discovery and the health paths, nothing else by default', async () => {
    for (const path of ['/api', '/api/v1', '/apis', '/apis/apps/v1', '/version', '/readyz']) {
      expect((await kube(sim, 'GET', path, { token: VIEWER_TOKEN })).status, path).toBe(200);
    }
    const denied = await kube(sim, 'GET', '/api/v1/namespaces/default/pods', { token: VIEWER_TOKEN });
    expect(denied.status).toBe(403);
    expect(denied.body.message).toBe('pods is forbidden: User "jane" cannot list resource "pods" in API group "" in the namespace "default"');
    expect(denied.body.details).toEqual({ kind: 'pods' });
  });

  it('a ClusterRoleBinding grants cluster-wide; a RoleBinding to a ClusterRole only in its namespace', async () => {
    const core = client(sim, WORKER_TOKEN);
    expect((await core.listPodForAllNamespaces()).items.length).toBeGreaterThan(0);
    expect((await core.readNode({ name: 'gpu-node-1' })).metadata?.name).toBe('gpu-node-1');
    const watch = await kube(sim, 'GET', '/api/v1/namespaces/ml-batch/pods?watch=true&timeoutSeconds=1', { token: WORKER_TOKEN });
    expect(watch.status).toBe(200);

    const patch = await apiFailure(core.patchNode({ name: 'gpu-node-1', body: { spec: { unschedulable: true } } }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch)));
    expect(patch.code).toBe(403);
    expect(patch.status.message).toBe('nodes "gpu-node-1" is forbidden: User "system:serviceaccount:remediator:remediator-worker" cannot patch resource "nodes" in API group "" at the cluster scope');

    // Eviction: allowed in ml-batch (RoleBinding), refused in ml-serving; a dry run is authorized the same way.
    const evict = (namespace: string, name: string, dryRun?: string) =>
      core.createNamespacedPodEviction({ namespace, name, body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace } }, ...(dryRun ? { dryRun } : {}) });
    await evict('ml-batch', 'embed-batch-5f7c9-4kq2x', 'All');
    const refused = await apiFailure(evict('ml-serving', 'llm-api-7d9f8b6c5-x2kqp', 'All'));
    expect(refused).toEqual({
      code: 403,
      status: {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: `pods "llm-api-7d9f8b6c5-x2kqp" is forbidden: User "${WORKER}" cannot create resource "pods/eviction" in API group "" in the namespace "ml-serving"`,
        reason: 'Forbidden',
        details: { name: 'llm-api-7d9f8b6c5-x2kqp', kind: 'pods' },
        code: 403,
      },
    });
    // Nothing was evicted for real, and the refused request never reached the store.
    expect(sim.get('pod', 'ml-batch', 'embed-batch-5f7c9-4kq2x')).toBeDefined();
    expect(sim.requests.filter((r) => r.path.endsWith('/eviction')).map((r) => [r.user, r.status])).toEqual([
      [WORKER, 201],
      [WORKER, 403],
    ]);
  });

  it('records every decision, and appends the mapped tokens\' ones to <dir>/sim-auth-<pid>.ndjson', () => {
    const log = sim.authLog();
    expect(log).toContainEqual({ user: WORKER, verb: 'create', group: '', resource: 'pods', subresource: 'eviction', namespace: 'ml-serving', name: 'llm-api-7d9f8b6c5-x2kqp', allowed: false });
    expect(log).toContainEqual({ user: WORKER, verb: 'watch', group: '', resource: 'pods', subresource: '', namespace: 'ml-batch', allowed: true });
    expect(log).toContainEqual({ user: 'jane', verb: 'get', group: '', resource: '', subresource: '', path: '/version', allowed: true });
    expect(log).toContainEqual({ user: 'system:admin', verb: 'list', group: '', resource: 'nodes', subresource: '', allowed: true });
    expect(readdirSync(logDir)).toEqual([`sim-auth-${process.pid}.ndjson`]);
    const lines = readFileSync(join(logDir, `sim-auth-${process.pid}.ndjson`), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toEqual(log.filter((r) => r.user === WORKER || r.user === 'jane'));
  });

  it('is off by default: no authorization, an empty log', async () => {
    const plain = await startSimCluster({ seed: {} });
    try {
      expect((await kube(plain, 'GET', '/api/v1/nodes', { token: 'anything' })).status).toBe(200);
      expect(plain.authLog()).toEqual([]);
      expect(plain.requests[0]?.user).toBeUndefined();
    } finally {
      await plain.close();
    }
  });
});
