/**
 * Suite `latency` (issue 19): alert → first Kubernetes mutation. One Remediator process
 * (`serve --role all` from `dist/`, logging at info) with one rule, LLMHighLatencyP95 →
 * scale-replicas (cooldown 1h), `maxConcurrentRuns: 50`; the simulated cluster (readiness delay
 * 200 ms, its default) holds one Deployment per alert. The bench posts one notification per alert,
 * each for its own Deployment, at BENCH_LATENCY_RATE alerts/s (100) for BENCH_LATENCY_SECONDS (5),
 * open loop (sent on schedule whatever the answers). The latency of an alert is from its POST to
 * the first mutating request the simulated cluster received for its Deployment (the
 * `remediator.dev/last-action` stamp, which scale-replicas writes just before the scale).
 * BENCH_LATENCY_ROUNDS (3) rounds on fresh Deployments; p50/p99 per round and their medians.
 * The bench process (the simulated cluster and the sender) and Remediator's CPU are reported, so
 * a bottleneck in the simulated cluster shows.
 *
 * Writes bench/results/latency-latest.json.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { freePort, startRedisServer } from '../test/helpers/redis-server.js';
import { pollUntil } from '../test/helpers/sim-helpers.js';
import { startSimCluster } from '../src/sim/sim-cluster.js';
import { simKubeconfigYaml } from '../src/sim/sim-kubeconfig.js';
import { DEPLOYMENTS } from '../src/sim/sim-controllers.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const RATE = Number(process.env.BENCH_LATENCY_RATE ?? 100);
const SECONDS = Number(process.env.BENCH_LATENCY_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_LATENCY_ROUNDS ?? 3);
const NS = 'latency';
const TOKEN = 'latency-bench-am-token-0123456789';

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] ?? NaN;
}

function median(xs: number[]): number {
  return quantile(xs, 0.5);
}

function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

export async function runFirstMutationBench(): Promise<void> {
  const t0 = Date.now();
  const loadBefore = loadavg()[0]!;
  const perRound = RATE * SECONDS;
  const redis = await startRedisServer();
  const sim = await startSimCluster({ port: 0, seed: { options: { readyDelayMs: 200, terminationDelayMs: 0 }, nodes: [{ name: 'cpu-node-1', cpu: '4000', memory: '16Ti' }, { name: 'cpu-node-2', cpu: '4000', memory: '16Ti' }], namespaces: [{ name: NS }] } as never });
  const dir = mkdtempSync(join(tmpdir(), 'remediator-latency-'));
  writeFileSync(join(dir, 'kubeconfig'), simKubeconfigYaml(sim.url));
  writeFileSync(join(dir, 'audit-key'), randomBytes(32).toString('hex'));
  writeFileSync(
    join(dir, 'remediator.yaml'),
    `redis: { url: '${redis.url}', prefix: latency }
kubernetes: { kubeconfig: ./kubeconfig }
auth:
  tokens:
    - { name: alertmanager, role: alertmanager, token: ${TOKEN} }
audit: { keyFile: ./audit-key }
guards: { maxConcurrentRuns: 50 }
rules:
  - name: scale-slow
    matchers: ['alertname="LLMHighLatencyP95"']
    playbook: scale-replicas
    params: { maxReplicas: 3 }
    cooldown: 1h
`,
  );
  const port = await freePort();
  const child = spawn(process.execPath, [join(ROOT, 'bin/remediator.js'), 'serve', '--role', 'all', '--config', join(dir, 'remediator.yaml')], { env: { PATH: process.env.PATH, PORT: String(port), LOG_LEVEL: 'info' }, stdio: ['ignore', 'ignore', 'inherit'], cwd: dir });
  const url = `http://127.0.0.1:${port}`;
  const rounds: { p50: number; p99: number; max: number; acted: number; remediatorCpuShare: number; benchCpuShare: number }[] = [];
  try {
    await pollUntil(async () => ((await fetch(`${url}/readyz`).catch(() => undefined))?.status === 200 ? true : undefined), 'remediator ready', 60_000, 100);
    for (let round = 1; round <= ROUNDS; round++) {
      const names = Array.from({ length: perRound }, (_, i) => `r${round}-d${i}`);
      // Created in-process (the simulated cluster's own REST code), not through its HTTP port: setup, not measured.
      for (const name of names) {
        sim.api.create(
          { def: DEPLOYMENTS, version: 'v1', namespace: NS },
          { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace: NS, labels: { app: name } }, spec: { replicas: 1, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image: 'busybox:1.36', resources: { requests: { cpu: '1m', memory: '1Mi' } } }] } } } },
          { dryRun: false },
        );
      }
      await pollUntil(() => (names.every((n) => (sim.get('deployment', NS, n)?.status?.['availableReplicas'] as number | undefined) === 1) ? true : undefined), `${perRound} Deployments available`, 600_000, 200);
      const firstRequest = sim.requests.length;
      const sent = new Map<string, number>();
      const answers: Promise<number>[] = [];
      const cpu0 = { remediator: cpuMs(child.pid!), bench: cpuMs(process.pid), at: Date.now() };
      const start = Date.now();
      for (let i = 0; i < perRound; i++) {
        const due = start + (i * 1000) / RATE;
        const wait = due - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        const name = names[i]!;
        const body = JSON.stringify({
          version: '4',
          groupKey: `{}:{alertname="LLMHighLatencyP95"}`,
          status: 'firing',
          receiver: 'remediator',
          groupLabels: { alertname: 'LLMHighLatencyP95' },
          commonLabels: { alertname: 'LLMHighLatencyP95' },
          commonAnnotations: {},
          externalURL: 'http://alertmanager:9093',
          alerts: [{ status: 'firing', labels: { alertname: 'LLMHighLatencyP95', namespace: NS, deployment: name, severity: 'warning' }, annotations: {}, startsAt: new Date().toISOString(), endsAt: '0001-01-01T00:00:00Z', generatorURL: '', fingerprint: randomBytes(8).toString('hex') }],
        });
        sent.set(name, Date.now());
        answers.push(fetch(`${url}/api/v1/alerts`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` }, body }).then((r) => r.status));
      }
      const statuses = await Promise.all(answers);
      if (statuses.some((s) => s !== 200)) throw new Error(`non-200 answers: ${statuses.filter((s) => s !== 200).length}`);
      const firsts = await pollUntil(() => {
        const first = new Map<string, number>();
        for (const r of sim.requests.slice(firstRequest)) {
          if (r.method === 'GET') continue;
          const m = /\/deployments\/(r\d+-d\d+)(\/scale)?$/.exec(r.path);
          if (m && !first.has(m[1]!)) first.set(m[1]!, Date.parse(r.time));
        }
        return first.size === perRound ? first : undefined;
      }, 'a mutation for every Deployment', 600_000, 200);
      const wall = Date.now() - cpu0.at;
      const latencies = names.map((n) => firsts.get(n)! - sent.get(n)!);
      const r = {
        p50: median(latencies),
        p99: quantile(latencies, 0.99),
        max: Math.max(...latencies),
        acted: firsts.size,
        remediatorCpuShare: (cpuMs(child.pid!) - cpu0.remediator) / wall,
        benchCpuShare: (cpuMs(process.pid) - cpu0.bench) / wall,
      };
      rounds.push(r);
      process.stderr.write(`  latency round ${round}: ${perRound} alerts at ${RATE}/s, first mutation p50 ${r.p50} ms, p99 ${r.p99} ms, max ${r.max} ms; CPU (cores) remediator ${r.remediatorCpuShare.toFixed(2)}, bench+sim ${r.benchCpuShare.toFixed(2)}\n`);
    }
  } finally {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    child.kill('SIGKILL');
    await sim.close();
    await redis.stop();
  }
  const p99s = rounds.map((r) => r.p99);
  const lines = [
    '',
    `Alert → first mutation (issue 19): ${RATE} alerts/s for ${SECONDS} s, each its own Deployment, one \`all\` process, maxConcurrentRuns 50, readiness 200 ms — ${cpus().length} cores, Node ${process.version}, load average ${loadBefore.toFixed(2)} → ${loadavg()[0]!.toFixed(2)}`,
    `  p50 ${median(rounds.map((r) => r.p50))} ms, p99 ${median(p99s)} ms (rounds ${p99s.join(', ')}), max ${Math.max(...rounds.map((r) => r.max))} ms; target p99 ≤ 100 ms`,
    `  CPU while it ran (cores): remediator ${median(rounds.map((r) => r.remediatorCpuShare)).toFixed(2)}, the bench process with the simulated cluster ${median(rounds.map((r) => r.benchCpuShare)).toFixed(2)}`,
    `total ${((Date.now() - t0) / 1000).toFixed(0)} s`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
  writeFileSync(join(ROOT, 'bench/results/latency-latest.json'), `${JSON.stringify({ at: new Date().toISOString(), rate: RATE, seconds: SECONDS, rounds }, null, 2)}\n`);
}
