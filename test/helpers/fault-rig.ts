/**
 * The exactly-once fault suite's rig: one scenario per registered playbook on a small simulated
 * GPU cluster, a fault-free run that records the mutating requests each playbook makes (from the
 * simulated cluster's own request log), and the comparison of a faulted run's end state with
 * the fault-free one (object specs, Events, repeated writes, evictions per pod uid).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { pino, type Logger } from 'pino';
import { parseSeed } from '../../src/sim/sim-seed.js';
import { startSimCluster, type SimCluster } from '../../src/sim/sim-cluster.js';
import { simKubeconfigYaml } from '../../src/sim/sim-kubeconfig.js';
import type { SimFault, SimRequestRecord } from '../../src/sim/sim-server.js';
import type { KubeObject } from '../../src/sim/kube-types.js';
import { validateConfigText } from '../../src/config/load-config.js';
import { startRemediator, playbookMap, type Remediator, type Role } from '../../src/composition-root.js';
import { playbooks } from '../../playbooks/index.js';
import { isTerminal, type Run } from '../../src/domain/run.js';
import { pollUntil } from './sim-helpers.js';
import { startRedisServer } from './redis-server.js';

export const OPERATOR_TOKEN = 'fault-operator-token-0123456789';
/** A second operator (bob), for decisions another operator than alice must take. */
export const OPERATOR2_TOKEN = 'fault-operator-bob-token-0123456';
export const ALERTMANAGER_TOKEN = 'fault-alertmanager-token-0123456789';

/**
 * gpu-a carries two GPU pods to drain; gpu-c is cordoned and tainted by an earlier drain; `leaky`
 * has a memory limit to raise.
 */
export const SEED_TEXT = `
options: { readyDelayMs: 50, terminationDelayMs: 0 }
nodes:
  - { name: cpu-1, cpu: "32", memory: 131687712Ki }
  - { name: gpu-a, gpus: 8 }
  - { name: gpu-b, gpus: 8 }
  - name: gpu-c
    gpus: 8
    unschedulable: true
    annotations:
      remediator.dev/last-action: '{"playbook":"drain-gpu-node","runId":"earlier-drain","reason":"cordoned node gpu-c","time":"2026-12-01T10:00:00.000Z","cordoned":true}'
    taints: [{ key: remediator.dev/overheated, value: "true", effect: NoSchedule }]
namespaces:
  - { name: default }
  - { name: ml }
objects:
  - apiVersion: apps/v1
    kind: Deployment
    metadata: { name: web, namespace: ml, labels: { app: web } }
    spec:
      replicas: 3
      selector: { matchLabels: { app: web } }
      template:
        metadata: { labels: { app: web } }
        spec:
          nodeSelector: { kubernetes.io/hostname: cpu-1 }
          containers: [{ name: web, image: nginx:1.27, resources: { requests: { cpu: 100m, memory: 64Mi } } }]
  - apiVersion: apps/v1
    kind: Deployment
    metadata: { name: oomy, namespace: ml, labels: { app: oomy } }
    spec:
      replicas: 1
      selector: { matchLabels: { app: oomy } }
      template:
        metadata: { labels: { app: oomy } }
        spec:
          nodeSelector: { kubernetes.io/hostname: cpu-1 }
          containers: [{ name: main, image: busybox:1.36, resources: { requests: { cpu: 100m, memory: 64Mi }, limits: { memory: 64Mi } } }]
  - apiVersion: apps/v1
    kind: Deployment
    metadata: { name: llm, namespace: ml, labels: { app: llm } }
    spec:
      replicas: 2
      selector: { matchLabels: { app: llm } }
      template:
        metadata: { labels: { app: llm } }
        spec:
          containers: [{ name: server, image: vllm/vllm-openai:v0.6.3, resources: { limits: { nvidia.com/gpu: "1" } } }]
  - apiVersion: apps/v1
    kind: Deployment
    metadata: { name: leaky, namespace: ml, labels: { app: leaky } }
    spec:
      replicas: 2
      selector: { matchLabels: { app: leaky } }
      template:
        metadata: { labels: { app: leaky } }
        spec:
          nodeSelector: { kubernetes.io/hostname: cpu-1 }
          containers: [{ name: worker, image: busybox:1.36, resources: { requests: { cpu: 100m, memory: 128Mi }, limits: { memory: 256Mi } } }]
pods:
  - { name: oomy-6f9c7d5b8-q2w4e, namespace: ml, owner: Deployment/oomy, node: cpu-1 }
  - { name: leaky-5c7d9f8b6-k4m2p, namespace: ml, owner: Deployment/leaky, node: cpu-1 }
  - { name: llm-5d8f7c6b9-a1b2c, namespace: ml, owner: Deployment/llm, node: gpu-a }
  - { name: llm-5d8f7c6b9-d3e4f, namespace: ml, owner: Deployment/llm, node: gpu-a }
`;

