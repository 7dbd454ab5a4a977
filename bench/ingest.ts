/**
 * Suite `ingest` (issue 18): Remediator's webhook against the receiver a user would write instead,
 * Express 5 + `express.json()` + one BullMQ `addBulk` per notification (bench/addbulk-receiver.ts),
 * and, as a second, labelled reference, the three-round-trips-per-alert receiver
 * (bench/naive-receiver.ts). Every receiver runs in a process of its own: Remediator as
 * `serve --role api` from the compiled output (logging at info, as in production), the baselines
 * under tsx; autocannon runs in a process of its own too (bench/autocannon-child.ts), 50
 * connections, notifications of 5 alerts (about 3.7 KB). One redis-server for all, each receiver
 * under its own prefix.
 *
 * Scenarios: `unique` (every notification new: 5 new episodes) and `dup` (replays of 250
 * notifications every receiver got once before, as Alertmanager's retries and repeats). Per
 * round the receivers take turns (R A N), BENCH_INGEST_ROUNDS rounds (3) of
 * BENCH_INGEST_SECONDS (5) each; figures are medians over the rounds with their min–max, and
 * ratios are taken per round (same round, neighbouring segments) and then their median.
 *
 * A segment ends only when the work a receiver deferred is done: for Remediator, the audit
 * sealer has chained every entry (it runs here, in the bench process, as a worker would run it;
 * its time counts) and the inbox's batched `seen` counters are written. Alerts/s = alerts
 * answered 200 / (load time + that drain).
 *
 * Correctness, every segment: unique: new jobs between 5 × (notifications answered 200) and 5 ×
 * (notifications sent), i.e. nothing acknowledged was lost and nothing doubled; dup: no new job.
 *
 * BENCH_INGEST_PROFILE=1 starts Remediator with `--cpu-prof` (profiles in $TMPDIR, path printed);
 * BENCH_INGEST_SCENARIOS=unique|dup runs one scenario.
 * Writes bench/results/ingest-latest.json.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { Redis } from 'ioredis';
import { Queue } from 'bullmq';
import { pino } from 'pino';
import { freePort, startRedisServer } from '../test/helpers/redis-server.js';
import { startSimCluster } from '../src/sim/sim-cluster.js';
import { simKubeconfigYaml } from '../src/sim/sim-kubeconfig.js';
import { AuditSealer } from '../src/audit/audit-sealer.js';
import { episodeKey } from '../src/alertmanager/episode-key.js';
import { RedisKeys } from '../src/engine/redis-keys.js';
import { notificationBody } from './traffic.js';
import { NAIVE_RULES, REMEDIATOR_RULES_YAML } from './rules.js';
import type { CannonJob, CannonResult } from './autocannon-child.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ROUNDS = Number(process.env.BENCH_INGEST_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_INGEST_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_INGEST_CONNECTIONS ?? 50);
const ALERTS = 5;
const POOL_SIZE = 250;
const TOKEN = 'ingest-am-token-0123456789';
const PROFILE = process.env.BENCH_INGEST_PROFILE === '1';
const RECEIVERS = ['remediator', 'addbulk', 'naive'] as const;
type ReceiverKind = (typeof RECEIVERS)[number];
const LABEL: Record<ReceiverKind, string> = {
  remediator: 'Remediator (api)',
  addbulk: 'one-addBulk receiver (baseline)',
  naive: 'three-round-trip receiver (reference)',
};

interface Proc {
  kind: ReceiverKind;
  prefix: string;
  url: string;
  child: ChildProcess;
}

interface Segment {
  round: number;
  kind: ReceiverKind;
  alertsPerSec: number;
  p50: number;
  p99: number;
  loadMs: number;
  drainMs: number;
  ok: number;
  non2xx: number;
  errors: number;
  newJobs: number;
  correct: boolean;
  correctness: string;
  receiverCpuMsPerAlert: number;
  redisCpuMsPerAlert: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

const CLK_TCK = 100;
function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
}

async function redisCpuMs(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const get = (k: string) => Number(new RegExp(`${k}:([0-9.]+)`).exec(info)?.[1] ?? 0);
  return (get('used_cpu_sys') + get('used_cpu_user')) * 1000;
}

async function waitReady(url: string, path: string, deadlineMs: number): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const res = await fetch(`${url}${path}`).catch(() => undefined);
    if (res && (res.status === 200 || res.status === 404)) return;
    if (Date.now() > deadline) throw new Error(`${url} not ready within ${deadlineMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Runs one autocannon child to the end and returns its result line. */
