/**
 * Soak (part of `npm run bench`, suite `soak`; not in CI): one api and two worker processes (the
 * compiled bin, real OS processes) on one redis-server and the simulated cluster, fed 50 new
 * alerts per second (BENCH_SOAK_RATE) for 10 minutes (BENCH_SOAK_SECONDS), with small retention
 * (`runs.retention: 2m`, `audit.maxAge: 2m`) so that what is kept turns over several times.
 * Every alert is a new episode of a scale rule on one of 20 Deployments already at their
 * `maxReplicas`: each run reads the scale, finds nothing to do and succeeds, so the cluster side
 * stays cheap and the soak measures Remediator and Redis.
 *
 * Sampled every 10 s: each process's RSS, Redis `used_memory` and key count, the runs index and
 * the live runs. Checks (a failed check fails the benchmark): after the warm-up (the first
 * quarter), the RSS of each process in the last minute within 20 % of its median in the minute
 * after warm-up; Redis memory in the last minute within 25 % of the minute after retention first
 * turned over (RSS and memory flat), counted without the episode keys, which live 7 days whatever
 * the retention (DESIGN §1) and are reported apart; every run of the soak terminal within 60 s of
 * the end; no notification refused for good. Writes bench/results/soak-latest.json.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { freePort, startRedisServer } from '../test/helpers/redis-server.js';
import { startSimCluster } from '../src/sim/sim-cluster.js';
import { simKubeconfigYaml } from '../src/sim/sim-kubeconfig.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SECONDS = Number(process.env.BENCH_SOAK_SECONDS ?? 600);
const RATE = Number(process.env.BENCH_SOAK_RATE ?? 50);
const SAMPLE_MS = 10_000;
const TOKEN = 'soak-am-token-0123456789';
const PREFIX = 'soak';
const DEPLOYMENTS = 20;
const RETENTION_MS = 120_000;

interface Proc {
  role: string;
  port: number;
  child: ChildProcess;
}

interface Sample {
  at: number;
  rssMiB: Record<string, number>;
  redisMiB: number;
  keys: number;
  runsIndexed: number;
  live: number;
  /** Episode keys (`ep:*`, DESIGN: they live 7 days whatever the retention) and their memory. */
  episodeKeys: number;
  episodeMiB: number;
}

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.floor(s.length / 2)]!;
}

