import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { freePort } from '../helpers/redis-server.js';
import { startTestRedis, type TestRedis } from '../helpers/test-redis.js';
import { startSimCluster, type SimCluster } from '../../src/sim/sim-cluster.js';
import { simKubeconfigYaml } from '../../src/sim/sim-kubeconfig.js';
import { poll, TOKENS } from '../helpers/harness.js';
import { notification } from '../helpers/alerts.js';
import { RunStore } from '../../src/engine/run-store.js';
import { RedisKeys } from '../../src/engine/redis-keys.js';
import { isTerminal } from '../../src/domain/run.js';

const BIN = new URL('../../bin/remediator.js', import.meta.url).pathname;
const PREFIX = 'storm';

interface Proc {
  role: string;
  port: number;
  child: ChildProcess;
  exited: Promise<number | null>;
}

/**
 * Two api and two worker processes (real OS processes of the binary) share one Redis and are fed
 * the same alert storm in parallel. Budgets, cooldowns and locks must hold, checked against the
 * simulated cluster's own record of the requests it received.
 */
describe('alert storm against two api and two worker processes', () => {
  let redis: TestRedis;
  let sim: SimCluster;
  const procs: Proc[] = [];
  let config: string;

  async function startProc(role: 'api' | 'worker'): Promise<Proc> {
    const port = await freePort();
    const child = spawn(process.execPath, [BIN, 'serve', '--role', role, '--config', config], { env: { PATH: process.env.PATH, PORT: String(port), LOG_LEVEL: 'warn' }, stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr!.resume();
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    return { role, port, child, exited };
  }

  beforeAll(async () => {
    redis = await startTestRedis();
    sim = await startSimCluster({ port: 0 });
    const dir = mkdtempSync(join(tmpdir(), 'remediator-storm-'));
    writeFileSync(join(dir, 'kubeconfig'), simKubeconfigYaml(sim.url));
    writeFileSync(join(dir, 'audit-key'), randomBytes(32).toString('hex'));
    config = join(dir, 'remediator.yaml');
    writeFileSync(
      config,
      `redis: { ${redis.yaml}, prefix: ${PREFIX} }
kubernetes: { kubeconfig: ./kubeconfig }
auth:
  tokens:
    - { name: alertmanager, role: alertmanager, token: ${TOKENS.alertmanager} }
audit: { keyFile: ./audit-key }
guards: { maxUnschedulableNodes: 1, maxConcurrentRuns: 4 }
rules:
  - name: drain-hot-gpu
    matchers: ['alertname="GPUNodeOverheating"']
    playbook: drain-gpu-node
    params: { timeoutSeconds: 60, force: true, deleteEmptyDirData: true }
    cooldown: 1h
  - name: restart-oom
    matchers: ['alertname="KubePodOOMKilled"']
    playbook: restart-oom-pod
    params: { waitForReadySeconds: 0 }
    cooldown: 10m
`,
    );
    // A CPU-only Deployment with 50 pods, all OOM-killed.
    const created = await fetch(`${sim.url}/apis/apps/v1/namespaces/default/deployments`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'oom-storm', namespace: 'default', labels: { app: 'oom-storm' } },
        spec: {
          replicas: 50,
          selector: { matchLabels: { app: 'oom-storm' } },
          template: { metadata: { labels: { app: 'oom-storm' } }, spec: { containers: [{ name: 'worker', image: 'busybox:1.36', resources: { requests: { cpu: '10m', memory: '16Mi' } } }] } },
        },
      }),
    });
    expect(created.status).toBe(201);
    await poll(async () => (sim.list('pod', 'default').filter((p) => p.metadata.labels?.['app'] === 'oom-storm' && p.status?.['phase'] === 'Running').length === 50 ? true : undefined), 20_000, '50 running pods');
    for (const p of sim.list('pod', 'default').filter((p) => p.metadata.labels?.['app'] === 'oom-storm')) sim.markOOMKilled('default', String(p.metadata.name), 'worker');

    procs.push(...(await Promise.all([startProc('api'), startProc('api'), startProc('worker'), startProc('worker')])));
    await Promise.all(procs.map((p) => poll(async () => ((await fetch(`http://127.0.0.1:${p.port}/readyz`).catch(() => undefined))?.status === 200 ? true : undefined), 120_000, `${p.role} on ${p.port} ready`)));
  }, 240_000);

  afterAll(async () => {
    for (const p of procs) p.child.kill('SIGTERM');
    await Promise.all(procs.map((p) => Promise.race([p.exited, new Promise((r) => setTimeout(r, 10_000))])));
    for (const p of procs) p.child.kill('SIGKILL');
    await sim?.close();
    await redis?.stop();
  });

  it('never exceeds the node budget or the cooldown, and never acts twice', async () => {
    const gpuStorm = notification(['gpu-node-1', 'gpu-node-2', 'gpu-node-3', 'gpu-node-4'].map((node) => ({ labels: { alertname: 'GPUNodeOverheating', node, severity: 'critical' } })));
    const oomPods = sim.list('pod', 'default').filter((p) => p.metadata.labels?.['app'] === 'oom-storm').map((p) => p.metadata.name as string);
    const oomStorm = [0, 25].map((start) => notification(oomPods.slice(start, start + 25).map((pod) => ({ labels: { alertname: 'KubePodOOMKilled', namespace: 'default', pod, container: 'worker' } }))));
    const apis = procs.filter((p) => p.role === 'api');
    const post = (port: number, body: unknown) =>
      fetch(`http://127.0.0.1:${port}/api/v1/alerts`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKENS.alertmanager}` }, body: JSON.stringify(body) }).then((r) => r.status);
    // Every notification reaches both api processes at the same time, twice (Alertmanager HA + retries).
    const statuses = await Promise.all([gpuStorm, ...oomStorm, gpuStorm, ...oomStorm].flatMap((body) => apis.map((a) => post(a.port, body))));
    expect(statuses.every((s) => s === 200)).toBe(true);

    const store = new RunStore(redis.client(), new RedisKeys(PREFIX));
    const runs = await poll(async () => {
      const page = await store.query({}, 500);
      return page.items.length > 0 && page.items.every((r) => isTerminal(r.status)) ? page.items : undefined;
    }, 90_000, 'every run to finish');

    // Node budget 1: exactly one GPU node cordoned, by exactly one cordon request.
    const cordoned = sim.list('node').filter((n) => n.spec?.['unschedulable'] === true).map((n) => n.metadata.name);
    expect(cordoned).toHaveLength(1);
    const cordons = sim.requests.filter((r) => r.method === 'PATCH' && /^\/api\/v1\/nodes\/[^/]+$/.test(r.path) && !r.dryRun && (r.body as { spec?: { unschedulable?: boolean } })?.spec?.unschedulable === true);
    expect(cordons).toHaveLength(1);
    const drains = runs.filter((r) => r.playbook === 'drain-gpu-node');
    expect(drains.filter((r) => r.status === 'succeeded')).toHaveLength(1);
    for (const r of drains.filter((r) => r.status !== 'succeeded')) expect(r.guard?.guard, `${r.target}: ${r.reason}`).toBe('node_budget');
    // Each evicted pod was evicted once.
    const evictions = sim.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/eviction') && r.status < 300).map((r) => r.path);
    expect(new Set(evictions).size).toBe(evictions.length);

    // 50 OOM alerts for one Deployment, each received four times: one restart, the rest cooled down.
    // (The drained node also hosted some of these pods: the drain's evictions are its own.)
    const drainEvictions = new Set(drains.flatMap((r) => r.steps.filter((s) => s.action === 'evict' && s.result === 'ok').map((s) => s.request.path)));
    const oomEvictions = evictions.filter((p) => p.startsWith('/api/v1/namespaces/default/pods/oom-storm') && !drainEvictions.has(p));
    expect(oomEvictions).toHaveLength(1);
    const restarts = runs.filter((r) => r.playbook === 'restart-oom-pod');
    // Pods the drain moved first are gone when their restart runs: those are skipped, nothing else.
    for (const r of restarts.filter((r) => r.status === 'skipped')) {
      expect(r.reason).toMatch(/not found/);
      expect(drainEvictions.has(`/api/v1/namespaces/default/pods/${String(r.params.pod)}/eviction`)).toBe(true);
    }
    expect(restarts.filter((r) => !['succeeded', 'blocked', 'skipped'].includes(r.status))).toEqual([]);
    expect(restarts.filter((r) => r.status === 'succeeded' && r.changed)).toHaveLength(1);
    for (const r of restarts.filter((r) => r.status === 'blocked')) expect(r.guard?.guard).toBe('cooldown');
    // No episode produced two runs that acted.
    const acted = runs.filter((r) => r.changed).map((r) => r.trigger.episode);
    expect(new Set(acted).size).toBe(acted.length);
  }, 150_000);
});