export interface FaultScenario {
  playbook: string;
  params: Record<string, unknown>;
  /** Brings the cluster into the state the playbook acts on. */
  prepare?(sim: SimCluster): void;
}

/** One fault-free scenario per playbook; the suite fails for a registered playbook missing here. */
export const SCENARIOS: Record<string, FaultScenario> = {
  'scale-replicas': { playbook: 'scale-replicas', params: { namespace: 'ml', name: 'web', step: 1, maxReplicas: 6 } },
  'restart-oom-pod': {
    playbook: 'restart-oom-pod',
    params: { namespace: 'ml', pod: 'oomy-6f9c7d5b8-q2w4e', container: 'main', waitForReadySeconds: 30 },
    prepare: (sim) => void sim.markOOMKilled('ml', 'oomy-6f9c7d5b8-q2w4e', 'main'),
  },
  'drain-gpu-node': {
    playbook: 'drain-gpu-node',
    params: { node: 'gpu-a', timeoutSeconds: 60, taint: { key: 'remediator.dev/overheated', value: 'true', effect: 'NoSchedule' } },
  },
  'uncordon-node': { playbook: 'uncordon-node', params: { node: 'gpu-c' } },
  // From the OOM alert's labels: the pod (its Deployment resolved through the ReplicaSet) and the container.
  'raise-memory-limit': {
    playbook: 'raise-memory-limit',
    params: { namespace: 'ml', pod: 'leaky-5c7d9f8b6-k4m2p', container: 'worker', maxLimit: '1Gi', timeoutSeconds: 30 },
  },
};

export function startScenarioSim(scenario: FaultScenario, port = 0): Promise<SimCluster> {
  return startSimCluster({ seed: parseSeed(SEED_TEXT, 'fault-rig'), port }).then((sim) => {
    scenario.prepare?.(sim);
    return sim;
  });
}

export interface RigConfig {
  dir: string;
  path: string;
  text: string;
}

/** A config file for this sim and Redis; worker processes read it, in-process ones parse it. */
export interface RigOptions {
  simUrl: string;
  redisUrl: string;
  prefix: string;
  requestTimeoutSeconds?: number;
  /** Merged over `{maxUnschedulableNodes: 3, maxConcurrentRuns: 4}`. */
  guards?: Record<string, unknown>;
  dryRun?: boolean;
  /** YAML for `rules:` (a flow or block sequence); default `[]`. */
  rules?: string;
  /** More top-level YAML (e.g. `prometheus:` and `alertmanager:`), appended as is. */
  extra?: string;
}

export function writeRigConfig(opts: RigOptions): RigConfig {
  const dir = mkdtempSync(join(tmpdir(), 'remediator-faults-'));
  writeFileSync(join(dir, 'kubeconfig'), simKubeconfigYaml(opts.simUrl));
  writeFileSync(join(dir, 'audit-key'), randomBytes(32).toString('hex'));
  const text = `
server: { port: 8080, shutdownGraceSeconds: 2 }
redis: { url: '${opts.redisUrl}', prefix: ${opts.prefix} }
kubernetes: { kubeconfig: ./kubeconfig, requestTimeoutSeconds: ${opts.requestTimeoutSeconds ?? 5} }
auth:
  tokens:
    - { name: alice, role: operator, token: ${OPERATOR_TOKEN} }
    - { name: bob, role: operator, token: ${OPERATOR2_TOKEN} }
    - { name: alertmanager, role: alertmanager, token: ${ALERTMANAGER_TOKEN} }
audit: { keyFile: ./audit-key }
guards: ${JSON.stringify({ maxUnschedulableNodes: 3, maxConcurrentRuns: 4, ...opts.guards })}
dryRun: ${opts.dryRun === true}
rules: ${opts.rules ?? '[]'}
${opts.extra ?? ''}
`;
  const path = join(dir, 'remediator.yaml');
  writeFileSync(path, text);
  return { dir, path, text };
}

export async function startInProcess(config: RigConfig, role: Role, logger: Logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }), port = 0): Promise<Remediator> {
  const loaded = validateConfigText(config.text, config.path, playbookMap(playbooks), { env: {} });
  // The key file's bytes, as `serve` reads them: every process of the rig seals with the same key.
  const auditKey = readFileSync(join(config.dir, 'audit-key'));
  return startRemediator({ config: loaded, role, auditKey, logger, port, host: '127.0.0.1', sealIntervalMs: 500, sweepIntervalMs: 500 });
}

export interface ScenarioRig {
  sim: SimCluster;
  /** The first process started. */
  main: Remediator;
  /** Its config file, for processes of the binary started beside it. */
  config: RigConfig;
  stop(): Promise<void>;
}

