/**
 * Suite `drain` (issue 19): drain-gpu-node against the preinstalled `kubectl drain` on identical
 * simulated clusters. Each cluster has a GPU node with 60 pods, 40 in four Deployments without a
 * PodDisruptionBudget and 20 in one Deployment behind a PDB with `maxUnavailable: 1`, and a spare
 * node where every replacement fits (cordoned while the pods are placed, then opened). Readiness
 * delay 200 ms (the sim's default). Remediator runs as `serve --role all` from `dist/` in a process
 * of its own, triggered by a manual run (`deleteEmptyDirData: true`); kubectl runs
 * `drain NODE --ignore-daemonsets --delete-emptydir-data`. The time is from the request (or the
 * spawn) until the last pod is gone from the node, read from the simulated cluster's state every
 * 20 ms; the evicted sets are compared (per Deployment: pod names are generated). Rounds alternate
 * which goes first; a fresh cluster for each drain. BENCH_DRAIN_ROUNDS (3).
 *
 * Writes bench/results/drain-latest.json.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { freePort, startRedisServer } from '../test/helpers/redis-server.js';
import { pollUntil } from '../test/helpers/sim-helpers.js';
import { startSimCluster, type SimCluster } from '../src/sim/sim-cluster.js';
import { simKubeconfigYaml } from '../src/sim/sim-kubeconfig.js';
import type { SimSeed } from '../src/sim/sim-seed.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ROUNDS = Number(process.env.BENCH_DRAIN_ROUNDS ?? 3);
const NODE = 'gpu-node-a';
const SPARE = 'gpu-node-b';
const NS = 'ml-serving';
const OPERATOR = 'drain-bench-operator-token-0123456789';
const FREE = ['embed-a', 'embed-b', 'embed-c', 'embed-d'];
const GUARDED = 'llm-api';

function deployment(name: string, replicas: number): Record<string, unknown> {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: NS, labels: { app: name } },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image: 'busybox:1.36', resources: { requests: { cpu: '10m', memory: '16Mi' } } }] } },
    },
  };
}

function seed(): SimSeed {
  const node = (name: string, unschedulable: boolean) => ({ name, gpus: 8, gpuProduct: 'NVIDIA-H100-80GB-HBM3', cpu: '192', memory: '2Ti', unschedulable });
  return {
    options: { readyDelayMs: 200, terminationDelayMs: 0 },
    nodes: [node(NODE, false), node(SPARE, true)],
    namespaces: [{ name: NS }],
    objects: [
      ...FREE.map((name) => deployment(name, 10)),
      deployment(GUARDED, 20),
      { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name: GUARDED, namespace: NS }, spec: { maxUnavailable: 1, selector: { matchLabels: { app: GUARDED } } } },
    ],
  } as unknown as SimSeed;
}

function podsOn(sim: SimCluster, node: string): string[] {
  return sim.list('pod').filter((p) => p.spec?.['nodeName'] === node).map((p) => String(p.metadata.name));
}

/** A cluster whose 60 pods all run on NODE, with the spare node open for their replacements. */
async function cluster(): Promise<SimCluster> {
  const sim = await startSimCluster({ port: 0, seed: seed() });
  await pollUntil(() => {
    const ready = sim.list('pod').filter((p) => p.spec?.['nodeName'] === NODE && (p.status?.['conditions'] as { type: string; status: string }[] | undefined)?.some((c) => c.type === 'Ready' && c.status === 'True'));
    return ready.length === 60 ? true : undefined;
  }, '60 pods Ready on the node', 30_000, 20);
  await pollUntil(() => ((sim.get('pdb', NS, GUARDED)?.status?.['disruptionsAllowed'] as number | undefined) === 1 ? true : undefined), 'the PDB to allow one disruption', 10_000, 20);
  // Uncordoned as kubectl uncordon does, through the API (which also lifts the unschedulable taint).
  const res = await fetch(`${sim.url}/api/v1/nodes/${SPARE}`, { method: 'PATCH', headers: { 'content-type': 'application/merge-patch+json', authorization: 'Bearer sim-token' }, body: JSON.stringify({ spec: { unschedulable: false } }) });
  if (res.status !== 200) throw new Error(`uncordoning ${SPARE}: ${res.status} ${await res.text()}`);
  return sim;
}