function cannon(job: CannonJob): Promise<CannonResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/autocannon-child.ts'), JSON.stringify(job)], { stdio: ['ignore', 'pipe', 'inherit'], cwd: ROOT });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => {
      const line = out.trim().split('\n').at(-1) ?? '';
      try {
        resolve(JSON.parse(line) as CannonResult);
      } catch {
        reject(new Error(`autocannon child exited ${code}: ${out}`));
      }
    });
  });
}

export async function runIngestBench(): Promise<void> {
  const t0 = Date.now();
  const loadBefore = loadavg();
  const redisServer = await startRedisServer();
  const sim = await startSimCluster({ port: 0 });
  const dir = mkdtempSync(join(tmpdir(), 'remediator-ingest-'));
  writeFileSync(join(dir, 'kubeconfig'), simKubeconfigYaml(sim.url));
  const keyHex = randomBytes(32).toString('hex');
  writeFileSync(join(dir, 'audit-key'), keyHex);
  const redis = new Redis(redisServer.url, { connectionName: 'ingest-bench' });
  const profileDir = PROFILE ? mkdtempSync(join(tmpdir(), 'remediator-ingest-prof-')) : undefined;

  const startRemediator = async (prefix: string): Promise<Proc> => {
    const config = join(dir, `${prefix}.yaml`);
    writeFileSync(
      config,
      `server: { port: 8080, bodyLimit: 5mb, shutdownGraceSeconds: 5 }
redis: { url: '${redisServer.url}', prefix: ${prefix} }
kubernetes: { kubeconfig: ./kubeconfig, requestTimeoutSeconds: 5 }
auth:
  tokens:
    - { name: alertmanager, role: alertmanager, token: ${TOKEN} }
audit: { keyFile: ./audit-key }
${REMEDIATOR_RULES_YAML}
`,
    );
    const port = await freePort();
    const args = [...(profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : []), join(ROOT, 'bin/remediator.js'), 'serve', '--role', 'api', '--config', config];
    const child = spawn(process.execPath, args, { env: { PATH: process.env.PATH, PORT: String(port), LOG_LEVEL: 'info' }, stdio: ['ignore', 'ignore', 'inherit'], cwd: dir });
    const url = `http://127.0.0.1:${port}`;
    await waitReady(url, '/readyz', 60_000);
    return { kind: 'remediator', prefix, url, child };
  };
  const startBaseline = async (kind: 'addbulk' | 'naive', prefix: string): Promise<Proc> => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/receiver-process.ts'), kind, redisServer.url, prefix, TOKEN], { stdio: ['ignore', 'pipe', 'inherit'], cwd: ROOT });
    const url = await new Promise<string>((resolve, reject) => {
      const lines = createInterface({ input: child.stdout! });
      lines.on('line', (line) => {
        const m = /^listening (\S+)/.exec(line);
        if (m) resolve(m[1]!);
      });
      child.once('exit', (code) => reject(new Error(`${kind} receiver exited ${code}`)));
    });
    return { kind, prefix, url, child };
  };
  const stop = async (p: Proc): Promise<void> => {
    const exited = new Promise((r) => p.child.once('exit', r));
    p.child.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    p.child.kill('SIGKILL');
  };
  const jobCount = async (prefix: string): Promise<number> => {
    const q = new Queue('jobs', { connection: redis, prefix: `{${prefix}}` });
    const c = await q.getJobCounts('waiting', 'delayed', 'prioritized', 'active', 'completed', 'failed', 'waiting-children');
    return Object.values(c).reduce((a, b) => a + b, 0);
  };
  const post = async (url: string, body: string): Promise<void> => {
    for (let attempt = 0; ; attempt++) {
      const res = await fetch(`${url}/api/v1/alerts`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` }, body });
      await res.text();
      if (res.status === 200) return;
      if (attempt > 10) throw new Error(`seeding ${url}: ${res.status}`);
    }
  };

  const only = new Set((process.env.BENCH_INGEST_SCENARIOS ?? 'unique,dup').split(','));
  const scenarios = (
    [
      { name: 'unique', label: 'unique alerts (every notification 5 new episodes)' },
      { name: 'dup', label: 'duplicates (replays of notifications delivered once before)' },
    ] as const
  ).filter((s) => only.has(s.name));
  const results: { scenario: string; label: string; segments: Segment[] }[] = [];
  let freshNext = 50_000_000;
  const lines: string[] = [];
  try {
    for (const scenario of scenarios) {
      const tag = randomBytes(3).toString('hex');
      const procs: Record<ReceiverKind, Proc> = {
        remediator: await startRemediator(`ingest-r-${tag}`),
        addbulk: await startBaseline('addbulk', `ingest-a-${tag}`),
        naive: await startBaseline('naive', `ingest-n-${tag}`),
      };
      // The sealer a worker process would run for Remediator's prefix; its catching up is part of a segment.
      const sealer = new AuditSealer({ redis, prefix: procs.remediator.prefix, key: Buffer.from(keyHex), logger: pino({ level: 'silent' }), intervalMs: 100 });
      sealer.start();
      const keys = new RedisKeys(procs.remediator.prefix);
      const unsealed = async () => (await redis.xlen(`${keys.tag}:audit`)) - (await redis.hlen(`${keys.tag}:audit:seals`));
      const poolStart = freshNext;
      freshNext += POOL_SIZE;
      const poolBodies = Array.from({ length: POOL_SIZE }, (_, i) => notificationBody(poolStart + i, ALERTS));
      // The pool's inbox records: their `seen` counters are Remediator's batched, deferred writes.
      const poolEpisodes = Array.from({ length: POOL_SIZE }, (_, i) => JSON.parse(poolBodies[i]!) as { alerts: { labels: Record<string, string>; fingerprint: string; startsAt: string }[] }).flatMap((n) =>
        n.alerts.map((a) => episodeKey(NAIVE_RULES.find((r) => r.alertname === a.labels.alertname)!.name, a.fingerprint, a.startsAt)),
      );
      const seenTotal = async (): Promise<number> => {
        const pipeline = redis.pipeline();
        for (const ep of poolEpisodes) pipeline.hget(keys.inboxRecord(ep), 'seen');
        const replies = (await pipeline.exec()) ?? [];
        return replies.reduce((a, [, v]) => a + Number(v ?? 0), 0);
      };
      for (const kind of RECEIVERS) {
        for (let i = 0; i < poolBodies.length; i += 10) await Promise.all(poolBodies.slice(i, i + 10).map((b) => post(procs[kind].url, b)));
      }
      // Warm-up: each receiver gets a short run of the scenario's traffic, not measured.
      for (const kind of RECEIVERS) {
        const r = await cannon({ url: procs[kind].url, token: TOKEN, connections: CONNECTIONS, durationS: 2, mode: scenario.name, alerts: ALERTS, freshStart: freshNext, pool: { start: poolStart, size: POOL_SIZE } });
        freshNext += r.freshSent + CONNECTIONS;
      }
      while ((await unsealed()) > 0) await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, 1200)); // the warm-up's `seen` counters flushed

      const segments: Segment[] = [];
      for (let round = 1; round <= ROUNDS; round++) {
        for (const kind of RECEIVERS) {
          const p = procs[kind];
          const jobsBefore = await jobCount(p.prefix);
          const seenBefore = kind === 'remediator' && scenario.name === 'dup' ? await seenTotal() : 0;
          const cpuBefore = processCpuMs(p.child.pid!);
          const redisBefore = await redisCpuMs(redis);
          const freshStart = freshNext;
          const r = await cannon({ url: p.url, token: TOKEN, connections: CONNECTIONS, durationS: SECONDS, mode: scenario.name, alerts: ALERTS, freshStart, pool: { start: poolStart, size: POOL_SIZE } });
          freshNext += r.freshSent + CONNECTIONS;
          // The deferred work, done inside the segment: sealed audit entries, written `seen` counters.
          const drainStart = Date.now();
          if (kind === 'remediator') {
            while ((await unsealed()) > 0) await new Promise((res) => setTimeout(res, 20));
            if (scenario.name === 'dup') {
              const want = seenBefore + r.ok * ALERTS;
              const deadline = Date.now() + 10_000;
              while ((await seenTotal()) < want && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
            }
          }
          const drainMs = Date.now() - drainStart;
          // Requests cut at the end may still be processed; give them a moment before counting.
          await new Promise((res) => setTimeout(res, 300));
          const newJobs = (await jobCount(p.prefix)) - jobsBefore;
          const cpu = processCpuMs(p.child.pid!) - cpuBefore;
          const redisCpu = (await redisCpuMs(redis)) - redisBefore;
          const alerts = r.ok * ALERTS;
          const correct = scenario.name === 'unique' ? newJobs >= r.freshOk * ALERTS && newJobs <= r.freshSent * ALERTS : newJobs === 0;
          const correctness = scenario.name === 'unique' ? `${newJobs} new jobs for ${r.freshOk}–${r.freshSent} new notifications (×${ALERTS})` : `${newJobs} new jobs`;
          segments.push({
            round,
            kind,
            alertsPerSec: alerts / ((r.durationMs + drainMs) / 1000),
            p50: r.latency.p50,
            p99: r.latency.p99,
            loadMs: r.durationMs,
            drainMs,
            ok: r.ok,
            non2xx: r.non2xx,
            errors: r.errors + r.timeouts,
            newJobs,
            correct: correct && r.non2xx === 0 && r.errors + r.timeouts === 0,
            correctness,
            receiverCpuMsPerAlert: cpu / Math.max(1, alerts),
            redisCpuMsPerAlert: redisCpu / Math.max(1, alerts),
          });
          const s = segments.at(-1)!;
          process.stderr.write(`  ingest ${scenario.name} round ${round} ${kind.padEnd(10)} ${s.alertsPerSec.toFixed(0).padStart(6)} alerts/s  p50 ${s.p50} ms  p99 ${s.p99} ms  drain ${drainMs} ms  ${s.correct ? 'ok' : 'FAILED'} (${correctness}; non-2xx ${r.non2xx}, errors ${s.errors})\n`);
        }
      }
      await sealer.stop();
      for (const p of Object.values(procs)) await stop(p);
      results.push({ scenario: scenario.name, label: scenario.label, segments });
    }
  } finally {
    redis.disconnect();
    await sim.close();
    await redisServer.stop();
  }

  const fmt = (xs: number[], digits = 0) => `${median(xs).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)})`;
  const summary = results.map(({ scenario, label, segments }) => {
    const of = (k: ReceiverKind) => segments.filter((s) => s.kind === k);
    const ratio = (k: ReceiverKind, base: ReceiverKind, field: 'alertsPerSec' | 'p99' | 'p50') =>
      of(k).map((s) => s[field] / of(base).find((b) => b.round === s.round)![field]);
    return {
      scenario,
      label,
      receivers: Object.fromEntries(
        RECEIVERS.map((k) => [
          k,
          {
            alertsPerSec: median(of(k).map((s) => s.alertsPerSec)),
            alertsPerSecRange: [Math.min(...of(k).map((s) => s.alertsPerSec)), Math.max(...of(k).map((s) => s.alertsPerSec))],
            p50: median(of(k).map((s) => s.p50)),
            p99: median(of(k).map((s) => s.p99)),
            receiverCpuMsPerAlert: median(of(k).map((s) => s.receiverCpuMsPerAlert)),
            redisCpuMsPerAlert: median(of(k).map((s) => s.redisCpuMsPerAlert)),
            drainMs: median(of(k).map((s) => s.drainMs)),
          },
        ]),
      ),
      ratios: {
        throughputVsAddBulk: median(ratio('remediator', 'addbulk', 'alertsPerSec')),
        throughputVsAddBulkRounds: ratio('remediator', 'addbulk', 'alertsPerSec'),
        p99VsAddBulk: median(ratio('remediator', 'addbulk', 'p99')),
        p99VsAddBulkRounds: ratio('remediator', 'addbulk', 'p99'),
        throughputVsNaive: median(ratio('remediator', 'naive', 'alertsPerSec')),
      },
      correct: segments.every((s) => s.correct),
    };
  });

  lines.push('', `Ingest (issue 18): ${ROUNDS} rounds × ${SECONDS} s per receiver, ${CONNECTIONS} connections, ${ALERTS} alerts per notification — ${cpus().length} cores, Node ${process.version}`);
  lines.push(`load average ${loadBefore[0]!.toFixed(2)} → ${loadavg()[0]!.toFixed(2)}`);
  for (const { scenario, label, segments } of results) {
    const of = (k: ReceiverKind) => segments.filter((s) => s.kind === k);
    lines.push('', `${scenario}: ${label}`, '  receiver                                 alerts/s (min–max)       p50 ms     p99 ms     cpu ms/alert  redis ms/alert  drain ms');
    for (const k of RECEIVERS) {
      const s = of(k);
      lines.push(
        `  ${LABEL[k].padEnd(40)} ${fmt(s.map((x) => x.alertsPerSec)).padEnd(24)} ${fmt(s.map((x) => x.p50)).padEnd(10)} ${fmt(s.map((x) => x.p99)).padEnd(10)} ${median(s.map((x) => x.receiverCpuMsPerAlert)).toFixed(3).padEnd(13)} ${median(s.map((x) => x.redisCpuMsPerAlert)).toFixed(3).padEnd(15)} ${median(s.map((x) => x.drainMs)).toFixed(0)}`,
      );
    }
    const sum = summary.find((x) => x.scenario === scenario)!;
    lines.push(
      `  Remediator / one-addBulk: throughput ${sum.ratios.throughputVsAddBulk.toFixed(2)}× (rounds ${sum.ratios.throughputVsAddBulkRounds.map((x) => x.toFixed(2)).join(', ')}), p99 ${sum.ratios.p99VsAddBulk.toFixed(2)}× (rounds ${sum.ratios.p99VsAddBulkRounds.map((x) => x.toFixed(2)).join(', ')}); vs three-round-trip ${sum.ratios.throughputVsNaive.toFixed(2)}×`,
    );
    lines.push(`  correctness: ${segments.every((s) => s.correct) ? 'ok in every segment' : segments.filter((s) => !s.correct).map((s) => `${s.kind} round ${s.round}: ${s.correctness}`).join('; ')}`);
  }
  if (profileDir) lines.push('', `CPU profiles of the Remediator processes: ${profileDir}`);
  lines.push('', `total ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  process.stdout.write(`${lines.join('\n')}\n`);
  mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
  writeFileSync(
    join(ROOT, 'bench/results/ingest-latest.json'),
    `${JSON.stringify({ at: new Date().toISOString(), rounds: ROUNDS, seconds: SECONDS, connections: CONNECTIONS, alertsPerNotification: ALERTS, cores: cpus().length, node: process.version, summary, results }, null, 2)}\n`,
  );
  if (!summary.every((s) => s.correct)) process.exitCode = 1;
}
