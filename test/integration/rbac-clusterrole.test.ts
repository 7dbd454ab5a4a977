/**
 * The shipped ClusterRole is exactly enough (issue 15, point 4). The manifests rendered by
 * `kubectl kustomize deploy/kubernetes` are loaded into the simulated cluster with RBAC on; the
 * worker runs with the token of ServiceAccount remediator/remediator-worker, the api with that of
 * remediator/remediator-api (which has no bindings). Every playbook runs, real and dry, with its
 * health checks, the guards that read the cluster and the worker's readiness check; a lost Event
 * answer makes a retry read the Event back. Then the (verb, group, resource/subresource) tuples the
 * worker was authorized for are compared with the ClusterRole's grants: nothing refused, nothing
 * granted unused. The api process makes no Kubernetes request. Must-show: without
 * `create pods/eviction` a drain ends failed with the API server's Forbidden message.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, stringify } from 'yaml';
import { playbooks } from '../../playbooks/index.js';
import { validateConfigText } from '../../src/config/load-config.js';
import { playbookMap, startRemediator, type Remediator, type Role } from '../../src/composition-root.js';
import { isTerminal, type Run } from '../../src/domain/run.js';
import { startSimCluster, type SimCluster } from '../../src/sim/sim-cluster.js';
import { notification } from '../helpers/alerts.js';
import { startRedisServer, type RedisServerHandle } from '../helpers/redis-server.js';
import { pollUntil } from '../helpers/sim-helpers.js';
import { granted, renderManifests, tuple, WORKER_USER } from '../helpers/rbac-grants.js';

/** The must-show's worker: its own ServiceAccount, so its refusals are not counted against the shipped role across the suite. */
const NO_EVICTION_USER = 'system:serviceaccount:remediator:remediator-worker-without-eviction';
const API_USER = 'system:serviceaccount:remediator:remediator-api';
const WORKER_KUBE_TOKEN = 'kube-token-remediator-worker-0123456789';
const API_KUBE_TOKEN = 'kube-token-remediator-api-0123456789';
const OPERATOR = 'rbac-operator-token-0123456789';
const ALERTMANAGER = 'rbac-alertmanager-token-0123456789';
const OPT_OUT = 'remediator.dev/disabled';

const RULES = `
guards: { maxUnschedulableNodes: 1 }
rules:
  - name: scale-slow-llm
    matchers: ['alertname="LLMHighLatencyP95"']
    playbook: scale-replicas
    params: { maxReplicas: 6 }
    cooldown: 15m
  - name: restart-oom
    matchers: ['alertname="KubePodOOMKilled"']
    playbook: restart-oom-pod
    params: { waitForReadySeconds: 20 }
    cooldown: 10m
  - name: drain-hot
    matchers: ['alertname="GPUNodeOverheating"']
    playbook: drain-gpu-node
    params: { timeoutSeconds: 30, deleteEmptyDirData: true, taint: { key: remediator.dev/overheated, value: "true", effect: NoSchedule } }
    cooldown: 1h
`;

/** The manifests with `pods/eviction` taken out of the ClusterRole `remediator`, bound to NO_EVICTION_USER. */
function withoutEviction(manifests: string): string {
  return parseAllDocuments(manifests)
    .map((doc) => {
      const obj = doc.toJSON() as { kind?: string; metadata?: { name?: string }; rules?: { resources?: string[] }[] };
      if (obj?.kind === 'ClusterRoleBinding' && obj.metadata?.name === 'remediator') {
        (obj as { subjects?: { name: string }[] }).subjects = [{ ...(obj as { subjects: { name: string }[] }).subjects[0]!, name: 'remediator-worker-without-eviction' }];
      }
      if (obj?.kind === 'ClusterRole' && obj.metadata?.name === 'remediator') {
        obj.rules = (obj.rules ?? []).map((r) => ({ ...r, resources: (r.resources ?? []).filter((x) => x !== 'pods/eviction') })).filter((r) => r.resources.length > 0);
      }
      return stringify(obj);
    })
    .join('---\n');
}

interface Stack {
  sim: SimCluster;
  api: Remediator;
  worker: Remediator;
  /** A manual run as operator; returns its id. */
  manual(playbook: string, params: Record<string, unknown>, dryRun?: boolean): Promise<string>;
  /** One firing alert; returns the run id it enqueued. */
  alert(labels: Record<string, string>, startsAt?: string): Promise<string>;
  wait(id: string, timeoutMs?: number): Promise<Run>;
  stop(): Promise<void>;
}