/** Evictions the cluster accepted, per Deployment (the name before the ReplicaSet hash and suffix). */
function evictedSet(sim: SimCluster): Record<string, number> {
  const out: Record<string, number> = {};
  const paths = new Set(sim.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/eviction') && r.status === 201 && !r.dryRun).map((r) => r.path));
  for (const path of paths) {
    const pod = path.split('/').at(-2) ?? '';
    const owner = pod.split('-').slice(0, -2).join('-');
    out[owner] = (out[owner] ?? 0) + 1;
  }
  return Object.fromEntries(Object.entries(out).sort());
}

interface Sample {
  who: 'remediator' | 'kubectl';
  round: number;
  goneMs: number;
  endMs: number;
  evicted: Record<string, number>;
  refused: number;
  pdbReads: number;
}

async function drainWithKubectl(round: number, dir: string): Promise<Sample> {
  const sim = await cluster();
  try {
    const kubeconfig = join(dir, `kubectl-${round}.yaml`);
    writeFileSync(kubeconfig, simKubeconfigYaml(sim.url));
    const t0 = Date.now();
    const child = spawn('kubectl', ['--kubeconfig', kubeconfig, 'drain', NODE, '--ignore-daemonsets', '--delete-emptydir-data', '--timeout=600s'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    const goneMs = await pollUntil(() => (podsOn(sim, NODE).length === 0 ? Date.now() - t0 : undefined), 'kubectl to empty the node', 600_000, 20);
    const code = await exited;
    if (code !== 0) throw new Error(`kubectl drain exited ${code}: ${stderr.slice(-500)}`);
    return { who: 'kubectl', round, goneMs, endMs: Date.now() - t0, evicted: evictedSet(sim), refused: sim.requests.filter((r) => r.path.endsWith('/eviction') && r.status === 429).length, pdbReads: 0 };
  } finally {
    await sim.close();
  }
}

async function drainWithRemediator(round: number, dir: string, redisUrl: string): Promise<Sample> {
  const sim = await cluster();
  let child: ChildProcess | undefined;
  try {
    const prefix = `drain-${round}-${randomBytes(3).toString('hex')}`;
    writeFileSync(join(dir, `kubeconfig-${prefix}`), simKubeconfigYaml(sim.url));
    const config = join(dir, `${prefix}.yaml`);
    writeFileSync(
      config,
      `redis: { url: '${redisUrl}', prefix: ${prefix} }
kubernetes: { kubeconfig: ./kubeconfig-${prefix} }
auth:
  tokens:
    - { name: operator, role: operator, token: ${OPERATOR} }
audit: { keyFile: ./audit-key }
rules: []
`,
    );
    const port = await freePort();
    child = spawn(process.execPath, [join(ROOT, 'bin/remediator.js'), 'serve', '--role', 'all', '--config', config], { env: { PATH: process.env.PATH, PORT: String(port), LOG_LEVEL: 'info' }, stdio: ['ignore', 'ignore', 'inherit'], cwd: dir });
    const url = `http://127.0.0.1:${port}`;
    await pollUntil(async () => ((await fetch(`${url}/readyz`).catch(() => undefined))?.status === 200 ? true : undefined), 'remediator ready', 60_000, 100);
    const t0 = Date.now();
    const res = await fetch(`${url}/api/v1/runs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${OPERATOR}` },
      body: JSON.stringify({ playbook: 'drain-gpu-node', params: { node: NODE, deleteEmptyDirData: true, timeoutSeconds: 600 }, reason: 'drain bench' }),
    });
    if (res.status !== 202) throw new Error(`manual run: ${res.status} ${await res.text()}`);
    const { id } = (await res.json()) as { id: string };
    const runNow = async () => (await (await fetch(`${url}/api/v1/runs/${id}`, { headers: { authorization: `Bearer ${OPERATOR}` } })).json()) as { status: string; reason?: string };
    const goneMs = await pollUntil(async () => {
      if (podsOn(sim, NODE).length === 0) return Date.now() - t0;
      const now = await runNow();
      if (!['queued', 'running'].includes(now.status)) throw new Error(`the drain ended ${now.status} with ${podsOn(sim, NODE).length} pods left: ${now.reason ?? ''}`);
      return undefined;
    }, 'remediator to empty the node', 600_000, 20);
    const run = await pollUntil(async () => {
      const body = (await (await fetch(`${url}/api/v1/runs/${id}`, { headers: { authorization: `Bearer ${OPERATOR}` } })).json()) as { status: string; reason?: string };
      return ['succeeded', 'failed', 'skipped', 'blocked', 'cancelled', 'expired'].includes(body.status) ? body : undefined;
    }, 'the run to end', 600_000, 100);
    if (run.status !== 'succeeded') throw new Error(`the drain ended ${run.status}: ${run.reason ?? ''}`);
    return {
      who: 'remediator',
      round,
      goneMs,
      endMs: Date.now() - t0,
      evicted: evictedSet(sim),
      refused: sim.requests.filter((r) => r.path.endsWith('/eviction') && r.status === 429).length,
      pdbReads: sim.requests.filter((r) => r.method === 'GET' && r.path.includes('/poddisruptionbudgets/')).length,
    };
  } finally {
    if (child) {
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      child.kill('SIGKILL');
    }
    await sim.close();
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

export async function runDrainBench(): Promise<void> {
  const t0 = Date.now();
  const loadBefore = loadavg()[0]!;
  const redis = await startRedisServer();
  const dir = mkdtempSync(join(tmpdir(), 'remediator-drain-bench-'));
  writeFileSync(join(dir, 'audit-key'), randomBytes(32).toString('hex'));
  const samples: Sample[] = [];
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      const order = round % 2 === 1 ? (['remediator', 'kubectl'] as const) : (['kubectl', 'remediator'] as const);
      for (const who of order) {
        const s = who === 'kubectl' ? await drainWithKubectl(round, dir) : await drainWithRemediator(round, dir, redis.url);
        samples.push(s);
        process.stderr.write(`  drain round ${round} ${who.padEnd(10)} last pod gone ${(s.goneMs / 1000).toFixed(2)} s, ended ${(s.endMs / 1000).toFixed(2)} s, ${Object.values(s.evicted).reduce((a, b) => a + b, 0)} evicted, ${s.refused} refused (429)${who === 'remediator' ? `, ${s.pdbReads} PDB reads` : ''}\n`);
      }
    }
  } finally {
    await redis.stop();
  }
  const of = (who: Sample['who']) => samples.filter((s) => s.who === who);
  const ratios = Array.from({ length: ROUNDS }, (_, i) => of('remediator')[i]!.goneMs / of('kubectl')[i]!.goneMs);
  const sameSets = samples.every((s) => JSON.stringify(s.evicted) === JSON.stringify(samples[0]!.evicted));
  const fmt = (xs: number[]) => `${(median(xs) / 1000).toFixed(2)} s (${(Math.min(...xs) / 1000).toFixed(2)}–${(Math.max(...xs) / 1000).toFixed(2)})`;
  const lines = [
    '',
    `Drain (issue 19): a 60-pod GPU node (40 pods without a PDB, 20 behind maxUnavailable: 1), readiness 200 ms — ${cpus().length} cores, Node ${process.version}, load average ${loadBefore.toFixed(2)} → ${loadavg()[0]!.toFixed(2)}`,
    `  drain-gpu-node      until the last pod is gone ${fmt(of('remediator').map((s) => s.goneMs))}, run ended ${fmt(of('remediator').map((s) => s.endMs))} (with its health check)`,
    `  kubectl drain       until the last pod is gone ${fmt(of('kubectl').map((s) => s.goneMs))}, process exited ${fmt(of('kubectl').map((s) => s.endMs))}`,
    `  drain-gpu-node / kubectl: ${median(ratios).toFixed(2)}× (rounds ${ratios.map((r) => r.toFixed(2)).join(', ')}); target ≤ 1.0×`,
    `  evicted sets ${sameSets ? 'identical in every drain' : 'DIFFER'}: ${JSON.stringify(samples[0]!.evicted)}`,
    `total ${((Date.now() - t0) / 1000).toFixed(0)} s`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
  writeFileSync(join(ROOT, 'bench/results/drain-latest.json'), `${JSON.stringify({ at: new Date().toISOString(), rounds: ROUNDS, samples, ratios, medianRatio: median(ratios), sameSets }, null, 2)}\n`);
  if (!sameSets) process.exitCode = 1;
}