/** A redis-server, a simulated cluster (the fault rig's, or `sim`), and in-process Remediators on one config. */
export async function startScenarioRig(opts: { sim?: () => Promise<SimCluster>; roles?: Role[]; options?: Partial<RigOptions>; /** The first process's port (default: a free one). */ port?: number; logger?: Logger } = {}): Promise<ScenarioRig> {
  const redis = await startRedisServer();
  const sim = await (opts.sim ?? (() => startScenarioSim(SCENARIOS['drain-gpu-node']!)))();
  const config = writeRigConfig({ simUrl: sim.url, redisUrl: redis.url, prefix: `r${randomBytes(4).toString('hex')}`, ...opts.options });
  const processes: Remediator[] = [];
  for (const role of opts.roles ?? ['all']) processes.push(await startInProcess(config, role, opts.logger, processes.length === 0 ? (opts.port ?? 0) : 0));
  return {
    sim,
    main: processes[0]!,
    config,
    async stop() {
      await Promise.all(processes.map((p) => p.stop()));
      await sim.close();
      await redis.stop();
    },
  };
}

/** Starts a manual run of the scenario through the API; returns its id. */
export async function startRun(api: Remediator, scenario: FaultScenario): Promise<string> {
  const res = await fetch(`${api.url}/api/v1/runs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${OPERATOR_TOKEN}` },
    body: JSON.stringify({ playbook: scenario.playbook, params: scenario.params, reason: 'exactly-once fault suite' }),
  });
  const body = (await res.json()) as { id?: string; message?: string };
  if (res.status !== 202 || !body.id) throw new Error(`POST /api/v1/runs answered ${res.status}: ${JSON.stringify(body)}`);
  return body.id;
}

export function waitTerminal(api: Remediator, runId: string, timeoutMs = 60_000): Promise<Run> {
  return pollUntil(async () => {
    // The test may be cutting this process's Redis connections: a failed read is just another poll.
    const run = await api.runs.get(runId).catch(() => undefined);
    return run && isTerminal(run.status) ? run : undefined;
  }, `run ${runId} to end`, timeoutMs);
}

/** Waits until every Deployment has its replicas Running and Ready and no pod is terminating. */
export function waitSettled(sim: SimCluster, timeoutMs = 20_000): Promise<true> {
  return pollUntil(() => {
    const pods = sim.list('Pod');
    if (pods.some((p) => p.metadata.deletionTimestamp)) return undefined;
    for (const d of sim.list('Deployment')) {
      const want = Number((d.spec as { replicas?: number } | undefined)?.replicas ?? 1);
      const selector = ((d.spec as { selector?: { matchLabels?: Record<string, string> } }).selector?.matchLabels ?? {}) as Record<string, string>;
      const ready = pods.filter((p) => p.metadata.namespace === d.metadata.namespace && Object.entries(selector).every(([k, v]) => p.metadata.labels?.[k] === v) && isReady(p));
      if (ready.length !== want) return undefined;
    }
    return true as const;
  }, 'the cluster to settle', timeoutMs);
}

function isReady(pod: KubeObject): boolean {
  const conditions = (pod.status as { conditions?: { type: string; status: string }[] } | undefined)?.conditions ?? [];
  return conditions.some((c) => c.type === 'Ready' && c.status === 'True');
}

// ---- what is compared -------------------------------------------------------------------------

const COMPARED_KINDS = ['Node', 'Namespace', 'Deployment', 'ReplicaSet', 'Pod'];

/** uid → a name that is the same in every sim built from the seed. */
export type UidNames = Map<string, string>;

export function uidNames(sim: SimCluster, into: UidNames = new Map()): UidNames {
  for (const kind of COMPARED_KINDS) {
    for (const o of sim.list(kind)) if (o.metadata.uid) into.set(String(o.metadata.uid), `${kind}/${o.metadata.namespace ?? ''}/${stableName(o)}`);
  }
  return into;
}

/** Generated names differ from run to run: `llm-5d8f7c6b9-*`. */
function stableName(o: KubeObject): string {
  const generate = o.metadata.generateName;
  return typeof generate === 'string' && generate !== '' ? `${generate}*` : String(o.metadata.name);
}

/** Specs, labels and the last-action stamp's playbook and cordon mark of every object, sorted. */
export function objectState(sim: SimCluster): string[] {
  const out: string[] = [];
  for (const kind of COMPARED_KINDS) {
    for (const o of sim.list(kind)) {
      const raw = o.metadata.annotations?.['remediator.dev/last-action'];
      let stamp: unknown;
      if (raw) {
        const parsed = JSON.parse(raw) as { playbook?: string; cordoned?: boolean };
        stamp = { playbook: parsed.playbook, cordoned: parsed.cordoned };
      }
      out.push(canonical({ kind, namespace: o.metadata.namespace, name: stableName(o), labels: o.metadata.labels ?? {}, spec: o.spec ?? null, stamp: stamp ?? null }));
    }
  }
  return out.sort();
}