async function waitReady(port: number, deadlineMs: number): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const res = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined);
    if (res?.status === 200) return;
    if (Date.now() > deadline) throw new Error(`process on ${port} not ready within ${deadlineMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function runSoakBench(): Promise<void> {
  const t0 = Date.now();
  const loadBefore = loadavg();
  const redisServer = await startRedisServer();
  const sim = await startSimCluster({ port: 0, readyDelayMs: 0 });
  for (let i = 0; i < DEPLOYMENTS; i++) {
    const res = await fetch(`${sim.url}/apis/apps/v1/namespaces/default/deployments`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: `soak-${i}`, namespace: 'default' },
        spec: { replicas: 2, selector: { matchLabels: { app: `soak-${i}` } }, template: { metadata: { labels: { app: `soak-${i}` } }, spec: { containers: [{ name: 'c', image: 'nginx' }] } } },
      }),
    });
    if (res.status !== 201) throw new Error(`creating soak-${i}: ${res.status}`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'remediator-soak-'));
  writeFileSync(join(dir, 'kubeconfig'), simKubeconfigYaml(sim.url));
  writeFileSync(join(dir, 'audit-key'), randomBytes(32).toString('hex'));
  const config = join(dir, 'remediator.yaml');
  writeFileSync(
    config,
    `redis: { url: '${redisServer.url}', prefix: ${PREFIX} }
kubernetes: { kubeconfig: ./kubeconfig }
auth:
  tokens:
    - { name: alertmanager, role: alertmanager, token: ${TOKEN} }
audit: { keyFile: ./audit-key, maxAge: 2m }
runs: { retention: 2m }
guards: { maxConcurrentRuns: 50 }
rules:
  - name: scale-at-max
    matchers: ['alertname="LLMHighLatencyP95"']
    playbook: scale-replicas
    params: { maxReplicas: 2, waitForReadySeconds: 0 }
`,
  );
  const procs: Proc[] = [];
  const start = async (role: string): Promise<Proc> => {
    const port = await freePort();
    const child = spawn(process.execPath, [join(ROOT, 'bin/remediator.js'), 'serve', '--role', role, '--config', config], {
      env: { PATH: process.env.PATH, PORT: String(port), LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'ignore', 'ignore'],
    });
    return { role, port, child };
  };
  procs.push(await start('api'), await start('worker'), await start('worker'));
  const redis = new Redis(redisServer.url);
  const samples: Sample[] = [];
  let sent = 0;
  let refused = 0;
  let retried = 0;
  try {
    await Promise.all(procs.map((p) => waitReady(p.port, 60_000)));
    const api = procs[0]!;
    const startedAt = Date.now();
    const sample = async (): Promise<void> => {
      const rss: Record<string, number> = {};
      procs.forEach((p, i) => (rss[`${p.role}${i}`] = rssMiB(p.child.pid!)));
      const mem = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1] ?? 0) / 2 ** 20;
      let episodeKeys = 0;
      let oneEpisode: string | undefined;
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `{${PREFIX}}:ep:*`, 'COUNT', 2000);
        cursor = next;
        episodeKeys += keys.length;
        oneEpisode ??= keys[0];
      } while (cursor !== '0');
      const perEpisode = oneEpisode ? ((await redis.memory('USAGE', oneEpisode)) ?? 0) : 0;
      samples.push({
        at: Date.now() - startedAt,
        rssMiB: rss,
        redisMiB: mem,
        keys: await redis.dbsize(),
        runsIndexed: await redis.zcard(`{${PREFIX}}:runs`),
        live: await redis.zcard(`{${PREFIX}}:live`),
        episodeKeys,
        episodeMiB: (episodeKeys * perEpisode) / 2 ** 20,
      });
    };
    const send = async (n: number): Promise<void> => {
      const body = JSON.stringify({
        receiver: 'remediator',
        status: 'firing',
        alerts: [
          {
            status: 'firing',
            labels: { alertname: 'LLMHighLatencyP95', namespace: 'default', deployment: `soak-${n % DEPLOYMENTS}`, seq: String(n) },
            annotations: { summary: 'soak' },
            startsAt: new Date(startedAt + n).toISOString(),
            endsAt: '0001-01-01T00:00:00Z',
            generatorURL: 'http://prometheus/graph',
            fingerprint: n.toString(16).padStart(16, '0'),
          },
        ],
        groupLabels: {},
        commonLabels: {},
        commonAnnotations: {},
        externalURL: 'http://alertmanager',
        version: '4',
        groupKey: `{}:{seq="${n}"}`,
        truncatedAlerts: 0,
      });
      for (let attempt = 0; attempt < 5; attempt++) {
        const res = await fetch(`http://127.0.0.1:${api.port}/api/v1/alerts`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` }, body }).catch(() => undefined);
        if (res?.status === 200) return;
        retried += 1;
        await new Promise((r) => setTimeout(r, 500));
      }
      refused += 1;
    };
    await sample();
    let nextSample = SAMPLE_MS;
    const inFlight = new Set<Promise<void>>();
    // Alert n is sent at n / RATE seconds after the start, however late a timer fires.
    while (Date.now() - startedAt < SECONDS * 1000) {
      const due = Math.floor(((Date.now() - startedAt) / 1000) * RATE);
      while (sent < due) {
        const p = send(sent++).finally(() => inFlight.delete(p));
        inFlight.add(p);
      }
      if (Date.now() - startedAt >= nextSample) {
        await sample();
        nextSample += SAMPLE_MS;
        process.stderr.write(`  soak ${Math.round((Date.now() - startedAt) / 1000)} s: sent ${sent}, live ${samples.at(-1)!.live}, redis ${samples.at(-1)!.redisMiB.toFixed(1)} MiB (episode keys ${samples.at(-1)!.episodeMiB.toFixed(1)}), rss ${Object.values(samples.at(-1)!.rssMiB).map((x) => x.toFixed(0)).join('/')} MiB\n`);
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    await Promise.all(inFlight);
    const sendSeconds = (Date.now() - startedAt) / 1000;
    // Every run terminal within 60 s of the end.
    const drainDeadline = Date.now() + 60_000;
    let live = await redis.zcard(`{${PREFIX}}:live`);
    while (live > 0 && Date.now() < drainDeadline) {
      await new Promise((r) => setTimeout(r, 500));
      live = await redis.zcard(`{${PREFIX}}:live`);
    }
    await sample();

    const warm = (SECONDS * 1000) / 4;
    const window = (from: number, to: number) => samples.filter((s) => s.at >= from && s.at < to);
    const early = window(warm, warm + 60_000);
    const late = window(SECONDS * 1000 - 60_000, SECONDS * 1000 + 1);
    const turned = window(RETENTION_MS + 60_000, RETENTION_MS + 120_000);
    const checks: { name: string; ok: boolean; detail: string }[] = [];
    for (const name of Object.keys(samples[0]!.rssMiB)) {
      const a = median(early.map((s) => s.rssMiB[name]!));
      const b = median(late.map((s) => s.rssMiB[name]!));
      checks.push({ name: `rss ${name}`, ok: b <= a * 1.2, detail: `${a.toFixed(1)} MiB after warm-up → ${b.toFixed(1)} MiB in the last minute (${((b / a - 1) * 100).toFixed(1)} %)` });
    }
    // Episode keys outlive any retention (7 days, DESIGN §1): they grow with every new episode for a
    // week, by design, so they are reported apart and the check is on the rest.
    const ra = median(turned.map((s) => s.redisMiB - s.episodeMiB));
    const rb = median(late.map((s) => s.redisMiB - s.episodeMiB));
    const last = samples.at(-1)!;
    checks.push({
      name: 'redis memory',
      ok: rb <= ra * 1.25,
      detail: `${ra.toFixed(1)} MiB once retention turned over → ${rb.toFixed(1)} MiB in the last minute (${((rb / ra - 1) * 100).toFixed(1)} %), without the episode keys (7 days by design: ${last.episodeKeys} keys, ${last.episodeMiB.toFixed(1)} MiB at the end, of ${last.redisMiB.toFixed(1)} MiB)`,
    });
    checks.push({ name: 'every run terminal', ok: live === 0, detail: `${live} runs not terminal 60 s after the end` });
    checks.push({ name: 'nothing refused for good', ok: refused === 0, detail: `${refused} notifications refused 5 times; ${retried} retries` });

    const lines = [
      '',
      `Soak: one api and two workers, ${RATE} new alerts/s for ${SECONDS} s (${sent} sent in ${sendSeconds.toFixed(0)} s), runs.retention and audit.maxAge 2m — ${cpus().length} cores, Node ${process.version}`,
      `load average ${loadBefore[0]!.toFixed(2)} → ${loadavg()[0]!.toFixed(2)}`,
      '',
      `${'t s'.padStart(6)}${'redis MiB'.padStart(11)}${'keys'.padStart(9)}${'runs'.padStart(8)}${'live'.padStart(7)}  rss MiB (${Object.keys(samples[0]!.rssMiB).join(' / ')})`,
      ...samples.filter((_, i) => i % 3 === 0 || i === samples.length - 1).map((s) => `${(s.at / 1000).toFixed(0).padStart(6)}${s.redisMiB.toFixed(1).padStart(11)}${String(s.keys).padStart(9)}${String(s.runsIndexed).padStart(8)}${String(s.live).padStart(7)}  ${Object.values(s.rssMiB).map((x) => x.toFixed(0)).join(' / ')}`),
      '',
      ...checks.map((c) => `  ${c.ok ? 'ok  ' : 'FAIL'} ${c.name.padEnd(26)} ${c.detail}`),
      '',
      `total ${Math.round((Date.now() - t0) / 1000)} s`,
    ];
    process.stdout.write(lines.join('\n') + '\n');
    mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
    writeFileSync(new URL('./results/soak-latest.json', import.meta.url), JSON.stringify({ at: new Date().toISOString(), seconds: SECONDS, rate: RATE, sent, refused, retried, samples, checks }, null, 2) + '\n');
    if (!checks.every((c) => c.ok)) process.exitCode = 1;
  } finally {
    for (const p of procs) p.child.kill('SIGTERM');
    await Promise.all(procs.map((p) => new Promise((r) => (p.child.exitCode !== null ? r(undefined) : p.child.once('exit', r)))));
    redis.disconnect();
    await sim.close();
    await redisServer.stop();
  }
}
