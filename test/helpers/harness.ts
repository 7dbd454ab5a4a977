import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import type { RedisServerHandle } from './redis-server.js';
import { startTestRedis, testRedisOf, type TestRedis } from './test-redis.js';
import { pollUntil } from './sim-helpers.js';
import { startSimCluster, type SimCluster } from '../../src/sim/sim-cluster.js';
import { simKubeconfigYaml } from '../../src/sim/sim-kubeconfig.js';
import { validateConfigText } from '../../src/config/load-config.js';
import { startRemediator, playbookMap, type Remediator, type Role } from '../../src/composition-root.js';
import { playbooks } from '../../playbooks/index.js';
import { isTerminal, type Run } from '../../src/domain/run.js';
import type { LoadedConfig } from '../../src/config/loaded-config.js';

export const TOKENS = { alertmanager: 'am-token-0123456789', viewer: 'viewer-token-0123456789', operator: 'alice-token-0123456789', admin: 'admin-token-0123456789' };

export const DEFAULT_RULES = `
rules:
  - name: drain-overheated-gpu-nodes
    matchers: ['alertname="GPUNodeOverheating"', 'severity=~"critical|page"']
    playbook: drain-gpu-node
    params: { timeoutSeconds: 60, deleteEmptyDirData: true }
    cooldown: 1h
  - name: restart-oom-killed-pods
    matchers: ['alertname="KubePodOOMKilled"']
    playbook: restart-oom-pod
    params: { waitForReadySeconds: 30 }
    cooldown: 10m
  - name: scale-slow-llm
    matchers: ['alertname="LLMHighLatencyP95"']
    playbook: scale-replicas
    params: { maxReplicas: 6 }
    cooldown: 15m
`;

export interface HarnessOptions {
  /** YAML for `rules:` (default DEFAULT_RULES). */
  rules?: string;
  /** Extra top-level YAML (e.g. `dryRun: true`, `guards: {...}`). */
  extra?: string;
  roles?: Role[];
  /** Use an existing Redis instead of starting one. */
  redis?: RedisServerHandle;
  /** The sweeper's interval (default 200 ms); a long one keeps it out of a test's way. */
  sweepIntervalMs?: number;
  /** More keys of the `redis:` mapping, as flow-mapping entries (e.g. `minReplicasAcked: 1`). */
  redisExtra?: string;
  /** Use this Redis (e.g. a Sentinel set) instead of starting one; the harness stops it. */
  testRedis?: TestRedis;
}

export interface Harness {
  /** The single redis-server (stop, start); undefined when the suite runs on a Redis Cluster (REMEDIATOR_TEST_REDIS=cluster). */
  redis: RedisServerHandle;
  /** The Redis the processes use, single or cluster. */
  testRedis: TestRedis;
  sim: SimCluster;
  config: LoadedConfig;
  auditKey: Buffer;
  processes: Remediator[];
  /** The first process (an api or all). */
  main: Remediator;
  post(body: unknown, opts?: { token?: string | null; contentType?: string; raw?: string; to?: Remediator }): Promise<{ status: number; body: any; ms: number }>;
  get(path: string, token?: string, to?: Remediator): Promise<{ status: number; body: any; text: string }>;
  /** POST JSON to any API path with a token. */
  call(path: string, token: string, body?: unknown, to?: Remediator): Promise<{ status: number; body: any }>;
  waitRun(id: string, until?: (run: Run) => boolean, timeoutMs?: number): Promise<Run>;
  startProcess(role: Role): Promise<Remediator>;
  stop(): Promise<void>;
}

export function fixture(name: string): { headers: Record<string, string>; body: any } {
  return JSON.parse(readFileSync(new URL(`../fixtures/alertmanager/${name}.json`, import.meta.url), 'utf8'));
}

export function poll<T>(fn: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  return pollUntil(fn, what, timeoutMs);
}

export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const testRedis = opts.testRedis ?? (opts.redis ? testRedisOf(opts.redis) : await startTestRedis());
  // Only tests that stop or freeze the one server use it; they are skipped on a cluster.
  const redis = testRedis.server ?? (undefined as unknown as RedisServerHandle);
  const sim = await startSimCluster({ port: 0 });
  const dir = mkdtempSync(join(tmpdir(), 'remediator-test-'));
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, simKubeconfigYaml(sim.url));
  const auditKey = randomBytes(32);
  const keyFile = join(dir, 'audit-key');
  writeFileSync(keyFile, auditKey.toString('hex'));
  const text = `
server: { port: 8080, bodyLimit: 256kb, shutdownGraceSeconds: 5 }
redis: { ${testRedis.yaml}, prefix: 't${randomBytes(4).toString('hex')}'${opts.redisExtra ? `, ${opts.redisExtra}` : ''} }
kubernetes: { kubeconfig: '${kubeconfig}', requestTimeoutSeconds: 5 }
auth:
  tokens:
    - { name: alertmanager, role: alertmanager, token: ${TOKENS.alertmanager} }
    - { name: viewer, role: viewer, token: ${TOKENS.viewer} }
    - { name: alice, role: operator, token: ${TOKENS.operator} }
    - { name: root, role: admin, token: ${TOKENS.admin} }
audit: { keyFile: '${keyFile}' }
${opts.extra ?? ''}
${opts.rules ?? DEFAULT_RULES}
`;
  const config = validateConfigText(text, join(dir, 'remediator.yaml'), playbookMap(playbooks), { env: {} });
  const keyBuffer = readFileSync(keyFile);
  const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const processes: Remediator[] = [];
  const startProcess = async (role: Role) => {
    const p = await startRemediator({ config, role, auditKey: keyBuffer, logger, port: 0, host: '127.0.0.1', sealIntervalMs: 200, sweepIntervalMs: opts.sweepIntervalMs ?? 200 });
    processes.push(p);
    return p;
  };
  for (const role of opts.roles ?? ['all']) await startProcess(role);
  const main = processes[0]!;

  const harness: Harness = {
    redis,
    testRedis,
    sim,
    config,
    auditKey: keyBuffer,
    processes,
    main,
    async post(body, o = {}) {
      const token = o.token === undefined ? TOKENS.alertmanager : o.token;
      const headers: Record<string, string> = { 'content-type': o.contentType ?? 'application/json' };
      if (token !== null) headers.authorization = `Bearer ${token}`;
      const started = Date.now();
      const res = await fetch(`${(o.to ?? main).url}/api/v1/alerts`, { method: 'POST', headers, body: o.raw ?? JSON.stringify(body) });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        /* not JSON */
      }
      return { status: res.status, body: parsed, ms: Date.now() - started };
    },
    async get(path, token, to) {
      const headers: Record<string, string> = {};
      if (token) headers.authorization = `Bearer ${token}`;
      const res = await fetch(`${(to ?? main).url}${path}`, { headers });
      const text = await res.text();
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
      return { status: res.status, body: parsed, text };
    },
    async call(path, token, body, to) {
      const res = await fetch(`${(to ?? main).url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify(body ?? {}),
      });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        /* not JSON */
      }
      return { status: res.status, body: parsed };
    },
    waitRun(id, until = (run) => isTerminal(run.status), timeoutMs = 20_000) {
      return poll(
        async () => {
          const run = await main.runs.get(id);
          return run && until(run) ? run : undefined;
        },
        timeoutMs,
        `run ${id}`,
      );
    },
    startProcess,
    async stop() {
      await Promise.allSettled(processes.map((p) => p.stop()));
      await sim.close();
      if (!opts.redis) await testRedis.stop();
    },
  };
  return harness;
}