/** Remediator's Events by reason, type and involved object (its uid named through `names`). */
export function remediatorEvents(sim: SimCluster, names: UidNames): string[] {
  return sim
    .list('Event')
    .filter((e) => String((e as { reason?: string }).reason ?? '').startsWith('Remediation'))
    .map((e) => {
      const ev = e as KubeObject & { reason?: string; type?: string; involvedObject?: { kind?: string; namespace?: string; name?: string; uid?: string } };
      const io = ev.involvedObject ?? {};
      return canonical({ reason: ev.reason, type: ev.type, kind: io.kind, namespace: io.namespace ?? '', name: io.name, uid: io.uid ? (names.get(io.uid) ?? `unknown uid ${io.uid}`) : null });
    })
    .sort();
}

/** The mutating requests the server applied (faulted ones included), in order. */
export function appliedMutations(sim: SimCluster): SimRequestRecord[] {
  return sim.requests.filter((r) => r.method !== 'GET' && !r.dryRun && r.applied === true);
}

/** A PATCH/PUT sent again on an object for the same fields after one took effect. */
export function repeatedWrites(sim: SimCluster): string[] {
  const writes = sim.requests.filter((r) => (r.method === 'PATCH' || r.method === 'PUT') && !r.dryRun);
  const problems: string[] = [];
  writes.forEach((w, i) => {
    if (!w.applied) return;
    const fields = fieldPaths(w.body).join(',');
    for (const later of writes.slice(i + 1)) {
      if (later.path === w.path && later.method === w.method && fieldPaths(later.body).join(',') === fields) {
        problems.push(`${later.method} ${later.path} {${fields}} sent again after it took effect (status ${later.status})`);
      }
    }
  });
  return problems;
}

/** Pod uids whose eviction the server accepted more than once. */
export function doubleEvictions(sim: SimCluster): string[] {
  const accepted = new Map<string, number>();
  for (const r of sim.requests) {
    if (r.method !== 'POST' || !r.path.endsWith('/eviction') || r.dryRun || !r.applied) continue;
    const uid = (r.body as { deleteOptions?: { preconditions?: { uid?: string } } } | undefined)?.deleteOptions?.preconditions?.uid ?? r.path;
    accepted.set(uid, (accepted.get(uid) ?? 0) + 1);
  }
  return [...accepted].filter(([, n]) => n > 1).map(([uid, n]) => `${uid} evicted ${n} times`);
}

/** Leaf paths of a patch body, resourceVersion aside (a precondition, not a change). */
function fieldPaths(body: unknown, prefix = ''): string[] {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return [prefix];
  const out: string[] = [];
  for (const [k, v] of Object.entries(body as Record<string, unknown>)) {
    const path = prefix ? `${prefix}.${k}` : k;
    if (path === 'metadata.resourceVersion') continue;
    if (path === 'metadata.annotations' && v !== null && typeof v === 'object') {
      for (const key of Object.keys(v)) out.push(`${path}.${key}`);
      continue;
    }
    out.push(...fieldPaths(v, path));
  }
  return out.sort();
}

/** Sorted keys; timestamps the server sets (a taint's timeAdded) are left out. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (k, v: unknown) => {
    if (k === 'timeAdded') return undefined;
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b))) : v;
  });
}

/** A fault on the n-th applied request with this method and path (n counts from 0). */
export function faultOn(target: { method: string; path: string; index: number }, fault: Omit<SimFault, 'match'>): SimFault {
  let seen = 0;
  return {
    ...fault,
    match: (r) => r.method === target.method && r.path === target.path && seen++ === target.index,
  };
}

/** Each applied mutating request of a fault-free run, named by method, path and occurrence. */
export function requestList(records: SimRequestRecord[]): { method: string; path: string; index: number; label: string }[] {
  const counts = new Map<string, number>();
  return records.map((r) => {
    const id = `${r.method} ${r.path}`;
    const index = counts.get(id) ?? 0;
    counts.set(id, index + 1);
    const what = r.path.endsWith('/events') ? ` (${String((r.body as { reason?: string } | undefined)?.reason ?? 'event')})` : '';
    return { method: r.method, path: r.path, index, label: `${id}#${index}${what}` };
  });
}

export interface Outcome {
  run: Run;
  objects: string[];
  events: string[];
  requests: SimRequestRecord[];
}

/** Everything a faulted run is judged by, after the run ended and the cluster settled. */
export async function outcome(sim: SimCluster, run: Run, names: UidNames): Promise<Outcome> {
  await waitSettled(sim);
  uidNames(sim, names);
  return { run, objects: objectState(sim), events: remediatorEvents(sim, names), requests: appliedMutations(sim) };
}