async function startStack(redis: RedisServerHandle, manifests: string, workerUser = WORKER_USER): Promise<Stack> {
  const sim = await startSimCluster({
    readyDelayMs: 50,
    rbac: { manifests, tokens: { [WORKER_KUBE_TOKEN]: workerUser, [API_KUBE_TOKEN]: API_USER } },
  });
  const dir = mkdtempSync(join(tmpdir(), 'remediator-rbac-'));
  const keyFile = join(dir, 'audit-key');
  const auditKey = randomBytes(32);
  writeFileSync(keyFile, auditKey.toString('hex'));
  const prefix = `r${randomBytes(4).toString('hex')}`;
  const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const start = async (role: Role, token: string): Promise<Remediator> => {
    const kubeconfig = join(dir, `kubeconfig-${role}`);
    writeFileSync(kubeconfig, sim.kubeconfigYaml(token));
    const text = `
server: { port: 8080, bodyLimit: 256kb, shutdownGraceSeconds: 5 }
redis: { url: '${redis.url}', prefix: '${prefix}' }
kubernetes: { kubeconfig: '${kubeconfig}', requestTimeoutSeconds: 5 }
auth:
  tokens:
    - { name: alice, role: operator, token: ${OPERATOR} }
    - { name: alertmanager, role: alertmanager, token: ${ALERTMANAGER} }
audit: { keyFile: '${keyFile}' }
${RULES}
`;
    const config = validateConfigText(text, join(dir, `remediator-${role}.yaml`), playbookMap(playbooks), { env: {} });
    return startRemediator({ config, role, auditKey: readFileSync(keyFile), logger, port: 0, host: '127.0.0.1', sealIntervalMs: 500, sweepIntervalMs: 500 });
  };
  const api = await start('api', API_KUBE_TOKEN);
  const worker = await start('worker', WORKER_KUBE_TOKEN);
  const post = async (path: string, token: string, body: unknown) => {
    const res = await fetch(`${api.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as any };
  };
  return {
    sim,
    api,
    worker,
    async manual(playbook, params, dryRun = false) {
      const res = await post('/api/v1/runs', OPERATOR, { playbook, params, reason: 'rbac test', dryRun });
      expect(res.status, JSON.stringify(res.body)).toBe(202);
      return res.body.id as string;
    },
    async alert(labels, startsAt) {
      const res = await post('/api/v1/alerts', ALERTMANAGER, notification([{ labels: { severity: 'critical', ...labels }, ...(startsAt ? { startsAt } : {}) }]));
      expect(res.status).toBe(200);
      expect(res.body.decisions, JSON.stringify(res.body)).toMatchObject([{ decision: 'enqueued' }]);
      return res.body.decisions[0].runId as string;
    },
    wait(id, timeoutMs = 30_000) {
      return pollUntil(
        async () => {
          const run = await api.runs.get(id);
          return run && isTerminal(run.status) ? run : undefined;
        },
        `run ${id}`,
        timeoutMs,
      );
    },
    async stop() {
      await Promise.allSettled([worker.stop(), api.stop()]);
      await sim.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe('the shipped ClusterRole is exactly what the worker uses', () => {
  let redis: RedisServerHandle;
  let manifests: string;
  let s: Stack;

  beforeAll(async () => {
    manifests = renderManifests();
    redis = await startRedisServer();
    s = await startStack(redis, manifests);
  });
  afterAll(async () => {
    await s?.stop();
    await redis?.stop();
  });

  it('every playbook, real and dry, with guards and readiness: no 403, every grant used, the api silent', async () => {
    const { sim } = s;
    const expectStatus = async (id: string, status: Run['status'], what: string, extra: Partial<Run> = {}) => {
      const run = await s.wait(id);
      expect(run, `${what}: ${run.reason}`).toMatchObject({ status, ...extra });
      return run;
    };

    // Readiness: the worker's /readyz asks the API server for its version; the api's does not.
    const ready = (await (await fetch(`${s.worker.url}/readyz`)).json()) as { checks: Record<string, string> };
    expect(ready.checks.kubernetes).toMatch(/^v1\./);
    expect((await (await fetch(`${s.api.url}/readyz`)).json()) as unknown).not.toHaveProperty('checks.kubernetes');

    // scale-replicas by hand (opt-out, HPA list, scale subresource, last-action stamp, Event); an alert
    // for the same Deployment then passes intake (no cooldown in Redis) and is blocked by the worker,
    // which reads the cooldown back from the annotation.
    await expectStatus(await s.manual('scale-replicas', { namespace: 'ml-serving', name: 'llm-api', maxReplicas: 6 }), 'succeeded', 'scale llm-api', { changed: true });
    const cooled = await expectStatus(await s.alert({ alertname: 'LLMHighLatencyP95', namespace: 'ml-serving', deployment: 'llm-api' }), 'blocked', 'cooldown', {
      guard: expect.objectContaining({ guard: 'cooldown' }),
    });
    expect(cooled.guard?.detail).toMatch(/annotation remediator\.dev\/last-action/);
    // HPA-managed: skipped. A StatefulSet, whose Event answer is lost once: the retry reads the Event back.
    await expectStatus(await s.manual('scale-replicas', { namespace: 'ml-serving', name: 'embedding-service', maxReplicas: 6 }), 'skipped', 'hpa');
    sim.injectFault({ match: (r) => r.user === WORKER_USER && r.method === 'POST' && r.path.endsWith('/events'), answer: 'error' });
    await expectStatus(await s.manual('scale-replicas', { namespace: 'ml-training', kind: 'StatefulSet', name: 'trainer', maxReplicas: 4 }), 'succeeded', 'scale trainer', { changed: true });
    expect(sim.requests.filter((r) => r.fault === 'error')).toHaveLength(1);
    // The retry read the Event back (get events) and found it, instead of recording it twice.
    expect(sim.requests.filter((r) => r.user === WORKER_USER && r.method === 'GET' && r.path.includes('/events/')).map((r) => r.status)).toEqual([200]);

    // restart-oom-pod: evict (from the alert, replacement Ready) and delete.
    await expectStatus(await s.alert({ alertname: 'KubePodOOMKilled', namespace: 'ml-serving', pod: 'llm-api-7d9f8b6c5-x2kqp', container: 'llm-api' }), 'succeeded', 'evict', { changed: true });
    await expectStatus(
      await s.manual('restart-oom-pod', { namespace: 'ml-batch', pod: 'embed-batch-5f7c9-4kq2x', container: 'embedder', method: 'delete', waitForReadySeconds: 20 }),
      'succeeded',
      'delete',
      { changed: true },
    );

    // raise-memory-limit on a Deployment's pod (rollout waited for); a DaemonSet's pod is refused after reading its owner.
    await expectStatus(await s.manual('raise-memory-limit', { namespace: 'ml-batch', pod: 'embed-batch-5f7c9-7wz8m', maxLimit: '64Gi', timeoutSeconds: 20 }), 'succeeded', 'raise', { changed: true });
    const dcgm = sim.list('pod', 'monitoring').find((p) => p.metadata.name?.startsWith('dcgm-exporter-'))!;
    await expectStatus(await s.manual('raise-memory-limit', { namespace: 'monitoring', pod: dcgm.metadata.name, maxLimit: '1Gi' }), 'skipped', 'daemonset pod');

    // Opt-out label on the namespace.
    sim.patchObject('namespace', undefined, 'ml-batch', { metadata: { labels: { [OPT_OUT]: 'true' } } });
    await expectStatus(await s.manual('scale-replicas', { namespace: 'ml-batch', name: 'embed-batch', maxReplicas: 6 }), 'blocked', 'opt-out', { guard: expect.objectContaining({ guard: 'opt_out' }) });
    sim.patchObject('namespace', undefined, 'ml-batch', { metadata: { labels: { [OPT_OUT]: null } } });

    // drain-gpu-node with a taint (from the alert); the node budget then blocks a second drain. A
    // budget over trainer-1 allows nothing until the worker has read it (the PDB-aware retry).
    const created = await fetch(`${sim.url}/apis/policy/v1/namespaces/ml-training/poddisruptionbudgets`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer sim-token' },
      body: JSON.stringify({ apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name: 'trainer', namespace: 'ml-training' }, spec: { maxUnavailable: 0, selector: { matchLabels: { 'app.kubernetes.io/name': 'trainer' } } } }),
    });
    expect(created.status).toBe(201);
    const drain = await s.alert({ alertname: 'GPUNodeOverheating', node: 'gpu-node-2' });
    await pollUntil(
      async () => (sim.requests.some((r) => r.user === WORKER_USER && r.method === 'GET' && r.path === '/apis/policy/v1/namespaces/ml-training/poddisruptionbudgets/trainer') ? true : undefined),
      'the drain to read the budget that refused trainer-1',
      20_000,
    );
    sim.setPdbMaxUnavailable('ml-training', 'trainer', 1);
    await expectStatus(drain, 'succeeded', 'drain', { changed: true });
    await expectStatus(await s.alert({ alertname: 'GPUNodeOverheating', node: 'gpu-node-3' }), 'blocked', 'node budget', { guard: expect.objectContaining({ guard: 'node_budget' }) });

    // uncordon-node, dry then real.
    await expectStatus(await s.manual('uncordon-node', { node: 'gpu-node-2' }, true), 'succeeded', 'uncordon dry', { dryRun: true });
    await expectStatus(await s.manual('uncordon-node', { node: 'gpu-node-2' }), 'succeeded', 'uncordon', { changed: true });

    // Every other playbook as a dry run (the rollout and the drain replaced the OOM-killed pods: mark two again).
    const [oom1, oom2] = sim.list('pod', 'ml-batch').filter((p) => p.metadata.name?.startsWith('embed-batch-')).map((p) => p.metadata.name!);
    for (const pod of [oom1!, oom2!]) sim.markOOMKilled('ml-batch', pod, 'embedder');
    const dry = await Promise.all([
      s.manual('scale-replicas', { namespace: 'ml-serving', name: 'llm-api', step: 1, maxReplicas: 6 }, true),
      s.manual('scale-replicas', { namespace: 'ml-training', kind: 'StatefulSet', name: 'trainer', step: 1, maxReplicas: 6 }, true),
      s.manual('restart-oom-pod', { namespace: 'ml-batch', pod: oom1, container: 'embedder' }, true),
      s.manual('restart-oom-pod', { namespace: 'ml-batch', pod: oom2, container: 'embedder', method: 'delete' }, true),
      s.manual('raise-memory-limit', { namespace: 'ml-training', pod: 'trainer-0', maxLimit: '256Gi' }, true),
      s.manual('drain-gpu-node', { node: 'gpu-node-3', deleteEmptyDirData: true, taint: { key: 'remediator.dev/overheated', effect: 'NoSchedule' } }, true),
    ]);
    for (const id of dry) await expectStatus(id, 'succeeded', `dry ${id}`, { dryRun: true, changed: false });

    // The comparison.
    const log = sim.authLog();
    const worker = log.filter((r) => r.user === WORKER_USER);
    expect(worker.filter((r) => !r.allowed), 'requests the ClusterRole refused').toEqual([]);
    expect(log.filter((r) => r.user === API_USER), 'the api process makes no Kubernetes request').toEqual([]);
    expect(sim.requests.filter((r) => r.status === 403)).toEqual([]);
    const used = [...new Set(worker.filter((r) => r.path === undefined).map(tuple))].sort();
    const grants = granted(manifests);
    const paths = [...new Set(worker.filter((r) => r.path !== undefined).map((r) => `${r.verb} ${r.path}`))].sort();
    console.log(`rbac: ${worker.length} worker requests; used ${used.length} resource tuples, granted ${grants.length}; non-resource: ${paths.join(', ')}`);
    console.log(`rbac: used    = ${used.join(' | ')}`);
    console.log(`rbac: granted = ${grants.join(' | ')}`);
    expect(used.filter((t) => !grants.includes(t)), 'used but not granted').toEqual([]);
    expect(grants.filter((t) => !used.includes(t)), 'granted but never used').toEqual([]);
    // Dry runs went through authorization like real ones.
    expect(sim.requests.some((r) => r.user === WORKER_USER && r.dryRun && r.path.endsWith('/eviction'))).toBe(true);
  }, 90_000);
});

describe('must-show: without create pods/eviction a drain fails with the 403', () => {
  let redis: RedisServerHandle;
  let s: Stack;

  beforeAll(async () => {
    const manifests = withoutEviction(renderManifests());
    expect(manifests).not.toContain('pods/eviction');
    redis = await startRedisServer();
    s = await startStack(redis, manifests, NO_EVICTION_USER);
  });
  afterAll(async () => {
    await s?.stop();
    await redis?.stop();
  });

  it('drain-gpu-node ends failed, its reason carrying the Forbidden message', async () => {
    const run = await s.wait(await s.manual('drain-gpu-node', { node: 'gpu-node-2', deleteEmptyDirData: true, timeoutSeconds: 20 }));
    const forbidden = new RegExp(
      `pods "[a-z0-9-]+" is forbidden: User "${NO_EVICTION_USER}" cannot create resource "pods/eviction" in API group "" in the namespace "[a-z0-9-]+"`,
    );
    expect(run.status, run.reason).toBe('failed');
    expect(run.reason).toMatch(forbidden);
    expect(s.sim.authLog().filter((r) => !r.allowed).map(tuple)).toContain('create core pods/eviction');
    console.log(`must-show: drain-gpu-node without create pods/eviction ended ${run.status}: ${run.reason}`);
  }, 60_000);
});
